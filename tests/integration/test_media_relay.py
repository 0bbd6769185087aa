"""A conference past one bridge: `amphi run --bridges 3 --bridge-capacity 4`. Participants
publish on the room's origin bridge; visitors are placed on edges, each fed once by a relay
from the origin (or, with relay_fanout 1, from another edge), never past an edge's
capacity."""

import asyncio

from conftest import close_all, join, run
from media_client import Publisher, Subscriber, close_media, metrics, start_media_amphi
from test_media import AV, candidates, publish

ROOM = "acme/relay"


async def publish_anywhere(pub):
    """Publishes; the UDP port of the bridge it landed on (the origin)."""
    ans = await publish(pub)
    ports = {port for _, port, _ in candidates(ans["sdp"])}
    assert len(ports) == 1, ans["sdp"]
    return ports.pop()


async def publishing_participant(srv, clients, media):
    """Ada joins and publishes (added to clients and media); her id and her origin's port."""
    await wait_bridges_heard()
    a = await join(srv, ROOM, "Ada")
    clients.append(a)
    pa = Publisher(a)
    media.append(pa)
    origin = await publish_anywhere(pa)
    await pa.wait_connected()
    return a.joined["id"], origin, pa


async def all_decode(subs, pid, n=5):
    """Until every subscriber decoded n video and n audio frames of pid."""
    waits = []
    for s in subs:
        waits += [s.wait_video_frames(n, publisher=pid), s.wait_audio_frames(n, publisher=pid)]
    await asyncio.gather(*waits)


async def wait_bridges_heard():
    """The main node places media by the bridges' heartbeats (one a second): before the
    first of each, a bridge does not exist for it. Two intervals make sure of all three."""
    await asyncio.sleep(2.2)


def bridge_port_url(srv):
    """{media port: /metrics base url} of the bridges of an `amphi run`."""
    return {srv.media_port + j: srv.bridge_urls[j] for j in range(srv.bridges)}


def test_visitors_spread_over_edges_fed_once_by_the_origin(amphi):
    srv = start_media_amphi(amphi, "--max-participants", 1, "--bridges", 3,
                            "--bridge-capacity", 4)
    urls = bridge_port_url(srv)

    async def body():
        clients, media = [], []
        try:
            ida, origin, _ = await publishing_participant(srv, clients, media)
            vs = await asyncio.gather(*(join(srv, ROOM, "V%d" % i, visitor=True)
                                        for i in range(8)))
            clients += vs
            subs = [Subscriber(v) for v in vs]
            media += subs
            await asyncio.gather(*(s.wait_streams({ida: AV}) for s in subs))
            await all_decode(subs, ida)

            ports = {}
            for s in subs:
                cand = {port for _, port, _ in candidates(s.offer)}
                assert len(cand) == 1, s.offer
                ports.setdefault(cand.pop(), []).append(s.label)
            assert origin not in ports, (origin, ports)
            assert sorted(len(v) for v in ports.values()) == [4, 4], ports

            mo = metrics(urls[origin])
            assert mo["amphi_relays_out"] == 2, mo
            assert mo["amphi_relays_in"] == 0, mo
            # the origin sends each packet once per edge, not once per viewer
            rin, rout = mo["amphi_rtp_packets_in_total"], mo["amphi_rtp_packets_out_total"]
            assert rout <= 2 * rin + 10, (rin, rout)
            assert rout >= 1.5 * rin, (rin, rout)
            for port in ports:
                me = metrics(urls[port])
                assert me["amphi_relays_in"] == 1, me
                assert me["amphi_endpoints"] >= 4, me
        finally:
            await close_media(*media)
            await close_all(*clients)

    run(body(), 90)


def count_plis(pub):
    """Counts the PLIs pub's video sender gets, by wrapping aiortc's RTCP handler."""
    from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket
    sender = next(t.sender for t in pub.pc.getTransceivers() if t.kind == "video")
    seen = {"pli": 0}
    handle = sender._handle_rtcp_packet

    async def counting(packet):
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_PLI:
            seen["pli"] += 1
        return await handle(packet)

    sender._handle_rtcp_packet = counting
    return seen


def video_ssrc(sub):
    m = next(m for m in sub.mlines.values() if m.kind == "video" and m.direction == "sendonly")
    return m.ssrcs[0]


def test_relay_level_with_fanout_one(amphi):
    """relay_fanout 1: the origin feeds one edge, which feeds the next, so the tree has depth
    2; the deepest viewers decode, and a PLI from one of them reaches the publisher once,
    through one coalesced request at every level."""
    srv = start_media_amphi(amphi, "--max-participants", 1, "--bridges", 3,
                            "--bridge-capacity", 2, "--relay-fanout", 1)
    urls = bridge_port_url(srv)

    async def body():
        clients, media = [], []
        try:
            ida, origin, pa = await publishing_participant(srv, clients, media)
            plis = count_plis(pa)

            by_port = {}
            subs = []
            for i in range(4):  # two per edge; one after the other, so the order is known
                v = await join(srv, ROOM, "V%d" % i, visitor=True)
                clients.append(v)
                s = Subscriber(v)
                media.append(s)
                subs.append(s)
                await s.wait_streams({ida: AV})
                await s.wait_video_frames(5, publisher=ida)
                await s.wait_audio_frames(5, publisher=ida)
                port = {p for _, p, _ in candidates(s.offer)}.pop()
                by_port.setdefault(port, []).append(s)
            assert origin not in by_port and len(by_port) == 2, by_port
            first, deep = list(by_port)  # insertion order: the first edge opened first
            assert [len(by_port[first]), len(by_port[deep])] == [2, 2]
            mo, m1, m2 = (metrics(urls[p]) for p in (origin, first, deep))
            assert (mo["amphi_relays_out"], mo["amphi_relays_in"]) == (1, 0), mo
            assert (m1["amphi_relays_out"], m1["amphi_relays_in"]) == (1, 1), m1
            assert (m2["amphi_relays_out"], m2["amphi_relays_in"]) == (0, 1), m2

            # a PLI from a viewer at depth 2, after the joins' own requests have settled
            await asyncio.sleep(1.5)
            before = {p: metrics(urls[p])["amphi_keyframe_requests_total"]
                      for p in (origin, first, deep)}
            plis["pli"] = 0
            s = by_port[deep][0]
            receiver = next(t.receiver for t in s.pc.getTransceivers() if t.kind == "video")
            for _ in range(3):  # three in a row: still one request at each level
                await receiver._send_rtcp_pli(video_ssrc(s))
            await asyncio.sleep(0.3)
            after = {p: metrics(urls[p])["amphi_keyframe_requests_total"]
                     for p in (origin, first, deep)}
            assert {p: after[p] - before[p] for p in after} == {origin: 1, first: 1, deep: 1}, \
                (before, after)
            assert plis["pli"] == 1, plis
            seen = s.received(ida, "video").frames
            await s.wait_video_frames(seen + 10, publisher=ida)
        finally:
            await close_media(*media)
            await close_all(*clients)

    run(body(), 90)


def test_relay_kept_alive_by_rtcp(amphi):
    """A relay has no ICE consent checks: what each side hears from the other keeps it (RTP
    and SRs down, receiver reports up, and empty reports either way when nothing else
    flows). With the consent time at 8 s (clients check every 5 s or so), the relay
    outlives it and the visitor on the edge keeps decoding."""
    srv = start_media_amphi(amphi, "--max-participants", 1, "--bridges", 2,
                            "--test-consent-ms", 8000)
    urls = bridge_port_url(srv)

    async def body():
        clients, media = [], []
        try:
            ida, origin, _ = await publishing_participant(srv, clients, media)
            v = await join(srv, ROOM, "Vic", visitor=True)
            clients.append(v)
            s = Subscriber(v)
            media.append(s)
            await all_decode([s], ida)
            edge = {p for _, p, _ in candidates(s.offer)}.pop()
            assert edge != origin
            await asyncio.sleep(10)
            assert metrics(urls[origin])["amphi_relays_out"] == 1
            assert metrics(urls[edge])["amphi_relays_in"] == 1
            seen = s.received(ida, "video").frames
            await s.wait_video_frames(seen + 10, publisher=ida)
            assert metrics(urls[origin])["amphi_endpoints_expired_total"] == 0
        finally:
            await close_media(*media)
            await close_all(*clients)

    run(body(), 60)
