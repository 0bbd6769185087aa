"""Merged chat: participants and visitors on every node see the same messages, in the same
order, with the same seq (interfaces.md §3, "Events")."""

import asyncio

from conftest import run_with_clients

ROOM = "acme/townhall"


async def visitors_on_every_node(clients, srv, room, names, nodes):
    """Joins visitors named by `names` (then a few more if need be) until every visitor
    node in `nodes` holds at least one; returns them (also kept in `clients`)."""
    out = await clients.join_each(srv, room, names, visitor=True)
    extra = 0
    while not {v.node for v in out} >= set(nodes) and extra < 6:
        extra += 1
        out.append(await clients.join(srv, room, "%s-extra%d" % (names[-1], extra),
                                      visitor=True))
    assert {v.node for v in out} >= set(nodes), \
        "visitors not spread over nodes %s: %s" % (nodes, [v.node for v in out])
    return out


def check_contiguous(client, upto):
    """From its join snapshot's seq on, the client saw every room event up to seq `upto`,
    each once, in order."""
    seqs = [m["seq"] for m in client.events() if m["seq"] <= upto]
    first = client.joined["room"]["seq"]
    assert seqs == list(range(first + 1, upto + 1)), \
        "%s: seqs %s are not %d..%d one by one" % (client.label, seqs, first + 1, upto)


def test_chat_reaches_everyone_in_the_same_order(amphi):
    srv = amphi("--max-participants", 2, visitor_nodes=2)

    async def body(clients):
        a, b = await clients.join_each(srv, ROOM, ["Ada", "Bob"])
        assert a.joined["role"] == b.joined["role"] == "participant"
        vs = await visitors_on_every_node(clients, srv, ROOM, ["V1", "V2", "V3", "V4"], [1, 2])
        v_n1 = next(v for v in vs if v.node == 1)
        v_n2 = next(v for v in vs if v.node == 2)

        senders = [(a, "hello from Ada"), (v_n1, "hello from node 1"),
                   (v_n2, "hello from node 2"), (b, "hello from Bob"),
                   (v_n1, "again node 1"), (a, "again Ada")]
        for c, text in senders:
            start = len(c.msgs)
            rid = await c.send({"type": "chat", "text": text})
            ok = await c.wait_for(lambda m: m.get("id") == rid, start=start)
            assert ok == {"type": "ok", "id": rid}, ok
        texts = [t for _, t in senders]

        async def all_chats(c):
            await c.wait_for(lambda m: m.get("type") == "chat"
                             and m["message"]["text"] == texts[-1])
            return [m for m in c.of_type("chat")]

        seen = await asyncio.gather(*(all_chats(c) for c in clients))
        ref = seen[0]
        assert [m["message"]["text"] for m in ref] == texts
        for c, chats in zip(clients, seen):
            assert chats == ref, "%s saw %s, Ada saw %s" % (c.label, chats, ref)
        seqs = [m["seq"] for m in ref]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs

        # Who said it.
        ids = {c: c.joined["id"] for c in clients}
        for (c, text), m in zip(senders, ref):
            frm = m["message"]["from"]
            assert frm["id"] == ids[c], (frm, c.label)
            assert frm["name"] == c.label
            assert frm["role"] == ("participant" if c.node == 0 else "visitor")
            assert m["message"]["text"] == text
            assert isinstance(m["message"]["ts"], int)

        # Every client saw every room event from its join on, seq by seq.
        last = ref[-1]["seq"]
        for c in clients:
            check_contiguous(c, last)
        # And the events themselves are the same on every node.
        for c in clients:
            mine = {m["seq"]: m for m in c.events() if m["seq"] <= last}
            for other in clients:
                theirs = {m["seq"]: m for m in other.events() if m["seq"] <= last}
                for s in set(mine) & set(theirs):
                    assert mine[s] == theirs[s], (c.label, other.label, s)

    run_with_clients(body)


def test_snapshot_holds_the_last_100_chat_messages(amphi):
    srv = amphi("--max-participants", 2, visitor_nodes=2)

    async def body(clients):
        a = await clients.join(srv, ROOM, "Ada")
        vs = await visitors_on_every_node(clients, srv, ROOM, ["V1", "V2"], [1, 2])
        # 105 messages from three senders (35 each: within the rate limit's burst).
        batches = {a: [], vs[0]: [], vs[1]: []}
        for who, c in enumerate(batches):
            for i in range(35):
                batches[c].append(await c.send({"type": "chat",
                                                "text": "m%d-%02d" % (who, i)}))

        async def oks(c, rids):
            for rid in rids:
                m = await c.wait_for(lambda m: m.get("id") == rid)
                assert m == {"type": "ok", "id": rid}, m

        await asyncio.gather(*(oks(c, r) for c, r in batches.items()))
        # The order the room has them in, as Ada saw it.
        await a.wait_for(lambda m: len(a.of_type("chat")) >= 105)
        order = [m["message"] for m in a.of_type("chat")]
        assert len(order) == 105
        # Everyone saw that same order.
        for v in vs:
            await v.wait_for(lambda m: len(v.of_type("chat")) >= 105)
            assert [m["message"] for m in v.of_type("chat")] == order

        # Later joiners: a participant (main node's room) and a visitor on each
        # visitor node (mirrors: one built from events, one fresh from a snapshot).
        late = [await clients.join(srv, ROOM, "Late")]
        late += await visitors_on_every_node(clients, srv, ROOM, ["LV1", "LV2", "LV3"], [1, 2])
        assert late[0].joined["role"] == "participant"
        for c in late:
            chat = c.joined["room"]["chat"]
            assert chat == order[5:], "%s's snapshot has %d messages, %s..%s" % (
                c.label, len(chat), chat[:1], chat[-1:])

    run_with_clients(body)


def test_chat_text_bounds(amphi):
    srv = amphi("--max-participants", 2, visitor_nodes=1)

    async def body(clients):
        a = await clients.join(srv, ROOM, "Ada")
        v = await clients.join(srv, ROOM, "Vic", visitor=True)
        for k, c in enumerate((a, v)):
            # 2000 characters, some of them outside ASCII: accepted, delivered whole.
            text = ("é" * 999) + ("x" * 1000) + str(k)
            assert len(text) == 2000
            ok = await c.request({"type": "chat", "text": text})
            assert ok["type"] == "ok", ok
            for other in (a, v):
                m = await other.wait_for(lambda m: m.get("type") == "chat"
                                         and m["message"]["text"] == text)
                assert m["message"]["from"]["id"] == c.joined["id"]

    run_with_clients(body)
