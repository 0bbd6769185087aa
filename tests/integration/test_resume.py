"""Resuming (interfaces.md "Resuming"): a client that joins again with "since" gets "joined"
with "resumed":true and then every room event after since, in order, none twice, on the
main node and on a visitor node; a since the node cannot serve gets a plain snapshot."""

import re

from conftest import Client, run_with_clients

ROOM = "acme/resume"


async def chat(client, text):
    ans = await client.request({"type": "chat", "text": text})
    assert ans["type"] == "ok", ans


def seq_of(client):
    evs = client.events()
    return evs[-1]["seq"] if evs else client.joined["room"]["seq"]


async def rejoin_visitor(clients, srv, name, since):
    c = await clients.connect(srv.ws_url(), name + "-main")
    ans = await c.join({"room": ROOM, "name": name, "visitor": True, "since": since})
    assert ans["type"] == "redirect", ans
    v = await clients.connect(ans["url"], name + "-again")
    j = await v.join({"room": ROOM, "name": name, "ticket": ans["ticket"], "since": since})
    return v, j


def test_resume_on_main_and_visitor_nodes(amphi):
    srv = amphi(visitor_nodes=1)

    async def body(clients):
        ann = await clients.join(srv, ROOM, "Ann")
        bob = await clients.join(srv, ROOM, "Bob")
        vic = await clients.join(srv, ROOM, "Vic", visitor=True)
        await chat(ann, "one")
        await vic.wait_for(lambda m: m.get("type") == "chat")
        await bob.wait_for(lambda m: m.get("type") == "chat")
        b_since, v_since = seq_of(bob), seq_of(vic)
        await bob.close()
        await vic.close()
        for t in ("two", "three", "four"):
            await chat(ann, t)
        last = (await ann.wait_for(lambda m: m.get("type") == "chat"
                                   and m["message"]["text"] == "four"))["seq"]

        # the participant, on the main node
        b2 = await clients.connect(srv.ws_url(), "Bob-again")
        j = await b2.join({"room": ROOM, "name": "Bob", "since": b_since})
        assert j["type"] == "joined" and j.get("resumed") is True and "room" not in j, j
        mine = await b2.wait_for(lambda m: m.get("type") == "participant_joined"
                                 and m["participant"]["id"] == j["id"])
        evs = b2.events()
        assert [e["seq"] for e in evs] == list(range(b_since + 1, mine["seq"] + 1)), evs
        assert [e["message"]["text"] for e in evs if e["type"] == "chat"] == [
            "two", "three", "four"]

        # the visitor, through the main node to the visitor node
        v2, j = await rejoin_visitor(clients, srv, "Vic", v_since)
        assert j["type"] == "joined" and j.get("resumed") is True and j["role"] == "visitor", j
        await v2.wait_for(lambda m: m.get("seq", 0) >= last)
        evs = v2.events()
        seqs = [e["seq"] for e in evs]
        assert seqs == list(range(v_since + 1, seqs[-1] + 1)), evs
        assert [e["message"]["text"] for e in evs if e["type"] == "chat"] == [
            "two", "three", "four"]
        # and it goes on from there
        await chat(ann, "five")
        await v2.wait_for(lambda m: m.get("type") == "chat" and m["message"]["text"] == "five")
        seqs = [e["seq"] for e in v2.events()]
        assert seqs == list(range(v_since + 1, seqs[-1] + 1)), seqs

    run_with_clients(body)


def test_since_the_node_cannot_serve_gets_a_snapshot(amphi):
    srv = amphi(visitor_nodes=1)

    async def body(clients):
        ann = await clients.join(srv, ROOM, "Ann")
        await chat(ann, "hello")
        ahead = seq_of(ann) + 100
        c = await clients.connect(srv.ws_url(), "Ahead")
        j = await c.join({"room": ROOM, "name": "Ahead", "since": ahead})
        assert j["type"] == "joined" and "resumed" not in j, j
        assert [m["text"] for m in j["room"]["chat"]] == ["hello"]
        v, j = await rejoin_visitor(clients, srv, "Vee", ahead)
        assert j["type"] == "joined" and "resumed" not in j and "room" in j, j

    run_with_clients(body)
