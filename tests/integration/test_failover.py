"""A visitor node killed (kill -9) while a participant chats: each of its visitors resumes
through the main node on the other visitor node, as the spec's "Resuming" says, and every
client ends with every room event exactly once, in order, and every acknowledged chat."""

import asyncio
import re
import time

from conftest import Client, run_with_clients
from test_liveness import cluster, proc  # noqa: F401  (pytest fixture)

ROOM = "acme/failover"
VISITORS = 10
CHATS = 60


class Viewer:
    """A visitor that keeps its room's seq and, when its connection drops, joins again
    through the main node with `since`, following the redirect."""

    def __init__(self, cluster, name):
        self.cluster, self.name = cluster, name
        self.seqs, self.texts = [], []
        self.conns = []
        self.resumed_at = None

    def take(self, msgs):
        for m in msgs:
            if m.get("type") == "joined" and not m.get("resumed"):
                # A snapshot: its chat and seq replace ours. (Resumed: the events follow.)
                self.texts = [c["text"] for c in m["room"]["chat"]]
                self.seqs = [m["room"]["seq"]]
            elif isinstance(m.get("seq"), int) and m.get("type") != "ping":
                self.seqs.append(m["seq"])
                if m["type"] == "chat":
                    self.texts.append(m["message"]["text"])

    async def join(self, since=None):
        # As the web client does: a node that refuses the connection (the main node sent us
        # to the node that just died, before its probe told it) means try again shortly.
        for attempt in range(20):
            try:
                return await self._join(since)
            except OSError:
                await asyncio.sleep(0.1 + 0.05 * attempt)
        raise AssertionError("%s: no node would take it" % self.name)

    async def _join(self, since):
        c = await Client.connect(self.cluster.ws_url(), self.name)
        msg = {"room": ROOM, "name": self.name, "visitor": True}
        if since is not None:
            msg["since"] = since
        ans = await c.join(msg)
        await c.close()
        assert ans["type"] == "redirect", ans
        v = await Client.connect(ans["url"], self.name)
        self.conns.append(v)
        self.node = int(re.search(r":(\d+)/ws$", ans["url"]).group(1)) - self.cluster.port
        j = {"room": ROOM, "name": self.name, "ticket": ans["ticket"]}
        if since is not None:
            j["since"] = since
        self.joined = await v.join(j)
        assert self.joined["type"] == "joined", self.joined
        return v

    def current(self):
        return self.conns[-1]

    def absorb(self):
        """Everything every connection of this viewer received, in order."""
        self.seqs, self.texts = [], []
        for c in self.conns:
            self.take(c.msgs)


def test_visitor_node_killed_its_visitors_resume_exactly_once(cluster):
    async def body(clients):
        ada = await clients.join(cluster, ROOM, "Ada")
        viewers = [Viewer(cluster, "V%d" % i) for i in range(VISITORS)]
        for v in viewers:
            await v.join()
        on_1 = [v for v in viewers if v.node == 1]
        assert on_1 and len(on_1) < VISITORS, [v.node for v in viewers]
        acked = []

        async def chatter():
            for i in range(CHATS):
                ans = await ada.request({"type": "chat", "text": "m%d" % i})
                if ans["type"] == "ok":
                    acked.append("m%d" % i)
                await asyncio.sleep(0.08)

        talk = asyncio.create_task(chatter())
        await asyncio.sleep(1.5)
        proc(cluster, "visitor-1").kill()
        t0 = time.monotonic()
        for v in on_1:  # each notices its socket closed, then resumes with its last seq
            deadline = time.monotonic() + 5
            while not v.current().closed:
                assert time.monotonic() < deadline, "%s never saw its node go" % v.name
                await asyncio.sleep(0.02)
        since = {}
        for v in on_1:
            v.absorb()
            since[v.name] = v.seqs[-1]

        async def resume(v):
            await v.join(since=since[v.name])
            v.resumed_at = time.monotonic()
        await asyncio.gather(*(resume(v) for v in on_1))
        took = max(v.resumed_at for v in on_1) - t0
        print("visitor node killed -> its %d visitors resumed: %.2f s" % (len(on_1), took))
        assert took < 5, took
        await talk
        last = "m%d" % (CHATS - 1)
        for v in viewers:
            await v.current().wait_for(lambda m: m.get("type") == "chat"
                                       and m["message"]["text"] == last, timeout=10)
            v.absorb()
            assert all(b == a + 1 for a, b in zip(v.seqs, v.seqs[1:])), (v.name, v.seqs)
            assert [t for t in v.texts if t.startswith("m")] == acked, (v.name, v.texts)
        for v in on_1:
            assert v.joined.get("resumed") is True, v.joined
            assert v.node == 2
        for v in viewers:
            clients.extend(v.conns)
        cluster.restart("visitor-1")  # a node that stops well, for the fixture's check

    run_with_clients(body, timeout=120)
