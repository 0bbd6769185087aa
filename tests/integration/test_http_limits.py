"""Limits of the HTTP side against slow or odd clients: a body has a deadline, chunked bodies
and unknown methods are answered (not left hanging), requests without a body are answered,
and a long Host header still makes a correct redirect (an over-long one is refused)."""

import base64
import json
import os
import re
import socket
import time

from conftest import TIMEOUT, RawWS

ADMIN = "admintok123"


def exchange(port, data, timeout=TIMEOUT):
    """Sends data on a new connection; (seconds until the answer's end or the close, the
    bytes received)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t0 = time.monotonic()
    s.sendall(data)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
            head, _, body = out.partition(b"\r\n\r\n")
            m = re.search(rb"content-length: *(\d+)", head, re.I)
            if m and len(body) >= int(m.group(1)):
                break
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("no answer within %.1f s to %r (got %r)" % (timeout, data[:80], out))
    finally:
        s.close()
    return time.monotonic() - t0, out


def status_of(answer):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    assert m, "not an HTTP answer: %r" % answer[:200]
    return int(m.group(1))


def req(method, path, extra=b"", body=b""):
    return (b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n%s\r\n%s"
            % (method, path, ADMIN.encode(), extra, body))


def test_a_trickled_body_meets_its_deadline(amphi):
    """A body sent a byte every 2 s is cut off 10 s after its headers, not kept for ever."""
    srv = amphi("--admin-token", ADMIN, visitor_nodes=0, probe=False)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=1)
    t0 = time.monotonic()
    s.sendall(req(b"PATCH", b"/api/v1/rooms/acme/x", b"Content-Length: 100\r\n"))
    closed_after = None
    try:
        for i in range(15):
            try:
                s.sendall(b" ")
            except OSError:
                closed_after = time.monotonic() - t0
                break
            try:
                if not s.recv(4096):
                    closed_after = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed_after = time.monotonic() - t0
                break
            time.sleep(1)
    finally:
        s.close()
    assert closed_after is not None, "a trickled body kept its connection for 30 s"
    assert 8 <= closed_after <= 14, closed_after


def test_requests_lws_cannot_read_are_answered(amphi):
    """Chunked bodies (411), unknown methods (405) and bodiless PATCH/POST/PUT (answered by
    the API) get an answer at once; the server goes on serving."""
    srv = amphi("--admin-token", ADMIN, visitor_nodes=0, probe=False)
    chunked = b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n"
    for method in (b"PATCH", b"POST", b"PUT"):
        took, ans = exchange(srv.port, req(method, b"/api/v1/rooms/acme/x", chunked,
                                           b"2\r\n{}\r\n0\r\n\r\n"))
        assert status_of(ans) == 411 and took < 2, (method, took, ans)
        took, ans = exchange(srv.port, req(method, b"/api/v1/rooms/acme/x"))
        assert status_of(ans) in (200, 201, 400, 404, 405) and took < 2, (method, took, ans)
    took, ans = exchange(srv.port, req(b"OPTIONS", b"/api/v1/rooms/acme/x"))
    assert status_of(ans) == 405 and took < 2, (took, ans)
    # a method lws does not know at all: lws answers it itself (403)
    took, ans = exchange(srv.port, req(b"TRACE", b"/api/v1/rooms/acme/x"))
    assert status_of(ans) in (403, 405) and took < 2, (took, ans)
    took, ans = exchange(srv.port, req(b"GET", b"/healthz"))
    assert status_of(ans) == 200, ans


def ws_with_host(port, host):
    """A raw upgrade with the given Host header: the socket, or None when refused."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (host, key)).encode())
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            d = s.recv(4096)
            if not d:
                break
            buf += d
    except ConnectionResetError:
        pass
    if not buf.startswith(b"HTTP/1.1 101"):
        s.close()
        return None
    return s


def test_a_long_host_makes_a_correct_redirect(amphi):
    """A 200-character host name comes back in the redirect's URL (it became
    ws://127.0.0.1:P/ws at 64 characters); a Host over 263 characters is refused."""
    srv = amphi(visitor_nodes=1)
    name = ".".join(["a" * 60, "b" * 60, "c" * 60, "example"])
    s = ws_with_host(srv.port, "%s:%d" % (name, srv.port))
    assert s is not None, "the upgrade with a %d-character host was refused" % len(name)
    try:
        s.sendall(RawWS.frame(json.dumps({"type": "join", "room": "acme/h", "name": "H",
                                          "visitor": True, "id": "1"})))
        buf = b""
        s.settimeout(TIMEOUT)
        while b"}" not in buf:
            buf += s.recv(65536)
        msg = json.loads(buf[buf.index(b"{"):])
        assert msg["type"] == "redirect", msg
        assert msg["url"] == "ws://%s:%d/ws" % (name, srv.port + 1), msg["url"]
    finally:
        s.close()
    assert ws_with_host(srv.port, "x" * 300) is None
