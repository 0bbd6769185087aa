"""Limits against a client that tries to use the server up: a socket that was redirected may
not join again (each join would open a room)."""

import asyncio
import base64
import json
import os
import resource
import socket
import time

from conftest import TIMEOUT, RawWS, http, parse_metrics, run_with_clients


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


# --- a client that stops reading ---------------------------------------------------------


def stalled_socket(port, room, name):
    """A WebSocket on a socket with a tiny receive buffer that joins room and then never
    reads again: the server's frames pile up behind it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (port, key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        assert d, "closed during the handshake"
        buf += d
    assert buf.startswith(b"HTTP/1.1 101"), buf
    s.sendall(RawWS.frame(json.dumps({"type": "join", "room": room, "name": name})))
    return s


def metric(srv, name, node=0):
    status, _, body = http("GET", srv.http_url("/metrics", node))
    assert status == 200
    return parse_metrics(body.decode()).get(name, 0.0)


def test_a_client_that_stops_reading_is_dropped_and_freed(amphi):
    """A participant that never reads falls 4096 frames behind in a busy room: its queue is
    dropped and its socket closed within a second, and the others go on receiving."""
    srv = amphi("--max-participants", "40", visitor_nodes=1)
    room = "acme/busy"

    async def body(clients):
        watcher = await clients.join(srv, room, "Watcher")
        chatters = await clients.join_each(srv, room, ["C%d" % i for i in range(24)])
        stalled = stalled_socket(srv.port, room, "Stalled")
        try:
            base = metric(srv, "amphi_ws_connections")
            text = "x" * 1900
            dropped_at = None
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                # 24 chatters at 15 chats a second each, under the per-client rate limit
                for c in chatters:
                    await c.send({"type": "chat", "text": text})
                await asyncio.sleep(1 / 15)
                if dropped_at is None and "frames behind" in srv.read_stderr():
                    dropped_at = time.monotonic()
                if dropped_at is not None:
                    if metric(srv, "amphi_ws_connections") <= base - 1:
                        break
                    assert time.monotonic() - dropped_at < 1.5, \
                        "the slow client was marked but its connection stays open"
            assert dropped_at is not None, "the stalled client was never found behind"
            assert metric(srv, "amphi_ws_slow_dropped_total") >= 1
            # its socket is gone: reading it ends (reset, or what was in flight and then EOF)
            stalled.settimeout(TIMEOUT)
            ended = False
            try:
                for _ in range(100000):
                    if not stalled.recv(1 << 20):
                        ended = True
                        break
            except ConnectionResetError:
                ended = True
            assert ended
        finally:
            stalled.close()
        # the others still get the room's events
        start = len(watcher.msgs)
        await chatters[0].send({"type": "chat", "text": "after"})
        await watcher.wait_for(lambda m: m.get("type") == "chat" and m["message"]["text"] == "after",
                               timeout=10, start=start)
        await watcher.wait_for(lambda m: m.get("type") == "participant_left", start=0)

    run_with_clients(body, timeout=90)


# --- descriptor exhaustion ---------------------------------------------------------------


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def ws_held(port):
    """A WebSocket that stays open (upgraded, silent), or None when the server refused the
    connection."""
    try:
        return RawWS(port, timeout=1.0)
    except (AssertionError, OSError):
        return None


def test_descriptor_exhaustion_pauses_accepting(amphi):
    """At the descriptor limit the server refuses connections without spinning on accept()
    or flooding its log, and takes new clients again once descriptors are free."""
    srv = amphi(visitor_nodes=1)
    pid = srv.proc.pid
    limit = open_count(pid) + 60
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
    held, refused = [], 0
    try:
        for _ in range(limit):
            w = ws_held(srv.port)
            if w is None:
                refused += 1
                if refused >= 3:
                    break
            else:
                held.append(w)
        assert refused >= 3, "never refused (%d held, limit %d)" % (len(held), limit)
        log_before = len(srv.read_stderr().splitlines())
        # keep knocking for 2 s: the process stays idle and its log short
        extra = []
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        while time.monotonic() - t0 < 2.0:
            s = socket.socket()
            s.settimeout(0.2)
            try:
                s.connect(("127.0.0.1", srv.port))
            except OSError:
                pass
            extra.append(s)
            time.sleep(0.05)
        cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        lines = len(srv.read_stderr().splitlines()) - log_before
        assert cpu < 0.25, "the server burns %.0f%% of a core at the limit" % (cpu * 100)
        assert lines <= 10, "the log grew by %d lines in 2 s" % lines
        for s in extra:
            s.close()
    finally:
        for w in held:
            w.close()
    # descriptors free again: a client joins
    deadline = time.monotonic() + 10
    while True:
        w = ws_held(srv.port)
        if w is not None:
            w.send_all([json.dumps({"type": "join", "room": "acme/after", "name": "A",
                                    "id": "j"})])
            ans = w.read_text()
            w.close()
            assert ans["type"] == "joined", ans
            break
        assert time.monotonic() < deadline, "no connection accepted after the sockets closed"
        time.sleep(0.2)
    assert "descriptors nearly used up" in srv.read_stderr()


# --- rooms per connection and per address ------------------------------------------------


def test_a_socket_opens_one_room_however_its_joins_fail(amphi):
    """Joins answered with an error (here room_full: no visitors) leave the socket free to
    retry its room, not to open one room after another."""
    srv = amphi("--max-participants", "0", "--visitors", "false", visitor_nodes=0, probe=False)

    async def body(clients):
        c = await clients.connect(srv.ws_url(), "walker")
        before = rooms(srv)
        ans = await c.join({"room": "acme/w0", "name": "W"})
        assert ans["type"] == "error" and ans["code"] == "room_full", ans
        ans = await c.join({"room": "acme/w0", "name": "W"})  # the same room: a retry
        assert ans["type"] == "error" and ans["code"] == "room_full", ans
        for i in range(1, 5):  # errors cost rate-limit tokens: a few only
            ans = await c.join({"room": "acme/w%d" % i, "name": "W"})
            assert ans["type"] == "error" and ans["code"] == "bad_request", ans
            assert "one room" in ans["message"], ans
        await c.ping()
        assert rooms(srv) <= before + 1, (before, rooms(srv))

    run_with_clients(body)


def test_room_creation_per_address_is_limited(amphi):
    """room_create_per_min: an address opens that many rooms at once, then gets
    rate_limited; rooms that exist take it in as before."""
    srv = amphi("--room-create-per-min", "5", visitor_nodes=0, probe=False)

    async def body(clients):
        answers = []
        for i in range(8):
            c = await clients.connect(srv.ws_url(), "r%d" % i)
            answers.append(await c.join({"room": "acme/new%d" % i, "name": "N"}))
        kinds = [a["type"] if a["type"] != "error" else a["code"] for a in answers]
        assert kinds == ["joined"] * 5 + ["rate_limited"] * 3, kinds
        late = await clients.connect(srv.ws_url(), "late")
        ans = await late.join({"room": "acme/new0", "name": "L"})
        assert ans["type"] == "joined", ans
        assert rooms(srv) == 5

    run_with_clients(body)
