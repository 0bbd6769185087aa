"""TURN credentials in the join answer (docs/PROTOCOL.md "TURN"): with turn_uris and
turn_secret set, every `joined`, the main node's and a visitor node's, carries ice_servers
with a username "<expiry>:<member id>" valid turn_ttl_s and the password coturn computes
(base64 of HMAC-SHA1 with the shared secret); without them it carries none; and a half
configuration (URIs without a secret, a URI that is not turn:) stops `amphi run` with the
key named. Bad media addresses are refused the same way."""

import base64
import hashlib
import hmac
import subprocess
import time

import pytest

from conftest import AMPHI_BIN, close_all, free_port_range, join, run, sanitizer_env

ROOM = "acme/turn"

SECRET = "a-turn-secret-shared-with-coturn"
URIS = ["turn:turn.example.org:3478?transport=udp", "turn:turn.example.org:3478?transport=tcp"]


def check_servers(joined, ttl):
    servers = joined.get("ice_servers")
    assert isinstance(servers, list) and len(servers) == 1, joined
    s = servers[0]
    assert s["urls"] == URIS, s
    expiry, user = s["username"].split(":", 1)
    assert user == joined["id"], s
    assert abs(int(expiry) - (time.time() + ttl)) < 30, s
    want = base64.b64encode(hmac.new(SECRET.encode(), s["username"].encode(),
                                     hashlib.sha1).digest()).decode()
    assert s["credential"] == want, s


def test_joined_carries_turn_credentials(amphi):
    srv = amphi("--max-participants", 1, "--turn-uris", ",".join(URIS),
                "--turn-secret", SECRET, "--turn-ttl-s", 600, visitor_nodes=1)

    async def body():
        a = await join(srv, ROOM, "Ann")
        v = await join(srv, ROOM, "Vic")  # the stage is full: a visitor node answers
        try:
            assert a.node == 0 and v.node == 1
            check_servers(a.joined, 600)
            check_servers(v.joined, 600)
            assert a.joined["ice_servers"][0]["username"] != v.joined["ice_servers"][0]["username"]
        finally:
            await close_all(a, v)

    run(body())


def test_no_turn_no_ice_servers(amphi):
    srv = amphi(visitor_nodes=1)

    async def body():
        a = await join(srv, ROOM, "Ann")
        try:
            assert "ice_servers" not in a.joined, a.joined
        finally:
            await close_all(a)

    run(body())


@pytest.mark.parametrize("flags,why", [
    (["--turn-uris", URIS[0]], "turn_secret: required with turn_uris"),
    (["--turn-secret", SECRET], "turn_uris: required with turn_secret"),
    (["--turn-uris", "https://turn.example.org", "--turn-secret", SECRET],
     "turn_uris: 'https://turn.example.org' is not a turn:, turns: or stun: URI"),
    (["--media-ip", "0.0.0.0"], "media_ip: 0.0.0.0 is no address a client can send to"),
    (["--media-ip", "127.0.0.1,::1", "--media-listen", "127.0.0.1"],
     "media_listen: 127.0.0.1 is IPv4 but media_ip has an IPv6 address"),
    (["--media-ip", "192.0.2.77"], "not an address of this machine: behind a 1:1 NAT"),
])
def test_bad_turn_and_media_settings_stop_run(flags, why):
    port = free_port_range(3)
    r = subprocess.run([AMPHI_BIN, "run", "--listen", "127.0.0.1", "--port", str(port),
                        "--visitor-nodes", "1", *flags], capture_output=True, text=True,
                       timeout=30, env=sanitizer_env(), stdin=subprocess.DEVNULL)
    assert r.returncode != 0 and why in r.stderr, (r.returncode, r.stderr)
