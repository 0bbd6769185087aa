"""The audience takes part (interfaces.md §3): polls voted on from every node, raised hands
that only moderators and their owner see, promotion of a visitor to the stage and demotion
of a participant to the audience, across two visitor nodes of `amphi run`."""

import asyncio
import time

from conftest import make_jwt, run_with_clients

ROOM = "acme/townhall"
SECRET = "audience-secret-0123456789"


def token(name, uid, moderator=False, visitor=False, room="townhall", tenant="acme"):
    user = {"name": name, "id": uid}
    if moderator:
        user["moderator"] = moderator
    if visitor:
        user["role"] = "visitor"
    return make_jwt(SECRET, {"room": room, "sub": tenant, "exp": int(time.time()) + 600,
                             "context": {"user": user}})


async def ok(client, msg):
    ans = await client.request(msg)
    assert ans["type"] == "ok", (msg, ans)
    return ans


async def error(client, msg, code):
    ans = await client.request(msg)
    assert ans["type"] == "error" and ans["code"] == code, (msg, ans)
    return ans


def last_poll(client, pid):
    polls = [m["poll"] for m in client.of_type("poll") if m["poll"]["id"] == pid]
    return polls[-1] if polls else None


async def wait_tally(client, pid, votes, closed=None, timeout=5.0):
    def done(m):
        p = m.get("poll") if m.get("type") == "poll" else None
        return (p is not None and p["id"] == pid and [o["votes"] for o in p["options"]] == votes
                and (closed is None or p["closed"] == closed))
    return (await client.wait_for(done, timeout=timeout, what="tally %s" % votes))["poll"]


async def visitors_on_both_nodes(srv, clients, names):
    vs = [await clients.join(srv, ROOM, n, visitor=True) for n in names]
    assert {v.node for v in vs} == {1, 2}, [v.node for v in vs]
    return vs


def test_poll_votes_from_both_nodes(amphi):
    srv = amphi(visitor_nodes=2)

    async def body(clients):
        ann = await clients.join(srv, ROOM, "Ann")
        bob = await clients.join(srv, ROOM, "Bob")
        assert ann.joined["moderator"] and not bob.joined["moderator"]
        vs = await visitors_on_both_nodes(srv, clients, ["V1", "V2", "V3", "V4"])
        everyone = [ann, bob] + vs
        ans = await ok(ann, {"type": "poll_create", "question": "Lunch?",
                             "options": ["pizza", "salad", "soup"]})
        pid = ans["poll"]
        for c in everyone:
            p = await wait_tally(c, pid, [0, 0, 0], closed=False)
            assert p["question"] == "Lunch?" and [o["text"] for o in p["options"]] == [
                "pizza", "salad", "soup"]
        for c, opt in zip(everyone, [0, 1, 1, 2, 0, 1]):
            await ok(c, {"type": "poll_vote", "poll": pid, "option": opt})
        await ok(vs[0], {"type": "poll_vote", "poll": pid, "option": 2})  # V1 changes its vote
        await ok(bob, {"type": "poll_vote", "poll": pid, "option": 1})    # the same again
        t0 = time.monotonic()
        finals = [await wait_tally(c, pid, [2, 2, 2]) for c in everyone]
        assert time.monotonic() - t0 < 2.0
        assert all(p == finals[0] for p in finals), finals
        assert finals[0]["voters"] == 6 and finals[0]["closed"] is False
        # A late visitor gets the poll with its tallies in the snapshot.
        late = await clients.join(srv, ROOM, "Late", visitor=True)
        (snap,) = [p for p in late.joined["room"]["polls"] if p["id"] == pid]
        assert [o["votes"] for o in snap["options"]] == [2, 2, 2]
        # Bad votes: each its own error, nothing counted.
        await error(vs[1], {"type": "poll_vote", "poll": pid, "option": 3}, "bad_request")
        await error(vs[1], {"type": "poll_vote", "poll": "q99", "option": 0}, "not_found")
        await error(ann, {"type": "poll_vote", "poll": pid, "option": 7}, "bad_request")
        await error(ann, {"type": "poll_vote", "poll": "nope", "option": 0}, "not_found")
        # Bob did not create it and does not moderate; Ann moderates.
        await error(bob, {"type": "poll_close", "poll": pid}, "forbidden")
        await error(vs[2], {"type": "poll_close", "poll": pid}, "forbidden")
        await ok(ann, {"type": "poll_close", "poll": pid})
        for c in everyone:
            await wait_tally(c, pid, [2, 2, 2], closed=True)
        await error(vs[3], {"type": "poll_vote", "poll": pid, "option": 0}, "bad_request")
        await error(bob, {"type": "poll_vote", "poll": pid, "option": 0}, "bad_request")
        await asyncio.sleep(0.5)
        assert last_poll(ann, pid)["options"][0]["votes"] == 2 and last_poll(ann, pid)["closed"]

    run_with_clients(body)


def test_poll_requests_refused(amphi):
    srv = amphi(visitor_nodes=1)

    async def body(clients):
        ann = await clients.join(srv, ROOM, "Ann")
        bob = await clients.join(srv, ROOM, "Bob")
        vis = await clients.join(srv, ROOM, "Vis", visitor=True)
        await error(vis, {"type": "poll_create", "question": "Q?", "options": ["a", "b"]},
                    "forbidden")
        await error(ann, {"type": "poll_create", "question": "Q?", "options": ["a"]},
                    "bad_request")
        await error(ann, {"type": "poll_create", "question": "Q?",
                          "options": [str(i) for i in range(11)]}, "bad_request")
        await error(ann, {"type": "poll_create", "question": "", "options": ["a", "b"]},
                    "bad_request")
        # The creator closes its own poll without moderating.
        pid = (await ok(bob, {"type": "poll_create", "question": "Q?",
                              "options": ["a", "b"]}))["poll"]
        await ok(bob, {"type": "poll_close", "poll": pid})
        await wait_tally(vis, pid, [0, 0], closed=True)
        assert not ann.errors()[4:] and not vis.errors()[1:]

    run_with_clients(body)


def test_poll_events_coalesced(amphi):
    """Votes far faster than 4 a second: at most 4 poll events a second reach anyone, and
    the final tally arrives within 1 s of the last vote."""
    srv = amphi(visitor_nodes=1)

    async def body(clients):
        ann = await clients.join(srv, ROOM, "Ann")
        vis = await clients.join(srv, ROOM, "Vis", visitor=True)
        pid = (await ok(ann, {"type": "poll_create", "question": "Q?",
                              "options": ["a", "b"]}))["poll"]
        await wait_tally(vis, pid, [0, 0])
        start = len(vis.msgs)
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < 2.0:
            for c in (ann, vis):
                await c.send({"type": "poll_vote", "poll": pid, "option": k % 2})
            k += 1
            await asyncio.sleep(0.06)
        await ann.send({"type": "poll_vote", "poll": pid, "option": 1})
        await vis.send({"type": "poll_vote", "poll": pid, "option": 1})
        t_last = time.monotonic()
        await wait_tally(vis, pid, [0, 2])
        assert time.monotonic() - t_last < 1.0
        await asyncio.sleep(0.6)
        n = len([m for m in vis.of_type("poll", start) if m["poll"]["id"] == pid])
        elapsed = time.monotonic() - t0
        assert k > 25 and n <= 4 * elapsed + 2, (k, n, elapsed)
        assert not ann.errors() and not vis.errors()

    run_with_clients(body)


def hands_of(client):
    return [m["hand"] for m in client.of_type("hand")]


def test_hands_seen_by_moderators_only(amphi):
    srv = amphi("--jwt-secret", SECRET, visitor_nodes=2)

    async def body(clients):
        ann = await clients.join(srv, ROOM, "Ann", token=token("Ann", "u-ann", moderator=True))
        bob = await clients.join(srv, ROOM, "Bob", token=token("Bob", "u-bob"))
        vs = [await clients.join(srv, ROOM, n, token=token(n, "u-" + n, visitor=True))
              for n in ("V1", "V2", "V3")]
        assert {v.node for v in vs} == {1, 2}
        for who in (vs[0], bob, vs[1]):
            await ok(who, {"type": "raise_hand", "raised": True})
        order = [vs[0].joined["id"], bob.joined["id"], vs[1].joined["id"]]
        await ann.wait_for(lambda m: m.get("type") == "hand" and m["hand"]["id"] == order[2])
        assert [h["id"] for h in hands_of(ann)] == order
        assert all(h["raised"] for h in hands_of(ann))
        # Each owner sees its own hand only; nobody else sees any.
        for who in (vs[0], bob, vs[1]):
            await who.wait_for("hand")
        await asyncio.sleep(0.3)
        for who in (vs[0], bob, vs[1]):
            assert [h["id"] for h in hands_of(who)] == [who.joined["id"]], hands_of(who)
        assert hands_of(vs[2]) == []
        assert "hands" not in vs[2].joined["room"] and "hands" not in bob.joined["room"]
        # Moderators who join later, here and on a visitor node, get the queue in order.
        cy = await clients.join(srv, ROOM, "Cy", token=token("Cy", "u-cy", moderator="true"))
        vm = await clients.join(srv, ROOM, "VM", token=token("VM", "u-vm", moderator=True,
                                                             visitor=True))
        assert cy.joined["moderator"] is True and cy.joined["role"] == "participant"
        assert vm.joined["moderator"] is True and vm.joined["role"] == "visitor"
        for m in (cy, vm):
            assert [h["id"] for h in m.joined["room"]["hands"]] == order, m.joined["room"]
        # Down by request, and when the owner leaves; the moderators see both.
        await ok(vs[0], {"type": "raise_hand", "raised": False})
        await vs[1].close()
        for m in (ann, cy, vm):
            await m.wait_for(lambda x: x.get("type") == "hand" and x["hand"]["id"] == order[2]
                             and not x["hand"]["raised"])
            downs = [h["id"] for h in hands_of(m) if not h["raised"]]
            assert downs == [order[0], order[2]], hands_of(m)
        late = await clients.join(srv, ROOM, "Dee", token=token("Dee", "u-dee", moderator=True))
        assert [h["id"] for h in late.joined["room"]["hands"]] == [order[1]]
        # The visitor who moderates does so from its visitor node: deny, and room settings.
        await ok(vm, {"type": "deny", "target": order[1]})
        m = await bob.wait_for(lambda x: x.get("type") == "hand" and not x["hand"]["raised"])
        assert m["hand"]["denied"] is True
        await ok(vm, {"type": "set_room", "max_participants": 7})
        await bob.wait_for(lambda x: x.get("type") == "room_updated"
                           and x["room"]["max_participants"] == 7)
        await error(vm, {"type": "deny", "target": order[1]}, "not_found")
        await error(vm, {"type": "poll_create", "question": "Q?", "options": ["a", "b"]},
                    "forbidden")
        await error(vs[2], {"type": "deny", "target": order[1]}, "forbidden")

    run_with_clients(body)


def test_promote_deny_demote(amphi):
    """A visitor promoted joins the main node above max_participants; a denied hand goes
    down and its owner is told; a demoted participant becomes a visitor, and its reconnect
    with its participant token is a visitor's too, until promoted again."""
    srv = amphi("--jwt-secret", SECRET, "--max-participants", 2, visitor_nodes=2)

    async def body(clients):
        ann = await clients.join(srv, ROOM, "Ann", token=token("Ann", "u-ann", moderator=True))
        bob = await clients.join(srv, ROOM, "Bob", token=token("Bob", "u-bob"))
        v1 = await clients.join(srv, ROOM, "V1", token=token("V1", "u-v1"))
        v2 = await clients.join(srv, ROOM, "V2", token=token("V2", "u-v2"))
        assert v1.joined["role"] == "visitor" and v2.joined["role"] == "visitor"
        # Refusals first.
        await error(bob, {"type": "promote", "target": v1.joined["id"]}, "forbidden")
        await error(v1, {"type": "promote", "target": v2.joined["id"]}, "forbidden")
        await error(v1, {"type": "demote", "target": bob.joined["id"]}, "forbidden")
        await error(v1, {"type": "set_room", "max_participants": 9}, "forbidden")
        await error(ann, {"type": "promote", "target": "v-nobody"}, "not_found")
        await error(ann, {"type": "promote", "target": bob.joined["id"]}, "bad_request")
        await error(ann, {"type": "deny", "target": v2.joined["id"]}, "not_found")
        await error(ann, {"type": "demote", "target": "p-nobody"}, "not_found")
        await error(ann, {"type": "promote"}, "bad_request")
        # Deny.
        await ok(v2, {"type": "raise_hand", "raised": True})
        await error(ann, {"type": "demote", "target": v2.joined["id"]}, "bad_request")
        await ok(ann, {"type": "deny", "target": v2.joined["id"]})
        m = await v2.wait_for(lambda x: x.get("type") == "hand" and not x["hand"]["raised"])
        assert m["hand"].get("denied") is True
        # Promote, by hand or not.
        await ok(v1, {"type": "raise_hand", "raised": True})
        t0 = time.monotonic()
        await ok(ann, {"type": "promote", "target": v1.joined["id"]})
        pr = await v1.wait_for("promoted")
        assert pr["url"] == srv.ws_url(), pr
        await v1.close()
        p1 = await clients.connect(pr["url"], "V1-up")
        j = await p1.join({"room": ROOM, "ticket": pr["ticket"]})
        assert j["type"] == "joined" and j["role"] == "participant", j
        assert j["id"] == v1.joined["id"]
        assert len(j["room"]["participants"]) == 3  # above max_participants 2
        ev = await bob.wait_for(lambda x: x.get("type") == "participant_joined"
                                and x["participant"]["id"] == j["id"])
        assert ev["participant"]["name"] == "V1"
        await v2.wait_for(lambda x: x.get("type") == "participant_joined"
                          and x["participant"]["id"] == j["id"])
        print("promote -> participant_joined: %.0f ms" % ((time.monotonic() - t0) * 1000))
        await ann.wait_for(lambda x: x.get("type") == "hand" and x["hand"]["id"] == j["id"]
                           and not x["hand"]["raised"])
        # Demote Bob: he is told where to go, the others see him leave.
        bob_id = bob.joined["id"]
        await ok(ann, {"type": "demote", "target": bob_id})
        dm = await bob.wait_for("demoted")
        for c in (ann, p1, v2):
            await c.wait_for(lambda x: x.get("type") == "participant_left" and x["id"] == bob_id)
        await bob.close()
        b2 = await clients.connect(dm["url"], "Bob-down")
        j = await b2.join({"room": ROOM, "ticket": dm["ticket"]})
        assert j["type"] == "joined" and j["role"] == "visitor" and j["id"] == bob_id, j
        # Bob reconnects through the main node with his participant token: a visitor still.
        await b2.close()
        b3 = await clients.join(srv, ROOM, "Bob", token=token("Bob", "u-bob"))
        assert b3.joined["role"] == "visitor" and b3.joined["id"] == bob_id, b3.joined
        # Promoted again, he is a participant again, and his token works as before.
        await ok(ann, {"type": "promote", "target": bob_id})
        pr = await b3.wait_for("promoted")
        await b3.close()
        b4 = await clients.connect(pr["url"], "Bob-up")
        j = await b4.join({"room": ROOM, "ticket": pr["ticket"]})
        assert j["type"] == "joined" and j["role"] == "participant", j

    run_with_clients(body)


def test_auto_promote(amphi):
    srv = amphi("--max-participants", 1, visitor_nodes=1)

    async def body(clients):
        ann = await clients.join(srv, ROOM, "Ann")
        v1 = await clients.join(srv, ROOM, "V1")
        assert v1.joined["role"] == "visitor" and v1.joined["room"]["auto_promote"] is False
        await ok(v1, {"type": "raise_hand", "raised": True})  # raised before the setting
        await ok(ann, {"type": "set_room", "auto_promote": True})
        ev = await v1.wait_for("room_updated")
        assert ev["room"]["auto_promote"] is True
        await v1.wait_for("promoted")
        v2 = await clients.join(srv, ROOM, "V2")
        await ok(v2, {"type": "raise_hand", "raised": True})
        pr = await v2.wait_for("promoted")
        assert pr["ticket"]

    run_with_clients(body)


def test_auto_promote_flag(amphi):
    srv = amphi("--max-participants", 1, "--auto-promote", visitor_nodes=1)

    async def body(clients):
        await clients.join(srv, ROOM, "Ann")
        v1 = await clients.join(srv, ROOM, "V1")
        await ok(v1, {"type": "raise_hand", "raised": True})
        pr = await v1.wait_for("promoted")
        await v1.close()
        p = await clients.connect(pr["url"], "V1-up")
        j = await p.join({"room": ROOM, "ticket": pr["ticket"]})
        assert j["role"] == "participant"

    run_with_clients(body)


def view_of_hands(client):
    """The queue a moderator's client holds: its joined snapshot, then every hand message
    and snapshot in the order they came."""
    queue = [h["id"] for h in client.joined["room"].get("hands", [])]
    for m in client.msgs:
        if m.get("type") == "snapshot":
            queue = [h["id"] for h in m["room"].get("hands", [])]
        elif m.get("type") == "hand":
            hid = m["hand"]["id"]
            if m["hand"]["raised"] and hid not in queue:
                queue.append(hid)
            elif not m["hand"]["raised"] and hid in queue:
                queue.remove(hid)
    return queue


def test_hands_resync_after_lost_messages(amphi):
    """The visitor node loses every third message of the room (a test hook): a moderator
    watching there still ends with the main node's queue, in order, since a gap in hseq
    makes the node fetch a snapshot with the hands."""
    srv = amphi("--jwt-secret", SECRET, "--test-drop-events", 3, visitor_nodes=1)

    async def body(clients):
        await clients.join(srv, ROOM, "Ann", token=token("Ann", "u-ann", moderator=True))
        vm = await clients.join(srv, ROOM, "VM", token=token("VM", "u-vm", moderator=True,
                                                             visitor=True))
        vs = [await clients.join(srv, ROOM, "H%d" % i, token=token("H%d" % i, "u-h%d" % i))
              for i in range(6)]
        for v in vs:
            await ok(v, {"type": "raise_hand", "raised": True})
        want = [v.joined["id"] for v in vs]
        poke = await clients.join(srv, ROOM, "Poke", token=token("Poke", "u-poke"))
        deadline = time.monotonic() + 10
        while [h for h in view_of_hands(vm) if h in want] != want:
            assert time.monotonic() < deadline, (view_of_hands(vm), want)
            await ok(poke, {"type": "raise_hand", "raised": True})
            await ok(poke, {"type": "raise_hand", "raised": False})
            await asyncio.sleep(0.2)
        assert any(m.get("type") == "snapshot" for m in vm.msgs)
        others = [m for v in vs for m in v.of_type("hand") if m["hand"]["id"] != v.joined["id"]]
        assert not others, others

    run_with_clients(body)


def test_auto_promote_by_the_admin_api(amphi):
    from conftest import http_json
    srv = amphi("--max-participants", 1, "--admin-token", "adm-0123456789", visitor_nodes=1)
    auth = {"Authorization": "Bearer adm-0123456789"}
    url = srv.http_url("/api/v1/rooms/" + ROOM)

    async def body(clients):
        await clients.join(srv, ROOM, "Ann")
        v1 = await clients.join(srv, ROOM, "V1")
        status, doc = http_json("PATCH", url, {"auto_promote": "yes"}, auth)
        assert status == 400, (status, doc)
        status, doc = http_json("PATCH", url, {"auto_promote": True}, auth)
        assert status == 200 and doc["auto_promote"] is True, (status, doc)
        await v1.wait_for(lambda m: m.get("type") == "room_updated"
                          and m["room"].get("auto_promote") is True)
        await ok(v1, {"type": "raise_hand", "raised": True})
        await v1.wait_for("promoted")

    run_with_clients(body)
