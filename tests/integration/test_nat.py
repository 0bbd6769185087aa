"""A bridge behind a 1:1 NAT (docs/OPERATIONS.md "Addresses"): it binds one address
(media_listen) and advertises others (media_ip), as on a cloud VM whose public address is
forwarded to its private one.

Two network namespaces joined by a veth pair: the server's has the private addresses
192.0.2.1 and 2001:db8:1::1, and DNATs the "public" 203.0.113.10 and 2001:db8:ff::10 to
them (nftables); UDP to the media port that did not come through that DNAT is dropped, so
media flows only if clients use the advertised addresses. The client's namespace reaches
the public addresses through the server. `amphi run` runs in the server's namespace, bound
to :: (IPv4 and IPv6 on one port); a publisher reaches it over IPv4, a viewer over IPv6."""

import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import AMPHI_BIN, check_sanitizers, sanitizer_env

HERE = os.path.dirname(os.path.abspath(__file__))
PUB4, PUB6 = "203.0.113.10", "2001:db8:ff::10"
PRIV4, PRIV6 = "192.0.2.1", "2001:db8:1::1"
CLI4, CLI6 = "192.0.2.2", "2001:db8:1::2"
PORT, MEDIA = 8080, 10000  # a namespace of our own: nothing else holds them
ROOM = "acme/nat"

NFT = """
table ip nat {
  chain pre {
    type nat hook prerouting priority dstnat
    ip daddr %(pub4)s dnat to %(priv4)s
  }
}
table ip6 nat {
  chain pre {
    type nat hook prerouting priority dstnat
    ip6 daddr %(pub6)s dnat to %(priv6)s
  }
}
table inet only_nat {
  chain in {
    type filter hook input priority filter
    udp dport %(media)d ct status & dnat == 0 counter drop
  }
}
"""


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=30)


@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        pytest.skip("needs root, ip and nft (nftables) for network namespaces")
    tag = str(os.getpid())
    srv, cli = "amphi-nat-s" + tag, "amphi-nat-c" + tag
    made = []
    try:
        for ns in (srv, cli):
            sh("ip", "netns", "add", ns)
            made.append(ns)
        sh("ip", "link", "add", "ans" + tag, "netns", srv, "type", "veth", "peer", "name",
           "anc" + tag, "netns", cli)
        for ns, dev, a4, a6 in ((srv, "ans" + tag, PRIV4, PRIV6), (cli, "anc" + tag, CLI4, CLI6)):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", a4 + "/24", "dev", dev)
            sh("ip", "-n", ns, "addr", "add", a6 + "/64", "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", cli, "route", "add", PUB4 + "/32", "via", PRIV4)
        sh("ip", "-n", cli, "-6", "route", "add", PUB6 + "/128", "via", PRIV6)
        rules = NFT % {"pub4": PUB4, "priv4": PRIV4, "pub6": PUB6, "priv6": PRIV6,
                       "media": MEDIA}
        r = subprocess.run(["ip", "netns", "exec", srv, "nft", "-f", "-"], input=rules,
                           capture_output=True, text=True, timeout=30)
        if r.returncode:
            pytest.skip("nftables NAT unavailable here: " + r.stderr.strip())
        yield srv, cli
    finally:
        for ns in made:
            sh("ip", "netns", "del", ns, check=False)


def wait_http(ns, url, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = sh("ip", "netns", "exec", ns, "/usr/bin/python3", "-c",
               "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)", url,
               check=False)
        if r.returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError("%s never answered" % url)


def test_media_through_the_advertised_addresses_of_a_1to1_nat(netns, tmp_path):
    srv, cli = netns
    err_path = tmp_path / "amphi.stderr"
    env = sanitizer_env()
    env["PYTHONPATH"] = HERE
    procs = []
    with open(err_path, "wb") as err:
        amphi = subprocess.Popen(
            ["ip", "netns", "exec", srv, AMPHI_BIN, "run", "--listen", "0.0.0.0",
             "--port", str(PORT), "--visitor-nodes", "1", "--max-participants", "1",
             "--media-ip", "%s,%s" % (PUB4, PUB6), "--media-listen", "::",
             "--media-port", str(MEDIA)],
            stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, env=env)
    procs.append(amphi)
    try:
        for node in range(3):
            wait_http(srv, "http://127.0.0.1:%d/healthz" % (PORT + node))
        url = "ws://%s:%d/ws" % (PRIV4, PORT)
        client = ["ip", "netns", "exec", cli, "/usr/bin/python3",
                  os.path.join(HERE, "nat_client.py")]
        pub = subprocess.Popen(client + ["publish", url, ROOM, CLI4], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
        procs.append(pub)
        first = json.loads(pub.stdout.readline() or "{}")
        assert first.get("published"), pub.stderr.read() if pub.poll() is not None else first
        # The bridge's answer names only the advertised addresses (on every m-line), the
        # first preferred.
        assert list(dict.fromkeys(first["candidates"])) == [PUB4, PUB6], first
        assert json.loads(pub.stdout.readline() or "{}").get("connected"), \
            "the publisher's ICE and DTLS over %s did not complete" % PUB4
        view = sh(*client, "view", url, ROOM, CLI6, check=False)
        assert view.returncode == 0, view.stderr[-3000:]
        got = json.loads(view.stdout.strip().splitlines()[-1])
        assert list(dict.fromkeys(got["candidates"])) == [PUB4, PUB6], got
        assert got["frames"] >= 20, got
        # Nothing reached the media port but through the NAT: the drop rule counted the
        # datagrams that tried (none do: no candidate names the private address).
        rules = sh("ip", "netns", "exec", srv, "nft", "list", "table", "inet", "only_nat").stdout
        assert "packets 0 " in rules, rules
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    assert amphi.returncode == 0, err_path.read_text()[-3000:]
    check_sanitizers(str(err_path))
