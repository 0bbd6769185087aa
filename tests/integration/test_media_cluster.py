"""Media end to end on a cluster made by `amphi configure --bridges 1`: nats-server, main,
two visitor nodes and bridge-1, each its own `amphi serve` (test_cluster.py's Cluster);
the same flow as test_media.py's first bridge test."""

import pytest

from conftest import run
from test_cluster import NATS, Cluster
from test_media import everyone_receives_the_others


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
