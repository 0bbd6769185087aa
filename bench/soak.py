#!/usr/bin/env python3
"""The soak and the failure drill (docs/PERFORMANCE.md, "Soak and failure drill").

Starts a real cluster on 127.0.0.1 from `amphi configure --visitor-nodes 2` (nats-server,
the main node, two visitor nodes, each its own process) and keeps VISITORS visitors in one
room for MINUTES minutes of churn: visitors leave and new ones join all the time (CHURN a
second), a participant chats (CHAT a second) and opens a poll every 5 minutes, and every
visitor votes in the open poll when it joins. Every visitor checks, on its connection, that
room events come with seq one after the other (none missed, none twice). Every SAMPLE
seconds the RSS and the open descriptors of every process are written down; the verdict
compares the last sample with the first after warm-up (target: within 5%).

Then the drill: kill -9 of visitor node 1. Each of its visitors joins again through the main
node with `since` (retrying a refused connection as the web client does) and must get every
event it missed, once, in order; the time until the last one has resumed is the figure
(target under 5 s), and every chat the participant got `ok` for since the kill must be at
every visitor.

usage: bench/soak.py [--visitors N] [--minutes M] [--churn C] [--chat R] [--sample S]
                     [--json PATH] [--no-drill]
AMPHI_BIN overrides the binary (default build/amphi). Exit 0 when every check held.
"""

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import websockets

from benchlib import free_base

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AMPHI = os.environ.get("AMPHI_BIN", os.path.join(ROOT, "build", "amphi"))
NATS = shutil.which("nats-server") or "/usr/sbin/nats-server"
ROOM = "acme/soak"


def log(*a):
    print("[%s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


class Cluster:
    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_base(4)
        self.dir = os.path.join(tmp, "cluster")
        out = subprocess.run([AMPHI, "configure", "--visitor-nodes", "2", "--bridges", "0",
                              "--host", "127.0.0.1", "--base-port", str(self.port),
                              "--out", self.dir, "--max-participants", "1"],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        self.procs = {}
        self.nats = subprocess.Popen([NATS, "-c", os.path.join(self.dir, "nats-server.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        for name in ("main", "visitor-1", "visitor-2"):
            self.start_node(name)
        time.sleep(2.5)  # every visitor node heartbeated

    def start_node(self, name):
        err = open(os.path.join(self.tmp, name + ".log"), "ab")
        self.procs[name] = subprocess.Popen(
            [AMPHI, "serve", "--config", os.path.join(self.dir, name + ".conf")],
            stdout=subprocess.DEVNULL, stderr=err)

    def ws_url(self):
        return "ws://127.0.0.1:%d/ws" % self.port

    def pids(self):
        d = {n: p.pid for n, p in self.procs.items() if p.poll() is None}
        d["nats"] = self.nats.pid
        return d

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=8)
            except subprocess.TimeoutExpired:
                p.kill()
        self.nats.terminate()
        self.nats.wait(timeout=5)


class Conn:
    """One WebSocket with a reader: messages in order, and the seq check."""

    def __init__(self, ws):
        self.ws, self.msgs, self.new = ws, [], asyncio.Event()
        self.closed = False
        self.task = asyncio.get_running_loop().create_task(self.read())

    async def read(self):
        try:
            async for raw in self.ws:
                self.msgs.append(json.loads(raw))
                self.new.set()
        except (websockets.ConnectionClosed, ValueError):
            pass
        finally:
            self.closed = True
            self.new.set()

    async def wait(self, pred, timeout=20):
        deadline = time.monotonic() + timeout
        i = 0
        while True:
            while i < len(self.msgs):
                if pred(self.msgs[i]):
                    return self.msgs[i]
                i += 1
            if self.closed or time.monotonic() > deadline:
                return None
            self.new.clear()
            try:
                await asyncio.wait_for(self.new.wait(), max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                pass

    async def request(self, msg, timeout=20):
        await self.ws.send(json.dumps(msg))
        return await self.wait(lambda m: m.get("id") == msg["id"] and m.get("type") != "joined",
                               timeout)

    async def close(self):
        await self.ws.close()


class Stats:
    def __init__(self):
        self.joins = self.join_errors = self.leaves = 0
        self.gaps = self.dupes = 0
        self.votes = self.vote_errors = 0
        self.chats_ok = self.chats_err = 0


def check_seqs(msgs, stats, first_seq=None):
    """Room events on one connection: seq one after the other."""
    last = first_seq
    for m in msgs:
        if m.get("type") == "joined" and not m.get("resumed"):
            last = m["room"]["seq"]
        elif isinstance(m.get("seq"), int):
            if last is not None:
                if m["seq"] <= last:
                    stats.dupes += 1
                elif m["seq"] != last + 1:
                    stats.gaps += 1
            last = m["seq"]
    return last


async def connect(url):
    ws = await websockets.connect(url, open_timeout=20, close_timeout=2, max_size=2 ** 22,
                                  ping_interval=None)
    return Conn(ws)


async def join_visitor(cluster, name, since=None, tries=20):
    """Through the main node, following the redirect; a refused connection is retried."""
    for attempt in range(tries):
        try:
            c = await connect(cluster.ws_url())
            msg = {"type": "join", "id": "j", "room": ROOM, "name": name, "visitor": True}
            if since is not None:
                msg["since"] = since
            ans = await c.request(msg)
            await c.close()
            if not ans or ans.get("type") != "redirect":
                raise OSError("join answered %r" % (ans,))
            v = await connect(ans["url"])
            j = {"type": "join", "id": "j2", "room": ROOM, "name": name, "ticket": ans["ticket"]}
            if since is not None:
                j["since"] = since
            await v.ws.send(json.dumps(j))
            joined = await v.wait(lambda m: m.get("type") in ("joined", "error"))
            if not joined or joined["type"] != "joined":
                await v.close()
                raise OSError("visitor join answered %r" % (joined,))
            v.node = int(re.search(r":(\d+)/ws$", ans["url"]).group(1)) - cluster.port
            return v
        except (OSError, websockets.InvalidHandshake, asyncio.TimeoutError):
            await asyncio.sleep(0.1 + 0.05 * attempt)
    return None


async def visitor_life(cluster, name, lifetime, stats, stop, poll_of):
    v = await join_visitor(cluster, name)
    if not v:
        stats.join_errors += 1
        return
    stats.joins += 1
    poll = poll_of()
    if poll:
        ans = await v.request({"type": "poll_vote", "id": "v", "poll": poll,
                               "option": random.randrange(3)})
        if ans and ans.get("type") == "ok":
            stats.votes += 1
        else:
            stats.vote_errors += 1
    end = time.monotonic() + lifetime
    while not stop.is_set() and time.monotonic() < end and not v.closed:
        await asyncio.sleep(min(1.0, max(0.0, end - time.monotonic())))
    check_seqs(v.msgs, stats)
    if not stop.is_set():
        try:
            await v.ws.send(json.dumps({"type": "leave"}))
        except websockets.ConnectionClosed:
            pass
        stats.leaves += 1
    await v.close()


async def soak(args, cluster, result):
    stats = Stats()
    stop = asyncio.Event()
    speaker = await connect(cluster.ws_url())
    await speaker.ws.send(json.dumps({"type": "join", "id": "j", "room": ROOM, "name": "Speaker"}))
    ans = await speaker.wait(lambda m: m.get("type") in ("joined", "error"))
    assert ans and ans["type"] == "joined", ans
    state = {"poll": None, "n": 0}

    async def speak():
        i = 0
        next_poll = time.monotonic()
        while not stop.is_set():
            i += 1
            ans = await speaker.request({"type": "chat", "id": "c%d" % i, "text": "soak %d" % i})
            if ans and ans.get("type") == "ok":
                stats.chats_ok += 1
            else:
                stats.chats_err += 1
            if time.monotonic() >= next_poll:
                next_poll += 300
                if state["poll"]:
                    await speaker.request({"type": "poll_close", "id": "pc%d" % i,
                                           "poll": state["poll"]})
                a = await speaker.request({"type": "poll_create", "id": "p%d" % i,
                                           "question": "q%d" % i, "options": ["a", "b", "c"]})
                state["poll"] = a.get("poll") if a and a.get("type") == "ok" else None
            await asyncio.sleep(1 / args.chat)

    mean_life = args.visitors / args.churn
    tasks = set()

    def spawn(life):
        state["n"] += 1
        t = asyncio.create_task(visitor_life(cluster, "s%d" % state["n"], life, stats, stop,
                                             lambda: state["poll"]))
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    talk = asyncio.create_task(speak())
    for _ in range(args.visitors):
        spawn(random.expovariate(1 / mean_life))
        await asyncio.sleep(0.005)
    samples = []
    t0 = time.monotonic()
    next_sample = t0
    while time.monotonic() - t0 < args.minutes * 60:
        while len(tasks) < args.visitors:  # every one that left is replaced
            spawn(random.expovariate(1 / mean_life))
        now = time.monotonic()
        if now >= next_sample:
            next_sample += args.sample
            s = {"t_s": round(now - t0), "visitors": len(tasks)}
            for name, pid in cluster.pids().items():
                s[name] = {"rss_kb": rss_kb(pid), "fds": fds(pid)}
            samples.append(s)
            log("t=%4ds visitors %d  joins %d (errors %d)  gaps %d dupes %d  %s" % (
                s["t_s"], len(tasks), stats.joins, stats.join_errors, stats.gaps, stats.dupes,
                "  ".join("%s %d MB/%d fd" % (n, s[n]["rss_kb"] // 1024, s[n]["fds"])
                          for n in ("main", "visitor-1", "visitor-2", "nats") if n in s)))
        await asyncio.sleep(0.2)
    result["samples"] = samples
    result["soak"] = vars(stats)
    return stats, stop, tasks, speaker, talk


async def drill(cluster, speaker, result):
    """kill -9 of visitor node 1 with VISITORS/2 visitors on it, each resumed with since."""
    stats = Stats()
    n = 200 if result["args"]["visitors"] >= 200 else result["args"]["visitors"]
    viewers = [await join_visitor(cluster, "d%d" % i) for i in range(n)]
    viewers = [v for v in viewers if v]
    on_1 = [v for v in viewers if v.node == 1]
    acked, stop = [], asyncio.Event()

    async def chat():
        i = 0
        while not stop.is_set():
            i += 1
            ans = await speaker.request({"type": "chat", "id": "d%d" % i, "text": "drill %d" % i})
            if ans and ans.get("type") == "ok":
                acked.append("drill %d" % i)
            await asyncio.sleep(0.1)

    talk = asyncio.create_task(chat())
    await asyncio.sleep(1)
    cluster.procs["visitor-1"].kill()
    t_kill = time.monotonic()
    last_seq = {}
    for v in on_1:
        await v.wait(lambda m: False, timeout=5)  # until its socket closes
        last_seq[id(v)] = check_seqs(v.msgs, stats)
    resumed_at = []

    async def resume(v):
        r = await join_visitor(cluster, "r", since=last_seq[id(v)], tries=40)
        resumed_at.append(time.monotonic())
        return r

    again = await asyncio.gather(*(resume(v) for v in on_1))
    took = (max(resumed_at) - t_kill) if resumed_at else None
    await asyncio.sleep(2)
    stop.set()
    await talk
    await asyncio.sleep(1)
    lost = 0
    for old, new in zip(on_1, again):
        if not new:
            lost += 1
            continue
        check_seqs(new.msgs, stats, first_seq=last_seq[id(old)])
        texts = {m["message"]["text"] for m in old.msgs + new.msgs if m.get("type") == "chat"}
        lost += sum(1 for t in acked if t not in texts)
    for v in [v for v in viewers if v.node != 1]:
        texts = {m["message"]["text"] for m in v.msgs if m.get("type") == "chat"}
        lost += sum(1 for t in acked if t not in texts)
        check_seqs(v.msgs, stats)
    result["drill"] = {"visitors": len(viewers), "on_killed_node": len(on_1),
                       "resumed": sum(1 for r in again if r), "resume_all_s": took,
                       "acked_chats": len(acked), "chats_missing": lost,
                       "gaps": stats.gaps, "dupes": stats.dupes}
    for v in viewers + [r for r in again if r]:
        await v.close()


WARMUP_S = 120


def growth(samples, name, key):
    """The mean of the last 5 samples against the mean of the first 5 after warm-up
    (--warmup, 2 minutes): descriptors move with the visitors coming and going between two
    samples."""
    warm = [s for s in samples if s["t_s"] >= WARMUP_S and name in s] or samples
    k = max(1, min(5, len(warm) // 2))
    a = sum(s[name][key] for s in warm[:k]) / k
    b = sum(s[name][key] for s in warm[-k:]) / k
    return a, b, (100.0 * (b - a) / a if a else 0.0)


async def main_async(args, cluster, result):
    stats, stop, tasks, speaker, talk = await soak(args, cluster, result)
    stop.set()
    await talk
    await asyncio.gather(*tasks, return_exceptions=True)
    if args.drill:
        await drill(cluster, speaker, result)
    await speaker.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--visitors", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--churn", type=float, default=10, help="visitors leaving (and joining) a second")
    ap.add_argument("--chat", type=float, default=2, help="chats a second")
    ap.add_argument("--sample", type=float, default=60, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=120, help="seconds before the first sample compared")
    ap.add_argument("--json")
    ap.add_argument("--no-drill", dest="drill", action="store_false")
    args = ap.parse_args()
    global WARMUP_S
    WARMUP_S = args.warmup
    tmp = tempfile.mkdtemp(prefix="amphi-soak-")
    cluster = Cluster(tmp)
    result = {"args": vars(args)}
    try:
        asyncio.run(main_async(args, cluster, result))
    finally:
        cluster.stop()
    ok = True
    print("\n| process | RSS first -> last (MB, mean of 5 samples) | growth | fds first -> last | growth |")
    print("|---|---|---|---|---|")
    result["growth"] = {}
    for name in ("main", "visitor-1", "visitor-2", "nats"):
        r0, r1, rg = growth(result["samples"], name, "rss_kb")
        f0, f1, fg = growth(result["samples"], name, "fds")
        result["growth"][name] = {"rss_pct": rg, "fds_pct": fg}
        ok &= abs(rg) <= 5 and abs(fg) <= 5
        print("| %s | %.1f -> %.1f | %+.1f%% | %.0f -> %.0f | %+.1f%% |" % (
            name, r0 / 1024, r1 / 1024, rg, f0, f1, fg))
    s = result["soak"]
    print("\nsoak: %d joins (%d failed), %d leaves, %d votes (%d failed), %d chats ok (%d failed), "
          "seq gaps %d, duplicates %d" % (s["joins"], s["join_errors"], s["leaves"], s["votes"],
                                         s["vote_errors"], s["chats_ok"], s["chats_err"],
                                         s["gaps"], s["dupes"]))
    ok &= s["join_errors"] == 0 and s["gaps"] == 0 and s["dupes"] == 0 and s["chats_err"] == 0
    if "drill" in result:
        d = result["drill"]
        print("drill: %d of %d visitors on the killed node resumed, all within %s s; "
              "%d acknowledged chats, %d missing; gaps %d, duplicates %d" % (
                  d["resumed"], d["on_killed_node"],
                  "%.2f" % d["resume_all_s"] if d["resume_all_s"] is not None else "-",
                  d["acked_chats"], d["chats_missing"], d["gaps"], d["dupes"]))
        ok &= (d["resumed"] == d["on_killed_node"] and d["chats_missing"] == 0 and
               d["gaps"] == 0 and d["dupes"] == 0 and (d["resume_all_s"] or 99) < 5)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
