"""Offers in batches: one change of what a room publishes costs each visitor node one bus
request (op "offers") per bridge and 64 of its visitors, not one per visitor (issue 11,
item 3). Many signaling-only visitors on two visitor nodes; two participants publish one
after the other: after each change every visitor has a new subscribe_offer, and the
nodes' counters (amphi_offers_requests_total, amphi_offer_requests_total) show how many
requests it took."""

import asyncio
import math

from conftest import close_all, join, run
from media_client import Publisher, close_media, metrics, sendonly_streams, start_media_amphi
from test_media import candidates, publish

ROOM = "acme/offers"
VISITORS = 140  # over 64 per node: each node needs more than one batch


def counters(srv):
    """Per visitor node: (single offer requests, offers requests, offers batched)."""
    out = {}
    for i in range(1, srv.visitor_nodes + 1):
        m = metrics(srv.http_url("", i))
        out[i] = (m.get("amphi_offer_requests_total", 0), m.get("amphi_offers_requests_total", 0),
                  m.get("amphi_offers_batched_total", 0))
    return out


async def all_offered(visitors, owners, timeout=30.0):
    """Each visitor's latest subscribe_offer sends every one of owners' streams; their
    versions (the latest of each)."""
    async def one(v):
        def ok(m):
            return m.get("type") == "subscribe_offer" and \
                set(sendonly_streams(m["sdp"])) >= set(owners)
        m = await v.wait_for(ok, timeout, what="an offer with %s" % owners)
        return m["version"]
    return await asyncio.gather(*(one(v) for v in visitors))


def test_one_publish_change_is_a_few_batched_requests(amphi):
    srv = start_media_amphi(amphi, "--max-participants", 2)

    async def body():
        clients, media = [], []
        try:
            a = await join(srv, ROOM, "Ada")
            b = await join(srv, ROOM, "Bob")
            clients += [a, b]
            visitors = []
            for k in range(0, VISITORS, 20):  # 20 at a time: the joins are not the test
                got = await asyncio.gather(*(join(srv, ROOM, "V%d" % i, visitor=True)
                                             for i in range(k, min(k + 20, VISITORS))))
                visitors += got
            clients += visitors
            per_node = {}
            for v in visitors:
                per_node[v.node] = per_node.get(v.node, 0) + 1
            assert len(per_node) == 2, per_node
            ida, idb = a.joined["id"], b.joined["id"]

            before = counters(srv)
            pa = Publisher(a)
            media.append(pa)
            await publish(pa, srv.media_port)
            first = await all_offered(visitors, [ida])
            mid = counters(srv)

            pb = Publisher(b)
            media.append(pb)
            await publish(pb, srv.media_port)
            second = await all_offered(visitors, [ida, idb])
            after = counters(srv)
            assert all(y > x for x, y in zip(first, second)), (first, second)

            for step, (c0, c1) in (("Ada publishes", (before, mid)),
                                   ("Bob publishes", (mid, after))):
                singles = sum(c1[i][0] - c0[i][0] for i in c1)
                batches = sum(c1[i][1] - c0[i][1] for i in c1)
                batched = sum(c1[i][2] - c0[i][2] for i in c1)
                # Each node: ceil(its visitors / 64) requests per change, and one more per
                # change that came while a batch was out (its clients are asked again).
                bound = sum(2 * math.ceil(n / 64) for n in per_node.values())
                assert batches <= bound, (step, batches, bound, c0, c1)
                assert batched >= VISITORS, (step, batched)
                assert singles <= 4, (step, singles)  # the participants, on the main node
            print("offer counters per node (single, batches, batched):", before, mid, after)
            br = metrics(srv.bridge_urls[0])
            assert br["amphi_bridge_offers_batched_total"] >= 2 * VISITORS, br
        finally:
            await close_media(*media)
            await close_all(*clients)

    run(body(), 120)


def alloc_counters(srv, node=1):
    """A visitor node's (allocation requests, visitors asked for) on the up-link."""
    m = metrics(srv.http_url("", node))
    return m.get("amphi_media_alloc_requests_total", 0), m.get("amphi_media_alloc_items_total", 0)


async def visitors_then_publish(srv, room, n):
    """Ada joins, n visitors join (before anything is published, so that none has a bridge
    yet), then Ada publishes: (clients, media, visitors, Ada's id, alloc counters before,
    the UDP port of the bridge she publishes on)."""
    a = await join(srv, room, "Ada")
    clients, media = [a], []
    visitors = list(await asyncio.gather(*(join(srv, room, "V%d" % i, visitor=True)
                                           for i in range(n))))
    clients += visitors
    before = alloc_counters(srv)
    pa = Publisher(a)
    media.append(pa)
    ans = await publish(pa)
    origin = {port for _, port, _ in candidates(ans["sdp"])}
    assert len(origin) == 1, ans["sdp"]
    return clients, media, visitors, a.joined["id"], before, origin.pop()


def test_a_room_going_live_allocates_its_visitors_in_one_request(amphi):
    """30 visitors of one node, none with a bridge, when the room gets its first publisher:
    one allocs request on the up-link for all of them (not 30), then every visitor has an
    offer naming the publisher."""
    srv = start_media_amphi(amphi, "--max-participants", 1, visitor_nodes=1)

    async def body():
        clients, media = [], []
        try:
            clients, media, visitors, ida, before, _ = await visitors_then_publish(
                srv, "acme/golive", 30)
            await all_offered(visitors, [ida])
            requests, items = (y - x for x, y in zip(before, alloc_counters(srv)))
            assert items == 30, (before, requests, items)
            assert 1 <= requests <= 2, (before, requests, items)  # one loop turn, or two
        finally:
            await close_media(*media)
            await close_all(*clients)

    run(body(), 90)


def test_a_batch_fills_edges_in_order_within_capacity(amphi):
    """--bridges 3 --bridge-capacity 4: 8 visitors allocated in one batch go 4 and 4 on the
    two edges the batch opens (each fed before the reply), none on the origin, and each gets
    an offer from its edge naming the publisher."""
    srv = start_media_amphi(amphi, "--max-participants", 1, "--bridges", 3,
                            "--bridge-capacity", 4, visitor_nodes=1)

    async def body():
        clients, media = [], []
        try:
            await asyncio.sleep(2.2)  # the main node places by the bridges' heartbeats
            clients, media, visitors, ida, before, origin = await visitors_then_publish(
                srv, "acme/golive-edges", 8)
            offers = []
            for v in visitors:
                m = await v.wait_for(lambda m: m.get("type") == "subscribe_offer" and
                                     ida in sendonly_streams(m["sdp"]), 30, what="an offer")
                offers.append(m)
            ports = {}
            for v, m in zip(visitors, offers):
                cand = {port for _, port, _ in candidates(m["sdp"])}
                assert len(cand) == 1, m["sdp"]
                ports.setdefault(cand.pop(), []).append(v.joined["id"])
            assert origin not in ports, (origin, ports)
            assert sorted(len(x) for x in ports.values()) == [4, 4], ports
            requests, items = (y - x for x, y in zip(before, alloc_counters(srv)))
            assert items == 8 and 1 <= requests <= 2, (requests, items)
        finally:
            await close_media(*media)
            await close_all(*clients)

    run(body(), 90)
