"""Media end to end through the bridge of `amphi run`, with aiortc clients (media_client.py):
who receives what, renegotiation when a publisher stops, the publish errors, and NACK
recovery under loss. The first test checks the harness itself against a plain aiortc peer,
without amphi."""

import asyncio
import re
import time

from conftest import TIMEOUT, close_all, join, run
from media_client import (Publisher, Subscriber, candidate_addresses,
                          close_media, metrics, parse_mlines, sendonly_streams,
                          start_media_amphi)

ROOM = "acme/media"
SIZE = (320, 240)
AV = {"audio", "video"}


# --- helpers shared with test_media_cluster.py -------------------------------------------


async def visitors_on_two_nodes(server, room, clients):
    """Two visitors ("visitor": true) on different visitor nodes. A node that still counts
    the start-up probe's redirects may get both of the first two; then more join until both
    nodes hold one, and the extra ones leave. Every visitor is appended to clients."""
    picked, extra = {}, []
    for i in range(6):
        v = await join(server, room, "V%d" % i, visitor=True)
        clients.append(v)
        assert v.joined["role"] == "visitor" and v.redirect, v.joined
        if v.node in picked:
            extra.append(v)
        else:
            picked[v.node] = v
        if len(picked) == 2:
            break
    await close_all(*extra)
    assert len(picked) == 2, "visitors never spread over two nodes: %s" % list(picked)
    v1, v2 = picked.values()
    assert v1.redirect["url"] != v2.redirect["url"], (v1.redirect, v2.redirect)
    return v1, v2


def candidates(sdp):
    """{(address, port, type)} of the a=candidate lines (one candidate repeated in every
    bundled m-line counts once)."""
    out = set()
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            f = line.split()
            assert len(f) >= 8 and f[6] == "typ", line
            out.add((f[4], int(f[5]), f[7]))
    return out


def check_publish_answer(sdp, media_port):
    """The bridge's side of a publish: ICE-lite, DTLS server, one host candidate."""
    assert "a=ice-lite" in sdp.splitlines(), sdp
    assert set(re.findall(r"^a=setup:(\S+)", sdp, re.M)) == {"passive"}, sdp
    assert candidates(sdp) == {("127.0.0.1", media_port, "host")}, sdp


def check_subscribe_offer(sdp, media_port):
    """ICE-lite, actpass, the bridge's candidate; every sendonly m-line names its
    publisher and track in a=msid and has its a=ssrc."""
    assert "a=ice-lite" in sdp.splitlines(), sdp
    assert set(re.findall(r"^a=setup:(\S+)", sdp, re.M)) == {"actpass"}, sdp
    assert candidates(sdp) == {("127.0.0.1", media_port, "host")}, sdp
    for m in parse_mlines(sdp):
        if m.direction == "sendonly":
            assert m.stream and m.track == "%s-%s" % (m.stream, m.kind), (m, sdp)
            assert m.ssrcs, (m, sdp)


async def publish(pub, media_port=None, retry_for=5.0):
    """pub.publish(), retried while the main node does not know a bridge yet (it learns of
    it by the bridge's first heartbeat, which may come after the nodes are healthy); the
    answer checked as the bridge on media_port's, when given."""
    deadline = time.monotonic() + retry_for
    while True:
        try:
            ans = await pub.publish()
            break
        except AssertionError as e:
            if "'unavailable'" not in str(e) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    if media_port is not None:
        check_publish_answer(ans["sdp"], media_port)
    return ans


async def wait_published(client, pid, audio, video, timeout=TIMEOUT):
    """Until client saw pid's media flags as (audio, video) in a participant_updated."""
    return await client.wait_for(
        lambda m: m.get("type") == "participant_updated"
        and m["participant"]["id"] == pid
        and m["participant"].get("audio") is audio and m["participant"].get("video") is video,
        timeout, what="participant_updated %s audio=%s video=%s" % (pid, audio, video))


def no_errors(*clients):
    for c in clients:
        assert not c.errors(), "%s got errors: %s" % (c.label, c.errors())


def never_offered_own(client):
    """No subscribe_offer a participant got ever carried its own streams."""
    own = client.joined["id"]
    for msg in client.of_type("subscribe_offer"):
        mine = [m for m in parse_mlines(msg["sdp"]) if m.stream == own]
        assert not mine, "%s was offered its own streams: %s" % (client.label, mine)


async def everyone_receives_the_others(server, bridge_url, media_port):
    """Two participants publish VP8 320x240 + Opus; each decodes the other's (only), two
    visitors on two visitor nodes decode both; the bridge counts it."""
    clients, media = [], []
    try:
        a = await join(server, ROOM, "Ada")
        b = await join(server, ROOM, "Bob")
        clients += [a, b]
        assert (a.joined["role"], b.joined["role"]) == ("participant", "participant")
        v1, v2 = await visitors_on_two_nodes(server, ROOM, clients)
        subs = {c.label: Subscriber(c) for c in (a, b, v1, v2)}
        pa, pb = Publisher(a), Publisher(b)
        media += list(subs.values()) + [pa, pb]
        ida, idb = a.joined["id"], b.joined["id"]

        await publish(pa, media_port)
        await publish(pb, media_port)
        await asyncio.gather(pa.wait_connected(), pb.wait_connected())
        for c in (b, v1, v2):
            await wait_published(c, ida, True, True)
        for c in (a, v1, v2):
            await wait_published(c, idb, True, True)

        await asyncio.gather(subs["Ada"].wait_streams({idb: AV}),
                             subs["Bob"].wait_streams({ida: AV}),
                             subs[v1.label].wait_streams({ida: AV, idb: AV}),
                             subs[v2.label].wait_streams({ida: AV, idb: AV}))
        for s in subs.values():
            check_subscribe_offer(s.offer, media_port)

        waits = [subs["Ada"].wait_video_frames(10, publisher=idb, size=SIZE),
                 subs["Ada"].wait_audio_frames(10, publisher=idb),
                 subs["Bob"].wait_video_frames(10, publisher=ida, size=SIZE),
                 subs["Bob"].wait_audio_frames(10, publisher=ida)]
        for v in (v1, v2):
            for pid in (ida, idb):
                waits += [subs[v.label].wait_video_frames(10, publisher=pid, size=SIZE),
                          subs[v.label].wait_audio_frames(10, publisher=pid)]
        await asyncio.gather(*waits)

        assert subs["Ada"].publishers_seen() == {idb}, subs["Ada"].describe()
        assert subs["Bob"].publishers_seen() == {ida}, subs["Bob"].describe()
        for v in (v1, v2):
            assert subs[v.label].publishers_seen() == {ida, idb}, subs[v.label].describe()
        for s in subs.values():
            sizes = {sz for r in s.by_mid.values() for sz in r.sizes}
            assert sizes == {SIZE}, s.describe()
        never_offered_own(a)
        never_offered_own(b)
        no_errors(*clients)

        m = metrics(bridge_url)
        assert m.get("amphi_rtp_packets_out_total", 0) > 0, m
        assert m.get("amphi_rtp_packets_in_total", 0) > 0, m
        assert m.get("amphi_endpoints", 0) >= 5, m
    finally:
        await close_media(*media)
        await close_all(*clients)


# --- the harness alone -------------------------------------------------------------------


class LoopbackClient:
    """Stands in for a Client where a plain aiortc peer plays the bridge: what the harness
    reads of a Client (msgs, the arrival event, closed, send, request)."""

    def __init__(self, label):
        self.label = label
        self.msgs = []
        self._new = asyncio.Event()
        self.closed = False
        self.sent = []
        self.on_request = None

    def push(self, msg):
        self.msgs.append(msg)
        self._new.set()

    async def send(self, msg, with_id=True):
        self.sent.append(msg)
        self._new.set()

    async def request(self, msg, timeout=TIMEOUT):
        return await asyncio.wait_for(self.on_request(msg), timeout)


def as_bridge_would_name(sdp, pid):
    """aiortc's own msid (two uuids) replaced by the bridge's '<pid> <pid>-<kind>'."""
    out, kind = [], None
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            kind = line[2:].split()[0]
        if line.startswith("a=msid:"):
            line = "a=msid:%s %s-%s" % (pid, pid, kind)
        out.append(line)
    return "\r\n".join(out)


def loop_publisher_to_subscriber(pub_client, sub_client, pid):
    """Each publish offer reaches the subscriber as a subscribe_offer; its answer comes
    back as the publish_answer."""
    version = [0]

    async def on_request(msg):
        assert msg["type"] == "publish", msg
        version[0] += 1
        v, start = version[0], len(sub_client.sent)
        sub_client.push({"type": "subscribe_offer", "version": v,
                         "sdp": as_bridge_would_name(msg["sdp"], pid)})
        while True:
            for m in sub_client.sent[start:]:
                if m["type"] == "subscribe_answer" and m["version"] == v:
                    return {"type": "publish_answer", "sdp": m["sdp"], "id": msg.get("id")}
            sub_client._new.clear()
            await sub_client._new.wait()

    pub_client.on_request = on_request


def test_harness_against_plain_aiortc():
    """Publisher -> Subscriber directly: host candidates on 127.0.0.1 only, 320x240 frames
    and audio decoded, and a renegotiation to inactive seen as the stream going away."""

    async def body():
        pc, sc = LoopbackClient("pub"), LoopbackClient("sub")
        loop_publisher_to_subscriber(pc, sc, "pubA")
        pub, sub = Publisher(pc), Subscriber(sc)
        try:
            await pub.publish()
            for sdp in (pub.pc.localDescription.sdp, sub.answers[-1]):
                assert candidate_addresses(sdp) and \
                    set(candidate_addresses(sdp)) == {"127.0.0.1"}, sdp
            assert "VP8/90000" in sub.offer and "H264" not in sub.offer, sub.offer
            assert sub.streams() == {"pubA": AV}
            await sub.wait_video_frames(10, timeout=15, publisher="pubA", size=SIZE)
            await sub.wait_audio_frames(10, timeout=15, publisher="pubA")
            await pub.stop_publishing()
            assert sub.version == 2 and sub.streams() == {}, sub.describe()
            assert [m.direction for m in parse_mlines(sub.offer)] == ["inactive"] * 2
            assert sendonly_streams(sub.offers[0][1]) == {"pubA": AV}
        finally:
            await close_media(pub, sub)

    run(body(), 40)


# --- through the bridge ------------------------------------------------------------------


def test_participants_and_visitors_receive_each_others_streams(amphi):
    srv = start_media_amphi(amphi, "--max-participants", 2)
    run(everyone_receives_the_others(srv, srv.bridge_urls[0], srv.media_port), 60)


async def stopping_publisher_disappears(srv, stop, left):
    """Ada and Bob publish, a visitor watches both; Bob stops by `stop(bob_client,
    bob_publisher)`. Ada and the visitor learn it (participant_left when he `left`, else
    participant_updated without audio and video); their next offers drop Bob (his m-lines
    stay, inactive), Ada's video keeps flowing to the visitor, and Bob's RTP no longer
    reaches anyone."""
    clients, media = [], []
    try:
        a = await join(srv, ROOM, "Ada")
        b = await join(srv, ROOM, "Bob")
        v = await join(srv, ROOM, "Vic", visitor=True)
        clients += [a, b, v]
        sa, sv = Subscriber(a), Subscriber(v)
        pa, pb = Publisher(a), Publisher(b)
        media += [sa, sv, pa, pb]
        ida, idb = a.joined["id"], b.joined["id"]
        await publish(pa, srv.media_port)
        await publish(pb, srv.media_port)
        await asyncio.gather(sv.wait_streams({ida: AV, idb: AV}), sa.wait_streams({idb: AV}))
        await asyncio.gather(sv.wait_video_frames(5, publisher=ida),
                             sv.wait_video_frames(5, publisher=idb),
                             sa.wait_video_frames(5, publisher=idb))
        bob_mids = {"Vic": set(sv.mids_of(idb).values()), "Ada": set(sa.mids_of(idb).values())}

        await stop(b, pb)
        for c in (a, v):
            if left:
                await c.wait_for(lambda m: m.get("type") == "participant_left"
                                 and m["id"] == idb)
            else:
                await wait_published(c, idb, False, False)
        await asyncio.gather(sv.wait_streams({ida: AV}), sa.wait_streams({}))
        for s in (sv, sa):
            lines = {m.mid: m for m in parse_mlines(s.offer)}
            for mid in bob_mids[s.label]:
                assert mid in lines and lines[mid].direction == "inactive", (mid, s.offer)

        # Ada's stream survives the renegotiation.
        seen = sv.received(ida, "video").frames
        await sv.wait_video_frames(seen + 10, publisher=ida)
        # Bob's packets stop (his aiortc publisher may well keep sending).
        await asyncio.sleep(1.0)
        before = {s.label: sum(s.by_mid[mid].frames for mid in bob_mids[s.label])
                  for s in (sv, sa)}
        await asyncio.sleep(2.0)
        after = {s.label: sum(s.by_mid[mid].frames for mid in bob_mids[s.label])
                 for s in (sv, sa)}
        assert after == before, "Bob's frames still arrive: %s -> %s" % (before, after)
        no_errors(a, v)
    finally:
        await close_media(*media)
        await close_all(*clients)


def test_leaving_publisher_disappears_from_offers(amphi):
    srv = start_media_amphi(amphi, "--max-participants", 2)

    async def leave(client, pub):
        ok = await client.request({"type": "leave"})
        assert ok["type"] == "ok", ok

    run(stopping_publisher_disappears(srv, leave, left=True), 60)


def test_inactive_publish_stops_the_stream(amphi):
    """aiortc 1.4 renegotiates a publish with every transceiver set inactive (it keeps
    sending RTP afterwards, which the bridge must drop)."""
    srv = start_media_amphi(amphi, "--max-participants", 2)

    async def go_inactive(client, pub):
        ans = await pub.stop_publishing()
        dirs = {m.direction for m in parse_mlines(ans["sdp"])}
        assert dirs <= {"inactive", "recvonly"}, ans["sdp"]

    run(stopping_publisher_disappears(srv, go_inactive, left=False), 60)


def test_publish_errors(amphi):
    """A visitor may not publish; a bad SDP is bad_request; either way the connection stays
    usable, and a good publish then works."""
    srv = start_media_amphi(amphi, "--max-participants", 1)

    async def expect(client, msg, code):
        # The SDP may be read by the bridge: the first one can meet a main node that has not
        # had the bridge's heartbeat yet.
        deadline = time.monotonic() + 5
        while True:
            ans = await client.request(msg)
            if ans.get("code") != "unavailable" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert ans.get("type") == "error" and ans.get("code") == code, (
            str(msg)[:200], ans)
        assert isinstance(ans.get("message"), str) and ans["message"]
        await client.ping()
        # An error costs the client 5 of its 20-a-second rate limit (docs/PROTOCOL.md): pace
        # the bad inputs so that the test sees their errors, not rate_limited.
        await asyncio.sleep(0.3)

    async def body():
        a = await join(srv, ROOM, "Ada")
        v = await join(srv, ROOM, "Vic", visitor=True)
        pa, pv = Publisher(a), Publisher(v)
        try:
            good = await pv.make_offer()
            await expect(v, {"type": "publish", "sdp": good}, "forbidden")

            no_ice = "\r\n".join(l for l in good.split("\r\n")
                                 if not l.startswith(("a=ice-ufrag", "a=ice-pwd")))
            no_dtls = "\r\n".join(l for l in good.split("\r\n")
                                  if not l.startswith("a=fingerprint"))
            bad = ["", "hello", no_ice, no_dtls, "x" * 60000,
                   good.replace("m=audio ", "m=audio junk "), 42, None, ["v=0"]]
            for sdp in bad:
                await expect(a, {"type": "publish", "sdp": sdp}, "bad_request")
            await expect(a, {"type": "publish"}, "bad_request")

            await publish(pa, srv.media_port)
            await pa.wait_connected()
        finally:
            await close_media(pa, pv)
            await close_all(a, v)

    run(body(), 60)


def test_nack_recovery_under_loss(amphi):
    """The bridge drops 5% of what it sends (--test-drop-rtp); aiortc NACKs lost video
    packets (RTCRtpReceiver: a NackGenerator per video receiver) and the bridge answers, so
    frames keep coming: without answers aiortc stalls until its jitter buffer overflows and
    it sends a PLI, over 2 s per loss (measured against a plain aiortc peer)."""
    srv = start_media_amphi(amphi, "--max-participants", 2, "--test-drop-rtp", 5)
    window = 6.0

    async def body():
        a = await join(srv, ROOM, "Ada")
        b = await join(srv, ROOM, "Bob")
        pa, sb = Publisher(a), Subscriber(b)
        try:
            ida = a.joined["id"]
            await publish(pa, srv.media_port)
            await sb.wait_video_frames(10, publisher=ida, size=SIZE)
            t0 = time.monotonic()
            await asyncio.sleep(window)
            t1 = time.monotonic()
            video = sb.received(ida, "video")
            n, gap = video.count(t0, t1), video.max_gap(t0, t1)
            assert n >= 60 and gap < 1.0, (
                "%d frames in %.0f s (15 sent a second), longest gap %.2f s: %s" % (
                    n, window, gap, sb.describe()))
            assert sb.received(ida, "audio").frames > 0, sb.describe()
            m = metrics(srv.bridge_urls[0])
            assert m.get("amphi_rtp_retransmits_total", 0) > 0, m
            no_errors(a, b)
        finally:
            await close_media(pa, sb)
            await close_all(a, b)

    run(body(), 60)
