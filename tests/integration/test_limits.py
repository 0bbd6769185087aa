"""Limits against a client that tries to use the server up: a socket that was redirected may
not join again (each join would open a room)."""

from conftest import http, parse_metrics, run_with_clients


def rooms(srv):
    status, _, body = http("GET", srv.http_url("/metrics"))
    assert status == 200
    return sum(v for k, v in parse_metrics(body.decode()).items() if k.startswith("amphi_rooms"))


def test_a_redirected_socket_joins_once(amphi):
    srv = amphi(visitor_nodes=1)

    async def body(clients):
        c = await clients.connect(srv.ws_url(), "flood")
        before = rooms(srv)
        ans = await c.join({"room": "acme/r0", "name": "F", "visitor": True})
        assert ans["type"] == "redirect", ans
        for i in range(1, 6):
            ans = await c.join({"room": "acme/r%d" % i, "name": "F", "visitor": True})
            assert ans["type"] == "error" and ans["code"] == "bad_request", ans
        await c.ping()
        assert rooms(srv) <= before + 1, (before, rooms(srv))

    run_with_clients(body)


def test_a_ticket_lets_one_socket_in(amphi):
    """A redirect's ticket joins one socket; the same ticket again, or written with base64
    padding, gets ticket_invalid while the first visitor stays."""
    srv = amphi(visitor_nodes=1)

    async def body(clients):
        c = await clients.connect(srv.ws_url(), "m")
        r = await c.join({"room": "acme/once", "name": "Una", "visitor": True})
        assert r["type"] == "redirect", r
        first = await clients.connect(r["url"], "first")
        j = await first.join({"room": "acme/once", "ticket": r["ticket"]})
        assert j["type"] == "joined", j
        for ticket in (r["ticket"], r["ticket"] + "=", r["ticket"] + "=="):
            again = await clients.connect(r["url"], "again")
            ans = await again.join({"room": "acme/once", "ticket": ticket, "id": "j"})
            assert ans["type"] == "error" and ans["code"] == "ticket_invalid", (ticket, ans)
            assert "already used" in ans["message"] or "malformed" in ans["message"], ans
        await first.ping()

    run_with_clients(body)
