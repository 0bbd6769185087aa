"""visitor_count: the total over all visitor nodes, sent to everyone, at most once a second
(interfaces.md §3, "Events")."""

import asyncio
import time

from conftest import close_all, run_with_clients

ROOM = "acme/townhall"
# A count that changes reaches everyone within this (1 s of coalescing, plus the nodes'
# 100 ms ticks, plus slack for the sanitizer build).
COUNT_DEADLINE = 1.7


async def wait_count(clients, n, deadline):
    """Every client gets a visitor_count event with count n before `deadline`
    (time.monotonic())."""
    async def one(c):
        left = max(0.0, deadline - time.monotonic())
        await c.wait_for(lambda m: m.get("type") == "visitor_count" and m["count"] == n,
                         timeout=left, what="visitor_count %d" % n)

    await asyncio.gather(*(one(c) for c in clients))


def test_counts_follow_joins_and_leaves(amphi):
    srv = amphi("--max-participants", 2, visitor_nodes=2)

    async def body(clients):
        a, b = await clients.join_each(srv, ROOM, ["Ada", "Bob"])
        vs = await clients.join_each(srv, ROOM, ["V%d" % i for i in range(6)])
        assert all(v.joined["role"] == "visitor" for v in vs)
        assert {v.node for v in vs} == {1, 2}, [v.node for v in vs]
        await wait_count(clients, 6, time.monotonic() + COUNT_DEADLINE)
        # The count is a room event: it carries seq like the others.
        for c in clients:
            ev = [m for m in c.of_type("visitor_count") if m["count"] == 6][-1]
            assert isinstance(ev["seq"], int)
        # The same count event (same seq) everywhere.
        seqs = {[m for m in c.of_type("visitor_count") if m["count"] == 6][-1]["seq"]
                for c in clients}
        assert len(seqs) == 1, seqs

        # Two leave, one from each node, by closing their sockets.
        gone = [next(v for v in vs if v.node == 1), next(v for v in vs if v.node == 2)]
        await close_all(*gone)
        rest = [c for c in clients if c not in gone]
        await wait_count(rest, 4, time.monotonic() + COUNT_DEADLINE)
        # And one by `leave`.
        leaver = next(v for v in vs if v not in gone)
        ok = await leaver.request({"type": "leave"})
        assert ok["type"] == "ok", ok
        rest = [c for c in rest if c is not leaver]
        await wait_count(rest, 3, time.monotonic() + COUNT_DEADLINE)
        # A late visitor's snapshot has the current count.
        late = await clients.join(srv, ROOM, "Late")
        assert late.joined["room"]["visitor_count"] == 3
        await wait_count(rest + [late], 4, time.monotonic() + COUNT_DEADLINE)

    run_with_clients(body)


def test_counts_at_most_once_a_second(amphi):
    srv = amphi("--max-participants", 1, visitor_nodes=2)

    async def body(clients):
        a = await clients.join(srv, ROOM, "Ada")
        # A burst of joins spread over 2.5 s: the count changes all the time.
        t0 = time.monotonic()
        for i in range(10):
            await clients.join(srv, ROOM, "V%d" % i)
            await asyncio.sleep(max(0.0, t0 + 0.25 * (i + 1) - time.monotonic()))
        await wait_count(clients, 10, time.monotonic() + COUNT_DEADLINE)
        for c in clients:
            times = [t for m, t in zip(c.msgs, c.times)
                     if m.get("type") == "visitor_count"]
            gaps = [y - x for x, y in zip(times, times[1:])]
            assert all(g >= 0.9 for g in gaps), \
                "%s: visitor_count events %s s apart" % (c.label,
                                                         ["%.3f" % g for g in gaps])
        # Ada, there from the start, saw the count change more than once.
        assert len(a.of_type("visitor_count")) >= 2, a.of_type("visitor_count")

    run_with_clients(body)
