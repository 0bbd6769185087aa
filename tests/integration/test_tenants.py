"""Tenants (interfaces.md §4, docs/OPERATIONS.md "Tenants"): each tenant's own token key,
issuer and audience, threshold, visitors on or off and anonymous guests, set with
`amphi run --tenant`; the every-tenant --jwt-secret for the others; moderators from tokens
(the claim as true and as "true") or, without a key, the first participant and the hand-over
when it leaves; and no event, count or chat crossing from one tenant's room to another's of
the same name, on any node."""

import asyncio
import time

from conftest import Client, make_jwt, run_with_clients

GLOBAL = "every-tenant-key-0123456789"
ACME = "acme-own-key-0123456789"


def claims(room="town", sub="acme", **over):
    c = {"room": room, "sub": sub, "exp": int(time.time()) + 600,
         "context": {"user": {"name": "Ada", "id": "u-ada"}}}
    for k, v in over.items():
        if k in ("moderator", "role", "name"):
            c["context"]["user"][k] = v
        else:
            c[k] = v
    return c


def tenants_server(amphi, *more):
    """acme: its own key and issuer, 2 participants; beta: the every-tenant key, no
    visitors; guest: the every-tenant key, anonymous guests welcome; free: no key at all."""
    return amphi("--jwt-secret", GLOBAL,
                 "--tenant", "acme:jwt_secret=%s,jwt_issuer=idp.acme,max_participants=2" % ACME,
                 "--tenant", "beta:visitors=false,max_participants=1",
                 "--tenant", "guest:allow_anonymous=true",
                 "--tenant", "free:jwt_secret=",
                 *more, visitor_nodes=2)


async def answer(srv, room, token=None, **extra):
    """The answer to one join through the main node (its connection closed after)."""
    c = await Client.connect(srv.ws_url(), label="j")
    try:
        msg = {"room": room, "name": "N", "id": "j1"}
        if token is not None:
            msg["token"] = token
        msg.update(extra)
        return await c.join(msg)
    finally:
        await c.close()


def test_tokens_per_tenant(amphi):
    srv = tenants_server(amphi)
    iss = {"iss": "idp.acme"}
    refused = {
        "no token": None,
        "expired": make_jwt(ACME, claims(exp=int(time.time()) - 3600, **iss)),
        "not yet valid": make_jwt(ACME, claims(nbf=int(time.time()) + 3600, **iss)),
        "wrong room": make_jwt(ACME, claims(room="boardroom", **iss)),
        "wrong tenant": make_jwt(ACME, claims(sub="beta", **iss)),
        "the every-tenant key, where acme has its own": make_jwt(GLOBAL, claims(**iss)),
        "bad signature": make_jwt(ACME, claims(**iss))[:-4] + "AAAA",
        "no issuer": make_jwt(ACME, claims()),
        "another issuer": make_jwt(ACME, claims(iss="idp.evil")),
    }

    async def body(clients):
        for why, tok in refused.items():
            ans = await answer(srv, "acme/town", tok)
            assert (ans["type"], ans.get("code"), ans.get("id")) == \
                ("error", "unauthorized", "j1"), (why, ans)
        # The moderator claim as true and as "true"; without it, no moderator.
        for flag in (True, "true"):
            c = await clients.connect(srv.ws_url(), "m")
            ans = await c.join({"room": "acme/town", "token": make_jwt(
                ACME, claims(moderator=flag, name="Mo %s" % flag, **iss))})
            assert ans["type"] == "joined" and ans["moderator"] is True, (flag, ans)
            assert ans["room"]["max_participants"] == 2  # acme's threshold
            await c.close()
        plain = await clients.connect(srv.ws_url(), "p")
        ans = await plain.join({"room": "acme/town", "token": make_jwt(ACME, claims(**iss))})
        assert ans["type"] == "joined" and ans["moderator"] is False, ans
        for flag in (False, "false", "yes"):
            c = await clients.connect(srv.ws_url(), "n")
            ans = await c.join({"room": "acme/other", "token": make_jwt(
                ACME, claims(room="other", moderator=flag, **iss))})
            assert ans["type"] == "joined" and ans["moderator"] is False, (flag, ans)
            await c.close()
        # The visitor role watches, even with seats free.
        ans = await answer(srv, "acme/stage", make_jwt(ACME, claims(room="stage", role="visitor",
                                                                    **iss)))
        assert ans["type"] == "redirect" and ans["role"] == "visitor", ans

        # beta has no key of its own: the every-tenant key, and only it.
        ans = await answer(srv, "beta/town", make_jwt(GLOBAL, claims(sub="beta")))
        assert ans["type"] == "joined", ans
        ans = await answer(srv, "beta/town", make_jwt(ACME, claims(sub="beta", **iss)))
        assert ans.get("code") == "unauthorized", ans
        ans = await answer(srv, "beta/town")
        assert ans.get("code") == "unauthorized", ans
        # A wildcard token of the every-tenant key opens any tenant that has no key of its own.
        ans = await answer(srv, "beta/x", make_jwt(GLOBAL, claims(room="*", sub="*")))
        assert ans["type"] == "joined", ans

        # guest: anonymous guests join (as guests: no moderator), tokens still count.
        ans = await answer(srv, "guest/town")
        assert ans["type"] == "joined" and ans["moderator"] is False, ans
        ans = await answer(srv, "guest/town", make_jwt(GLOBAL, claims(sub="guest",
                                                                      moderator=True)))
        assert ans["type"] == "joined" and ans["moderator"] is True, ans
        ans = await answer(srv, "guest/town", make_jwt(ACME, claims(sub="guest")))
        assert ans.get("code") == "unauthorized", ans

        # free: no key, so no token needed and the first participant moderates.
        first = await clients.connect(srv.ws_url(), "f1")
        ans = await first.join({"room": "free/town", "name": "First"})
        assert ans["type"] == "joined" and ans["moderator"] is True, ans

    run_with_clients(body)


def test_tenant_threshold_and_no_visitors(amphi):
    srv = amphi("--max-participants", 3, "--tenant", "beta:visitors=false,max_participants=1",
                "--tenant", "acme:max_participants=1", visitor_nodes=2)

    async def body(clients):
        a = await clients.join(srv, "beta/town", "Ann")
        assert a.joined["role"] == "participant"
        assert a.joined["room"]["max_participants"] == 1
        # full, and beta has no audience: room_full, the connection stays usable
        for extra in ({}, {"visitor": True}):
            c = await clients.connect(srv.ws_url(), "late")
            ans = await c.join(dict({"room": "beta/town", "name": "Late", "id": "x"}, **extra))
            assert (ans["type"], ans.get("code"), ans.get("id")) == \
                ("error", "room_full", "x"), ans
            await c.ping()
        # acme: the same threshold, with visitors
        p = await clients.join(srv, "acme/town", "Pat")
        v = await clients.join(srv, "acme/town", "Vic")
        assert p.node == 0 and v.node in (1, 2) and v.joined["role"] == "visitor"
        # the default tenant keeps the top-level threshold
        d = await clients.join(srv, "town", "Dee")
        assert d.joined["room"]["max_participants"] == 3

    run_with_clients(body)


def test_moderator_hand_over(amphi):
    """Without a key the first participant moderates and the longest-present one takes
    over when it leaves; with a key only tokens make moderators, and nobody takes over."""
    srv = amphi("--tenant", "acme:jwt_secret=%s" % ACME, visitor_nodes=1)

    async def body(clients):
        a, b, c = await clients.join_each(srv, "beta/town", ["A", "B", "C"])
        assert [x.joined["moderator"] for x in (a, b, c)] == [True, False, False]
        start_b, start_c = len(b.msgs), len(c.msgs)
        await a.close()
        for x, start in ((b, start_b), (c, start_c)):
            ev = await x.wait_for(lambda m: m.get("type") == "participant_updated" and
                                  m["participant"]["moderator"], start=start)
            assert ev["participant"]["id"] == b.joined["id"], ev
        ans = await b.request({"type": "set_room", "max_participants": 9})
        assert ans["type"] == "ok", ans
        ans = await c.request({"type": "set_room", "max_participants": 8})
        assert ans.get("code") == "forbidden", ans

        # acme has a key: the moderator's leaving hands nothing over.
        mod = await clients.connect(srv.ws_url(), "mod")
        ans = await mod.join({"room": "acme/town", "token": make_jwt(
            ACME, claims(moderator=True, name="Mod"))})
        assert ans["moderator"] is True, ans
        p = await clients.connect(srv.ws_url(), "p")
        ans = await p.join({"room": "acme/town", "token": make_jwt(ACME, claims(name="P"))})
        assert ans["moderator"] is False, ans
        start = len(p.msgs)
        await mod.close()
        await p.wait_for("participant_left", start=start)
        await p.ping()
        assert not [m for m in p.msgs[start:] if m.get("type") == "participant_updated"], \
            p.msgs[start:]

    run_with_clients(body)


# --- isolation ---------------------------------------------------------------------------

# What one side of the room does, each step in both tenants at once. Later flows (polls,
# hands) add a step here: a coroutine (side, clients) -> None that acts in its own room
# and leaves what it sent in side["sent"].
async def step_chat(side):
    for c in side["clients"]:
        text = "%s says hi from %s" % (c.label, side["tenant"])
        ans = await c.request({"type": "chat", "text": text})
        assert ans["type"] == "ok", ans
        side["sent"].append(text)


async def step_settings(side):
    ans = await side["clients"][0].request({"type": "set_room",
                                            "max_participants": side["threshold"]})
    assert ans["type"] == "ok", ans


async def step_poll(side):
    """A poll named after the tenant, every visitor voting: the tallies are the room's own."""
    part, vs = side["clients"][0], side["clients"][1:]
    ans = await part.request({"type": "poll_create", "question": "%s-lunch?" % side["tenant"],
                              "options": ["a", "b"]})
    assert ans["type"] == "ok", ans
    pid = ans["poll"]
    for v in vs:
        await v.wait_for(lambda m: m.get("type") == "poll" and m["poll"]["id"] == pid)
        ans = await v.request({"type": "poll_vote", "poll": pid, "option": 1})
        assert ans["type"] == "ok", ans
    for c in side["clients"]:
        await c.wait_for(lambda m: m.get("type") == "poll" and m["poll"]["id"] == pid and
                         m["poll"]["options"][1]["votes"] == len(vs))


async def step_hand(side):
    """A visitor's hand, seen by its room's moderator only."""
    part, v = side["clients"][0], side["clients"][1]
    ans = await v.request({"type": "raise_hand", "raised": True})
    assert ans["type"] == "ok", ans
    await part.wait_for(lambda m: m.get("type") == "hand" and m["hand"]["id"] == v.joined["id"])


STEPS = [step_chat, step_settings, step_poll, step_hand]


async def wait_count(c, n, timeout=5):
    """Until c's last known visitor count (its snapshot's, then each visitor_count) is n."""
    deadline = time.monotonic() + timeout
    while True:
        counts = [m["count"] for m in c.of_type("visitor_count")]
        last = counts[-1] if counts else c.joined["room"]["visitor_count"]
        if last == n:
            return
        assert time.monotonic() < deadline, (c.label, "visitor count", last, "not", n)
        await asyncio.sleep(0.05)


def test_tenant_isolation(amphi):
    """acme/town and beta/town: a participant and a visitor on each visitor node in each;
    every client sees exactly its own room's people, chat, settings and visitor count."""
    srv = amphi("--max-participants", 1, visitor_nodes=2)

    async def body(clients):
        sides = []
        for tenant, extra_visitors, threshold in (("acme", 1, 7), ("beta", 3, 4)):
            room = "%s/town" % tenant
            part = await clients.join(srv, room, "%s-p" % tenant)
            names = ["%s-v%d" % (tenant, i) for i in range(2 + extra_visitors)]
            vs = [await clients.join(srv, room, n) for n in names]
            assert {v.node for v in vs} == {1, 2}, [v.node for v in vs]
            sides.append({"tenant": tenant, "room": room, "clients": [part] + vs,
                          "threshold": threshold, "sent": [],
                          "ids": {part.joined["id"]} | {v.joined["id"] for v in vs},
                          "visitors": len(vs)})
        for step in STEPS:
            await asyncio.gather(*(step(s) for s in sides))
        for s in sides:
            other = [o for o in sides if o is not s][0]
            for c in s["clients"]:
                # its own chat, all of it, in one order...
                await c.wait_for(lambda m, s=s: m.get("type") == "chat" and
                                 m["message"]["text"] == s["sent"][-1])
                await wait_count(c, s["visitors"])
                await c.wait_for(lambda m, s=s: m.get("type") == "room_updated" and
                                 m["room"]["max_participants"] == s["threshold"])
                chat = [m["message"]["text"] for m in c.of_type("chat")]
                assert chat == s["sent"], (c.label, chat)
            # ... and nothing of the other room: no text, id, name, count or setting.
            await asyncio.sleep(1.2)  # counts go out once a second: give a stray one time
            for c in s["clients"]:
                for m in c.msgs:
                    text = repr(m)
                    assert other["tenant"] + "-" not in text, (c.label, m)
                    for i in other["ids"]:
                        assert i not in text, (c.label, m)
                    if m.get("type") == "visitor_count":
                        assert m["count"] <= s["visitors"], (c.label, m)
                    if m.get("type") == "room_updated":
                        assert m["room"]["max_participants"] == s["threshold"], (c.label, m)
                assert c.joined["room"]["name"] == s["room"]

    run_with_clients(body, timeout=90)


def test_amphi_token_with_tenant_in_room(amphi):
    """`amphi token --room acme/townhall` makes a token for that room of that tenant."""
    from conftest import amphi_token, join
    srv = amphi("--jwt-secret", "tok-secret-0123456789", visitor_nodes=1)
    tok = amphi_token("--secret", "tok-secret-0123456789", "--room", "acme/townhall",
                      "--name", "Tia", "--moderator")

    async def body(clients):
        c = await clients.join(srv, "acme/townhall", "x", token=tok)
        assert c.joined["role"] == "participant" and c.joined["moderator"] is True, c.joined
        other = await clients.connect(srv.ws_url(), "other")
        ans = await other.join({"room": "beta/townhall", "token": tok})
        assert ans["type"] == "error" and ans["code"] == "unauthorized", ans

    run_with_clients(body)


def test_names_from_tokens_are_checked(amphi):
    """A token's name is held to the join's rules (1..64 characters, no control character,
    not blank); one that breaks them is not used: the join's own name is."""
    import time as _t
    from conftest import make_jwt
    secret = "name-secret-0123456789"
    srv = amphi("--jwt-secret", secret, visitor_nodes=1)

    def tok(name):
        return make_jwt(secret, {"room": "townhall", "sub": "acme", "exp": int(_t.time()) + 600,
                                 "context": {"user": {"name": name, "id": "u1"}}})

    async def body(clients):
        for bad in ("evil\\u0007bell".encode().decode("unicode_escape"), "   ", "x" * 200):
            c = await clients.join(srv, "acme/townhall", "Plain", token=tok(bad))
            me = [p for p in c.joined["room"]["participants"] if p["id"] == c.joined["id"]]
            assert me and me[0]["name"] == "Plain", (bad, c.joined["room"]["participants"])
            await c.close()
        c = await clients.join(srv, "acme/townhall", "Plain", token=tok("Zoë"))
        me = [p for p in c.joined["room"]["participants"] if p["id"] == c.joined["id"]]
        assert me[0]["name"] == "Zoë"

    run_with_clients(body)
