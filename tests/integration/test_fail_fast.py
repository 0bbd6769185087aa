"""A node that cannot have its port does not run without it: `amphi serve` and `amphi run`
exit 1 at once with one line naming the address, and in `amphi run` every role that had
already started stops with it (interfaces.md §1: 1 is a failure at run time)."""

import os
import re
import socket
import subprocess
import time

import pytest

from conftest import (AMPHI_BIN, free_port_range, free_udp_range, sanitizer_env,
                      sanitizer_report)
from test_cluster import NATS

IN_USE = "Address already in use"
FAST = 5.0  # seconds: a sanitizer build starts in well under one


def hold(port, kind=socket.SOCK_STREAM):
    """A socket of another program on 127.0.0.1:port (TCP: listening)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", port))
    if kind == socket.SOCK_STREAM:
        s.listen()
    return s


def run_amphi(args):
    """(exit status, stdout, stderr, seconds) of amphi ARGS, which must end by itself."""
    t0 = time.monotonic()
    try:
        r = subprocess.run([AMPHI_BIN, *args], capture_output=True, text=True, timeout=30,
                           env=sanitizer_env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("amphi %s still ran after 30 s:\n%s" % (args, e.stderr)) from None
    return r.returncode, r.stdout, r.stderr, time.monotonic() - t0


def assert_failed_fast(result, node, addr, what):
    """Exit 1 within FAST seconds; of stderr, exactly one line names addr, and it is
    `amphi: NODE: ... ADDR: Address already in use`; no other error lines (lws's
    included), no sanitizer report, no banner."""
    rc, out, err, secs = result
    rep = sanitizer_report(err)
    assert rep is None, rep
    assert rc == 1, "exit %r, want 1:\n%s" % (rc, err[-3000:])
    assert secs < FAST, "took %.1f s to give up" % secs
    naming = [line for line in err.splitlines() if addr in line]
    assert len(naming) == 1, "want one line naming %s:\n%s" % (addr, err)
    want = r"amphi: %s: .*%s.*%s: %s$" % (re.escape(node), re.escape(what), re.escape(addr),
                                           IN_USE)
    assert re.match(want, naming[0]), naming[0]
    others = [line for line in err.splitlines()
              if re.match(r"^\S+ error ", line) or "[lws]" in line]
    assert not others, "more error lines than the one:\n%s" % "\n".join(others)
    assert "running" not in out and "serving" not in out, out


# --- amphi run --------------------------------------------------------------------------


def run_args(port, media_port, visitor_nodes, bridges):
    return ["run", "--listen", "127.0.0.1", "--port", str(port), "--visitor-nodes",
            str(visitor_nodes), "--bridges", str(bridges), "--media-port", str(media_port)]


@pytest.mark.parametrize("visitor_nodes,bridges,taken,node", [
    (2, 1, 0, "main"),       # the first role to start: nothing else has started
    (2, 1, 1, "visitor-1"),  # one in the middle: main is up and must stop
    (2, 0, 2, "visitor-2"),  # the last one: every other role is up
])
def test_run_http_port_taken(visitor_nodes, bridges, taken, node):
    port = free_port_range(visitor_nodes + 1 + bridges)
    media = free_udp_range(1)
    s = hold(port + taken)
    try:
        result = run_amphi(run_args(port, media, visitor_nodes, bridges))
    finally:
        s.close()
    assert_failed_fast(result, node, "127.0.0.1:%d" % (port + taken), "cannot listen on")


def test_run_bridge_media_port_taken():
    """The bridge starts last, after the main and both visitor nodes."""
    port = free_port_range(4)
    media = free_udp_range(1)
    s = hold(media, socket.SOCK_DGRAM)
    try:
        result = run_amphi(run_args(port, media, 2, 1))
    finally:
        s.close()
    assert_failed_fast(result, "bridge-1", "127.0.0.1:%d" % media, "UDP")


# --- amphi serve ------------------------------------------------------------------------


@pytest.fixture
def serve_cluster(tmp_path):
    """Configs from `amphi configure --visitor-nodes 1 --bridges 1` and their nats-server
    (a node connects to NATS before it listens). Yields (dir, ports): main's HTTP port and
    bridge-1's media port."""
    if not NATS:
        pytest.skip("nats-server is not installed")
    port = free_port_range(4)  # main, visitor-1, NATS, bridge-1's HTTP
    media = free_udp_range(1)
    out = os.path.join(str(tmp_path), "cluster")
    r = subprocess.run([AMPHI_BIN, "configure", "--visitor-nodes", "1", "--bridges", "1",
                        "--host", "127.0.0.1", "--base-port", str(port), "--media-port",
                        str(media), "--out", out],
                       capture_output=True, text=True, timeout=30, env=sanitizer_env())
    assert r.returncode == 0, r.stderr
    with open(os.path.join(str(tmp_path), "nats.log"), "wb") as log:
        nats = subprocess.Popen([NATS, "-c", os.path.join(out, "nats-server.conf")],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port + 2), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nats-server never listened"
                time.sleep(0.02)
        yield out, {"main": port, "media": media}
    finally:
        nats.terminate()
        nats.wait(timeout=5)


def test_serve_http_port_taken(serve_cluster):
    conf, ports = serve_cluster
    s = hold(ports["main"])
    try:
        result = run_amphi(["serve", "--config", os.path.join(conf, "main.conf")])
    finally:
        s.close()
    assert_failed_fast(result, "main", "127.0.0.1:%d" % ports["main"], "cannot listen on")


def test_serve_bridge_media_port_taken(serve_cluster):
    conf, ports = serve_cluster
    s = hold(ports["media"], socket.SOCK_DGRAM)
    try:
        result = run_amphi(["serve", "--config", os.path.join(conf, "bridge-1.conf")])
    finally:
        s.close()
    assert_failed_fast(result, "bridge-1", "127.0.0.1:%d" % ports["media"], "UDP")
