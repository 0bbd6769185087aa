"""max_participants changed live: by a moderator (set_room) and over the admin API
(interfaces.md §2, §3, §6)."""

import asyncio

from conftest import http, http_json, run_with_clients

ROOM = "acme/townhall"


async def everyone_sees_max(clients, n):
    async def one(c):
        m = await c.wait_for(lambda m: m.get("type") == "room_updated"
                             and m["room"].get("max_participants") == n,
                             what="room_updated max_participants %d" % n)
        assert isinstance(m["seq"], int)
        return m["seq"]

    seqs = await asyncio.gather(*(one(c) for c in clients))
    assert len(set(seqs)) == 1, "room_updated seqs differ: %s" % seqs


def test_moderator_raises_the_threshold(amphi):
    srv = amphi("--max-participants", 2, visitor_nodes=2)

    async def body(clients):
        a, b = await clients.join_each(srv, ROOM, ["Ada", "Bob"])
        assert a.joined["moderator"] is True and b.joined["moderator"] is False
        vs = await clients.join_each(srv, ROOM, ["V%d" % i for i in range(3)])
        assert all(v.joined["role"] == "visitor" for v in vs)
        assert {v.node for v in vs} == {1, 2}

        # Not a moderator: forbidden, and nothing changes.
        err = await b.request({"type": "set_room", "max_participants": 3})
        assert err["type"] == "error" and err["code"] == "forbidden", err
        c = await clients.join(srv, ROOM, "Cy")
        assert c.joined["role"] == "visitor", c.joined

        ok = await a.request({"type": "set_room", "max_participants": 3})
        assert ok == {"type": "ok", "id": ok["id"]}, ok
        await everyone_sees_max(clients, 3)
        assert not any(m.get("type") == "room_updated" and
                       m["room"].get("max_participants") != 3
                       for cl in clients for m in cl.msgs)

        d = await clients.join(srv, ROOM, "Dee")
        assert d.joined["role"] == "participant", d.joined
        assert d.joined["room"]["max_participants"] == 3
        assert d.joined["moderator"] is False
        e = await clients.join(srv, ROOM, "Eve")
        assert e.joined["role"] == "visitor", e.joined
        assert e.joined["room"]["max_participants"] == 3

        # Lowering it keeps those inside, and sends new joiners to the audience.
        ok = await a.request({"type": "set_room", "max_participants": 1})
        assert ok["type"] == "ok", ok
        await everyone_sees_max([a, b, d] + vs, 1)
        f = await clients.join(srv, ROOM, "Fay")
        assert f.joined["role"] == "visitor"
        assert len(f.joined["room"]["participants"]) == 3

    run_with_clients(body)


def test_set_room_bad_values(amphi):
    srv = amphi("--max-participants", 2, visitor_nodes=1)

    async def body(clients):
        a = await clients.join(srv, ROOM, "Ada")
        for bad in ({}, {"max_participants": -1}, {"max_participants": "3"},
                    {"max_participants": 2.5}, {"max_participants": 100001},
                    {"max_participants": None}):
            err = await a.request(dict(bad, type="set_room"))
            assert err["type"] == "error" and err["code"] == "bad_request", (bad, err)
            # The rate limiter charges errors: let the bucket refill between them.
            await a.ping()
        assert not a.of_type("room_updated")

    run_with_clients(body)


TOKEN = "s3cret-admin"
AUTH = {"Authorization": "Bearer " + TOKEN}


def test_admin_api(amphi):
    srv = amphi("--max-participants", 2, "--admin-token", TOKEN, visitor_nodes=2)
    url = srv.http_url("/api/v1/rooms/acme/townhall")

    async def body(clients):
        a, b, v = await clients.join_each(srv, ROOM, ["Ada", "Bob", "Vic"])
        assert v.joined["role"] == "visitor"

        # Auth.
        status, doc = http_json("GET", url)
        assert status == 401, (status, doc)
        status, doc = http_json("GET", url, headers={"Authorization": "Bearer wrong"})
        assert status == 401, (status, doc)
        status, doc = http_json("GET", url, headers={"Authorization": TOKEN})
        assert status == 401, (status, doc)
        status, doc = http_json("PATCH", url, {"max_participants": 1})
        assert status == 401, (status, doc)

        status, doc = http_json("GET", url, headers=AUTH)
        assert status == 200, (status, doc)
        assert doc["name"] == ROOM
        assert doc["max_participants"] == 2
        assert sorted(p["name"] for p in doc["participants"]) == ["Ada", "Bob"]
        assert {p["id"] for p in doc["participants"]} == {a.joined["id"], b.joined["id"]}

        # PATCH applies live: everyone hears of it, the next joiner is held to it.
        status, doc = http_json("PATCH", url, {"max_participants": 1}, headers=AUTH)
        assert status == 200, (status, doc)
        assert doc["max_participants"] == 1
        await everyone_sees_max(clients, 1)
        status, doc = http_json("GET", url, headers=AUTH)
        assert status == 200 and doc["max_participants"] == 1

        status, doc = http_json("PATCH", url, {"max_participants": 3}, headers=AUTH)
        assert status == 200 and doc["max_participants"] == 3, (status, doc)
        await everyone_sees_max(clients, 3)
        c = await clients.join(srv, ROOM, "Cy")
        assert c.joined["role"] == "participant", c.joined

        # Bad bodies: 400, nothing changes.
        for bad in (b"not json", b"[1]", b"{}", b'{"max_participants":"1"}',
                    b'{"max_participants":-1}', b'{"max_participants":1.5}'):
            status, doc = http_json("PATCH", url, bad, headers=AUTH)
            assert status == 400, (bad, status, doc)
        status, doc = http_json("GET", url, headers=AUTH)
        assert doc["max_participants"] == 3

        # Unknown room: 404; a bad room name: 400.
        status, doc = http_json("GET", srv.http_url("/api/v1/rooms/acme/nowhere"),
                                headers=AUTH)
        assert status == 404, (status, doc)
        status, doc = http_json("PATCH", srv.http_url("/api/v1/rooms/acme/nowhere"),
                                {"max_participants": 1}, headers=AUTH)
        assert status == 404, (status, doc)
        status, doc = http_json("GET", srv.http_url("/api/v1/rooms/a/b/c"),
                                headers=AUTH)
        assert status in (400, 404), (status, doc)

    run_with_clients(body)


def test_admin_api_off_without_token(amphi):
    srv = amphi(visitor_nodes=1)

    async def body(clients):
        a = await clients.join(srv, ROOM, "Ada")
        url = srv.http_url("/api/v1/rooms/acme/townhall")
        for headers in (None, {"Authorization": "Bearer "}, {"Authorization": "Bearer x"}):
            status, _, _ = http("GET", url, headers=headers)
            assert status == 404, (headers, status)
        status, _, _ = http("PATCH", url, b'{"max_participants":1}',
                            headers={"Authorization": "Bearer "})
        assert status == 404
        await a.ping()
        assert not a.of_type("room_updated")

    run_with_clients(body)
