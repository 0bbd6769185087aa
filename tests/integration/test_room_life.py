"""A room's life (docs/OPERATIONS.md "Rooms"): an operator makes it ahead with PUT (201, then
200), a PATCH on an unknown room stays 404; a room ends room_empty_timeout_s after its last
participant and visitor left, and one made ahead that nobody entered room_unused_timeout_s
after its PUT; visitor nodes drop their mirror when it ends; a room of the same name opened
again starts a new life; ids are never given out twice."""

import asyncio
import time

from conftest import Client, http, http_json, parse_metrics, run_with_clients

TOKEN = "life-t0ken"
AUTH = {"Authorization": "Bearer " + TOKEN}


def room_url(srv, room):
    return srv.http_url("/api/v1/rooms/" + room)


def get_room(srv, room):
    return http_json("GET", room_url(srv, room), headers=AUTH)


def mirrors(srv, node):
    """Rooms the visitor node `node` mirrors, from its /metrics."""
    _, _, body = http("GET", srv.http_url("/metrics", node))
    return sum(v for k, v in parse_metrics(body.decode()).items()
               if k.startswith("amphi_rooms"))


async def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)
    return time.monotonic()


def test_put_makes_a_room_ahead(amphi):
    srv = amphi("--admin-token", TOKEN, "--max-participants", 5, visitor_nodes=1)
    url = room_url(srv, "acme/gala")
    # PATCH on a room nobody made is still 404; PUT makes it, with its settings.
    status, doc = http_json("PATCH", url, body={"max_participants": 2}, headers=AUTH)
    assert status == 404 and doc["error"] == "not_found", (status, doc)
    status, doc = http_json("PUT", url, body={"max_participants": 1}, headers=AUTH)
    assert status == 201, (status, doc)
    assert doc["name"] == "acme/gala" and doc["max_participants"] == 1 and doc["tenant"] == "acme"
    assert doc["participants"] == [] and doc["visitor_count"] == 0 and doc["ahead"] is True
    # again: it is there (200), settings applied; an empty body keeps them
    status, doc = http_json("PUT", url, body={"max_participants": 2}, headers=AUTH)
    assert status == 200 and doc["max_participants"] == 2, (status, doc)
    status, _, body = http("PUT", url, headers=AUTH)
    assert status == 200, (status, body)
    # bad bodies and no token
    for bad in ({"max_participants": -1}, {"max_participants": "3"}, [1]):
        status, doc = http_json("PUT", url, body=bad, headers=AUTH)
        assert status == 400 and doc["error"] == "bad_request", (bad, status, doc)
    status, _ = http_json("PUT", url, body={})
    assert status == 401
    status, doc = http_json("PUT", room_url(srv, "acme/bad.name"), body={}, headers=AUTH)
    assert status == 400, (status, doc)
    status, doc = http_json("GET", srv.http_url("/api/v1/rooms"), headers=AUTH)
    assert "acme/gala" in [r["name"] for r in doc["rooms"]], doc

    async def body(clients):
        # people arrive: the threshold set ahead applies
        a, b, v = await clients.join_each(srv, "acme/gala", ["A", "B", "V"])
        assert [x.joined["role"] for x in (a, b, v)] == ["participant", "participant",
                                                          "visitor"]
        assert a.joined["room"]["max_participants"] == 2
        assert a.joined["moderator"] is True  # no token key: the first one moderates
        await asyncio.sleep(0.3)  # a sweep or more
        status, doc = get_room(srv, "acme/gala")
        assert status == 200 and doc["ahead"] is False, doc

    run_with_clients(body)


def test_an_empty_room_ends_and_starts_a_new_life(amphi):
    srv = amphi("--admin-token", TOKEN, "--max-participants", 1, "--room-empty-timeout-s", 2,
                visitor_nodes=2)

    async def body(clients):
        a = await clients.join(srv, "acme/town", "A")
        vs = [await clients.join(srv, "acme/town", "V%d" % i) for i in range(2)]
        assert sorted(v.node for v in vs) == [1, 2]
        ids = {a.joined["id"]} | {v.joined["id"] for v in vs}
        assert len(ids) == 3
        ans = await a.request({"type": "chat", "text": "before"})
        assert ans["type"] == "ok"
        first_seq = a.joined["room"]["seq"]
        # A participant leaving alone does not end it: the visitors are still there.
        await a.close()
        await asyncio.sleep(2.5)
        assert get_room(srv, "acme/town")[0] == 200
        for v in vs:
            await v.close()
        left = time.monotonic()
        # Ends about 2 s after the last one left: not before, not much after.
        await asyncio.sleep(1.2)
        assert get_room(srv, "acme/town")[0] == 200, "ended before room_empty_timeout_s"
        ended = await wait_until(lambda: get_room(srv, "acme/town")[0] == 404, 5,
                                 "the empty room never ended")
        assert 2.0 <= ended - left <= 4.0, ended - left
        # Visitor nodes dropped their mirror with it (their own idle sweep would take 10 s).
        await wait_until(lambda: mirrors(srv, 1) == 0 and mirrors(srv, 2) == 0, 1.5,
                         "a visitor node kept the ended room's mirror")

        # The same name again: a new life, from seq 1 and without the old chat; a visitor
        # gets a fresh mirror of it.
        b = await clients.join(srv, "acme/town", "B")
        assert b.joined["role"] == "participant" and b.joined["moderator"] is True
        room = b.joined["room"]
        assert room["chat"] == [] and room["seq"] < first_seq + 3, room
        w = await clients.join(srv, "acme/town", "W")
        assert w.node in (1, 2) and w.joined["room"]["seq"] >= room["seq"]
        assert w.joined["room"]["chat"] == []
        ans = await w.request({"type": "chat", "text": "after"})
        assert ans["type"] == "ok", ans
        ev = await b.wait_for("chat")
        assert ev["message"]["text"] == "after"
        assert {b.joined["id"], w.joined["id"]}.isdisjoint(ids)

    run_with_clients(body)


def test_a_room_made_ahead_that_nobody_entered_ends(amphi):
    srv = amphi("--admin-token", TOKEN, "--room-empty-timeout-s", 1,
                "--room-unused-timeout-s", 3, visitor_nodes=1)
    url = room_url(srv, "acme/later")
    assert http_json("PUT", url, body={"max_participants": 4}, headers=AUTH)[0] == 201
    made = time.monotonic()

    async def body(clients):
        # it waits its room_unused_timeout_s (3 s), not the empty timeout (1 s) ...
        await asyncio.sleep(2)
        assert get_room(srv, "acme/later")[0] == 200
        # ... and a PUT renews the wait
        assert http_json("PUT", url, body={}, headers=AUTH)[0] == 200
        renewed = time.monotonic()
        await asyncio.sleep(2)
        assert get_room(srv, "acme/later")[0] == 200, "ended before the renewed wait"
        ended = await wait_until(lambda: get_room(srv, "acme/later")[0] == 404, 4,
                                 "the unused room never ended")
        assert 3.0 <= ended - renewed <= 5.0 and ended - made > 4, (ended - renewed)

        # Once someone entered, it ends like any room: 1 s after the last one left.
        assert http_json("PUT", url, body={}, headers=AUTH)[0] == 201
        a = await clients.join(srv, "acme/later", "A")
        await a.close()
        left = time.monotonic()
        ended = await wait_until(lambda: get_room(srv, "acme/later")[0] == 404, 4,
                                 "the used room never ended")
        assert ended - left < 2.8, ended - left

    run_with_clients(body)


def test_ids_are_never_given_twice(amphi):
    """Participants and visitors coming and going: every id the room gives out is new."""
    srv = amphi("--max-participants", 2, visitor_nodes=2)

    async def body(clients):
        seen = []
        stay = await clients.join(srv, "acme/ids", "Stay")  # keeps the room alive
        seen.append(stay.joined["id"])
        for i in range(20):
            c = await clients.join(srv, "acme/ids", "C%d" % i,
                                   visitor=(i % 3 == 0) or None)
            seen.append(c.joined["id"])
            if c.redirect:
                assert c.redirect["ticket"]
            await c.close()
            clients.remove(c)
        assert len(set(seen)) == len(seen), seen
        assert all(i[0] in "pv" and len(i) <= 64 for i in seen), seen

    run_with_clients(body)


def test_ended_room_can_be_made_again_with_put(amphi):
    srv = amphi("--admin-token", TOKEN, visitor_nodes=1)
    url = room_url(srv, "acme/again")

    async def body(clients):
        a = await clients.join(srv, "acme/again", "A")
        assert http_json("DELETE", url, headers=AUTH)[0] == 200
        await a.wait_for("closed")
        late = await clients.connect(srv.ws_url(), "late")
        ans = await late.join({"room": "acme/again", "name": "L", "id": "l"})
        assert ans.get("code") == "room_closed", ans
        # the operator wants it back: a new room at once
        status, doc = http_json("PUT", url, body={"max_participants": 3}, headers=AUTH)
        assert status == 201 and doc["ended"] is False and doc["max_participants"] == 3, doc
        b = await clients.join(srv, "acme/again", "B")
        assert b.joined["role"] == "participant"
        assert b.joined["room"]["participants"][0]["name"] == "B"

    run_with_clients(body)


def test_room_timeouts_per_tenant(amphi):
    """A tenant's own room_empty_timeout_s: its rooms end after it, others keep the default."""
    srv = amphi("--admin-token", TOKEN, "--tenant", "quick:room_empty_timeout_s=1",
                visitor_nodes=1)

    async def body(clients):
        for room in ("quick/x", "slow/x"):
            c = await clients.join(srv, room, "A")
            await c.close()
        left = time.monotonic()
        ended = await wait_until(lambda: get_room(srv, "quick/x")[0] == 404, 4,
                                 "quick's room never ended")
        assert ended - left < 3, ended - left
        await asyncio.sleep(1)
        assert get_room(srv, "slow/x")[0] == 200  # the default: 60 s

    run_with_clients(body)
