#!/usr/bin/env python3
"""nats_tap.py: counts what goes up a room's subject, for bench/poll.sh.

Subscribes to one subject (room.<tenant>.<room>.up) on a NATS server and writes one line per
message to --out: "recv_us type node n_votes bytes" (recv_us: CLOCK_REALTIME in
microseconds; node and n_votes "-" when the message has none). It speaks the NATS client
protocol itself (INFO, CONNECT, SUB, MSG, PING/PONG) over one socket, as the benchmark
machine has no NATS client library. The user and password come from the environment
(NATS_TAP_USER, NATS_TAP_PASSWORD), not the command line. It runs until SIGTERM or SIGINT,
and creates --ready once its subscription is in place.
"""

import argparse
import json
import os
import select
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--subject", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ready", required=True)
    a = ap.parse_args()

    stop = []
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.append(1))

    sock = socket.create_connection((a.host, a.port), timeout=5)
    buf = b""

    def fill():  # more bytes into buf; False at the end of the stream
        nonlocal buf
        r, _, _ = select.select([sock], [], [], 0.5)  # a signal is seen within half a second
        if not r:
            return True
        data = sock.recv(65536)
        buf += data
        return bool(data)

    while b"\r\n" not in buf:
        if not fill() or stop:
            sys.exit("nats_tap: no INFO from the server")
    if not buf.startswith(b"INFO "):
        sys.exit("nats_tap: no INFO from the server: %r" % buf[:80])
    buf = buf[buf.index(b"\r\n") + 2:]
    connect = {"verbose": False, "pedantic": False, "name": "bench-tap", "lang": "python",
               "version": "1", "protocol": 1,
               "user": os.environ.get("NATS_TAP_USER", ""),
               "pass": os.environ.get("NATS_TAP_PASSWORD", "")}
    sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")
    sock.sendall(("SUB %s 1\r\nPING\r\n" % a.subject).encode())
    out = open(a.out, "w", buffering=1)
    ready = False
    while not stop:
        eol = buf.find(b"\r\n")
        if eol < 0:
            if not fill():
                sys.exit("nats_tap: the server closed the connection")
            continue
        line = buf[:eol]
        if line.startswith(b"MSG "):
            size = int(line.split()[-1])
            while len(buf) < eol + 2 + size + 2:
                if not fill():
                    sys.exit("nats_tap: the server closed the connection")
            payload = buf[eol + 2:eol + 2 + size]
            buf = buf[eol + 2 + size + 2:]
            now_us = time.time_ns() // 1000
            try:
                m = json.loads(payload)
            except ValueError:
                m = {}
            votes = m.get("votes")
            out.write("%d %s %s %s %d\n" % (now_us, m.get("type", "?"), m.get("node", "-"),
                                             len(votes) if isinstance(votes, list) else "-",
                                             size))
            continue
        buf = buf[eol + 2:]
        if line.startswith(b"PING"):
            sock.sendall(b"PONG\r\n")
        elif line.startswith(b"PONG") and not ready:
            ready = True  # the server has our SUB: it answers in order
            open(a.ready, "w").close()
        elif line.startswith(b"-ERR"):
            sys.exit("nats_tap: %s" % line.decode(errors="replace").strip())
    out.close()

if __name__ == "__main__":
    main()
