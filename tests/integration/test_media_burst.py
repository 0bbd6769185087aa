"""A join burst: receivers that connect to the bridge within one keyframe-request window of
each other. Each new receiver needs a keyframe before it can decode anything, and aiortc
(like browsers) sends none by itself for a long time, so the bridge's coalesced request
must still reach the publisher for the ones that came late in the window."""

import asyncio
import time

from conftest import close_all, join, run
from media_client import Publisher, Subscriber, close_media, start_media_amphi
from test_media import AV, publish

ROOM = "acme/burst"
SIZE = (640, 480)
DECODE_WITHIN = 5.0


async def first_video_within(sub, pid, since, limit):
    """Seconds from since to sub's first decoded video frame of pid, at most limit."""
    await sub.wait_video_frames(1, timeout=limit + 1, publisher=pid, size=SIZE)
    return sub.received(pid, "video").times[0] - since


def test_join_burst_every_receiver_decodes_video(amphi):
    """A participant publishes VP8 640x480; a second participant and two visitors then join
    and subscribe one right after the other, with no pause: every one of them decodes video
    within 5 s of joining."""
    srv = start_media_amphi(amphi, "--max-participants", 2)

    async def body():
        clients, media = [], []
        try:
            a = await join(srv, ROOM, "Ada")
            clients.append(a)
            pa = Publisher(a, width=SIZE[0], height=SIZE[1])
            media.append(pa)
            ida = a.joined["id"]
            await publish(pa, srv.media_port)
            await pa.wait_connected()
            await asyncio.sleep(1.0)  # its first keyframe went out to nobody

            # Each joins once the one before is connected, as people arriving in a row
            # do: the connects fall some 100 ms apart, inside one request window.
            t0 = time.monotonic()
            subs = []
            for name in ("Bob", "V1", "V2"):
                c = await join(srv, ROOM, name, visitor=name != "Bob")
                clients.append(c)
                assert c.joined["role"] == ("participant" if name == "Bob" else "visitor")
                s = Subscriber(c)
                media.append(s)
                subs.append(s)
                await s.wait_streams({ida: AV})
                await s.wait_connected()
            delays = await asyncio.gather(
                *(first_video_within(s, ida, t0, DECODE_WITHIN) for s in subs),
                return_exceptions=True)
            report = {s.label: d for s, d in zip(subs, delays)}
            assert all(isinstance(d, float) and d <= DECODE_WITHIN for d in delays), \
                "first video frame after the burst (s): %s\n%s" % (
                    report, "\n".join(s.describe() for s in subs))
            for s in subs:
                await s.wait_audio_frames(5, publisher=ida)
        finally:
            await close_media(*media)
            await close_all(*clients)

    run(body(), 60)
