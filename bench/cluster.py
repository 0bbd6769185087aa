#!/usr/bin/env python3
"""The whole cluster on one machine (issue 11, docs/PERFORMANCE.md "Whole cluster").

Starts, each its own process on 127.0.0.1, the cluster `amphi configure --visitor-nodes 2
--bridges 3 --bridge-capacity C --relay-fanout F` writes: a real nats-server, the main
node, two visitor nodes and three bridges (the conference's origin and two edges fed by
relays). Then the load:
- signaling-only visitors (default 10,000) from bench/loadgen processes, held in a room of
  their own (acme/cluster-chat) for the whole run: a visitor in a room with publishers is
  always given a bridge slot and a subscribe_offer (the protocol has no "chat only"
  visitor), so signaling-only visitors in the media room would take the bridges' capacity
  with peers that never connect;
- two publishers in acme/cluster-media (VP8-shaped video 1.5 Mbps + Opus-shaped audio
  each): one from a `media_loadgen --publish-only` process, one from the media_loadgen
  that holds the receivers;
- media visitors in steps (--steps), each a real WebRTC peer (ICE, DTLS, SRTP) that must
  receive both publishers (media_loadgen --publishers 2 counts, per window, the receivers
  missing a stream and charges what those streams carried as lost), until loss passes
  --loss-limit %, the receivers' side or a process saturates a core, or the steps end.

Every --sample-ms the script reads every process's CPU time (/proc), the machine's per-core
busy time and every bridge's /metrics (endpoints, relays, packets out, the hop
histograms). For each step's window it prints: receivers, the viewers on each bridge
(origin/edges), each process's CPU % of one core, loss, delay p50/p99 (publisher's send to
a receiver's receipt, both publishers), each bridge's hop p50/p99 (upper bounds of the
histogram's buckets) and the tree (which bridge feeds which: the main node's log "edge X
opened under Y" and the bridges' relay gauges). After the ramp a speaker sends --chats
chats to the signaling room (their delay to every signaling visitor, with the media still
flowing). A table at the end; --json FILE writes everything.

Nothing is pinned: all processes share the machine's cores, as the issue asks ("as many
media visitors as two cores carry"). Builds nothing: run `make` first (build/amphi,
build/loadgen, build/media_loadgen). nats-server comes from scripts/install-deps.sh check
when missing (as root).

usage: bench/cluster.py [--steps N,N,...] [--hold S] [--settle S] [--signaling N]
                        [--sig-procs L] [--bridge-capacity C] [--relay-fanout F] [--bridges B]
                        [--loss-limit PCT] [--busy-limit PCT] [--pace F] [--chats K]
                        [--sample-ms MS] [--json FILE] [--keep] [--quick]
  --steps LIST        media visitors at each step [100,200,300,400,500,600,800]
  --hold S            seconds measured per step [10]
  --settle S          seconds between a step's connections and its window [3]
  --signaling N       signaling-only visitors held during the run [10000]
  --sig-procs L       loadgen processes holding them [2]
  --bridge-capacity C receivers a bridge takes before the conference opens another edge
                      [the last step / B, plus 4 for the origin's publishers and
                      relays]; edges fill first, the origin last (src/signal/media_tree.c)
  --relay-fanout F    relay children per bridge [8]
  --bridges B         bridges [3]: 1 puts every viewer on the origin, 2 with a capacity
                      above the last step every viewer on one edge; the two runs' delays
                      side by side are what one level of the tree adds
  --loss-limit PCT    stop after a step losing more [0.1]
  --deficit-limit PCT stop after a step delivering this much less than both publishers
                      sent (the origin's packets in) [2]
  --busy-limit PCT    stop after a step in which a process took this much of one core, or
                      the machine's cores were this busy on average [95]
  --pace F            the publishers pace video at F times its bitrate (browsers: 2.5) [0]
  --chats K           chats sent to the signaling room after the ramp [10]
  --quick             a smoke run: steps 20,40, 2,000 signaling visitors, 5 s windows
  --keep              keep the temp dir (logs, configs, raw JSON lines)
AMPHI_BIN, LOADGEN_BIN, MEDIA_LOADGEN_BIN override the binaries. Exit 0 when every node
lived to the end, every step's receivers connected (99%) and every signaling visitor
joined; where the ramp stopped is a figure, not a failure.
"""

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from benchlib import free_base

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AMPHI = os.environ.get("AMPHI_BIN", os.path.join(ROOT, "build", "amphi"))
LOADGEN = os.environ.get("LOADGEN_BIN", os.path.join(ROOT, "build", "loadgen"))
MEDIA_LG = os.environ.get("MEDIA_LOADGEN_BIN", os.path.join(ROOT, "build", "media_loadgen"))
HZ = os.sysconf("SC_CLK_TCK")
MEDIA_ROOM = "acme/cluster-media"
CHAT_ROOM = "acme/cluster-chat"
BRIDGES = ("bridge-1", "bridge-2", "bridge-3")  # --bridges sets these two
NODES = ("main", "visitor-1", "visitor-2") + BRIDGES


def log(*a):
    print("[%s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])
    except (OSError, IndexError, ValueError):
        return None


def thread_ticks(pid):
    """tid -> utime + stime of each of the process's threads: a saturated event loop is
    one thread at 100%, whatever the process's total."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            out[tid] = int(rest[11]) + int(rest[12])
        except (OSError, IndexError, ValueError):
            pass
    return out


def cores():
    """Per core: (busy, total) jiffies."""
    out = []
    with open("/proc/stat") as f:
        for line in f:
            if re.match(r"cpu\d+ ", line):
                v = [int(x) for x in line.split()[1:9]]
                total = sum(v)
                out.append((total - v[3] - v[4], total))
    return out


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode()
    except OSError:
        return None


METRIC = re.compile(r'^(\w+)\{([^}]*)\} (\S+)$')


def parse_metrics(text):
    """name -> value, and name -> [(le, cumulative)] for the histograms' buckets."""
    vals, hist = {}, {}
    for line in (text or "").splitlines():
        m = METRIC.match(line)
        if not m:
            continue
        name, labels, v = m.group(1), m.group(2), float(m.group(3))
        if name.endswith("_bucket"):
            le = re.search(r'(?:^|,)le="([^"]+)"', labels).group(1)
            hist.setdefault(name[:-7], []).append((float("inf") if le == "+Inf" else float(le), v))
        else:
            vals[name] = v
    return vals, hist


def hop_quantile_ms(a, b, q):
    """The upper bound (ms) of the bucket holding quantile q of what b's histogram added
    to a's; None without data or past the last finite bucket."""
    if not a or not b or len(a) != len(b):
        return None
    total = b[-1][1] - a[-1][1]
    if total <= 0:
        return None
    for (le, ca), (_, cb) in zip(a, b):
        if cb - ca >= q * total:
            return None if math.isinf(le) else le * 1000
    return None


class Sampler(threading.Thread):
    """Every period: (monotonic time, CPU ticks of every process, per-core jiffies, each
    bridge's metrics). Counters are cumulative, so any two samples make a window."""

    def __init__(self, period, pids, bridge_urls):
        super().__init__(daemon=True)
        self.period, self.pids, self.bridge_urls = period, pids, bridge_urls
        self.samples, self.lock, self.stop = [], threading.Lock(), threading.Event()

    def take(self):
        t = time.monotonic()
        pids = list(self.pids.items())
        s = {"t": t, "cpu": {n: cpu_ticks(p) for n, p in pids},
             "threads": {n: thread_ticks(p) for n, p in pids}, "cores": cores(), "bridges": {}}
        for name, url in self.bridge_urls.items():
            s["bridges"][name] = parse_metrics(http_get(url, timeout=max(1, self.period)))
        s["t"] = (t + time.monotonic()) / 2
        return s

    def run(self):
        while not self.stop.is_set():
            try:
                s = self.take()
            except (OSError, ValueError, AttributeError) as e:  # a figure missing, not the run
                log("sampler: %s" % e)
                self.stop.wait(self.period)
                continue
            with self.lock:
                self.samples.append(s)
            self.stop.wait(max(0.0, self.period - (time.monotonic() - s["t"])))

    def nearest(self, t):
        with self.lock:
            return min(self.samples, key=lambda s: abs(s["t"] - t)) if self.samples else None


def window_figures(a, b, n_publishers, pub_pps):
    """What happened between samples a and b; pub_pps: the packets a second one publisher
    sends (every publisher sends the same)."""
    dt = b["t"] - a["t"]
    cpu = {}
    for name in b["cpu"]:
        x, y = a["cpu"].get(name), b["cpu"].get(name)
        cpu[name] = round(100.0 * (y - x) / HZ / dt, 1) if x is not None and y is not None else None
    top_thread = {}
    for name, tb in b["threads"].items():
        ta = a["threads"].get(name, {})
        d = [tb[t] - ta[t] for t in tb if t in ta]
        top_thread[name] = round(100.0 * max(d) / HZ / dt, 1) if d else None
    busy = [round(100.0 * (cb[0] - ca[0]) / max(1, cb[1] - ca[1]), 1)
            for ca, cb in zip(a["cores"], b["cores"])]
    bridges = {}
    for name, (vb, hb) in b["bridges"].items():
        va, ha = a["bridges"].get(name, ({}, {}))
        ends = vb.get("amphi_endpoints", 0)
        r_in, r_out = vb.get("amphi_relays_in", 0), vb.get("amphi_relays_out", 0)
        pkts = vb.get("amphi_rtp_packets_out_total", 0) - va.get("amphi_rtp_packets_out_total", 0)
        pin = vb.get("amphi_rtp_packets_in_total", 0) - va.get("amphi_rtp_packets_in_total", 0)
        hop = hb.get("amphi_bridge_hop_seconds"), ha.get("amphi_bridge_hop_seconds")
        ahop = hb.get("amphi_bridge_audio_hop_seconds"), ha.get("amphi_bridge_audio_hop_seconds")
        bridges[name] = {
            "endpoints": int(ends), "relays_in": int(r_in), "relays_out": int(r_out),
            "pkts_out_per_s": round(pkts / dt) if vb else None,
            "pkts_in_per_s": round(pin / dt) if vb else None,
            "hop_p50_ms": hop_quantile_ms(hop[1], hop[0], 0.5),
            "hop_p99_ms": hop_quantile_ms(hop[1], hop[0], 0.99),
            "audio_hop_p50_ms": hop_quantile_ms(ahop[1], ahop[0], 0.5),
            "audio_hop_p99_ms": hop_quantile_ms(ahop[1], ahop[0], 0.99),
            "up": bool(vb),
        }
    # The origin holds the publishers and feeds the edges (relays out); an edge is fed by
    # one relay in. Viewers: the endpoints that are neither.
    origin = next((n for n, br in sorted(bridges.items()) if br["relays_out"] > 0), None)
    if origin is None:
        origin = next((n for n, br in sorted(bridges.items())
                       if br["relays_in"] == 0 and br["endpoints"] > 0), None)
    # Viewers from what a bridge sends: every viewer gets every publisher's packets, every
    # relay out too. Endpoints alone would count peers that never connected (the two
    # publishers are participants and are offered each other's streams, which the load
    # generator's publishers never take).
    per_viewer = n_publishers * pub_pps
    for name, br in bridges.items():
        br["role"] = "origin" if name == origin else ("edge" if br["relays_in"] else "idle")
        pps = br["pkts_out_per_s"] or 0
        br["viewers"] = max(0, round(pps / per_viewer) - br["relays_out"]) if per_viewer else None
    # What the publishers sent together: what the origin received from them.
    sent = bridges[origin]["pkts_in_per_s"] if origin else None
    return {"window_s": round(dt, 2), "publishers_pkts_per_s": sent,
            "cpu_pct": cpu, "top_thread_pct": top_thread,
            "core_busy_pct": busy, "bridges": bridges}


def tree_from_log(path):
    """edge -> (parent, depth) as the main node logged them."""
    tree = {}
    pat = re.compile(r"conference (\S+): edge (\S+) opened under (\S+) \(depth (\d+)\)")
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = pat.search(line)
                if m:
                    tree[m.group(2)] = (m.group(3), int(m.group(4)))
    except OSError:
        pass
    return tree


def tree_text(tree, bridges):
    origin = next((n for n, b in bridges.items() if b["role"] == "origin"), "?")
    kids = {}
    for edge, (parent, _) in sorted(tree.items()):
        kids.setdefault(parent, []).append(edge)

    def walk(n):
        return n + ("(%s)" % ",".join(walk(k) for k in kids[n]) if n in kids else "")

    return walk(origin) if kids or origin != "?" else "-"


class Cluster:
    def __init__(self, tmp, args):
        self.tmp, self.procs = tmp, {}
        self.base = free_base(3 + 1 + len(BRIDGES))  # main, 2 visitor nodes, NATS, bridges' HTTP
        self.media_port = free_base(len(BRIDGES), socket.SOCK_DGRAM)
        self.dir = os.path.join(tmp, "cluster")
        out = subprocess.run(
            [AMPHI, "configure", "--visitor-nodes", "2", "--bridges", str(len(BRIDGES)),
             "--bridge-capacity", str(args.bridge_capacity), "--relay-fanout", str(args.relay_fanout),
             "--host", "127.0.0.1", "--base-port", str(self.base),
             "--media-port", str(self.media_port), "--out", self.dir],
            capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise SystemExit("amphi configure: " + out.stderr)
        self.ports = {}
        for name in NODES:
            with open(os.path.join(self.dir, name + ".conf")) as f:
                self.ports[name] = int(re.search(r"^port *= *(\d+)", f.read(), re.M).group(1))
        with open(os.path.join(self.dir, "main.conf")) as f:
            self.nats_port = int(re.search(r"^nats_url *= *\S+:(\d+)", f.read(), re.M).group(1))

    def start(self):
        nats = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.spawn("nats", [nats, "-c", os.path.join(self.dir, "nats-server.conf")])
        wait_until(lambda: port_open(self.nats_port), 10, "nats-server listening")
        for name in NODES:
            self.spawn(name, [AMPHI, "serve", "--config", os.path.join(self.dir, name + ".conf")])
        for name in NODES:
            wait_until(lambda: http_get(self.url(name, "/healthz"), 1) is not None, 15,
                       name + " answering /healthz", self.procs[name])
        time.sleep(2.5)  # heartbeats: the main node must know every visitor node and bridge

    def spawn(self, name, argv, stdout=None):
        err = open(os.path.join(self.tmp, name + ".log"), "ab")
        out = stdout if stdout is not None else subprocess.DEVNULL
        self.procs[name] = subprocess.Popen(argv, stdout=out, stderr=err)
        return self.procs[name]

    def url(self, name, path):
        return "http://127.0.0.1:%d%s" % (self.ports[name], path)

    def ws(self):
        return "ws://127.0.0.1:%d/ws" % self.ports["main"]

    def stop(self):
        """Newest first: the load, then the nodes, then NATS."""
        for name in reversed(list(self.procs)):
            p = self.procs[name]
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=8)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def port_open(port):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        return s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        s.close()


def wait_until(pred, timeout, what, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            raise SystemExit("cluster.py: exited before %s (rc %s)" % (what, proc.returncode))
        time.sleep(0.1)
    raise SystemExit("cluster.py: no %s after %d s" % (what, timeout))


def share(n, procs, i):
    return n // procs + (1 if i < n % procs else 0)


def percentile(sorted_v, q):
    if not sorted_v:
        return None
    return sorted_v[max(0, min(len(sorted_v) - 1, int(math.ceil(q * len(sorted_v))) - 1))]


def ensure_nats():
    if shutil.which("nats-server") or os.path.exists("/usr/sbin/nats-server"):
        return
    log("nats-server missing: scripts/install-deps.sh check")
    subprocess.run([os.path.join(ROOT, "scripts", "install-deps.sh"), "check"])
    if not (shutil.which("nats-server") or os.path.exists("/usr/sbin/nats-server")):
        raise SystemExit("cluster.py: nats-server is needed (install-deps.sh check as root)")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, usage=argparse.SUPPRESS,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", default="100,200,300,400,500,600,800")
    ap.add_argument("--hold", type=int, default=10)
    ap.add_argument("--settle", type=int, default=3)
    ap.add_argument("--signaling", type=int, default=10000)
    ap.add_argument("--sig-procs", type=int, default=2)
    ap.add_argument("--bridge-capacity", type=int)
    ap.add_argument("--relay-fanout", type=int, default=8)
    ap.add_argument("--bridges", type=int, default=3)
    ap.add_argument("--loss-limit", type=float, default=0.1)
    ap.add_argument("--busy-limit", type=float, default=95)
    ap.add_argument("--deficit-limit", type=float, default=2)
    ap.add_argument("--pace", type=float, default=0)
    ap.add_argument("--chats", type=int, default=10)
    ap.add_argument("--sample-ms", type=int, default=500)
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.steps, a.signaling, a.hold = "20,40", 2000, 5
    if not re.fullmatch(r"[1-9]\d*(,[1-9]\d*)*", a.steps):
        ap.error("--steps: increasing counts like 100,200")
    a.step_list = [int(x) for x in a.steps.split(",")]
    if a.step_list != sorted(set(a.step_list)):
        ap.error("--steps: increasing counts like 100,200")
    if a.bridge_capacity is None:
        a.bridge_capacity = -(-a.step_list[-1] // a.bridges) + 4
    if not 1 <= a.bridges <= 8:
        ap.error("--bridges: 1..8")
    global BRIDGES, NODES
    BRIDGES = tuple("bridge-%d" % (j + 1) for j in range(a.bridges))
    NODES = ("main", "visitor-1", "visitor-2") + BRIDGES
    if a.signaling < 0 or a.sig_procs < 1 or a.hold < 1 or a.bridge_capacity < 1:
        ap.error("counts must be positive")
    return a


def start_signaling(cl, args, tmp):
    """The signaling-only visitors, held until SIGTERM; their ready files say they are in."""
    src = "127.%d.%d" % (random.randrange(1, 250), random.randrange(0, 250))
    lgs = []
    if args.signaling == 0:
        return lgs, src
    procs = min(args.sig_procs, args.signaling)
    for i in range(procs):
        n = share(args.signaling, procs, i)
        p = cl.spawn("sig-%d" % (i + 1), [
            LOADGEN, "--main", cl.ws(), "--room", CHAT_ROOM, "--clients", str(n),
            "--concurrency", str(max(1, 200 // procs)), "--hold", "3600",
            "--name-prefix", "sig%d-" % (i + 1), "--quiet", "--source-ip", "%s.%d" % (src, 10 + i),
            "--ready-file", os.path.join(tmp, "ready.%d" % (i + 1)),
            "--delays-file", os.path.join(tmp, "delays.%d" % (i + 1))],
            stdout=open(os.path.join(tmp, "sig-%d.json" % (i + 1)), "wb"))
        lgs.append(p)
    t0 = time.monotonic()
    wait_until(lambda: all(os.path.exists(os.path.join(tmp, "ready.%d" % (i + 1)))
                           for i in range(procs)) or any(p.poll() is not None for p in lgs),
               600, "signaling visitors joined")
    if any(p.poll() is not None for p in lgs):
        raise SystemExit("cluster.py: a signaling loadgen exited during the joins (see its log)")
    log("%d signaling visitors joined in %.1f s" % (args.signaling, time.monotonic() - t0))
    return lgs, src


def media_common(cl, args):
    return ["--server", "amphi", "--main", cl.ws(), "--room", MEDIA_ROOM, "--local-ip", "127.0.0.1",
            "--server-cpu", "-1", "--client-cpu", "-1"] + (["--pace", str(args.pace)] if args.pace else [])


def run_ramp(cl, args, tmp, sampler):
    """The second publisher, then the receivers' ramp; one record per step."""
    pub_err = os.path.join(tmp, "publisher-2.log")
    pub = cl.spawn("publisher-2", [MEDIA_LG, "--publish-only"] + media_common(cl, args))
    wait_until(lambda: "publisher up" in open(pub_err, errors="replace").read(), 40,
               "second publisher up", pub)
    lg = cl.spawn("media-lg", [MEDIA_LG, "--publishers", "2", "--steps", args.steps,
                               "--hold", str(args.hold), "--settle", str(args.settle),
                               "--loss-limit", str(args.loss_limit),
                               # the load generator knows only its own publisher's rate: the
                               # deficit is judged here, from the origin's packets in
                               "--deficit-limit", "100"] + media_common(cl, args),
                  stdout=subprocess.PIPE)
    sampler.pids["publisher-2"] = pub.pid
    sampler.pids["media-lg"] = lg.pid
    steps, summary, stopped = [], None, None
    for raw in lg.stdout:
        t_end = time.monotonic()
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if line.get("summary"):
            summary = line
            continue
        if "step" not in line:
            continue
        a = sampler.nearest(t_end - line["window_s"])
        b = sampler.nearest(t_end)
        fig = (window_figures(a, b, 2, line["pub_pkts_per_s"]) if a and b and b["t"] > a["t"]
               else {})
        fig["tree"] = tree_text(tree_from_log(os.path.join(tmp, "main.log")), fig.get("bridges", {}))
        rec = {"receivers": line["receivers"], "up": line["up"], "failed": line["failed"],
               "loss_pct": line["loss_pct"], "delay_p50_ms": line["delay_p50_ms"],
               "delay_p99_ms": line["delay_p99_ms"],
               "missing_streams": line.get("missing_streams"),
               "receivers_missing_stream": line.get("receivers_missing_stream"),
               "pkts_in_per_s": line["pkts_out_per_s"], "pass": line["pass"], "loadgen": line}
        rec.update(fig)
        # Falling behind: the receivers got less than both publishers sent (queues grow
        # though nothing is lost). The publishers' rate from the origin's packets in: the
        # second publisher, in another process on a busy machine, may not keep the first's.
        sent = fig.get("publishers_pkts_per_s")
        rec["deficit_pct"] = (round(100.0 * (1 - line["pkts_out_per_s"] / (line["receivers"] * sent)), 2)
                              if sent else None)
        if rec["deficit_pct"] is not None and rec["deficit_pct"] > args.deficit_limit:
            rec["pass"] = False
            if stopped is None:
                stopped = "falling behind (%.1f%% less delivered than sent)" % rec["deficit_pct"]
                log("stopping the ramp: " + stopped)
                lg.send_signal(signal.SIGINT)
        steps.append(rec)
        print_step(rec)
        # Saturated: one thread (an event loop, the load generator's media thread) took
        # nearly a core, or all of our processes together nearly all the cores. The
        # cores' own busy time is not the test: on a shared machine it counts others' work.
        top = max(((v, n) for n, v in fig.get("top_thread_pct", {}).items() if v is not None),
                  default=(0, "-"))
        ours = sum(v for v in fig.get("cpu_pct", {}).values() if v is not None)
        ncores = max(1, len(fig.get("core_busy_pct", [])))
        rec["ours_pct"] = round(ours, 1)
        if stopped is None and rec["pass"] and (top[0] >= args.busy_limit or
                                                 ours >= args.busy_limit * ncores):
            stopped = ("saturated (%s's busiest thread at %.0f%% of a core; all our processes "
                       "%.0f%% of %d cores)" % (top[1], top[0], ours, ncores))
            rec["pass"] = False
            log("stopping the ramp: " + stopped)
            lg.send_signal(signal.SIGINT)
    lg.wait()
    return steps, summary, stopped, pub


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        v = ("%.1f" if abs(v) >= 10 or v == 0 else "%.2f") % v
    return "%s%s" % (v, unit)


def print_step(r):
    br = r.get("bridges", {})
    cpu = r.get("cpu_pct", {})
    log("step %d receivers (%d up): loss %s%%, behind %s%%, delay p50/p99 %s/%s ms, missing streams %s; "
        "bridges %s; cpu %s; cores %s; tree %s" % (
            r["receivers"], r["up"], fmt(r["loss_pct"]), fmt(r.get("deficit_pct")), fmt(r["delay_p50_ms"]),
            fmt(r["delay_p99_ms"]), fmt(r["missing_streams"]),
            ", ".join("%s %s %s viewers hop p50/p99 <=%s/%s ms" % (
                n, b["role"], fmt(b["viewers"]), fmt(b["hop_p50_ms"]), fmt(b["hop_p99_ms"]))
                      for n, b in sorted(br.items())),
            " ".join("%s %s" % (n, fmt(v)) for n, v in cpu.items()),
            "/".join(fmt(c) for c in r.get("core_busy_pct", [])), r.get("tree")))


def chat_probe(cl, args, tmp, src):
    """K chats to the signaling room while the media still flows: their delay to every
    signaling visitor (the receipts are in the listeners' delay files)."""
    if args.chats == 0 or args.signaling == 0:
        return None
    p = cl.spawn("speaker", [LOADGEN, "--main", cl.ws(), "--room", CHAT_ROOM, "--speak",
                             str(args.chats), "--speak-interval", "500", "--name-prefix",
                             "speaker-", "--quiet", "--source-ip", "%s.9" % src],
                 stdout=open(os.path.join(tmp, "speaker.json"), "wb"))
    try:
        p.wait(timeout=60 + args.chats)
    except subprocess.TimeoutExpired:
        p.kill()
    time.sleep(1)
    return True


def signaling_results(lgs, args, tmp):
    for p in lgs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in lgs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    res = {"clients": args.signaling, "joined": 0, "errors": 0, "drops": 0, "deliveries": 0}
    for i in range(len(lgs)):
        try:
            with open(os.path.join(tmp, "sig-%d.json" % (i + 1))) as f:
                for line in f:
                    j = json.loads(line)
                    for k in ("joined", "errors", "drops", "deliveries"):
                        res[k] += int(j.get(k, 0))
        except (OSError, ValueError):
            pass
    delays = []
    for i in range(len(lgs)):
        try:
            with open(os.path.join(tmp, "delays.%d" % (i + 1))) as f:
                delays += [int(line.split()[1]) / 1000 for line in f if line.strip()]
        except (OSError, ValueError, IndexError):
            pass
    delays.sort()
    spoken = 0
    try:
        with open(os.path.join(tmp, "speaker.json")) as f:
            spoken = int(json.loads(f.readline()).get("spoken", 0))
    except (OSError, ValueError):
        pass
    res.update({"chats": spoken, "expected": res["joined"] * spoken,
                "chat_delay_p50_ms": percentile(delays, 0.5),
                "chat_delay_p99_ms": percentile(delays, 0.99),
                "chat_delay_max_ms": percentile(delays, 1.0)})
    return res


def print_table(steps, sig, summary, stopped, args):
    print("\n=== amphi: the whole cluster on one machine: %d CPUs (%s), %s ===" % (
        os.cpu_count(), cpu_model(), os.uname().release))
    print("cluster: nats-server, main, 2 visitor nodes, %d bridges (capacity %d, relay fanout %d), "
          "every node its own process, nothing pinned" % (len(BRIDGES), args.bridge_capacity,
                                                         args.relay_fanout))
    print("load: 2 publishers (VP8-shaped 1500 kbps 30 fps + Opus-shaped 50 pkt/s each%s), media "
          "visitors in steps %s (%d s windows), %d signaling-only visitors in another room\n" % (
              ", paced %.1f" % args.pace if args.pace else "", args.steps, args.hold, args.signaling))
    names = [n for n in ("main", "visitor-1", "visitor-2") + BRIDGES +
             ("nats", "media-lg", "publisher-2") if any(n in s.get("cpu_pct", {}) for s in steps)]
    sig_names = sorted({n for s in steps for n in s.get("cpu_pct", {}) if n.startswith("sig-")})
    cols = ["media visitors (up)", "loss %", "behind %", "missing streams", "delay p50 / p99 ms",
            "viewers " + " / ".join("b%d" % (j + 1) for j in range(len(BRIDGES))),
            "hop p50/p99 ms " + "; ".join("b%d" % (j + 1) for j in range(len(BRIDGES))), "tree"]
    cols += ["%s CPU %%" % n for n in names]
    cols += ["signaling loadgens CPU %", "all ours CPU %", "cores busy %"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * (8 + len(names) + 3))
    for s in steps:
        br = s.get("bridges", {})
        cpu = s.get("cpu_pct", {})
        print("| %d (%d) | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s["receivers"], s["up"], fmt(s["loss_pct"]), fmt(s.get("deficit_pct")),
            fmt(s["missing_streams"]),
            fmt(s["delay_p50_ms"]), fmt(s["delay_p99_ms"]),
            " / ".join("%s%s" % (fmt(br[b]["viewers"]), "o" if br[b]["role"] == "origin" else "")
                       for b in BRIDGES if b in br),
            "; ".join("%s/%s" % (fmt(br[b]["hop_p50_ms"]), fmt(br[b]["hop_p99_ms"]))
                      for b in BRIDGES if b in br), s.get("tree"),
            " | ".join(fmt(cpu.get(n)) for n in names),
            fmt(sum(cpu.get(n) or 0 for n in sig_names)), fmt(s.get("ours_pct")),
            " / ".join(fmt(c) for c in s.get("core_busy_pct", []))))
    print("(viewers: from each bridge's packets out, o marks the origin (it also feeds the "
          "edges' relays); hop: arrival to send inside one bridge, upper bounds of the "
          "histogram's buckets; CPU: % of one core, cores busy: the whole machine's, other "
          "programs included)")
    best = [s for s in steps if s["pass"]]
    print("\nlast step that passed (loss <= %.1f%%, delivered within %.0f%% of what was sent, "
          "every receiver up, no saturated process): %s media visitors" % (
              args.loss_limit, args.deficit_limit, best[-1]["receivers"] if best else "none"))
    print("ramp stopped by: %s" % (stopped or (summary or {}).get("limit", "?")))
    if sig:
        print("signaling: %d of %d joined (errors %d, dropped %d); %d chats, %d of %d deliveries, "
              "delay p50 %s ms, p99 %s ms, max %s ms (with the last step's media flowing)" % (
                  sig["joined"], sig["clients"], sig["errors"], sig["drops"], sig["chats"],
                  sig["deliveries"], sig["expected"], fmt(sig["chat_delay_p50_ms"]),
                  fmt(sig["chat_delay_p99_ms"]), fmt(sig["chat_delay_max_ms"])))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def main():
    args = parse_args()
    for b in (AMPHI, LOADGEN, MEDIA_LG):
        if not os.access(b, os.X_OK):
            raise SystemExit("cluster.py: %s not found: run make first" % b)
    ensure_nats()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the children inherit it
    tmp = tempfile.mkdtemp(prefix="amphi-cluster-")
    cl = Cluster(tmp, args)
    result = {"bench": "cluster", "args": {k: v for k, v in vars(args).items() if k != "step_list"}}
    steps, sig, summary, stopped = [], None, None, None
    sampler = None
    ok = False
    try:
        log("cluster in %s: main :%d, visitor nodes :%d :%d, bridges :%d-%d (media udp %d-%d), "
            "capacity %d" % (cl.dir, cl.ports["main"], cl.ports["visitor-1"], cl.ports["visitor-2"],
                             cl.ports[BRIDGES[0]], cl.ports[BRIDGES[-1]], cl.media_port,
                             cl.media_port + len(BRIDGES) - 1, args.bridge_capacity))
        cl.start()
        lgs, src = start_signaling(cl, args, tmp)
        pids = {n: cl.procs[n].pid for n in NODES}
        pids["nats"] = cl.procs["nats"].pid
        for i, p in enumerate(lgs):
            pids["sig-%d" % (i + 1)] = p.pid
        sampler = Sampler(args.sample_ms / 1000, pids,
                          {b: cl.url(b, "/metrics") for b in BRIDGES})
        sampler.start()
        steps, summary, stopped, pub = run_ramp(cl, args, tmp, sampler)
        chat_probe(cl, args, tmp, src)
        sampler.stop.set()
        sig = signaling_results(lgs, args, tmp)
        alive = {n: cl.procs[n].poll() is None for n in NODES + ("nats",)}
        result.update({"steps": steps, "loadgen_summary": summary, "stopped_by": stopped,
                       "signaling": sig, "alive_at_end": alive,
                       "tree_log": {e: list(v) for e, v in tree_from_log(
                           os.path.join(tmp, "main.log")).items()}})
        ok = (bool(steps) and all(alive.values()) and
              all(s["up"] >= s["receivers"] - s["receivers"] // 100 for s in steps) and
              (sig is None or (sig["joined"] == sig["clients"] and sig["errors"] == 0)))
        result["ok"] = ok
    finally:
        if sampler:
            sampler.stop.set()
        cl.stop()
    print_table(steps, sig, summary, stopped, args)
    dead = [n for n, a in result.get("alive_at_end", {}).items() if not a]
    if dead:
        print("processes that died: %s (logs in %s)" % (", ".join(dead), tmp))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if args.keep or not ok:
        log("logs and raw data kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
