"""An operator ends a room (DELETE on the admin API): everyone on every node gets
{"type":"closed","reason":"ended"} and is disconnected; joins then get room_closed. Also the
error codes not_found and room_closed on the client protocol."""

from conftest import Client, close_all, http_json, join, run

ROOM = "acme/ending"
TOKEN = "t0ken"


def test_ended_room_closes_everyone_and_refuses_joins(amphi):
    srv = amphi("--max-participants", 1, "--admin-token", TOKEN, visitor_nodes=2)
    auth = {"Authorization": "Bearer " + TOKEN}

    async def body():
        a = await join(srv, ROOM, "Ada")
        vs = [await join(srv, ROOM, "V%d" % i) for i in range(3)]
        try:
            assert {v.node for v in vs} == {1, 2}
            status, doc = http_json("DELETE", srv.http_url("/api/v1/rooms/" + ROOM),
                                    headers=auth)
            assert status == 200 and doc["ended"] is True, (status, doc)
            for c in [a] + vs:
                ev = await c.wait_for("closed")
                assert ev["reason"] == "ended" and isinstance(ev["seq"], int), ev
                assert await c.wait_closed() == 1000, c.label
            # a participant's join and a visitor's join are both refused
            for visitor in (False, True):
                late = await Client.connect(srv.ws_url(), label="late")
                try:
                    ans = await late.join({"room": ROOM, "name": "Late", "visitor": visitor,
                                           "id": "j"})
                    assert (ans["type"], ans.get("code"), ans.get("id")) == \
                        ("error", "room_closed", "j"), ans
                    await late.ping()
                finally:
                    await late.close()
            # another room is untouched
            other = await join(srv, "acme/other", "Bo")
            assert other.joined["role"] == "participant"
            await other.close()
            status, doc = http_json("GET", srv.http_url("/api/v1/rooms/" + ROOM), headers=auth)
            assert status == 200 and doc["ended"] is True, doc
        finally:
            await close_all(a, *vs)

    run(body())


def test_demote_unknown_participant_is_not_found(amphi):
    srv = amphi(visitor_nodes=1)

    async def body():
        a = await join(srv, ROOM, "Ada")
        b = await join(srv, ROOM, "Bob")
        try:
            assert a.joined["moderator"] and not b.joined["moderator"]
            start = len(a.msgs)
            await a.send({"type": "demote", "target": "nobody"}, with_id=False)
            err = await a.wait_for("error", start=start)
            assert err["code"] == "not_found", err
            start = len(b.msgs)
            await b.send({"type": "demote", "target": a.joined["id"]}, with_id=False)
            err = await b.wait_for("error", start=start)
            assert err["code"] == "forbidden", err
            await a.ping()
            await b.ping()
        finally:
            await close_all(a, b)

    run(body())
