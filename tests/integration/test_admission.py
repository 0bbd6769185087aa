"""Admission: participants up to max_participants, then redirects with tickets to the
visitor nodes (interfaces.md §3, "Joining and roles")."""

import re

from conftest import run_with_clients

ROOM = "acme/townhall"


def url_port(url):
    m = re.match(r"^ws://127\.0\.0\.1:(\d+)/ws$", url)
    assert m, "redirect url %r is not ws://127.0.0.1:<port>/ws" % url
    return int(m.group(1))


def check_joined(ans, role, moderator, max_participants):
    """ans is a `joined` with this role and moderator flag, an id of its own, and the
    snapshot of ROOM with this max_participants; returns the snapshot."""
    assert ans["type"] == "joined", ans
    assert ans["role"] == role
    assert ans["moderator"] is moderator
    assert isinstance(ans["id"], str) and ans["id"]
    room = ans["room"]
    assert room["name"] == ROOM
    assert room["max_participants"] == max_participants
    return room


def test_participants_then_visitors_spread_over_visitor_nodes(amphi):
    srv = amphi("--max-participants", 2, visitor_nodes=2)

    async def body(clients):
        # Two participants: the first moderates (no jwt secret), the second does not.
        a = await clients.connect(srv.ws_url(), "ada")
        ans = await a.join({"room": ROOM, "name": "Ada"})
        room = check_joined(ans, "participant", True, 2)
        assert [p["name"] for p in room["participants"]] == ["Ada"]
        assert room["participants"][0]["id"] == ans["id"]
        assert room["participants"][0]["moderator"] is True
        assert room["visitor_count"] == 0 and room["chat"] == [] and room["polls"] == []
        assert room["hands"] == []  # hands: to moderators only

        b = await clients.connect(srv.ws_url(), "bob")
        ans_b = await b.join({"room": ROOM, "name": "Bob"})
        assert ans_b["type"] == "joined" and ans_b["role"] == "participant", ans_b
        assert ans_b["moderator"] is False
        assert ans_b["id"] != ans["id"]
        assert sorted(p["name"] for p in ans_b["room"]["participants"]) == ["Ada", "Bob"]
        assert "hands" not in ans_b["room"]
        assert ans_b["room"]["seq"] > room["seq"]
        # Ada hears of Bob.
        ev = await a.wait_for("participant_joined")
        assert ev["participant"]["id"] == ans_b["id"]
        assert ev["participant"]["name"] == "Bob"
        assert ev["participant"]["moderator"] is False

        # The next four become visitors, redirected with a ticket.
        redirects = []
        for i in range(4):
            c = await clients.connect(srv.ws_url(), "vis%d" % i)
            r = await c.join({"room": ROOM, "name": "Vis%d" % i})
            assert r["type"] == "redirect", r
            assert r["role"] == "visitor"
            assert url_port(r["url"]) in (srv.port + 1, srv.port + 2), r
            assert isinstance(r["ticket"], str) and r["ticket"]
            assert isinstance(r["node"], str) and r["node"]
            redirects.append(r)
        ports = [url_port(r["url"]) for r in redirects]
        assert set(ports) == {srv.port + 1, srv.port + 2}, \
            "4 visitors were not spread over both visitor nodes: %s" % ports
        # A node name goes with one port.
        by_node = {}
        for r in redirects:
            by_node.setdefault(r["node"], set()).add(url_port(r["url"]))
        assert all(len(p) == 1 for p in by_node.values()), by_node
        assert len(by_node) == 2

        # Each joins its visitor node with the ticket.
        visitors = []
        for i, r in enumerate(redirects):
            v = await clients.connect(r["url"], "vj%d" % i)
            j = await v.join({"room": ROOM, "name": "Vis%d" % i, "ticket": r["ticket"]})
            snap = check_joined(j, "visitor", False, 2)
            assert sorted(p["name"] for p in snap["participants"]) == ["Ada", "Bob"]
            for p in snap["participants"]:
                assert set(p) >= {"id", "name", "moderator", "audio", "video", "hand"}, p
            assert isinstance(snap["visitor_count"], int)
            assert isinstance(snap["chat"], list)
            assert isinstance(snap["polls"], list)
            assert isinstance(snap["seq"], int)
            assert "hands" not in snap  # hands: to moderators only
            visitors.append(j)
        assert len({j["id"] for j in visitors}) == 4

    run_with_clients(body)


def test_visitor_flag_redirects_even_with_space(amphi):
    srv = amphi("--max-participants", 30, visitor_nodes=2)

    async def body(clients):
        c = await clients.connect(srv.ws_url())
        r = await c.join({"room": ROOM, "name": "Eve", "visitor": True})
        assert r["type"] == "redirect" and r["role"] == "visitor", r
        assert url_port(r["url"]) in (srv.port + 1, srv.port + 2)
        # And the room still has room for a participant.
        p = await clients.join(srv, ROOM, "Pat")
        assert p.joined["role"] == "participant"
        # Pat is the first participant: the visitor did not take the moderator seat.
        assert p.joined["moderator"] is True
        await p.close()

    run_with_clients(body)


def test_request_ids_are_echoed(amphi):
    """redirect, ok and error echo the request id; joined carries the member's own id
    (docs/PROTOCOL.md), the one the room lists for it."""
    srv = amphi("--max-participants", 1, visitor_nodes=1)

    async def body(clients):
        a = await clients.connect(srv.ws_url())
        b = await clients.connect(srv.ws_url())
        await a.send({"type": "join", "room": ROOM, "name": "A", "id": "join-a"})
        j = await a.wait_for("joined")
        ids = [p["id"] for p in j["room"]["participants"] if p["name"] == "A"]
        assert ids == [j["id"]], (j, ids)
        assert j["id"] != "join-a"
        ok = await a.request({"type": "chat", "text": "hi", "id": "chat-1"})
        assert ok == {"type": "ok", "id": "chat-1"}
        err = await a.request({"type": "chat", "id": "chat-2"})
        assert err["type"] == "error" and err["id"] == "chat-2", err
        assert err["code"] == "bad_request" and isinstance(err["message"], str)

        await b.send({"type": "join", "room": ROOM, "name": "B", "id": "join-b"})
        r = await b.wait_for("redirect")
        assert r["id"] == "join-b", r
        v = await clients.connect(r["url"])
        await v.send({"type": "join", "room": ROOM, "name": "B", "ticket": r["ticket"],
                      "id": "join-v"})
        jv = await v.wait_for("joined")
        assert jv["role"] == "visitor" and jv["id"] != "join-v", jv
        ok = await v.request({"type": "chat", "text": "from B", "id": "chat-v"})
        assert ok == {"type": "ok", "id": "chat-v"}
        # The visitor's chat names it by the id joined gave it.
        ev = await a.wait_for(lambda m: m.get("type") == "chat"
                              and m["message"]["text"] == "from B")
        assert ev["message"]["from"] == {"id": jv["id"], "name": "B", "role": "visitor"}
        err = await v.request({"type": "nope", "id": "x" * 64})
        assert err["type"] == "error" and err["id"] == "x" * 64, err
        assert err["code"] == "unknown_type"

    run_with_clients(body)


def test_a_seat_frees_when_a_participant_leaves(amphi):
    srv = amphi("--max-participants", 2, visitor_nodes=1)

    async def body(clients):
        a, b, c = await clients.join_each(srv, ROOM, ["Ada", "Bob", "Cy"])
        assert c.joined["role"] == "visitor"
        ok = await b.request({"type": "leave"})
        assert ok["type"] == "ok", ok
        for x in (a, c):
            ev = await x.wait_for("participant_left")
            assert ev["id"] == b.joined["id"], ev
        d = await clients.join(srv, ROOM, "Dee")
        assert d.joined["role"] == "participant", d.joined
        assert sorted(p["name"] for p in d.joined["room"]["participants"]) == ["Ada", "Dee"]
        # Closing the socket is leaving too.
        await d.close()
        ev = await a.wait_for(lambda m: m.get("type") == "participant_left"
                              and m["id"] == d.joined["id"])
        e = await clients.join(srv, ROOM, "Eve")
        assert e.joined["role"] == "participant", e.joined

    run_with_clients(body)
