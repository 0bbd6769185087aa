"""A conference past one bridge: `amphi run --bridges 3 --bridge-capacity 4`. Participants
publish on the room's origin bridge; visitors are placed on edges, each fed once by a relay
from the origin (or, with relay_fanout 1, from another edge), never past an edge's
capacity."""

import asyncio
import time

from conftest import TIMEOUT, close_all, join, run
from media_client import Publisher, Subscriber, close_media, metrics, start_media_amphi
from test_media import AV, candidates

ROOM = "acme/relay"


async def publish_anywhere(pub, retry_for=5.0):
    """pub.publish(), retried while the main node knows no bridge yet; the UDP port of the
    bridge it landed on (the origin)."""
    deadline = time.monotonic() + retry_for
    while True:
        try:
            ans = await pub.publish()
            break
        except AssertionError as e:
            if "'unavailable'" not in str(e) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    ports = {port for _, port, _ in candidates(ans["sdp"])}
    assert len(ports) == 1, ans["sdp"]
    return ports.pop()


async def wait_bridges_heard(srv, n, timeout=10.0):
    """Until the main node has had a heartbeat of n bridges (their first one may come after
    the nodes answer /healthz): watched through the bridges' own heartbeat counters is not
    possible, so wait two heartbeat intervals."""
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
            await wait_bridges_heard(srv, 3)
            a = await join(srv, ROOM, "Ada")
            clients.append(a)
            pa = Publisher(a)
            media.append(pa)
            ida = a.joined["id"]
            origin = await publish_anywhere(pa)
            await pa.wait_connected()

            vs = await asyncio.gather(*(join(srv, ROOM, "V%d" % i, visitor=True)
                                        for i in range(8)))
            clients += vs
            subs = [Subscriber(v) for v in vs]
            media += subs
            await asyncio.gather(*(s.wait_streams({ida: AV}) for s in subs))
            waits = []
            for s in subs:
                waits += [s.wait_video_frames(5, publisher=ida), s.wait_audio_frames(5, publisher=ida)]
            await asyncio.gather(*waits)

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
