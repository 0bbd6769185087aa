"""Media end to end on a cluster made by `amphi configure --bridges 1`: nats-server, main,
two visitor nodes and bridge-1, each its own `amphi serve`; the same flow as
test_media.py's first bridge test."""

import os
import subprocess

import pytest

from conftest import AMPHI_BIN, free_port_range, free_udp_range, run, sanitizer_env
from media_client import wait_healthy
from test_cluster import NATS, Cluster
from test_media import everyone_receives_the_others


class MediaCluster(Cluster):
    """Cluster plus bridges. Ports as `amphi configure` lays them out: main P, visitor i
    P+i, NATS P+N+1, bridge j's HTTP P+N+1+j and its media UDP U+j-1."""

    def __init__(self, tmp, visitors=2, max_participants=2, bridges=1):
        super().__init__(tmp, visitors, max_participants)
        self.bridges = bridges

    def start(self):
        self.port = free_port_range(self.visitors + 2 + self.bridges)
        self.media_port = free_udp_range(self.bridges)
        self.dir = os.path.join(self.tmp, "cluster")
        out = subprocess.run(
            [AMPHI_BIN, "configure", "--visitor-nodes", str(self.visitors),
             "--bridges", str(self.bridges), "--host", "127.0.0.1",
             "--base-port", str(self.port), "--media-port", str(self.media_port),
             "--out", self.dir, "--max-participants", str(self.max_participants)],
            capture_output=True, text=True, timeout=30, env=sanitizer_env())
        assert out.returncode == 0, out.stderr
        self.nats_port = self.port + self.visitors + 1
        self.nats_log = open(os.path.join(self.tmp, "nats.log"), "wb")
        self.nats = subprocess.Popen([NATS, "-c", os.path.join(self.dir, "nats-server.conf")],
                                     stdout=self.nats_log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self._wait_port(self.nats_port)
        bridges = ["bridge-%d" % j for j in range(1, self.bridges + 1)]
        names = ["main"] + ["visitor-%d" % i for i in range(1, self.visitors + 1)] + bridges
        for name in names:
            err = os.path.join(self.tmp, "%s.stderr" % name)
            with open(err, "wb") as f:
                p = subprocess.Popen([AMPHI_BIN, "serve", "--config",
                                      os.path.join(self.dir, name + ".conf")],
                                     stdout=subprocess.DEVNULL, stderr=f,
                                     stdin=subprocess.DEVNULL, env=sanitizer_env())
            self.procs.append((name, p, err))
        for i in range(self.visitors + 1):
            self._wait_healthy(i)
        self.bridge_urls = []
        for j in range(1, self.bridges + 1):
            node = self.visitors + 1 + j  # the base class's port + node
            self._wait_healthy(node)
            self.bridge_urls.append(self.http_url("", node))
            wait_healthy(self.bridge_urls[-1], "bridge", timeout=5)
        self._wait_visitor_nodes()
        with open(os.path.join(self.dir, "admin-token")) as f:
            self.admin_token = f.read().strip()
        return self


@pytest.fixture
def media_cluster(tmp_path):
    assert NATS, "nats-server is not installed (Debian package nats-server)"
    c = MediaCluster(tmp_path)
    try:
        yield c.start()
    finally:
        c.stop()


def test_cluster_participants_and_visitors_receive_each_others_streams(media_cluster):
    c = media_cluster
    run(everyone_receives_the_others(c, c.bridge_urls[0], c.media_port), 60)
