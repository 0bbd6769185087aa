#!/usr/bin/python3
"""The cost of one change of what a room publishes, for the visitor node that has to send
every one of its visitors a new subscribe_offer (docs/PERFORMANCE.md, "Offers in batches").

`amphi run` with one visitor node and one bridge on loopback; N signaling-only visitors
(WebSocket clients that take their offers and never answer them: the offers are the
measure, not the media) join one room; then two participants publish one after the other
(a Chromium offer captured in fuzz/corpora/bridge, sent by a plain WebSocket client: the
bridge answers it and records the tracks, no media needs to flow). For each change: the
time from the publish request until every visitor has an offer naming the new publisher,
and the bus messages the visitor node sent meanwhile (amphi_bus_messages_out_total on its
/metrics: what the change cost it on the bus, with a build that has no offers op too).

usage: bench/offers.py [--bin build/amphi] [--visitors 1000] [--runs 3] [--port 23000]
Prints one JSON line per change and run, then a summary line."""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def chromium_offer():
    """The SDP of the first record (a publish request) of the captured Chromium session."""
    with open(os.path.join(ROOT, "fuzz/corpora/bridge/chromium-publish"), "rb") as f:
        data = f.read()
    n = data[1] << 8 | data[2]
    return json.loads(data[3:3 + n])["sdp"]


def metric(url, name):
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Peer:
    """One WebSocket client: its messages, read in the background."""

    def __init__(self, ws):
        self.ws, self.msgs, self.event = ws, [], asyncio.Event()
        self.task = asyncio.ensure_future(self.read())
        self.seq = 0

    async def read(self):
        try:
            async for m in self.ws:
                self.msgs.append(json.loads(m))
                self.event.set()
        except websockets.ConnectionClosed:
            pass

    async def wait(self, pred, timeout):
        end = time.monotonic() + timeout
        i = 0
        while True:
            while i < len(self.msgs):
                if pred(self.msgs[i]):
                    return self.msgs[i]
                i += 1
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no such message: %s" % self.msgs[-3:])
            self.event.clear()
            try:
                await asyncio.wait_for(self.event.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def request(self, msg, timeout=30):
        self.seq += 1
        rid = "r%d" % self.seq
        await self.ws.send(json.dumps(dict(msg, id=rid)))
        return await self.wait(lambda m: m.get("id") == rid, timeout)


async def connect(url):
    ws = await websockets.connect(url, open_timeout=30, max_size=None)
    return Peer(ws)


def answer_to_join(m):
    """`joined` carries the member's id, not the request's (docs/PROTOCOL.md)."""
    return m.get("type") in ("joined", "redirect", "error")


async def join(port, room, name, visitor):
    p = await connect("ws://127.0.0.1:%d/ws" % port)
    await p.ws.send(json.dumps({"type": "join", "room": room, "name": name, "visitor": visitor}))
    ans = await p.wait(answer_to_join, 30)
    if ans["type"] == "joined":
        return p, ans["id"]
    assert ans["type"] == "redirect", ans
    await p.ws.close()
    v = await connect(ans["url"])
    await v.ws.send(json.dumps({"type": "join", "room": room, "name": name,
                                "ticket": ans["ticket"]}))
    j = await v.wait(answer_to_join, 30)
    assert j["type"] == "joined", j
    return v, j["id"]


def offers_naming(owner):
    return lambda m: m.get("type") == "subscribe_offer" and ("msid:%s " % owner) in m["sdp"]


async def one_run(args, run_no, sdp):
    port = args.port
    proc = subprocess.Popen(
        [args.bin, "run", "--port", str(port), "--visitor-nodes", "1", "--bridges", "1",
         "--media-ip", "127.0.0.1", "--media-port", str(port + 500), "--max-participants", "2",
         "--capacity", str(args.visitors + 100), "--bridge-capacity", str(args.visitors + 100),
         "--log-level", "warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peers = []
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/healthz" % (port + 2), timeout=1)
                break
            except OSError:
                await asyncio.sleep(0.1)
        await asyncio.sleep(2.5)  # heartbeats: the main node learns the visitor node, the bridge
        room = "bench/offers%d" % run_no
        a, ida = await join(port, room, "A", False)
        b, idb = await join(port, room, "B", False)
        peers += [a, b]
        vs = []
        for k in range(0, args.visitors, 100):
            got = await asyncio.gather(*(join(port, room, "v%d" % i, True)
                                         for i in range(k, min(k + 100, args.visitors))))
            vs += [p for p, _ in got]
        peers += vs
        vurl = "http://127.0.0.1:%d/metrics" % (port + 1)
        out = []
        for who, owner in ((a, ida), (b, idb)):
            m0 = metric(vurl, "amphi_bus_messages_out_total")
            t0 = time.monotonic()
            ans = await who.request({"type": "publish", "sdp": sdp})
            assert ans["type"] == "publish_answer", ans
            res = await asyncio.gather(*(v.wait(offers_naming(owner), 25) for v in vs),
                                       return_exceptions=True)
            missing = [i for i, r in enumerate(res) if isinstance(r, Exception)]
            if missing:
                v = vs[missing[0]]
                raise AssertionError("%d of %d visitors have no offer naming %s; one of them "
                                     "got: %s" % (len(missing), len(vs), owner,
                                                  [m.get("type") for m in v.msgs]))
            t1 = time.monotonic()
            await asyncio.sleep(0.5)
            m1 = metric(vurl, "amphi_bus_messages_out_total")
            rec = {"bench": "offers", "bin": args.bin, "run": run_no, "visitors": len(vs),
                   "change": "first publisher" if who is a else "second publisher",
                   "seconds_to_all_offers": round(t1 - t0, 3),
                   "visitor_node_bus_messages_out": int(m1 - m0)}
            print(json.dumps(rec), flush=True)
            out.append(rec)
        return out
    finally:
        await asyncio.gather(*(p.ws.close() for p in peers), return_exceptions=True)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/amphi"))
    ap.add_argument("--visitors", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--port", type=int, default=23000)
    args = ap.parse_args()
    sdp = chromium_offer()
    recs = []
    for r in range(args.runs):
        recs += asyncio.run(one_run(args, r, sdp))
    secs = sorted(x["seconds_to_all_offers"] for x in recs)
    msgs = sorted(x["visitor_node_bus_messages_out"] for x in recs)
    print(json.dumps({"summary": True, "bench": "offers", "bin": args.bin,
                      "visitors": args.visitors, "changes": len(recs),
                      "median_seconds_to_all_offers": secs[len(secs) // 2],
                      "median_visitor_node_bus_messages_out": msgs[len(msgs) // 2]}))


if __name__ == "__main__":
    sys.exit(main())
