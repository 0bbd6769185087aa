"""The same flows on a cluster made by `amphi configure`: a real nats-server and one
`amphi serve` process per node, with the per-node NATS permissions that keep a visitor node
from forging room events."""

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (AMPHI_BIN, TIMEOUT, Client, check_sanitizers, free_port_range,
                      free_udp_range, http, http_json, run_with_clients, sanitizer_env)

ROOM = "acme/townhall"
NATS = next((p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server")
             if os.path.exists(p)), None)


def read_conf(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*([a-z_]+)\s*=\s*(.*?)\s*$", line)
            if m and not line.lstrip().startswith(("#", ";")):
                out[m.group(1)] = m.group(2)
    return out


class Cluster:
    """nats-server + main + visitor nodes (+ bridges) from `amphi configure`, on 127.0.0.1.
    Ports as it lays them out: main P, visitor i P+i, NATS P+N+1, bridge j's HTTP P+N+1+j
    and its media UDP U+j-1 (U: media_port)."""

    def __init__(self, tmp, visitors=2, max_participants=2, bridges=0, configure_args=(),
                 edit=None):
        self.tmp = str(tmp)
        self.configure_args = list(configure_args)  # more flags for `amphi configure`
        self.edit = edit  # edit(folder): changes the generated configs before the start
        self.visitors = visitors
        self.max_participants = max_participants
        self.bridges = bridges
        self.bridge_urls = []
        self.procs = []  # (name, Popen, stderr path)
        self.nats = None

    def start(self):
        self.port = free_port_range(self.visitors + 2 + self.bridges)
        media = []
        if self.bridges:
            self.media_port = free_udp_range(self.bridges)
            media = ["--media-port", str(self.media_port)]
        self.dir = os.path.join(self.tmp, "cluster")
        out = subprocess.run(
            [AMPHI_BIN, "configure", "--visitor-nodes", str(self.visitors),
             "--bridges", str(self.bridges), "--host", "127.0.0.1",
             "--base-port", str(self.port)] + media +
            ["--out", self.dir, "--max-participants", str(self.max_participants)] +
            self.configure_args,
            capture_output=True, text=True, timeout=30, env=sanitizer_env())
        assert out.returncode == 0, out.stderr
        if self.edit:
            self.edit(self.dir)
        self.nats_port = self.port + self.visitors + 1
        self.nats_log = open(os.path.join(self.tmp, "nats.log"), "wb")
        self.nats = subprocess.Popen([NATS, "-c", os.path.join(self.dir, "nats-server.conf")],
                                     stdout=self.nats_log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self._wait_port(self.nats_port)
        names = (["main"] + ["visitor-%d" % i for i in range(1, self.visitors + 1)]
                 + ["bridge-%d" % j for j in range(1, self.bridges + 1)])
        for name in names:
            err = os.path.join(self.tmp, "%s.stderr" % name)
            with open(err, "wb") as f:
                p = subprocess.Popen([AMPHI_BIN, "serve", "--config",
                                      os.path.join(self.dir, name + ".conf")],
                                     stdout=subprocess.DEVNULL, stderr=f,
                                     stdin=subprocess.DEVNULL, env=sanitizer_env())
            self.procs.append((name, p, err))
        for i in range(self.visitors + 1):
            self._wait_healthy(i)
        for j in range(1, self.bridges + 1):
            node = self.visitors + 1 + j
            self._wait_healthy(node, role="bridge")
            self.bridge_urls.append(self.http_url("", node))
        self._wait_visitor_nodes()
        # The probe's redirects count as load on their node until its next heartbeat (so a
        # join storm spreads); wait for one heartbeat so the test's visitors start even.
        time.sleep(1.2)
        with open(os.path.join(self.dir, "admin-token")) as f:
            self.admin_token = f.read().strip()
        return self

    def restart(self, name):
        """kill -9 of node name, then the same node started again (the same config)."""
        i = next(k for k, (nm, _, _) in enumerate(self.procs) if nm == name)
        _, p, err = self.procs[i]
        p.kill()
        p.wait(timeout=5)
        with open(err, "ab") as f:
            p = subprocess.Popen([AMPHI_BIN, "serve", "--config",
                                  os.path.join(self.dir, name + ".conf")],
                                 stdout=subprocess.DEVNULL, stderr=f,
                                 stdin=subprocess.DEVNULL, env=sanitizer_env())
        self.procs[i] = (name, p, err)
        node = 0 if name == "main" else int(name.split("-")[1])
        self._wait_healthy(node)

    def _wait_port(self, port, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("nothing listens on %d" % port)

    def _wait_healthy(self, node, timeout=15, role=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, p, err in self.procs:
                if p.poll() is not None:
                    with open(err) as f:
                        raise AssertionError("%s exited: %s" % (name, f.read()[-2000:]))
            try:
                status, _, body = http("GET", self.http_url("/healthz", node), timeout=1)
                if status == 200 and (role is None or json.loads(body).get("role") == role):
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        raise AssertionError("node %d never healthy%s" % (node, " as a " + role if role else ""))

    def _wait_visitor_nodes(self, timeout=10):
        async def probe():
            c = await Client.connect(self.ws_url(), label="probe")
            try:
                return await c.join({"room": "probe/ready", "name": "p", "visitor": True})
            finally:
                await c.close()
        seen, deadline = set(), time.monotonic() + timeout
        while len(seen) < self.visitors:
            assert time.monotonic() < deadline, "main never knew every visitor node: %s" % seen
            ans = asyncio.run(probe())
            if ans.get("type") == "redirect":
                seen.add(ans["node"])
            else:
                time.sleep(0.05)

    def http_url(self, path="/", node=0):
        return "http://127.0.0.1:%d%s" % (self.port + node, path)

    def ws_url(self, node=0):
        return "ws://127.0.0.1:%d/ws" % (self.port + node)

    def stop(self):
        errors = []
        for name, p, err in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p, err in self.procs:
            try:
                rc = p.wait(timeout=6)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
                rc = None
            if rc != 0:
                with open(err) as f:
                    errors.append("%s exited %r:\n%s" % (name, rc, f.read()[-2000:]))
            try:
                check_sanitizers(err, name)
            except BaseException as e:
                errors.append(str(e))
        if self.nats:
            self.nats.terminate()
            try:
                self.nats.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.nats.kill()
                self.nats.wait(timeout=5)
            self.nats_log.close()
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def cluster(tmp_path):
    if not NATS:
        pytest.skip("nats-server is not installed")
    c = Cluster(tmp_path)
    try:
        yield c.start()
    finally:
        c.stop()


def test_cluster_admission_chat_counts_threshold(cluster):
    async def body(clients):
        a, b = await clients.join_each(cluster, ROOM, ["Ada", "Bob"])
        assert (a.joined["role"], a.joined["moderator"]) == ("participant", True)
        assert (b.joined["role"], b.joined["moderator"]) == ("participant", False)
        vs = await clients.join_each(cluster, ROOM, ["V%d" % i for i in range(6)])
        assert {v.joined["role"] for v in vs} == {"visitor"}
        assert {v.node for v in vs} == {1, 2}, [v.node for v in vs]
        for v in vs:
            names = [p["name"] for p in v.joined["room"]["participants"]]
            assert names == ["Ada", "Bob"], names

        # merged chat: from a participant and from visitors on both nodes
        senders = [a, next(v for v in vs if v.node == 1),
                   next(v for v in vs if v.node == 2), b]
        for i, s in enumerate(senders):
            ans = await s.request({"type": "chat", "text": "m%d" % i})
            assert ans["type"] == "ok", ans
        for c in clients:
            await c.wait_for(lambda m: m.get("type") == "chat" and
                             m["message"]["text"] == "m3")
        seqs = None
        for c in clients:
            chats = [(m["seq"], m["message"]["text"]) for m in c.of_type("chat")]
            assert [t for _, t in chats] == ["m0", "m1", "m2", "m3"], (c.label, chats)
            seqs = seqs or chats
            assert chats == seqs, (c.label, chats, seqs)

        # counts: 6 visitors, reported to everyone
        for c in clients:
            await c.wait_for(lambda m: m.get("type") == "visitor_count" and
                             m["count"] == 6, timeout=3)
        # the threshold, live: a moderator raises it, the admin API lowers it
        ans = await a.request({"type": "set_room", "max_participants": 3})
        assert ans["type"] == "ok", ans
        for c in clients:
            await c.wait_for(lambda m: m.get("type") == "room_updated" and
                             m["room"]["max_participants"] == 3)
        c3 = await clients.join(cluster, ROOM, "Cy")
        assert c3.joined["role"] == "participant"
        auth = {"Authorization": "Bearer " + cluster.admin_token}
        status, doc = http_json("PATCH", cluster.http_url("/api/v1/rooms/" + ROOM),
                                {"max_participants": 1}, auth)
        assert status == 200 and doc["max_participants"] == 1, (status, doc)
        for c in clients:
            await c.wait_for(lambda m: m.get("type") == "room_updated" and
                             m["room"]["max_participants"] == 1)
        status, doc = http_json("GET", cluster.http_url("/api/v1/rooms/" + ROOM),
                                headers=auth)
        assert status == 200 and doc["visitor_count"] == 6, doc
        assert sorted(doc["visitor_nodes"].items()) == sorted(
            {("visitor-%d" % n): sum(1 for v in vs if v.node == n)
             for n in (1, 2)}.items()), doc

    run_with_clients(body)


def nats_session(port, user, password):
    """A raw NATS protocol session (verbose, so every PUB is answered +OK or -ERR)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    f = s.makefile("rb")
    assert f.readline().startswith(b"INFO ")
    s.sendall(b'CONNECT {"verbose":true,"pedantic":false,"user":"%s","pass":"%s"}\r\n' % (
        user.encode(), password.encode()))
    assert f.readline().strip() == b"+OK"
    return s, f


def nats_pub(sess, subject, payload):
    s, f = sess
    s.sendall(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))
    return f.readline().strip().decode()


def test_visitor_credentials_cannot_forge_room_events(cluster):
    v1 = read_conf(os.path.join(cluster.dir, "visitor-1.conf"))
    main = read_conf(os.path.join(cluster.dir, "main.conf"))
    forged = b'{"type":"chat","message":{"from":{"id":"x","name":"Mallory","role":"participant"},' \
             b'"text":"forged","ts":1},"seq":999}'

    async def body(clients):
        a = await clients.join(cluster, ROOM, "Ada")
        v = await clients.join(cluster, ROOM, "Vic", visitor=True)
        sess = nats_session(cluster.nats_port, v1["nats_user"], v1["nats_password"])
        answer = nats_pub(sess, "room.acme.townhall.ev", forged)
        assert answer.startswith("-ERR") and "Permissions Violation" in answer, answer
        sess[0].close()
        # the upward subject is allowed for a visitor node
        sess = nats_session(cluster.nats_port, v1["nats_user"], v1["nats_password"])
        assert nats_pub(sess, "room.acme.townhall.up", b'{"type":"noop"}') == "+OK"
        sess[0].close()
        # the main node's credential may publish room events (the control case)
        sess = nats_session(cluster.nats_port, main["nats_user"], main["nats_password"])
        assert nats_pub(sess, "room.other.room.ev", b"{}") == "+OK"
        sess[0].close()
        # nobody in the room saw the forged event; the room still works
        ans = await a.request({"type": "chat", "text": "real"})
        assert ans["type"] == "ok"
        for c in (a, v):
            await c.wait_for(lambda m: m.get("type") == "chat")
            assert [m["message"]["text"] for m in c.of_type("chat")] == ["real"]

    run_with_clients(body)


def test_cluster_polls_hands_promotion(cluster):
    """Polls, hands and promotion over NATS with the per-node permissions: votes batched up
    from both visitor nodes, the hand seen by the moderator only, the promotion asked of the
    visitor's node on its command subject."""
    async def body(clients):
        a, b = await clients.join_each(cluster, ROOM, ["Ada", "Bob"])
        vs = await clients.join_each(cluster, ROOM, ["V%d" % i for i in range(4)])
        assert {v.node for v in vs} == {1, 2}, [v.node for v in vs]
        ans = await a.request({"type": "poll_create", "question": "Go?",
                               "options": ["yes", "no"]})
        assert ans["type"] == "ok", ans
        pid = ans["poll"]
        for c, opt in zip(vs + [b], [0, 1, 0, 0, 1]):
            await c.wait_for(lambda m: m.get("type") == "poll" and m["poll"]["id"] == pid)
            ans = await c.request({"type": "poll_vote", "poll": pid, "option": opt})
            assert ans["type"] == "ok", ans
        ans = await vs[0].request({"type": "poll_vote", "poll": pid, "option": 1})
        assert ans["type"] == "ok", ans
        for c in clients:
            await c.wait_for(lambda m: m.get("type") == "poll" and m["poll"]["id"] == pid and
                             [o["votes"] for o in m["poll"]["options"]] == [2, 3])
        v = next(x for x in vs if x.node == 2)
        ans = await v.request({"type": "raise_hand", "raised": True})
        assert ans["type"] == "ok", ans
        h = await a.wait_for("hand")
        assert h["hand"]["id"] == v.joined["id"] and h["hand"]["raised"], h
        assert not b.of_type("hand") and all(not x.of_type("hand") for x in vs if x is not v)
        ans = await a.request({"type": "promote", "target": v.joined["id"]})
        assert ans["type"] == "ok", ans
        pr = await v.wait_for("promoted")
        up = await clients.connect(pr["url"], "V-up")
        j = await up.join({"room": ROOM, "ticket": pr["ticket"]})
        assert j["type"] == "joined" and j["role"] == "participant", j
        await b.wait_for(lambda m: m.get("type") == "participant_joined" and
                         m["participant"]["id"] == j["id"])

    run_with_clients(body)


def test_chat_sent_up_twice_with_one_rid_appears_once(cluster):
    """A visitor node's request that arrives twice (a retry after a lost reply, a late
    delivery) carries the same rid: the main node posts the chat once."""
    v1 = read_conf(os.path.join(cluster.dir, "visitor-1.conf"))
    up = (b'{"type":"chat","rid":"visitor-1.retry-7","node":"visitor-1",'
          b'"from":{"id":"v-x","name":"Rita"},"text":"only once"}')

    async def body(clients):
        a = await clients.join(cluster, ROOM, "Ada")
        sess = nats_session(cluster.nats_port, v1["nats_user"], v1["nats_password"])
        for _ in range(3):
            assert nats_pub(sess, "room.acme.townhall.up", up) == "+OK"
        sess[0].close()
        await a.wait_for(lambda m: m.get("type") == "chat" and m["message"]["text"] == "only once")
        ans = await a.request({"type": "chat", "text": "after"})
        assert ans["type"] == "ok", ans
        await a.wait_for(lambda m: m.get("type") == "chat" and m["message"]["text"] == "after")
        texts = [m["message"]["text"] for m in a.of_type("chat")]
        assert texts == ["only once", "after"], texts

    run_with_clients(body)


def test_main_node_restarted_mirrors_start_over(cluster):
    """kill -9 of the main node and a new one started without its store (store = off; with
    it the rooms are rebuilt, test_store.py): its rooms begin again with a new epoch; the
    visitor nodes see it in the room's announcement within a second and take the new state,
    so chat reaches the visitors again and a late visitor gets today's room."""
    async def body(clients):
        a = await clients.join(cluster, ROOM, "Ada")
        v = await clients.join(cluster, ROOM, "Vic", visitor=True)
        for t in ("one", "two"):
            assert (await a.request({"type": "chat", "text": t}))["type"] == "ok"
        await v.wait_for(lambda m: m.get("type") == "chat" and m["message"]["text"] == "two")
        conf = os.path.join(cluster.dir, "main.conf")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("store = on", "store = off"))
        cluster.restart("main")
        time.sleep(1.5)  # heartbeats: the new main learns its visitor nodes
        b = await clients.join(cluster, ROOM, "Bea")
        assert b.joined["role"] == "participant"
        assert (await b.request({"type": "chat", "text": "after"}))["type"] == "ok"
        # as the event itself, or in the snapshot the node starts over from (when the new
        # epoch is seen after the chat was posted)
        await v.wait_for(lambda m: (m.get("type") == "chat" and m["message"]["text"] == "after")
                         or (m.get("type") == "snapshot" and
                             [c["text"] for c in m["room"]["chat"]] == ["after"]), timeout=6)
        late = await clients.join(cluster, ROOM, "Lee", visitor=True)
        names = [p["name"] for p in late.joined["room"]["participants"]]
        assert names == ["Bea"], late.joined["room"]
        assert [m["text"] for m in late.joined["room"]["chat"]] == ["after"]

    run_with_clients(body)


def test_chat_while_the_main_node_is_paused_appears_once(cluster):
    """SIGSTOP of the main node: a visitor's chat goes up three times (same rid) and is
    answered unavailable; after SIGCONT the main node reads all three and posts it once,
    and the client's own retry of it (same request id, same text) is answered ok and posts
    nothing more."""
    async def body(clients):
        a = await clients.join(cluster, ROOM, "Ada")
        v = await clients.join(cluster, ROOM, "Vic", visitor=True)
        main = next(p for name, p, _ in cluster.procs if name == "main")
        main.send_signal(signal.SIGSTOP)
        msg = {"type": "chat", "text": "while paused", "id": "chat-1"}
        try:
            ans = await v.request(msg, timeout=15)
            assert ans["type"] == "error" and ans["code"] == "unavailable", ans
        finally:
            main.send_signal(signal.SIGCONT)
        await v.wait_for(lambda m: m.get("type") == "chat" and
                         m["message"]["text"] == "while paused", timeout=10)
        for _ in range(10):  # until its node hears the main node again
            ans = await v.request(msg)
            if ans.get("code") != "unavailable":
                break
            await asyncio.sleep(0.5)
        assert ans["type"] == "ok", ans
        assert (await a.request({"type": "chat", "text": "later"}))["type"] == "ok"
        for c in (a, v):
            await c.wait_for(lambda m: m.get("type") == "chat" and m["message"]["text"] == "later")
            texts = [m["message"]["text"] for m in c.of_type("chat")]
            assert texts == ["while paused", "later"], (c.label, texts)

    run_with_clients(body, timeout=90)


def test_hands_of_a_dead_visitor_node_go_down(cluster):
    """A visitor node killed with its visitor's hand up: once the main node drops the node
    (3 missed heartbeats), the moderator sees that hand go down."""
    async def body(clients):
        a = await clients.join(cluster, ROOM, "Ada")
        v = await clients.join(cluster, ROOM, "Vic", visitor=True)
        assert (await v.request({"type": "raise_hand", "raised": True}))["type"] == "ok"
        await a.wait_for(lambda m: m.get("type") == "hand" and m["hand"]["raised"])
        name = "visitor-%d" % v.node
        proc = next(p for nm, p, _ in cluster.procs if nm == name)
        proc.kill()
        await a.wait_for(lambda m: m.get("type") == "hand" and not m["hand"]["raised"]
                         and m["hand"]["id"] == v.joined["id"], timeout=8)
        cluster.restart(name)  # a node that stops well, for the fixture's check

    run_with_clients(body)
