"""Promotion and demotion with real media (aiortc): a promoted visitor publishes and a
participant decodes its video within 2 s of the moderator's `promote`; a demoted
participant's streams leave the stage and it decodes the stage as a visitor."""

import asyncio
import time

from conftest import Client, close_all, join, run
from media_client import Publisher, Subscriber, close_media, start_media_amphi
from test_media import AV, publish

ROOM = "acme/stage"
PROMOTE_TARGET_S = 2.0


def test_promote_publish_demote(amphi):
    srv = start_media_amphi(amphi, "--max-participants", 1, visitor_nodes=2)

    async def body():
        clients, media = [], []
        try:
            ann = await join(srv, ROOM, "Ann")
            clients.append(ann)
            sub_ann = Subscriber(ann)
            pub_ann = Publisher(ann)
            media += [sub_ann, pub_ann]
            await publish(pub_ann, srv.media_port)
            vic = await join(srv, ROOM, "Vic")
            clients.append(vic)
            assert vic.joined["role"] == "visitor"
            vid = vic.joined["id"]

            # promote -> promoted -> join the main node -> publish -> Ann decodes Vic.
            t0 = time.monotonic()
            ans = await ann.request({"type": "promote", "target": vid})
            assert ans["type"] == "ok", ans
            pr = await vic.wait_for("promoted")
            await vic.close()
            up = await Client.connect(pr["url"], "Vic-up")
            clients.append(up)
            j = await up.join({"room": ROOM, "ticket": pr["ticket"]})
            assert j["type"] == "joined" and j["role"] == "participant" and j["id"] == vid, j
            sub_up = Subscriber(up)
            pub_up = Publisher(up)
            media += [sub_up, pub_up]
            await publish(pub_up, srv.media_port)
            await sub_ann.wait_video_frames(1, publisher=vid, timeout=10)
            took = time.monotonic() - t0
            print("promote -> first video frame decoded at Ann: %.0f ms" % (took * 1000))
            assert took < PROMOTE_TARGET_S, took
            await sub_up.wait_video_frames(5, publisher=ann.joined["id"])

            # demote: Vic's streams leave Ann's offer; as a visitor Vic decodes Ann.
            ans = await ann.request({"type": "demote", "target": vid})
            assert ans["type"] == "ok", ans
            dm = await up.wait_for("demoted")
            await sub_ann.wait_streams({})
            await close_media(sub_up, pub_up)
            await up.close()
            down = await Client.connect(dm["url"], "Vic-down")
            clients.append(down)
            j = await down.join({"room": ROOM, "ticket": dm["ticket"]})
            assert j["type"] == "joined" and j["role"] == "visitor", j
            sub_down = Subscriber(down)
            media.append(sub_down)
            await sub_down.wait_streams({ann.joined["id"]: AV})
            await sub_down.wait_video_frames(10, publisher=ann.joined["id"])
            for c in (ann, down):
                assert not c.errors(), c.errors()
        finally:
            await close_media(*media)
            await close_all(*clients)

    run(body(), timeout=90)

