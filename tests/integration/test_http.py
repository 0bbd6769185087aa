"""HTTP on every signaling node: /healthz, /metrics, the web client (interfaces.md §2)."""

import asyncio
import json
import time

from conftest import Client, close_all, http, join, parse_metrics, run

ROOM = "acme/townhall"
METRICS = ("amphi_rooms", "amphi_participants", "amphi_visitors", "amphi_ws_connections",
           "amphi_messages_in_total", "amphi_messages_out_total")


def healthz(srv, node):
    status, hdrs, raw = http("GET", srv.http_url("/healthz", node))
    assert status == 200, (status, raw)
    assert hdrs.get_content_type() == "application/json"
    return json.loads(raw)


def metrics(srv, node):
    status, hdrs, raw = http("GET", srv.http_url("/metrics", node))
    assert status == 200, (status, raw)
    assert hdrs.get_content_type() == "text/plain"
    return parse_metrics(raw.decode())


async def poll_metrics(srv, node, want, timeout=3.0):
    """Polls /metrics of a node until every name in `want` has its value; the last page."""
    deadline = time.monotonic() + timeout
    while True:
        m = await asyncio.to_thread(metrics, srv, node)
        bad = {k: (m.get(k), v) for k, v in want.items() if m.get(k) != v}
        if not bad:
            return m
        assert time.monotonic() < deadline, "node %d metrics (got, want): %s" % (node, bad)
        await asyncio.sleep(0.05)


def test_healthz(amphi):
    srv = amphi(visitor_nodes=2)
    h = healthz(srv, 0)
    assert h["status"] == "ok" and h["role"] == "main", h
    assert isinstance(h["node"], str) and h["node"]
    # The ids of the cluster plan, the same as the files of `amphi configure` (test_cluster.py).
    assert h["node"] == "main", h
    # A visitor node's health names it as the redirects do.
    ports = {port: node for node, port in srv.visitor_ids.items()}
    for i in (1, 2):
        h = healthz(srv, i)
        assert h["status"] == "ok" and h["role"] == "visitor", h
        assert h["node"] == ports[srv.port + i], (h, srv.visitor_ids)
        assert h["node"] == "visitor-%d" % i, h
    assert len({healthz(srv, i)["node"] for i in (0, 1, 2)}) == 3


def test_metrics(amphi):
    srv = amphi("--max-participants", 2, visitor_nodes=2)
    # The start-up probe (conftest) opened the room probe/ready on the main node.
    for node in (0, 1, 2):
        m = metrics(srv, node)
        for name in METRICS:
            assert name in m, "node %d: no %s in /metrics" % (node, name)
            assert m[name] >= 0

    async def body():
        clients = []
        try:
            before = await asyncio.to_thread(metrics, srv, 0)
            a = await join(srv, ROOM, "Ada")
            b = await join(srv, ROOM, "Bob")
            clients += [a, b]
            vs = [await join(srv, ROOM, "V%d" % i) for i in range(3)]
            clients += vs
            on = {i: sum(1 for v in vs if v.node == i) for i in (1, 2)}
            assert on[1] and on[2], on
            idle = await Client.connect(srv.ws_url())  # connected, not joined
            clients.append(idle)
            await idle.ping()

            m0 = await poll_metrics(srv, 0, {"amphi_participants": 2, "amphi_visitors": 3,
                                             "amphi_ws_connections": 3})
            assert m0["amphi_rooms"] == before["amphi_rooms"] + 1
            for i in (1, 2):
                mi = await poll_metrics(srv, i, {"amphi_visitors": on[i],
                                                 "amphi_ws_connections": on[i],
                                                 "amphi_rooms": 1})
                assert mi["amphi_messages_in_total"] >= on[i]  # their joins

            # Counters count.
            sent_before = m0["amphi_messages_in_total"]
            out_before = m0["amphi_messages_out_total"]
            assert sent_before >= before["amphi_messages_in_total"] + 3
            for i in range(5):
                await a.request({"type": "chat", "text": "n%d" % i})
            await b.wait_for(lambda m: m.get("type") == "chat" and m["message"]["text"] == "n4")
            m0 = await asyncio.to_thread(metrics, srv, 0)
            assert m0["amphi_messages_in_total"] >= sent_before + 5
            # 5 oks to Ada and 5 chats to each participant at least.
            assert m0["amphi_messages_out_total"] >= out_before + 15

            # Leaving shows.
            await close_all(b, *vs[:1], idle)
            left = on[vs[0].node] - 1
            await poll_metrics(srv, 0, {"amphi_participants": 1, "amphi_visitors": 2,
                                        "amphi_ws_connections": 1})
            await poll_metrics(srv, vs[0].node, {"amphi_visitors": left,
                                                 "amphi_ws_connections": left})
        finally:
            await close_all(*clients)

    run(body())


def test_web_client_is_served(amphi):
    srv = amphi(visitor_nodes=1)
    pages = []
    for node in (0, 1):
        for path in ("/", "/acme/townhall", "/townhall"):
            status, hdrs, raw = http("GET", srv.http_url(path, node))
            assert status == 200, (node, path, status)
            assert hdrs.get_content_type() == "text/html", (path, hdrs.get("Content-Type"))
            text = raw.decode()
            assert "<html" in text.lower() and 'data-testid="join-submit"' in text, path
            pages.append(raw)
    assert all(p == pages[0] for p in pages)
    # Not a room: not the client.
    status, _, _ = http("GET", srv.http_url("/no/such/page/here"))
    assert status == 404
    # No way out of the web root (a path that normalizes to a room name may get the client).
    for path in ("/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd"):
        status, _, raw = http("GET", srv.http_url(path))
        assert b"root:" not in raw, path
        assert status in (400, 403, 404) or raw == pages[0], (path, status)
