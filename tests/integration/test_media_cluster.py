"""Media end to end on a cluster made by `amphi configure`: nats-server, main, two visitor
nodes and the bridges, each its own `amphi serve` (test_cluster.py's Cluster). With one
bridge, the same flow as test_media.py's first bridge test; with three, visitors on an
edge fed by a relay from the origin."""

import asyncio

import pytest

from conftest import close_all, join, run
from media_client import Subscriber, close_media, metrics
from test_cluster import NATS, Cluster
from test_media import AV, candidates, everyone_receives_the_others
from test_media_relay import ROOM, all_decode, publishing_participant


@pytest.fixture
def media_cluster(tmp_path):
    assert NATS, "nats-server is not installed (Debian package nats-server)"
    c = Cluster(tmp_path, bridges=1)
    try:
        yield c.start()
    finally:
        c.stop()


def test_cluster_participants_and_visitors_receive_each_others_streams(media_cluster):
    c = media_cluster
    run(everyone_receives_the_others(c, c.bridge_urls[0], c.media_port), 60)


@pytest.fixture
def relay_cluster(tmp_path):
    assert NATS, "nats-server is not installed (Debian package nats-server)"
    c = Cluster(tmp_path, bridges=3, max_participants=1)
    try:
        yield c.start()
    finally:
        c.stop()


def test_cluster_visitors_receive_through_a_relay(relay_cluster):
    """`amphi configure --bridges 3`, every node its own process on a real nats-server: the
    visitors are placed on an edge, which its relay from the origin feeds over UDP with
    keys handed out on the bus (the bridges' NATS permissions allow it)."""
    c = relay_cluster
    urls = {c.media_port + j: c.bridge_urls[j] for j in range(c.bridges)}

    async def body():
        clients, media = [], []
        try:
            ida, origin, _ = await publishing_participant(c, clients, media)
            vs = [await join(c, ROOM, "V%d" % i, visitor=True) for i in range(3)]
            clients += vs
            subs = [Subscriber(v) for v in vs]
            media += subs
            await asyncio.gather(*(s.wait_streams({ida: AV}) for s in subs))
            await all_decode(subs, ida)
            ports = {p for s in subs for _, p, _ in candidates(s.offer)}
            assert len(ports) == 1 and origin not in ports, (origin, ports)
            assert metrics(urls[origin])["amphi_relays_out"] == 1
            assert metrics(urls[ports.pop()])["amphi_relays_in"] == 1
        finally:
            await close_media(*media)
            await close_all(*clients)

    run(body(), 90)
