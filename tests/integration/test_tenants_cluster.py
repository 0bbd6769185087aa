"""Tenants on a cluster made by `amphi configure --tenant ...` with a real nats-server: the
settings land in main.conf as [tenant.<name>] sections, `amphi serve` applies them (own key,
threshold, no visitors), the secret stays out of the world-readable files, and two tenants'
rooms of the same name stay apart across both visitor nodes."""

import os
import time

import pytest

from conftest import Client, make_jwt, run_with_clients
from test_cluster import NATS, Cluster, read_conf
from test_tenants import STEPS, wait_count

ACME = "acme-cluster-key-0123456789"


@pytest.fixture
def tenant_cluster(tmp_path):
    if not NATS:
        pytest.skip("nats-server is not installed")
    c = Cluster(tmp_path, max_participants=1, configure_args=[
        "--tenant", "acme:jwt_secret=%s,max_participants=1,room_empty_timeout_s=5" % ACME,
        "--tenant", "beta:visitors=false"])
    try:
        yield c.start()
    finally:
        c.stop()


def test_configure_writes_tenant_sections(tenant_cluster):
    d = tenant_cluster.dir
    with open(os.path.join(d, "main.conf")) as f:
        text = f.read()
    acme = text[text.index("[tenant.acme]"):text.index("[tenant.beta]")]
    assert read_conf_text(acme) == {"jwt_secret": ACME, "max_participants": "1",
                                    "room_empty_timeout_s": "5"}
    assert read_conf_text(text[text.index("[tenant.beta]"):]) == {"visitors": "false"}
    assert "[tenant." not in open(os.path.join(d, "visitor-1.conf")).read()
    # The key is in main.conf (0600) only: the headers of world-readable files hide it.
    assert os.stat(os.path.join(d, "main.conf")).st_mode & 0o077 == 0
    for name in ["nginx-amphi.conf"] + ["systemd/" + u for u in os.listdir(
            os.path.join(d, "systemd"))]:
        body = open(os.path.join(d, name)).read()
        assert ACME not in body, name
    assert "jwt_secret=***" in open(os.path.join(d, "nginx-amphi.conf")).read()
    # the top level stays as it was
    assert read_conf(os.path.join(d, "main.conf"))["max_participants"] == "1"


def read_conf_text(text):
    out = {}
    for line in text.splitlines()[1:]:
        line = line.strip()
        if line and not line.startswith(("#", ";")) and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def test_cluster_tenants_apply_and_stay_apart(tenant_cluster):
    c = tenant_cluster

    def tok(**user):
        return make_jwt(ACME, {"room": "town", "sub": "acme", "exp": int(time.time()) + 600,
                               "context": {"user": dict({"name": "Ada"}, **user)}})

    async def body(clients):
        # acme: its own key
        probe = await clients.connect(c.ws_url(), "probe")
        ans = await probe.join({"room": "acme/town", "name": "x", "id": "j"})
        assert ans.get("code") == "unauthorized", ans
        ans = await probe.join({"room": "acme/town", "id": "j",
                                "token": make_jwt("other", {"room": "town", "sub": "acme"})})
        assert ans.get("code") == "unauthorized", ans
        mod = await clients.connect(c.ws_url(), "acme-p")
        ans = await mod.join({"room": "acme/town", "token": tok(moderator="true")})
        assert ans["type"] == "joined" and ans["moderator"] is True, ans
        mod.joined = ans
        acme_vs = []
        for i in range(2):
            v = await clients.connect(c.ws_url(), "acme-v%d" % i)
            red = await v.join({"room": "acme/town", "token": tok(name="acme-v%d" % i)})
            assert red["type"] == "redirect", red
            await v.close()
            clients.remove(v)
            w = await clients.connect(red["url"], "acme-v%d" % i)
            w.joined = await w.join({"room": "acme/town", "ticket": red["ticket"]})
            assert w.joined["type"] == "joined", w.joined
            acme_vs.append(w)
        # beta: no key, the top-level threshold (1), no visitors: full means room_full
        b = await clients.join(c, "beta/town", "beta-p")
        assert b.joined["moderator"] is True
        late = await clients.connect(c.ws_url(), "beta-late")
        ans = await late.join({"room": "beta/town", "name": "L", "id": "l"})
        assert ans.get("code") == "room_full", ans
        # the default tenant: visitors on both nodes
        d = await clients.join(c, "town", "d-p")
        dv = await clients.join_each(c, "town", ["d-v1", "d-v2"])
        assert {v.node for v in dv} == {1, 2}

        sides = [
            {"tenant": "acme", "room": "acme/town", "clients": [mod] + acme_vs, "threshold": 6,
             "sent": [], "visitors": 2},
            {"tenant": "d", "room": "town", "clients": [d] + dv, "threshold": 5, "sent": [],
             "visitors": 2},
        ]
        for step in STEPS:
            for s in sides:
                await step(s)
        for s in sides:
            for cl in s["clients"]:
                await cl.wait_for(lambda m, s=s: m.get("type") == "chat" and
                                  m["message"]["text"] == s["sent"][-1])
                await wait_count(cl, s["visitors"])
                assert [m["message"]["text"] for m in cl.of_type("chat")] == s["sent"]
                other = "d-" if s["tenant"] == "acme" else "acme-"
                assert not [m for m in cl.msgs if other in repr(m)], cl.label
        # beta's lone participant heard nothing of either
        await b.ping()
        assert not [m for m in b.msgs if m.get("type") in ("chat", "room_updated")], b.msgs

    run_with_clients(body, timeout=90)
