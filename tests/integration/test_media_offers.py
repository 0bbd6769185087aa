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
from test_media import publish

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
