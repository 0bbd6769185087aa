#!/usr/bin/env bash
# The visitor-node signaling benchmark (docs/PERFORMANCE.md).
#
# Starts a real cluster on 127.0.0.1 (nats-server, a main node, one visitor node, each its
# own process, configured by `amphi configure`), fills the visitor node with N visitors
# from L loadgen processes (a process may hold only 20,000 descriptors here), lets one
# speaker send K chats, and reports: join rate, the visitor node's memory per visitor, the
# delay of each chat to every visitor (p50/p99 over all receipts) and the node's CPU time.
#
# The visitor node runs alone on CPU 1; everything else (NATS, main, loadgens, speaker)
# shares CPU 0, so that the node under test has one core to itself and the figures are
# "per core". Builds nothing: run `make` first (build/amphi, build/loadgen).
#
# usage: bench/signaling.sh [--clients N] [--procs L] [--chats K] [--chat-interval MS]
#                           [--concurrency C] [--idle S] [--keep] [--perf]
#                           [--netns] [--rps MASK]
# The same settings as environment variables: BENCH_CLIENTS, BENCH_PROCS, BENCH_CHATS,
# BENCH_CHAT_INTERVAL_MS, BENCH_CONCURRENCY. AMPHI_BIN and LOADGEN_BIN override the binaries.
# --idle S: after the chats, measure the visitor node's CPU for S seconds of silence (what
# holding N visitors costs by itself: WebSocket pings). --keep keeps the logs and raw receipts; --perf (implies --keep) also records `perf` call
# graphs of the visitor node during the chat phase and of loadgen 1 throughout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AMPHI=${AMPHI_BIN:-$ROOT/build/amphi}
LOADGEN=${LOADGEN_BIN:-$ROOT/build/loadgen}
# 19,900 rather than 20,000: the node's descriptors are capped at 20,000 (hard limit) and
# it needs a few of its own (listener, NATS, epoll, timers, stdio) besides one per visitor.
N=${BENCH_CLIENTS:-19900}
L=${BENCH_PROCS:-4}
K=${BENCH_CHATS:-20}
INTERVAL_MS=${BENCH_CHAT_INTERVAL_MS:-500}
CONC=${BENCH_CONCURRENCY:-200}
KEEP=0
PERF=0
IDLE_S=${BENCH_IDLE_S:-0}
ROOM=acme/bench
JOIN_TIMEOUT_S=600 # the whole join phase, not one join

# --netns: run the whole benchmark in a private network namespace with only `lo` up.
# --rps MASK (implies --netns): receive packet steering of that `lo` to the CPUs of MASK
# (hex; 1 = CPU 0). On loopback the receivers' TCP input otherwise runs in softirq on the
# *sending* core, so the visitor node pays for both ends of every connection; steering it
# to CPU 0 (the load generators' core) is closer to a real network, where the receivers'
# TCP input happens on their machines. It also moves the node's ACK processing to CPU 0,
# which a real network would not: the truth lies between the two runs.
if [ -z "${AMPHI_BENCH_IN_NETNS:-}" ]; then
  for a in "$@"; do
    case "$a" in
      --netns|--rps)
        rps=0
        prev=""
        for b in "$@"; do [ "$prev" = --rps ] && rps=$b; prev=$b; done
        exec unshare -n -m env AMPHI_BENCH_IN_NETNS=1 bash -c '
          set -e
          mount -t sysfs sysfs /sys
          ip link set lo up
          echo "$1" > /sys/class/net/lo/queues/rx-0/rps_cpus
          shift
          exec bash "$0" "$@"' "$0" "$rps" "$@"
        ;;
    esac
  done
fi

while [ $# -gt 0 ]; do
  case "$1" in
    --netns) shift ;;
    --rps) shift 2 ;;
    --clients) N=$2; shift 2 ;;
    --procs) L=$2; shift 2 ;;
    --chats) K=$2; shift 2 ;;
    --chat-interval) INTERVAL_MS=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --idle) IDLE_S=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --perf) PERF=1; KEEP=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "signaling.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ $IDLE_S =~ ^[0-9]+$ ]] || [ "$IDLE_S" -gt 600 ]; then
  echo "signaling.sh: --idle must be 0..600 seconds, got '$IDLE_S'" >&2
  exit 2
fi
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_counts N L K INTERVAL_MS CONC
need_built "$AMPHI" "$LOADGEN"
TOOLS="nats-server taskset curl ss awk sort getconf"
[ $PERF = 0 ] || TOOLS="$TOOLS perf"
# Every process started here is stopped here, whatever way the script ends. A base port
# with P (main), P+1 (visitor node) and P+2 (NATS) all free (lib.sh: below the ephemeral
# range, and in no state at all: TIME_WAIT blocks a bind too).
# shellcheck disable=SC2086 # a list of names
bench_start amphi-bench 3 $TOOLS
MAIN_PORT=$BASE
VIS_PORT=$((BASE + 1))

"$AMPHI" configure --visitor-nodes 1 --bridges 0 --host 127.0.0.1 --base-port "$BASE" \
  --out "$TMP/cluster" >"$TMP/configure.log" 2>&1 ||
  { cat "$TMP/configure.log" >&2; exit 1; }
NATS_URL=$(sed -n 's/^nats_url *= *//p' "$TMP/cluster/main.conf")
NATS_PORT=${NATS_URL##*:}

HZ=$(getconf CLK_TCK)

log "cluster in $TMP/cluster: main :$MAIN_PORT, visitor node :$VIS_PORT, NATS :$NATS_PORT"
taskset -c 0 nats-server -c "$TMP/cluster/nats-server.conf" >"$TMP/nats.log" 2>&1 &
NATS_PID=$!
PIDS+=("$NATS_PID")
for _ in $(seq 100); do
  ss -Hltn "sport = :$NATS_PORT" | grep -q . && break
  kill -0 "$NATS_PID" 2>/dev/null || { echo "signaling.sh: nats-server exited:" >&2;
                                       tail -3 "$TMP/nats.log" >&2; exit 1; }
  sleep 0.1
done
taskset -c 0 "$AMPHI" serve --config "$TMP/cluster/main.conf" >"$TMP/main.log" 2>&1 &
MAIN_PID=$!
PIDS+=("$MAIN_PID")
taskset -c 1 "$AMPHI" serve --config "$TMP/cluster/visitor-1.conf" >"$TMP/visitor.log" 2>&1 &
VIS_PID=$!
PIDS+=("$VIS_PID")
wait_http "http://127.0.0.1:$MAIN_PORT/healthz" "the main node" "$MAIN_PID" ||
  { tail -20 "$TMP/main.log" >&2; exit 1; }
wait_http "http://127.0.0.1:$VIS_PORT/healthz" "the visitor node" "$VIS_PID" ||
  { tail -20 "$TMP/visitor.log" >&2; exit 1; }
sleep 2 # a few heartbeats: the main node must know the visitor node before redirecting

RSS_BASE=$(rss_kb "$VIS_PID")
FDS_BASE=$(fds "$VIS_PID")
log "visitor node pid $VIS_PID: VmRSS ${RSS_BASE} KB, $FDS_BASE descriptors before the load"

# --- join phase --------------------------------------------------------------------------
VIS_J0=$(cpu_ticks "$VIS_PID")
MAIN_J0=$(cpu_ticks "$MAIN_PID")
NATS_J0=$(cpu_ticks "$NATS_PID")
T_JOIN0=$(date +%s.%N)
loadgen_cmd() { # i clients conc
  local wrap=()
  [ $PERF = 1 ] && [ "$1" = 1 ] && wrap=(perf record -q -g -o "$TMP/perf.loadgen1.data" --)
  LG_CMD=(taskset -c 0 "${wrap[@]}" "$LOADGEN" --main "ws://127.0.0.1:$MAIN_PORT/ws"
    --room "$ROOM" --clients "$2" --concurrency "$3" --hold 900 --name-prefix "lg$1-" --quiet
    --source-ip "$SRC_NET.$((10 + $1))" --ready-file "$TMP/ready.$1"
    --delays-file "$TMP/delays.$1")
}
start_loadgens "$N" "$L" "$CONC" visitors
wait_ready "$L" "$JOIN_TIMEOUT_S" "$VIS_PID" "the visitor node" "$TMP/visitor.log"
T_JOIN1=$(date +%s.%N)
VIS_J1=$(cpu_ticks "$VIS_PID")
MAIN_J1=$(cpu_ticks "$MAIN_PID")
NATS_J1=$(cpu_ticks "$NATS_PID")
sleep 2 # let the counts settle (visitor_count goes out at most once a second)
RSS_FULL=$(rss_kb "$VIS_PID")
FDS_FULL=$(fds "$VIS_PID")
CONNS=$(curl -fsS -m 5 "http://127.0.0.1:$VIS_PORT/metrics" |
  awk '/^amphi_ws_connections/ { print $2 }')
log "joins done in $(awk -v a="$T_JOIN0" -v b="$T_JOIN1" 'BEGIN { printf "%.1f", b - a }') s;" \
  "visitor node: VmRSS ${RSS_FULL} KB, $FDS_FULL descriptors, ${CONNS:-?} WebSockets"

# --- chat phase --------------------------------------------------------------------------
VIS_CPU0=$(cpu_ticks "$VIS_PID")
MAIN_CPU0=$(cpu_ticks "$MAIN_PID")
NATS_CPU0=$(cpu_ticks "$NATS_PID")
LG_CHAT0=()
for p in "${LG_PIDS[@]}"; do LG_CHAT0+=("$(cpu_ticks "$p")"); done
T_CHAT0=$(date +%s.%N)
if [ $PERF = 1 ]; then
  perf record -q -g -p "$VIS_PID" -o "$TMP/perf.visitor.data" >"$TMP/perf.log" 2>&1 &
  PERF_PID=$!
  PIDS+=("$PERF_PID")
fi
log "one speaker sends $K chats, ${INTERVAL_MS} ms apart"
taskset -c 0 "$LOADGEN" --main "ws://127.0.0.1:$MAIN_PORT/ws" --room "$ROOM" --speak "$K" \
  --speak-interval "$INTERVAL_MS" --name-prefix "speaker-" --quiet --source-ip "$SRC_NET.10" \
  --delays-file "$TMP/delays.speaker" >"$TMP/speaker.json" 2>"$TMP/speaker.err" &
SPK_PID=$!
PIDS+=("$SPK_PID")
wait "$SPK_PID" || true
# The node may still be writing a backlog: wait until its count of frames sent stays put.
frames_out() {
  curl -fsS -m 10 "http://127.0.0.1:$VIS_PORT/metrics" 2>/dev/null |
    awk '/^amphi_messages_out_total/ { print $2 }'
}
wait_steady frames_out
T_CHAT1=$(date +%s.%N)
if [ $PERF = 1 ]; then
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" || true
fi
VIS_CPU1=$(cpu_ticks "$VIS_PID")
MAIN_CPU1=$(cpu_ticks "$MAIN_PID")
NATS_CPU1=$(cpu_ticks "$NATS_PID")
LG_CHAT_EACH=
for i in "${!LG_PIDS[@]}"; do
  t=$(cpu_ticks "${LG_PIDS[$i]}")
  LG_CHAT_EACH="$LG_CHAT_EACH $(awk -v a="${LG_CHAT0[$i]}" -v b="$t" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')"
done
RSS_CHAT=$(rss_kb "$VIS_PID")
IDLE_CPU=n/a
if [ "$IDLE_S" -gt 0 ]; then
  log "holding $N visitors silent for $IDLE_S s"
  idle0=$(cpu_ticks "$VIS_PID")
  sleep "$IDLE_S"
  idle1=$(cpu_ticks "$VIS_PID")
  IDLE_CPU=$(awk -v a="$idle0" -v b="$idle1" -v hz="$HZ" -v s="$IDLE_S" \
    'BEGIN { printf "%.0f", 100 * (b - a) / hz / s }')
fi
VIS_ALIVE=yes
kill -0 "$VIS_PID" 2>/dev/null || VIS_ALIVE=no

for p in "${LG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${LG_PIDS[@]}"; do wait "$p" || true; done

# --- results -----------------------------------------------------------------------------
. "$(dirname "${BASH_SOURCE[0]}")/merge.sh"
bench_merge

CHAT_S=$(awk -v a="$T_CHAT0" -v b="$T_CHAT1" 'BEGIN { printf "%.1f", b - a }')
VIS_CPU_JOIN=$(cpu_s "$VIS_J0" "$VIS_J1")
MAIN_CPU_JOIN=$(cpu_s "$MAIN_J0" "$MAIN_J1")
NATS_CPU_JOIN=$(cpu_s "$NATS_J0" "$NATS_J1")
JOIN_PHASE_S=$(awk -v a="$T_JOIN0" -v b="$T_JOIN1" 'BEGIN { printf "%.1f", b - a }')
VIS_CPU=$(cpu_s "$VIS_CPU0" "$VIS_CPU1")
MAIN_CPU=$(cpu_s "$MAIN_CPU0" "$MAIN_CPU1")
NATS_CPU=$(cpu_s "$NATS_CPU0" "$NATS_CPU1")
# The chat phase fans out K chats plus two more events to every visitor: the speaker's
# participant_joined and participant_left.
VIS_CPU_PER_FANOUT=$(awk -v c="$VIS_CPU" -v k="$SPOKEN" 'BEGIN { printf "%.1f", c * 1000 / (k + 2) }')
LG_CPU_JOIN=$(sum cpu_join_s)
LG_CPU_CHAT=$(echo "$LG_CHAT_EACH" | awk '{ for (i = 1; i <= NF; i++) s += $i; printf "%.2f", s }')

cat <<EOF

=== amphi visitor-node signaling benchmark ===
machine:        $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -r)
layout:         visitor node alone on CPU 1; NATS, main node, $L loadgens, speaker on CPU 0
visitors:       $JOINED of $N joined (errors $ERRORS, dropped after joining $DROPS)
join:           ${JOIN_RATE}/s over ${JOIN_WALL} s; per-process join p50 ${JOIN_P50} ms (median), p99 up to ${JOIN_P99_MAX} ms
memory:         visitor node VmRSS ${RSS_BASE} KB before, ${RSS_FULL} KB at full load (${RSS_CHAT} KB after the chats)
                -> $KB_DELTA KB per visitor (added), $KB_TOTAL KB per visitor (total RSS / N)
descriptors:    $FDS_BASE before, $FDS_FULL at full load (hard limit $(ulimit -Hn))
chat:           $SPOKEN chats sent, $DELIVERIES of $EXPECTED deliveries received
delay:          min ${DMIN} ms, p50 ${D50} ms, p90 ${D90} ms, p99 ${D99} ms, max ${DMAX} ms (speaker clock to receipt)
per chat:       first receipt after ${FIRST_MED} ms (median over chats); first to last receipt ${SPREAD_MED} ms (median), ${SPREAD_MAX} ms (worst)
CPU, join phase ($JOIN_PHASE_S s): visitor node ${VIS_CPU_JOIN} s, main ${MAIN_CPU_JOIN} s, NATS ${NATS_CPU_JOIN} s
CPU, chat phase ($CHAT_S s): visitor node ${VIS_CPU} s (${VIS_CPU_PER_FANOUT} ms per fan-out: $SPOKEN chats + the speaker's join and leave), main ${MAIN_CPU} s, NATS ${NATS_CPU} s
CPU, loadgens:  ${LG_CPU_JOIN} s during the joins, ${LG_CPU_CHAT} s during the chat phase (all $L together; each:${LG_CHAT_EACH})
idle:           visitor node busy ${IDLE_CPU}% of its core while holding the visitors silent (--idle ${IDLE_S})
missed heartbeats: $(grep -c 'missed 3 heartbeats' "$TMP/main.log" || true) times the main node dropped the visitor node as dead
visitor node alive at the end: $VIS_ALIVE
per process:
EOF
cat "$TMP/all.json" "$TMP/speaker.json"
echo "per chat (k, first ms, last ms, spread ms):"
cat "$TMP/per-chat.txt"
printf '{"summary":true,"clients":%s,"joined":%s,"join_rate_per_s":%s,"kb_per_visitor_added":%s,"kb_per_visitor_total":%s,"deliveries":%s,"expected":%s,"delay_p50_ms":%s,"delay_p99_ms":%s,"delay_max_ms":%s,"visitor_cpu_s_chat_phase":%s,"visitor_idle_cpu_pct":%s,"errors":%s,"drops":%s}\n' \
  "$N" "$JOINED" "$JOIN_RATE" "$KB_DELTA" "$KB_TOTAL" "$DELIVERIES" "$EXPECTED" \
  "${D50/n\/a/null}" "${D99/n\/a/null}" "${DMAX/n\/a/null}" "$VIS_CPU" "${IDLE_CPU/n\/a/null}" "$ERRORS" "$DROPS"

if [ "$JOINED" != "$N" ] || [ "$DELIVERIES" != "$EXPECTED" ] || [ "$ERRORS" != 0 ] ||
   [ "$DROPS" != 0 ] || [ "$VIS_ALIVE" != yes ] || [ "$SPOKEN" != "$K" ]; then
  log "INCOMPLETE: see the figures above (--keep keeps the logs)"
  exit 1
fi
