#!/usr/bin/env bash
# The peer of bench/signaling.sh: the same measurement on Prosody (docs/PERFORMANCE.md,
# "Side by side with Prosody").
#
# Prosody (Debian package, 0.12) is the XMPP server of the original design's "visitors"
# feature: one MUC room, N occupants, a groupchat message fanned out to all of them. This
# starts one Prosody process with a minimal configuration of its own (temp dir; anonymous
# login, XMPP over WebSocket, one MUC component), pinned alone on CPU 1 like the amphi
# visitor node; fills one room with N listeners from L xmpp_loadgen processes on CPU 0
# (bench/xmpp_loadgen.c); lets one speaker send K groupchat messages; and reports join rate,
# Prosody's memory per occupant, the delay of each message to every listener (p50/p99 over
# all receipts) and Prosody's CPU time per fan-out.
#
# The room is moderated, and occupants with the role "visitor" are not announced
# (muc_room_default_presence_broadcast without "visitor"): listeners neither receive each
# other's presence nor can speak, as amphi's visitors. The speaker joins first and so
# creates the room (owner, moderator): the one voice.
#
# Installs prosody with apt-get if it is missing (root), and keeps its system service
# stopped. Builds bench/xmpp_loadgen.c into the temp dir when build/xmpp_loadgen is absent.
#
# usage: bench/peer-prosody.sh [--clients N] [--procs L] [--chats K] [--chat-interval MS]
#                              [--concurrency C] [--join-timeout S] [--gc MODE] [--keep]
# --gc default keeps Prosody's garbage collector settings (incremental, a new cycle once the
# heap has grown 5 %: frugal with memory, costly in CPU); --gc generational sets
# gc = { mode = "generational" } (Lua 5.4), Prosody's documented alternative.
# Environment: BENCH_CLIENTS, BENCH_PROCS, BENCH_CHATS, BENCH_CHAT_INTERVAL_MS,
# BENCH_CONCURRENCY; XMPP_LOADGEN_BIN overrides the load generator.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${BENCH_CLIENTS:-2000}
L=${BENCH_PROCS:-4}
K=${BENCH_CHATS:-20}
INTERVAL_MS=${BENCH_CHAT_INTERVAL_MS:-500}
CONC=${BENCH_CONCURRENCY:-200}
JOIN_TIMEOUT_S=600 # the whole join phase
KEEP=0
GC=default # Prosody's own GC settings (incremental, threshold 105 %); or generational

while [ $# -gt 0 ]; do
  case "$1" in
    --clients) N=$2; shift 2 ;;
    --procs) L=$2; shift 2 ;;
    --chats) K=$2; shift 2 ;;
    --chat-interval) INTERVAL_MS=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --join-timeout) JOIN_TIMEOUT_S=$2; shift 2 ;;
    --gc) GC=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "peer-prosody.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$GC" in default|generational) ;; *) echo "peer-prosody.sh: --gc default|generational" >&2; exit 2 ;; esac
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_counts N L K INTERVAL_MS CONC JOIN_TIMEOUT_S
if [ $((N / L + 64)) -gt "$(ulimit -Hn)" ]; then
  echo "peer-prosody.sh: $((N / L)) sockets per loadgen exceed the descriptor limit: raise --procs" >&2
  exit 2
fi
if [ $((N + 64)) -gt "$(ulimit -Hn)" ]; then
  echo "peer-prosody.sh: Prosody cannot hold $N sockets with a descriptor limit of $(ulimit -Hn)" >&2
  exit 2
fi

# --- Prosody itself ------------------------------------------------------------------------
if ! command -v prosody >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "peer-prosody.sh: prosody is missing; run as root to install it" >&2; exit 2; }
  log "installing prosody (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y prosody >/tmp/peer-prosody-apt.log 2>&1 ||
    { tail -20 /tmp/peer-prosody-apt.log >&2; exit 1; }
  # The package may start its system service: stop it and keep it off (ours runs alone).
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    systemctl disable --now prosody >/dev/null 2>&1 || true
  else
    service prosody stop >/dev/null 2>&1 || true
    update-rc.d prosody disable >/dev/null 2>&1 || true
  fi
fi
PROSODY_VERSION=$(dpkg-query -W -f='${Version}' prosody 2>/dev/null || echo "?")
for t in taskset ss awk sort getconf curl; do
  command -v "$t" >/dev/null || { echo "peer-prosody.sh: $t is needed" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/amphi-peer-prosody.XXXXXX)
PIDS=()
bench_traps

XLG=${XMPP_LOADGEN_BIN:-$ROOT/build/xmpp_loadgen}
if [ ! -x "$XLG" ]; then
  XLG=$TMP/xmpp_loadgen
  cc -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -std=c11 -o "$XLG" "$ROOT/bench/xmpp_loadgen.c" \
    -lwebsockets -luv 2>"$TMP/cc.log" || { cat "$TMP/cc.log" >&2; exit 1; }
fi

BASE=
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 12000))
  if port_free $p && port_free $((p + 1)); then BASE=$p; break; fi
done
[ -n "$BASE" ] || { echo "peer-prosody.sh: no free port found" >&2; exit 1; }
HTTP_PORT=$BASE
C2S_PORT=$((BASE + 1)) # c2s cannot be left out in 0.12; it listens on 127.0.0.1, unused
SRC_NET=127.$((1 + RANDOM % 250)).$((RANDOM % 250))

mkdir -p "$TMP/data" "$TMP/certs"
cat >"$TMP/prosody.cfg.lua" <<EOF
-- Written by bench/peer-prosody.sh: the smallest Prosody that does what the benchmark needs.

run_as_root = true
pidfile = "$TMP/prosody.pid"
data_path = "$TMP/data"
certificates = "$TMP/certs"
log = { warn = "$TMP/prosody.log" }
network_backend = "epoll" -- select would stop at 1,024 sockets
storage = "memory"        -- nothing is persisted
$( [ "$GC" = generational ] && echo 'gc = { mode = "generational" }' )

modules_enabled = { "saslauth"; "disco"; "websocket" }
modules_disabled = { "s2s"; "offline" }
-- mod_limits is not loaded: no rate limit on any connection. Stated anyway:
limits = { c2s = { rate = "100mb/s" } }
unlimited_jids = { }
c2s_stanza_size_limit = 1024 * 1024

c2s_ports = { $C2S_PORT }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
http_ports = { $HTTP_PORT }
http_interfaces = { "127.0.0.1" }
https_ports = { }
https_interfaces = { }
http_default_host = "localhost"
consider_websocket_secure = true -- loopback, no TLS: let SASL go on
c2s_require_encryption = false

VirtualHost "localhost"
  authentication = "anonymous"

Component "conference.localhost" "muc"
  muc_room_locking = false
  muc_room_default_persistent = false
  muc_room_default_public = false
  muc_room_default_history_length = 0
  max_history_messages = 0
  muc_tombstones = false
  muc_room_default_moderated = true
  -- Occupants with the role "visitor" are not announced to anyone (amphi's visitors are not).
  muc_room_default_presence_broadcast = { moderator = true; participant = true; visitor = false }
EOF

HZ=$(getconf CLK_TCK)

log "prosody $PROSODY_VERSION in $TMP: http :$HTTP_PORT (WebSocket /xmpp-websocket), c2s :$C2S_PORT"
(ulimit -n "$(ulimit -Hn)"; exec taskset -c 1 prosody -F --config "$TMP/prosody.cfg.lua") \
  >"$TMP/prosody.out" 2>&1 &
PROS_PID=$!
PIDS+=("$PROS_PID")
for _ in $(seq 100); do
  curl -fsS -m 1 "http://127.0.0.1:$HTTP_PORT/xmpp-websocket" -H "Host: localhost" >/dev/null 2>&1 && break
  kill -0 "$PROS_PID" 2>/dev/null || { echo "peer-prosody.sh: prosody exited:" >&2;
                                      cat "$TMP/prosody.out" "$TMP/prosody.log" >&2 || true; exit 1; }
  sleep 0.1
done
URL="ws://127.0.0.1:$HTTP_PORT/xmpp-websocket"

# The speaker first: it creates the room and so is its moderator.
taskset -c 0 "$XLG" --url "$URL" --speak "$K" --speak-interval "$INTERVAL_MS" \
  --name-prefix "" --quiet --source-ip "$SRC_NET.10" --hold 3600 \
  --ready-file "$TMP/ready.speaker" --go-file "$TMP/go" --delays-file "$TMP/delays.speaker" \
  >"$TMP/speaker.json" 2>"$TMP/speaker.err" &
SPK_PID=$!
PIDS+=("$SPK_PID")
for _ in $(seq 100); do
  [ -f "$TMP/ready.speaker" ] && break
  kill -0 "$SPK_PID" 2>/dev/null || break
  sleep 0.1
done
if [ "$(cut -d' ' -f1 "$TMP/ready.speaker" 2>/dev/null)" != 1 ]; then
  echo "peer-prosody.sh: the speaker could not join:" >&2
  cat "$TMP/speaker.err" "$TMP/prosody.log" >&2 || true
  exit 1
fi
sleep 1
RSS_BASE=$(rss_kb "$PROS_PID")
FDS_BASE=$(fds "$PROS_PID")
log "prosody pid $PROS_PID: VmRSS ${RSS_BASE} KB, $FDS_BASE descriptors with the room and its speaker"

# --- join phase ----------------------------------------------------------------------------
P_J0=$(cpu_ticks "$PROS_PID")
T_JOIN0=$(date +%s.%N)
loadgen_cmd() { # i clients conc
  LG_CMD=(taskset -c 0 "$XLG" --url "$URL" --clients "$2" --concurrency "$3" --hold 3600
    --join-timeout 300 --name-prefix "lg$1-" --quiet --source-ip "$SRC_NET.$((10 + $1))"
    --ready-file "$TMP/ready.$1" --delays-file "$TMP/delays.$1")
}
start_loadgens "$N" "$L" "$CONC" listeners
wait_ready "$L" "$JOIN_TIMEOUT_S" "$PROS_PID" "prosody" "$TMP/prosody.log"
T_JOIN1=$(date +%s.%N)
P_J1=$(cpu_ticks "$PROS_PID")
sleep 2
RSS_FULL=$(rss_kb "$PROS_PID")
FDS_FULL=$(fds "$PROS_PID")
log "joins done in $(awk -v a="$T_JOIN0" -v b="$T_JOIN1" 'BEGIN { printf "%.1f", b - a }') s;" \
  "prosody: VmRSS ${RSS_FULL} KB, $FDS_FULL descriptors"

# --- chat phase ----------------------------------------------------------------------------
P_C0=$(cpu_ticks "$PROS_PID")
T_CHAT0=$(date +%s.%N)
log "the speaker sends $K groupchat messages, ${INTERVAL_MS} ms apart"
touch "$TMP/go"
sleep "$(awk -v k="$K" -v i="$INTERVAL_MS" 'BEGIN { printf "%.3f", k * i / 1000 }')"
# Prosody may still be writing a backlog: wait until its CPU time stays put.
wait_steady cpu_ticks "$PROS_PID"
T_CHAT1=$(date +%s.%N)
P_C1=$(cpu_ticks "$PROS_PID")
RSS_CHAT=$(rss_kb "$PROS_PID")
P_ALIVE=yes
kill -0 "$PROS_PID" 2>/dev/null || P_ALIVE=no

for p in "${LG_PIDS[@]}" "$SPK_PID"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${LG_PIDS[@]}" "$SPK_PID"; do wait "$p" || true; done

# --- results -------------------------------------------------------------------------------
. "$(dirname "${BASH_SOURCE[0]}")/merge.sh"
bench_merge
P_CPU_JOIN=$(cpu_s "$P_J0" "$P_J1")
P_CPU=$(cpu_s "$P_C0" "$P_C1")
CHAT_S=$(awk -v a="$T_CHAT0" -v b="$T_CHAT1" 'BEGIN { printf "%.1f", b - a }')
JOIN_PHASE_S=$(awk -v a="$T_JOIN0" -v b="$T_JOIN1" 'BEGIN { printf "%.1f", b - a }')
# The chat phase holds exactly K fan-outs: the speaker joined before it and leaves after.
CPU_PER_FANOUT=$(awk -v c="$P_CPU" -v k="$SPOKEN" 'BEGIN { if (k > 0) printf "%.1f", c * 1000 / k; else print "null" }')
LG_CPU_JOIN=$(sum cpu_join_s)

cat <<EOF

=== Prosody MUC signaling benchmark (the peer of bench/signaling.sh) ===
machine:        $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -r)
prosody:        $PROSODY_VERSION ($(head -1 "$(command -v prosody)" | sed 's/.*env //')), network_backend epoll, gc $GC, alone on CPU 1; $L loadgens and the speaker on CPU 0
listeners:      $JOINED of $N joined (errors $ERRORS, dropped after joining $DROPS)
join:           ${JOIN_RATE}/s over ${JOIN_WALL} s; per-process join p50 ${JOIN_P50} ms (median), p99 up to ${JOIN_P99_MAX} ms
memory:         prosody VmRSS ${RSS_BASE} KB before, ${RSS_FULL} KB at full load (${RSS_CHAT} KB after the chats)
                -> $KB_DELTA KB per occupant (added), $KB_TOTAL KB per occupant (total RSS / N)
descriptors:    $FDS_BASE before, $FDS_FULL at full load
chat:           $SPOKEN messages sent, $DELIVERIES of $EXPECTED deliveries received
delay:          min ${DMIN} ms, p50 ${D50} ms, p90 ${D90} ms, p99 ${D99} ms, max ${DMAX} ms (speaker clock to receipt)
per chat:       first to last receipt ${SPREAD_MED} ms (median)
CPU, join phase ($JOIN_PHASE_S s): prosody ${P_CPU_JOIN} s; loadgens ${LG_CPU_JOIN} s
CPU, chat phase ($CHAT_S s): prosody ${P_CPU} s (${CPU_PER_FANOUT} ms per fan-out: $SPOKEN messages)
prosody alive at the end: $P_ALIVE; its log: $(grep -c . "$TMP/prosody.log" 2>/dev/null || true) warnings/errors
per process:
EOF
cat "$TMP/all.json" "$TMP/speaker.json"
head -5 "$TMP/prosody.log" 2>/dev/null || true
printf '{"summary":true,"server":"prosody","gc":"%s","clients":%s,"joined":%s,"join_rate_per_s":%s,"kb_per_visitor_added":%s,"kb_per_visitor_total":%s,"deliveries":%s,"expected":%s,"delay_p50_ms":%s,"delay_p99_ms":%s,"delay_max_ms":%s,"cpu_s_chat_phase":%s,"cpu_ms_per_fanout":%s,"cpu_s_join_phase":%s,"errors":%s,"drops":%s}\n' \
  "$GC" "$N" "$JOINED" "$JOIN_RATE" "$KB_DELTA" "$KB_TOTAL" "$DELIVERIES" "$EXPECTED" \
  "${D50/n\/a/null}" "${D99/n\/a/null}" "${DMAX/n\/a/null}" "$P_CPU" "$CPU_PER_FANOUT" "$P_CPU_JOIN" "$ERRORS" "$DROPS"

if [ "$JOINED" != "$N" ] || [ "$DELIVERIES" != "$EXPECTED" ] || [ "$ERRORS" != 0 ] ||
   [ "$DROPS" != 0 ] || [ "$P_ALIVE" != yes ] || [ "$SPOKEN" != "$K" ]; then
  log "INCOMPLETE: see the figures above (--keep keeps the logs)"
  exit 1
fi
