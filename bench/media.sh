#!/usr/bin/env bash
# The media benchmark (docs/PERFORMANCE.md): one SFU on one core, one publisher of 1.5 Mbps
# VP8-shaped video plus Opus-shaped audio, receivers added in steps until more than 0.1 % of
# the packets are lost or the SFU falls behind (delivers 2 % less than it is sent: queues and
# delays grow though nothing is lost). Run twice in one go, on the same machine and core:
# amphi's bridge, then Janus 1.1.2 (Debian's `janus`, VideoRoom plugin). For each: protected
# packets out per second, receivers per core, one-way delay p50/p99 through the SFU; then
# the ratio.
#
# Everything runs in private network namespaces that this script creates (unshare, ip
# netns): the servers in one, the load in another, joined by a veth pair with addresses of
# their own (198.18.0.1 for the servers, 198.18.0.2 for the load: the RFC 2544 benchmarking
# range, which exists nowhere but there). Janus's ICE library gathers no loopback address,
# so loopback would not do; amphi runs on the same addresses, so both see the same path.
# The SFU under test is pinned alone to CPU 1 (taskset); the load generator, and for amphi
# NATS, the main node and the visitor node (idle during the media), share CPU 0. Both sides
# run at a raised priority (nice), so that other programs on a shared machine do not take
# half of a core from them.
#
# The load: bench/media_loadgen (build/media_loadgen, or compiled here into the temp dir).
# One process holds the publisher and every receiver, each a real WebRTC peer (own UDP
# socket, ICE, DTLS, SRTP). amphi's receivers are visitors (main node -> redirect -> visitor
# node -> subscribe_offer); Janus's are VideoRoom subscribers over its HTTP API.
#
# Installs what it needs with apt-get (as root) when missing: janus (its system service is
# disabled; the script starts its own Janus with a configuration generated from
# bench/janus/), nats-server. Builds nothing of amphi: run `make` first (build/amphi).
#
# usage: bench/media.sh [--quick] [--only amphi|janus] [--steps N,N,...] [--hold S]
#                       [--janus-loops N] [--rps MASK] [--burst N] [--pace F] [--keep]
#   --quick          a smoke run: steps 10,40, 3 s windows (about a minute for both)
#   --only X         run one side only
#   --steps LIST     receivers per step [100,200,300,400,500,600,800,1000,1300,1600,2000]
#   --hold S         seconds measured per step [10]
#   --janus-loops N  Janus's event_loops [1]: N loop threads shared by all handles, as its
#                    configuration advises for many handles (one per core it has); 0 is
#                    Janus's default, a thread per handle, which on one core did worse
#                    (100 receivers took 82 % of the core, 200 lost 37 %; with 1: 300 ok)
#   --rps MASK       receive packet steering of the load's veth end to the CPUs of MASK
#                    (hex; 1 = CPU 0) [0 = off]. A veth delivers on the sending CPU, so
#                    without it the SFU's core also runs the receivers' kernel UDP input;
#                    with it that input moves to the load's core, at the price of an
#                    inter-processor interrupt per packet burst. On this VM the interrupts
#                    cost the SFU's core more than the input they move away (amphi, 300
#                    receivers: 57 % of its core without RPS, 70 % with), so it is off.
#   --burst N        amphi: after the ramp, N more receivers join at once (the loadgen's
#                    --burst, up to 200 joins in flight) while the last step's receivers
#                    watch: their loss, delay, longest gap and the bridge's hop during the
#                    join storm (phase "burst") and after it ("after"). Implies --only amphi
#   --pace F         the publisher sends video paced at F times its bitrate (2.5 is
#                    libwebrtc's pacer, what browsers do) instead of each frame in one burst
#   --keep           keep the temp dir (logs, configs, raw JSON lines)
# Environment: AMPHI_BIN, MEDIA_LOADGEN_BIN override the binaries; MEDIA_LOADGEN_ARGS is
# added to the load generator's flags (e.g. "--video-kbps 300" for a join storm of many).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AMPHI=${AMPHI_BIN:-$ROOT/build/amphi}
LOADGEN=${MEDIA_LOADGEN_BIN:-$ROOT/build/media_loadgen}
STEPS=100,200,300,400,500,600,800,1000,1300,1600,2000
HOLD=10
SETTLE=3
ONLY=
JANUS_LOOPS=1
RPS=0
BURST=
PACE=
KEEP=0
QUICK=0
SRV_IP=198.18.0.1
CLI_IP=198.18.0.2

die() { echo "media.sh: $*" >&2; exit 1; }

ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; STEPS=10,40; HOLD=3; SETTLE=2; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --hold) HOLD=$2; shift 2 ;;
    --janus-loops) JANUS_LOOPS=$2; shift 2 ;;
    --rps) RPS=$2; shift 2 ;;
    --burst) BURST=$2; ONLY=amphi; shift 2 ;;
    --pace) PACE=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "media.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$ONLY" in ""|amphi|janus) ;; *) die "--only: amphi or janus" ;; esac
[[ $STEPS =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--steps: a list like 100,200,400"
[[ $HOLD =~ ^[1-9][0-9]*$ ]] || die "--hold: seconds"
[[ $JANUS_LOOPS =~ ^[0-9]+$ ]] || die "--janus-loops: a whole number"
[[ $RPS =~ ^[0-9a-fA-F]+$ ]] || die "--rps: a hex CPU mask"
RUN_AMPHI=1
RUN_JANUS=1
[ "$ONLY" = janus ] && RUN_AMPHI=0
[ "$ONLY" = amphi ] && RUN_JANUS=0
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- outside the namespace: install, build, then enter it ----------------------------------
if [ -z "${MEDIA_BENCH_IN_NETNS:-}" ]; then
  [ "$(id -u)" = 0 ] || die "needs root (network namespace, taskset, apt-get)"
  need_pkgs=()
  [ $RUN_JANUS = 1 ] && ! command -v janus >/dev/null && need_pkgs+=(janus)
  [ $RUN_AMPHI = 1 ] && ! command -v nats-server >/dev/null && need_pkgs+=(nats-server)
  for t in curl:curl taskset:util-linux unshare:util-linux ip:iproute2 ss:iproute2; do
    command -v "${t%%:*}" >/dev/null || need_pkgs+=("${t##*:}")
  done
  if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing ${need_pkgs[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  fi
  if [ $RUN_JANUS = 1 ] && command -v systemctl >/dev/null; then
    # The package enables a system-wide Janus; the benchmark runs its own, with its own config.
    systemctl disable --now janus >/dev/null 2>&1 || true
  fi
  [ $RUN_AMPHI = 0 ] || [ -x "$AMPHI" ] || die "$AMPHI not found: run make first"
  TMP=$(mktemp -d /tmp/amphi-media.XXXXXX)
  if [ ! -x "$LOADGEN" ]; then
    log "building media_loadgen into $TMP (no $LOADGEN)"
    cc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -I"$ROOT/src" -I"$ROOT/bench" -o "$TMP/media_loadgen" \
      "$ROOT/bench/media_loadgen.c" "$ROOT"/src/media/*.c \
      -lwebsockets -luv -ljansson -lssl -lcrypto -lsrtp2 -lpthread -lm 2>"$TMP/cc.log" ||
      { cat "$TMP/cc.log" >&2; rm -rf "$TMP"; exit 1; }
    LOADGEN=$TMP/media_loadgen
  fi
  # -m: a mount namespace too, for a sysfs of this network namespace (the RPS setting).
  exec unshare -n -m env MEDIA_BENCH_IN_NETNS=1 MEDIA_BENCH_TMP="$TMP" \
    MEDIA_LOADGEN_BIN="$LOADGEN" AMPHI_BIN="$AMPHI" bash "$0" "${ARGS[@]}"
fi

# --- inside the namespace ------------------------------------------------------------------
TMP=$MEDIA_BENCH_TMP
PIDS=()
STOP_TENTHS=50
cleanup_more() { ip netns del amphi-media-load 2>/dev/null || true; }
bench_traps

mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run # for `ip netns`: its mount points stay in this mount namespace
ip link set lo up
# The servers keep this namespace and 198.18.0.1; the load gets a namespace of its own
# (CLI_NS) and 198.18.0.2, joined by a veth pair. Two namespaces rather than one: libnice
# sends on a socket bound to its interface, so within one namespace its packets would leave
# by the veth and come back with a local source address (dropped as martian), while amphi's
# would take the loopback. Here every packet of both servers crosses the same veth.
CLI_NS=amphi-media-load
ip netns add "$CLI_NS"
ip link add mb0 type veth peer name mb1
ip link set mb1 netns "$CLI_NS"
ip addr add "$SRV_IP/24" dev mb0
ip link set mb0 up
ip -n "$CLI_NS" link set lo up
ip -n "$CLI_NS" addr add "$CLI_IP/24" dev mb1
ip -n "$CLI_NS" link set mb1 up
# Receive packet steering (--rps, off by default: see the top). When on, the other way (the
# publisher's media, the receivers' STUN and RTCP) is received on the server's core, as a
# real NIC's queue would be.
[ "$RPS" = 0 ] || echo 2 >/sys/class/net/mb0/queues/rx-0/rps_cpus
ip netns exec "$CLI_NS" sh -c "echo $RPS >/sys/class/net/mb1/queues/rx-0/rps_cpus"
IN_CLI=(ip netns exec "$CLI_NS")
ulimit -n "$(ulimit -Hn)"

stop_pid() { # pid: TERM, then KILL after 5 s
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# The SFU alone on CPU 1, the load on CPU 0. Both at a raised priority: on a shared machine
# another program landing on the same core would otherwise take half of it, and the figure
# would be of the machine's other work rather than of the SFU.
SRV_RUN=(nice -n -15 taskset -c 1)
LOAD_RUN=(nice -n -10 taskset -c 0)
LG_COMMON=(--local-ip "$CLI_IP" --steps "$STEPS" --hold "$HOLD" --settle "$SETTLE"
           --server-cpu 1 --client-cpu 0 --quiet ${PACE:+--pace "$PACE"})

# --- amphi ---------------------------------------------------------------------------------
run_amphi() {
  local base=21000 mport=21500
  # bridge capacity: every receiver of the ramp and of a --burst fits the one bridge
  "$AMPHI" configure --visitor-nodes 1 --bridges 1 --bridge-capacity 20000 \
    --host "$SRV_IP" --base-port "$base" \
    --media-port "$mport" --out "$TMP/cluster" >"$TMP/configure.log" 2>&1 ||
    { cat "$TMP/configure.log" >&2; return 1; }
  local nats_url nats_port bridge_port
  nats_url=$(sed -n 's/^nats_url *= *//p' "$TMP/cluster/main.conf")
  nats_port=${nats_url##*:}
  bridge_port=$(sed -n 's/^port *= *//p' "$TMP/cluster/bridge-1.conf")
  taskset -c 0 nats-server -c "$TMP/cluster/nats-server.conf" >"$TMP/nats.log" 2>&1 &
  local nats_pid=$!
  PIDS+=("$nats_pid")
  for _ in $(seq 100); do
    ss -Hltn "sport = :$nats_port" | grep -q . && break
    sleep 0.1
  done
  taskset -c 0 "$AMPHI" serve --config "$TMP/cluster/main.conf" >"$TMP/main.log" 2>&1 &
  local main_pid=$!
  PIDS+=("$main_pid")
  taskset -c 0 "$AMPHI" serve --config "$TMP/cluster/visitor-1.conf" >"$TMP/visitor.log" 2>&1 &
  local vis_pid=$!
  PIDS+=("$vis_pid")
  "${SRV_RUN[@]}" "$AMPHI" serve --config "$TMP/cluster/bridge-1.conf" >"$TMP/bridge.log" 2>&1 &
  local br_pid=$!
  PIDS+=("$br_pid")
  wait_http "http://$SRV_IP:$base/healthz" "the main node" "$main_pid" 150 || { tail -5 "$TMP/main.log" >&2; return 1; }
  wait_http "http://$SRV_IP:$((base + 1))/healthz" "the visitor node" "$vis_pid" 150 || { tail -5 "$TMP/visitor.log" >&2; return 1; }
  wait_http "http://$SRV_IP:$bridge_port/healthz" "the bridge" "$br_pid" 150 || { tail -5 "$TMP/bridge.log" >&2; return 1; }
  sleep 2 # heartbeats: the main node must know the visitor node and the bridge
  log "amphi: bridge pid $br_pid on CPU 1, media $SRV_IP:$mport; ramp $STEPS"
  "${IN_CLI[@]}" "${LOAD_RUN[@]}" "$LOADGEN" --server amphi --main "ws://$SRV_IP:$base/ws" --room bench/media \
    --metrics "http://$SRV_IP:$bridge_port/metrics" --server-pid "$br_pid" "${LG_COMMON[@]}" \
    ${BURST:+--burst "$BURST" --concurrency 200} ${MEDIA_LOADGEN_ARGS:-} \
    >"$TMP/amphi.json" 2>"$TMP/amphi.err" || true
  tail -3 "$TMP/amphi.err" >&2 || true
  kill -0 "$br_pid" 2>/dev/null || { log "amphi: the bridge died"; tail -5 "$TMP/bridge.log" >&2; }
  stop_pid "$br_pid"
  stop_pid "$vis_pid"
  stop_pid "$main_pid"
  stop_pid "$nats_pid"
}

# --- Janus ---------------------------------------------------------------------------------
run_janus() {
  local lib dir=$TMP/janus port=8088
  lib=$(dirname "$(dirname "$(find /usr/lib -path '*/janus/plugins/libjanus_videoroom.so' | head -1)")")
  [ -d "$lib/plugins" ] || { echo "media.sh: Janus's plugins not found" >&2; return 1; }
  mkdir -p "$dir"
  all_but() { # folder keep: the comma list of the folder's libraries but keep
    find "$1" -maxdepth 1 -name 'libjanus_*.so' -printf '%f\n' | grep -vx "$2" | paste -sd, -
  }
  sed -e "s|@CONF_DIR@|$dir|; s|@LIB_DIR@|$lib|g; s|@EVENT_LOOPS@|$JANUS_LOOPS|" \
      -e "s|@ICE_IP@|$SRV_IP|" \
      -e "s|@PLUGINS_DISABLE@|$(all_but "$lib/plugins" libjanus_videoroom.so)|" \
      -e "s|@TRANSPORTS_DISABLE@|$(all_but "$lib/transports" libjanus_http.so)|" \
      -e "s|@LOGGERS_DISABLE@|$(all_but "$lib/loggers" none)|" \
      -e "s|@EVENTS_DISABLE@|$(all_but "$lib/events" none)|" \
      "$ROOT/bench/janus/janus.jcfg.in" >"$dir/janus.jcfg"
  sed -e "s|@HTTP_PORT@|$port|; s|@HTTP_IP@|$SRV_IP|" \
      "$ROOT/bench/janus/janus.transport.http.jcfg.in" >"$dir/janus.transport.http.jcfg"
  cp "$ROOT/bench/janus/janus.plugin.videoroom.jcfg" "$dir/"
  "${SRV_RUN[@]}" janus -C "$dir/janus.jcfg" -F "$dir" -i "$SRV_IP" -o >"$TMP/janus.log" 2>&1 &
  local jpid=$!
  PIDS+=("$jpid")
  wait_http "http://$SRV_IP:$port/janus/info" "Janus" "$jpid" 150 || { tail -20 "$TMP/janus.log" >&2; return 1; }
  log "janus: pid $jpid on CPU 1 (event_loops $JANUS_LOOPS), ICE on $SRV_IP; ramp $STEPS"
  "${IN_CLI[@]}" "${LOAD_RUN[@]}" "$LOADGEN" --server janus --janus "http://$SRV_IP:$port/janus" --janus-room 1234 \
    --server-pid "$jpid" "${LG_COMMON[@]}" >"$TMP/janus.json" 2>"$TMP/janus.err" || true
  tail -3 "$TMP/janus.err" >&2 || true
  kill -0 "$jpid" 2>/dev/null || { log "janus: Janus died"; tail -20 "$TMP/janus.log" >&2; }
  stop_pid "$jpid"
}

: >"$TMP/amphi.json"
: >"$TMP/janus.json"
[ $RUN_AMPHI = 1 ] && { run_amphi || log "amphi: the run failed (see above)"; }
[ $RUN_JANUS = 1 ] && { run_janus || log "janus: the run failed (see above)"; }

# --- results -------------------------------------------------------------------------------
jf() { # field, one JSON line on stdin: the field's value (number, string or bool)
  sed -n "s/.*\"$1\":\\(true\\|false\\|\"[^\"]*\"\\|-\\{0,1\\}[0-9][0-9.]*\\).*/\\1/p" | tr -d '"' | head -1
}
get() { { grep -h '"summary":true' "$2" 2>/dev/null || true; } | jf "$1"; } # field file
row() { # label field
  printf '| %s | %s | %s |\n' "$1" "$(get "$2" "$TMP/amphi.json")" "$(get "$2" "$TMP/janus.json")"
}
ratio() { # field: amphi / janus
  awk -v a="$(get "$1" "$TMP/amphi.json")" -v j="$(get "$1" "$TMP/janus.json")" \
    'BEGIN { if (a != "" && j != "" && j + 0 > 0) printf "%.2f", a / j; else print "null" }'
}

echo
echo "=== media benchmark: one SFU on CPU 1, $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -r) ==="
echo "load: 1 publisher (VP8-shaped video 1500 kbps 30 fps, a keyframe every 2 s; Opus-shaped audio every 20 ms);"
echo "      receivers in steps $STEPS, ${HOLD} s windows; RPS mask $RPS; Janus event_loops $JANUS_LOOPS"
echo
echo "per step (server load = its process + its core's softirq, % of one core):"
for f in "$TMP/amphi.json" "$TMP/janus.json"; do
  { grep -h '"step"' "$f" 2>/dev/null || true; } | while read -r l; do
    printf '  %-5s %5s receivers (%s up): %7s pkts/s out, loss %s %%, behind %s %%, delay p50 %s ms p99 %s ms, server load %s %%, client load %s %%\n' \
      "$(jf server <<<"$l")" "$(jf receivers <<<"$l")" "$(jf up <<<"$l")" "$(jf pkts_out_per_s <<<"$l")" \
      "$(jf loss_pct <<<"$l")" "$(jf deficit_pct <<<"$l")" "$(jf delay_p50_ms <<<"$l")" "$(jf delay_p99_ms <<<"$l")" \
      "$(jf server_load_pct <<<"$l")" "$(jf client_load_pct <<<"$l")"
  done
done
echo
echo "| | amphi bridge | Janus 1.1.2 VideoRoom |"
echo "|---|---|---|"
row "stopped by" limit
row "receivers, last step within the loss limit" best_receivers
row "protected packets out per second there" best_pkts_out_per_s
row "loss there (%)" best_loss_pct
row "one-way delay p50 (ms)" best_delay_p50_ms
row "one-way delay p99 (ms)" best_delay_p99_ms
row "server load there (% of its core)" best_server_load_pct
row "client load there (% of its core)" best_client_load_pct
row "receivers per core" receivers_per_core
row "protected packets out per second per core" pkts_out_per_s_per_core
row "per-core figures extrapolated (load < 90 %)" extrapolated
row "SRTP profile" srtp
echo
PPS_RATIO=$(ratio pkts_out_per_s_per_core)
RX_RATIO=$(ratio receivers_per_core)
echo "amphi / Janus: ${PPS_RATIO}x protected packets out per core, ${RX_RATIO}x receivers per core"
printf '{"summary":true,"bench":"media","steps":"%s","hold_s":%s,"rps":"%s","janus_event_loops":%s,"amphi":%s,"janus":%s,"ratio_pkts_per_core":%s,"ratio_receivers_per_core":%s}\n' \
  "$STEPS" "$HOLD" "$RPS" "$JANUS_LOOPS" \
  "$(grep -h '"summary":true' "$TMP/amphi.json" 2>/dev/null | head -1 | grep . || echo null)" \
  "$(grep -h '"summary":true' "$TMP/janus.json" 2>/dev/null | head -1 | grep . || echo null)" \
  "$PPS_RATIO" "$RX_RATIO"
