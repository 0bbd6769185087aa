"""Shared helpers of the integration tests: free ports, a running `amphi run`, the
sanitizer check of its stderr, a WebSocket client, HTTP and token helpers.

The tests drive the binary named by AMPHI_BIN (the Makefile points it at the ASan/UBSan
build), over 127.0.0.1 only. Every process a test starts is stopped by the fixture that
started it, and its stderr is searched for sanitizer reports.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import websockets

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
AMPHI_BIN = os.environ.get("AMPHI_BIN") or os.path.join(REPO, "build", "amphi")

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                     "WARNING: ThreadSanitizer")

# Bounded waits: a message the server must send arrives within this (ASan is slow, but
# not that slow).
TIMEOUT = 5.0


# --- ports -----------------------------------------------------------------------------


def _port_free(port, kind=socket.SOCK_STREAM):
    """Whether 127.0.0.1:port can be bound, for TCP (SOCK_STREAM) or UDP (SOCK_DGRAM)."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port_range(count, kind=socket.SOCK_STREAM):
    """A base port such that base..base+count-1 are all free on 127.0.0.1 (TCP, or UDP with
    kind=socket.SOCK_DGRAM). Tried first below the kernel's ephemeral range, where no
    outgoing connection takes a port between the check and the server's bind; then from a
    port the kernel hands out (bind to 0)."""
    lo, _ = _ephemeral_range()
    if lo - count > 10000:
        for _ in range(200):
            base = random.randrange(10000, lo - count)
            if all(_port_free(base + i, kind) for i in range(count)):
                return base
    for _ in range(200):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
        s.close()
        if base + count > 65535:
            continue
        if all(_port_free(base + i, kind) for i in range(count)):
            return base
    raise RuntimeError("no range of %d free %s ports found"
                       % (count, "UDP" if kind == socket.SOCK_DGRAM else "TCP"))


def free_udp_range(count):
    return free_port_range(count, socket.SOCK_DGRAM)


# --- sanitizer logs --------------------------------------------------------------------


def sanitizer_report(text):
    """The sanitizer findings in a log, or None."""
    hits = [m for m in SANITIZER_MARKERS if m in text]
    if not hits:
        return None
    first = min(text.index(m) for m in hits)
    return text[max(0, first - 2000) : first + 6000]


def check_sanitizers(path, what="amphi"):
    with open(path, "r", errors="replace") as f:
        text = f.read()
    rep = sanitizer_report(text)
    if rep:
        pytest.fail("%s: sanitizer report in its stderr (%s):\n%s" % (what, path, rep),
                    pytrace=False)


def sanitizer_env():
    env = dict(os.environ)
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    # The TSan build (make tsan): every report, not only the first, goes to stderr, where
    # check_sanitizers finds it; the process goes on so that the test sees all of them.
    env.setdefault("TSAN_OPTIONS", "halt_on_error=0 second_deadlock_stack=1")
    return env


# --- HTTP ------------------------------------------------------------------------------


def http(method, url, body=None, headers=None, timeout=TIMEOUT):
    """(status, headers, body bytes) of one request; 4xx/5xx are returned, not raised."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def http_json(method, url, body=None, headers=None):
    status, hdrs, raw = http(method, url, body, headers)
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    return status, doc


METRIC_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_metrics(text):
    """{name: value} of a Prometheus text page (labels dropped; a name's values summed)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = METRIC_RE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
    return out


# --- tokens ----------------------------------------------------------------------------


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(secret, claims):
    """An HS256 JWT, made here independently of the server's code."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signing = ("%s.%s" % (header, payload)).encode()
    sig = hmac.new(secret.encode(), signing, hashlib.sha256).digest()
    return "%s.%s.%s" % (header, payload, _b64url(sig))


def amphi_token(*args):
    """`amphi token ARGS`: the token it prints."""
    r = subprocess.run([AMPHI_BIN, "token", *args], capture_output=True, text=True,
                       timeout=30, env=sanitizer_env())
    assert r.returncode == 0, "amphi token failed: %s" % r.stderr
    assert sanitizer_report(r.stderr) is None, r.stderr
    return r.stdout.strip()


# --- the server ------------------------------------------------------------------------


class AmphiServer:
    """One `amphi run` process on 127.0.0.1:port (main), port+i (visitor node i) and
    port+K+j (bridge j's HTTP; its media on UDP media_port+j-1)."""

    def __init__(self, flags, visitor_nodes, tmpdir, env=None):
        self.flags = list(flags)
        self.visitor_nodes = visitor_nodes
        self.bridges = int(self.flags[self.flags.index("--bridges") + 1]) \
            if "--bridges" in self.flags else 1
        self.media_port = int(self.flags[self.flags.index("--media-port") + 1]) \
            if "--media-port" in self.flags else None
        self.extra_env = dict(env or {})
        self.tmpdir = tmpdir
        self.proc = None
        self.port = None
        self.returncode = None
        self.stderr_path = None
        self.stdout_path = None
        self.visitor_ids = {}  # node id -> port, learnt from redirects

    # URLs
    def http_url(self, path="/", node=0):
        return "http://127.0.0.1:%d%s" % (self.port + node, path)

    def ws_url(self, node=0):
        return "ws://127.0.0.1:%d/ws" % (self.port + node)

    def bridge_url(self, path="/metrics", j=1):
        return "http://127.0.0.1:%d%s" % (self.port + self.visitor_nodes + j, path)

    def start(self, probe=True):
        last = ""
        for attempt in range(3):
            self.port = free_port_range(self.visitor_nodes + 1 + self.bridges)
            media = []
            if "--media-port" not in self.flags and self.bridges > 0:
                self.media_port = free_udp_range(self.bridges)
                media = ["--media-port", str(self.media_port)]
            fd, self.stderr_path = tempfile.mkstemp(prefix="amphi-stderr-", suffix=".log",
                                                    dir=self.tmpdir)
            os.close(fd)
            self.stdout_path = self.stderr_path.replace("stderr", "stdout")
            args = [AMPHI_BIN, "run", "--listen", "127.0.0.1", "--port", str(self.port),
                    "--visitor-nodes", str(self.visitor_nodes), *media, *self.flags]
            env = sanitizer_env()
            env.update(self.extra_env)
            with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
                self.proc = subprocess.Popen(args, stdout=out, stderr=err,
                                             stdin=subprocess.DEVNULL, env=env)
            if self._wait_healthy():
                break
            last = self.read_stderr()
            self.stop(check=False)
            if "in use" not in last:
                raise AssertionError("amphi run %s did not start:\n%s" % (args, last))
        else:
            raise AssertionError("amphi run did not start after 3 attempts:\n%s" % last)
        if probe and self.visitor_nodes > 0:
            self._wait_visitor_nodes()
        return self

    def _wait_healthy(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        pending = set(range(self.visitor_nodes + 1 + self.bridges))
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            for i in list(pending):
                try:
                    status, _, _ = http("GET", self.http_url("/healthz", i), timeout=1)
                    if status == 200:
                        pending.discard(i)
                except OSError:
                    pass
            if pending:
                time.sleep(0.02)
        return not pending

    def _wait_visitor_nodes(self, timeout=10.0):
        """Until the main node redirects to every visitor node (their heartbeats arrived).
        The probe room is 'probe/ready'; it is never joined on a visitor node."""
        deadline = time.monotonic() + timeout
        seen = {}

        join = {"type": "join", "room": "probe/ready", "name": "probe", "visitor": True}
        if "--jwt-secret" in self.flags:
            secret = self.flags[self.flags.index("--jwt-secret") + 1]
            join["token"] = make_jwt(secret, {"room": "*", "sub": "*",
                                              "exp": int(time.time()) + 600,
                                              "context": {"user": {"name": "probe"}}})

        async def probe_once():
            async with websockets.connect(self.ws_url(), open_timeout=TIMEOUT) as ws:
                await ws.send(json.dumps(join))
                return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))

        while len(seen) < self.visitor_nodes:
            assert time.monotonic() < deadline, \
                "the main node never knew all %d visitor nodes (saw %s)" % (
                    self.visitor_nodes, seen)
            msg = asyncio.run(probe_once())
            if msg.get("type") == "redirect":
                port = int(re.match(r"ws://127\.0\.0\.1:(\d+)/ws$", msg["url"]).group(1))
                seen[msg["node"]] = port
            else:
                assert msg.get("type") == "error" and msg.get("code") == "unavailable", msg
                time.sleep(0.03)
        self.visitor_ids = seen

    def read_stderr(self):
        try:
            with open(self.stderr_path, "r", errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def terminate(self, timeout=5.0):
        """SIGTERM; the exit status, or None if it had to be killed."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.returncode = None
            return None

    def stop(self, check=True):
        if self.proc is None:
            return
        already = self.proc.poll() is not None
        rc = self.terminate()
        if check:
            check_sanitizers(self.stderr_path, "amphi run " + " ".join(self.flags))
            if not already:
                assert rc == 0, "amphi run did not exit 0 on SIGTERM within 5 s (rc=%r):\n%s" % (
                    rc, self.read_stderr()[-3000:])


@pytest.fixture
def amphi(tmp_path):
    """Factory: amphi(*flags, visitor_nodes=K) starts `amphi run` and returns its
    AmphiServer; every server is stopped (SIGTERM) and its stderr checked at teardown."""
    servers = []

    def start(*flags, visitor_nodes=2, probe=True, env=None):
        s = AmphiServer([str(f) for f in flags], visitor_nodes, str(tmp_path), env=env)
        servers.append(s)
        return s.start(probe=probe)

    yield start
    errors = []
    for s in servers:
        try:
            s.stop(check=True)
        except BaseException as e:  # stop every server before failing
            errors.append(e)
    if errors:
        raise errors[0]


# --- the WebSocket client --------------------------------------------------------------


ROOM_EVENT_TYPES = {"participant_joined", "participant_left", "participant_updated",
                    "visitor_count", "chat", "poll", "hand", "room_updated"}


class Client:
    """A protocol client: sends requests with ids, keeps every message it receives (with
    the time it arrived), and waits for messages with a timeout."""

    _n = 0

    def __init__(self, ws, label):
        self.ws = ws
        self.label = label
        self.msgs = []
        self.times = []
        self._new = asyncio.Event()
        self._next_id = 0
        self.closed = False
        self.close_code = None
        self.joined = None       # the `joined` message
        self.redirect = None     # the redirect that brought it to a visitor node
        self.node = None         # node index: 0 main, i visitor node i
        self._task = asyncio.get_running_loop().create_task(self._reader())

    @classmethod
    async def connect(cls, url, label=None, ssl=None):
        """ssl: the SSLContext of a wss:// URL (a test's own certificate authority)."""
        cls._n += 1
        kw = {"ssl": ssl} if ssl is not None else {}
        ws = await asyncio.wait_for(
            websockets.connect(url, open_timeout=TIMEOUT, close_timeout=2,
                               max_size=2 ** 22, ping_interval=None, **kw),
            TIMEOUT)
        return cls(ws, label or "c%d" % cls._n)

    async def _reader(self):
        try:
            async for raw in self.ws:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    msg = {"type": "__not_json__", "raw": raw}
                self.msgs.append(msg)
                self.times.append(time.monotonic())
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self.close_code = self.ws.close_code
            self._new.set()

    def new_id(self):
        self._next_id += 1
        return "%s-%d" % (self.label, self._next_id)

    async def send_raw(self, data):
        await self.ws.send(data)

    async def send(self, msg, with_id=True):
        """Sends msg (a dict), adding an id unless it has one; returns the id."""
        msg = dict(msg)
        if with_id and "id" not in msg:
            msg["id"] = self.new_id()
        await self.ws.send(json.dumps(msg))
        return msg.get("id")

    async def wait_for(self, pred, timeout=TIMEOUT, start=0, what=None):
        """The first message from index start on for which pred(msg) is true. pred may be
        a type name."""
        if isinstance(pred, str):
            t = pred
            pred = lambda m: m.get("type") == t  # noqa: E731
            what = what or t
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.msgs):
                if pred(self.msgs[i]):
                    return self.msgs[i]
                i += 1
            if self.closed:
                raise AssertionError("%s: closed (code %s) while waiting for %s; got %s" % (
                    self.label, self.close_code, what or "a message", self.msgs[start:]))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: no %s within %.1f s; got %s" % (
                    self.label, what or "matching message", timeout, self.msgs[start:]))
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def request(self, msg, timeout=TIMEOUT):
        """Sends msg with a fresh id; the answer that echoes the id."""
        start = len(self.msgs)
        rid = await self.send(msg)
        return await self.wait_for(lambda m: m.get("id") == rid and m.get("type") != "ping",
                                   timeout, start, what="answer to %s" % rid)

    async def join(self, msg, timeout=TIMEOUT):
        """Sends a join (with a fresh id unless msg has one); its answer: `joined` (whose
        "id" is the member's id, docs/PROTOCOL.md), or `redirect`/`error` (which echo the
        request id)."""
        start = len(self.msgs)
        rid = await self.send(dict(msg, type="join"))
        return await self.wait_for(
            lambda m: m.get("type") == "joined" or (
                m.get("type") in ("redirect", "error") and m.get("id") == rid),
            timeout, start, what="answer to join %s" % rid)

    async def ping(self, timeout=TIMEOUT):
        """A ping answered by a pong with the same id: the connection still works."""
        start = len(self.msgs)
        rid = self.new_id()
        await self.ws.send(json.dumps({"type": "ping", "id": rid}))
        m = await self.wait_for(lambda m: m.get("id") == rid, timeout, start,
                                what="pong %s" % rid)
        assert m == {"type": "pong", "id": rid}, m
        return m

    async def wait_closed(self, timeout=TIMEOUT):
        await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return self.close_code

    def of_type(self, t, start=0):
        return [m for m in self.msgs[start:] if m.get("type") == t]

    def errors(self, start=0):
        return self.of_type("error", start)

    def events(self, start=0):
        """Room events (messages that carry a seq) received from index start on."""
        return [m for m in self.msgs[start:] if "seq" in m and m.get("type") != "joined"]

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:
            pass
        try:
            await asyncio.wait_for(self._task, 3)
        except Exception:
            self._task.cancel()


class RawWS:
    """A minimal blocking WebSocket client on a plain socket, for what the websockets
    library hides: many frames in one TCP write, and the exact frames (close frames
    included) the server sends before the connection ends."""

    def __init__(self, port, timeout=TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (port, key)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = self.sock.recv(4096)
            assert d, "connection closed during the WebSocket handshake"
            buf += d
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.eof = None  # "fin" or "reset" once the connection ended

    @staticmethod
    def frame(text, opcode=1, fin=True, masked=True, rsv=0):
        """One frame as a client writes it (masked, final); the keywords make the frames a
        client must not send."""
        data = text.encode() if isinstance(text, str) else text
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        m = 0x80 if masked else 0
        n = len(data)
        if n < 126:
            hdr = bytes([b0, m | n])
        elif n < 65536:
            hdr = bytes([b0, m | 126]) + n.to_bytes(2, "big")
        else:
            hdr = bytes([b0, m | 127]) + n.to_bytes(8, "big")
        if not masked:
            return hdr + data
        mask = os.urandom(4)
        return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))

    def send_bytes(self, data):
        self.sock.sendall(data)

    def read_frame(self, timeout=TIMEOUT):
        """The next frame of any kind, as (opcode, payload)."""
        self.sock.settimeout(timeout)
        while True:
            f = self._pop_frame()
            if f:
                return f
            d = self.sock.recv(65536)
            assert d, "the server ended the connection"
            self.buf += d

    def send_all(self, texts):
        """Every text as one frame, all in a single write."""
        self.sock.sendall(b"".join(self.frame(t) for t in texts))

    def _pop_frame(self):
        b = self.buf
        if len(b) < 2:
            return None
        op, n, j = b[0] & 0x0F, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, j = int.from_bytes(b[2:4], "big"), 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, j = int.from_bytes(b[2:10], "big"), 10
        if len(b) < j + n:
            return None
        self.buf = b[j + n:]
        return op, b[j:j + n]

    def read_text(self, timeout=TIMEOUT):
        """The next frame, which must be a text frame, as JSON."""
        self.sock.settimeout(timeout)
        while True:
            f = self._pop_frame()
            if f:
                assert f[0] == 1, "expected a text frame, got %r" % (f,)
                return json.loads(f[1])
            d = self.sock.recv(65536)
            assert d, "the server ended the connection"
            self.buf += d

    def read_until_end(self, timeout=TIMEOUT):
        """Reads until the server ends the connection; the frames it sent, as
        (opcode, payload) pairs."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    self.eof = "fin"
                    break
                self.buf += d
        except ConnectionResetError:
            self.eof = "reset"
        except socket.timeout:
            raise AssertionError("the server did not end the connection within %.1f s"
                                 % timeout)
        frames = []
        while True:
            f = self._pop_frame()
            if not f:
                break
            frames.append(f)
        return frames

    def close(self):
        self.sock.close()


async def join(server, room, name, visitor=None, token=None, extra=None):
    """Joins room through the main node, following a redirect to a visitor node. Returns
    the Client (on the node it ended on), with .joined, .redirect and .node set."""
    c = await Client.connect(server.ws_url(), label=name)
    msg = {"type": "join", "room": room, "name": name}
    if visitor is not None:
        msg["visitor"] = visitor
    if token is not None:
        msg["token"] = token
    msg.update(extra or {})
    ans = await c.join(msg)
    if ans.get("type") == "joined":
        c.joined = ans
        c.node = 0
        return c
    assert ans.get("type") == "redirect", "%s: join answered %s" % (name, ans)
    await c.close()
    port = int(re.match(r"ws://127\.0\.0\.1:(\d+)/ws$", ans["url"]).group(1))
    v = await Client.connect(ans["url"], label=name)
    v.redirect = ans
    v.node = port - server.port
    v.joined = await v.join({"room": room, "name": name, "ticket": ans["ticket"]})
    assert v.joined["type"] == "joined", "%s: visitor join answered %s" % (name, v.joined)
    return v


async def close_all(*clients):
    await asyncio.gather(*(c.close() for c in clients if c is not None))


def run(coro, timeout=60):
    """Runs a test coroutine with an overall bound."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Clients(list):
    """The clients a test has open, in the order it opened them; run_with_clients closes
    them all when the test ends, passed or failed. Each is kept as soon as it is open, so
    that a failure halfway through a series of joins leaves none behind."""

    async def connect(self, url, label=None):
        c = await Client.connect(url, label)
        self.append(c)
        return c

    async def join(self, server, room, name, **kw):
        """join(server, room, name, ...), the client kept."""
        c = await join(server, room, name, **kw)
        self.append(c)
        return c

    async def join_each(self, server, room, names, **kw):
        """One join per name, one after the other (admission depends on the order)."""
        return [await self.join(server, room, n, **kw) for n in names]


def run_with_clients(body, timeout=60):
    """run() of body(clients), a coroutine function given a fresh Clients list; every
    client in it is closed at the end."""
    async def wrapped():
        clients = Clients()
        try:
            await body(clients)
        finally:
            await close_all(*clients)

    return run(wrapped(), timeout)
