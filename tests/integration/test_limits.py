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
