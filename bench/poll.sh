#!/usr/bin/env bash
# The poll benchmark (docs/PERFORMANCE.md, "A poll of 10,000 visitors").
#
# Starts a real cluster on 127.0.0.1 (nats-server, a main node and two visitor nodes, each
# its own process, configured by `amphi configure`). One participant creates a poll of
# three options; N visitors join through the main node, which spreads them over the two
# visitor nodes; on a signal every visitor votes once, the first votes evenly spread over
# W ms, and P% of them change their mind half a window later. It measures:
#   (a) every vote counted exactly once: the final tally every client holds equals the load
#       generators' own count of each visitor's last vote (and "voters" equals N);
#   (b) the time from the last vote sent to the final tally at each client (max, p99);
#   (c) the bus messages up per visitor node per second: a subscriber on the room's up
#       subject (bench/nats_tap.py) times each message and its kind; nats-server's
#       monitoring (/connz) counts everything each node's connection published;
#   (d) the poll events per second each client received (the most in any one second).
# It prints a table and writes the figures as one JSON object (--json, else $TMP only).
#
# The visitor nodes share CPU 1; NATS, the main node, the load generators and the
# subscriber share CPU 0. The table says how busy CPU 1 was with other things than the
# two nodes during the votes (a machine shared with other work); --nice N starts every
# process of the benchmark at niceness N (e.g. -10, as root) so that such work takes less
# from them.
# Builds nothing: run `make` first (build/amphi, build/loadgen).
#
# usage: bench/poll.sh [--clients N] [--procs L] [--window MS] [--change-pct P]
#                      [--concurrency C] [--seed S] [--nice N] [--json PATH] [--keep] [--perf]
# --perf (implies --keep) records `perf` call graphs of visitor node 1 during the votes.
# The same as environment variables: BENCH_CLIENTS, BENCH_PROCS, BENCH_WINDOW_MS,
# BENCH_CHANGE_PCT, BENCH_CONCURRENCY. AMPHI_BIN and LOADGEN_BIN override the binaries.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AMPHI=${AMPHI_BIN:-$ROOT/build/amphi}
LOADGEN=${LOADGEN_BIN:-$ROOT/build/loadgen}
TAP=$ROOT/bench/nats_tap.py
N=${BENCH_CLIENTS:-10000}
L=${BENCH_PROCS:-2}
WINDOW_MS=${BENCH_WINDOW_MS:-1000}
CHANGE_PCT=${BENCH_CHANGE_PCT:-20}
CONC=${BENCH_CONCURRENCY:-200}
SEED=1
NICE=0
JSON_OUT=
KEEP=0
PERF=0
ROOM=acme/pollbench
SETTLE_S=3           # after the last answer: late poll events still arrive and are timed
JOIN_TIMEOUT_S=600   # the whole join phase
VOTE_TIMEOUT_S=60    # from the signal to the last vote answered

while [ $# -gt 0 ]; do
  case "$1" in
    --clients) N=$2; shift 2 ;;
    --procs) L=$2; shift 2 ;;
    --window) WINDOW_MS=$2; shift 2 ;;
    --change-pct) CHANGE_PCT=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --nice) NICE=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --perf) PERF=1; KEEP=1; shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "poll.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_counts N L WINDOW_MS CONC SEED
if ! [[ $NICE =~ ^-?[0-9]+$ ]] || [ "$NICE" -lt -20 ] || [ "$NICE" -gt 19 ]; then
  echo "poll.sh: --nice must be -20..19, got '$NICE'" >&2
  exit 2
fi
if ! [[ $CHANGE_PCT =~ ^[0-9]+$ ]] || [ "$CHANGE_PCT" -gt 50 ]; then
  echo "poll.sh: --change-pct must be 0..50, got '$CHANGE_PCT'" >&2
  exit 2
fi
need_built "$AMPHI" "$LOADGEN"
TOOLS="nats-server taskset curl ss awk sort getconf python3"
[ $PERF = 0 ] || TOOLS="$TOOLS perf"
# Ports P (main), P+1 and P+2 (visitor nodes), P+3 (NATS), P+4 (NATS monitoring).
# shellcheck disable=SC2086 # a list of names
bench_start amphi-poll 5 $TOOLS
MAIN_PORT=$BASE
MON_PORT=$((BASE + 4))
HZ=$(getconf CLK_TCK)

"$AMPHI" configure --visitor-nodes 2 --bridges 0 --host 127.0.0.1 --base-port "$BASE" \
  --out "$TMP/cluster" >"$TMP/configure.log" 2>&1 ||
  { cat "$TMP/configure.log" >&2; exit 1; }
conf() { sed -n "s/^$1 *= *//p" "$TMP/cluster/$2.conf"; } # key node
NATS_URL=$(conf nats_url main)
NATS_PORT=${NATS_URL##*:}
VIS_PORTS=("$(conf port visitor-1)" "$(conf port visitor-2)")

log "cluster in $TMP/cluster: main :$MAIN_PORT, visitor nodes :${VIS_PORTS[0]} :${VIS_PORTS[1]}," \
  "NATS :$NATS_PORT (monitoring :$MON_PORT)"
NICE_CMD=(nice -n "$NICE") # every process started here
"${NICE_CMD[@]}" taskset -c 0 nats-server -c "$TMP/cluster/nats-server.conf" -m "$MON_PORT" >"$TMP/nats.log" 2>&1 &
NATS_PID=$!
PIDS+=("$NATS_PID")
wait_http "http://127.0.0.1:$MON_PORT/varz" "nats-server" "$NATS_PID" ||
  { tail -3 "$TMP/nats.log" >&2; exit 1; }
"${NICE_CMD[@]}" taskset -c 0 "$AMPHI" serve --config "$TMP/cluster/main.conf" >"$TMP/main.log" 2>&1 &
MAIN_PID=$!
PIDS+=("$MAIN_PID")
VIS_PIDS=()
for k in 1 2; do
  "${NICE_CMD[@]}" taskset -c 1 "$AMPHI" serve --config "$TMP/cluster/visitor-$k.conf" >"$TMP/visitor-$k.log" 2>&1 &
  VIS_PIDS+=($!)
  PIDS+=($!)
done
wait_http "http://127.0.0.1:$MAIN_PORT/healthz" "the main node" "$MAIN_PID" ||
  { tail -20 "$TMP/main.log" >&2; exit 1; }
for k in 1 2; do
  wait_http "http://127.0.0.1:${VIS_PORTS[$((k - 1))]}/healthz" "visitor node $k" \
    "${VIS_PIDS[$((k - 1))]}" || { tail -20 "$TMP/visitor-$k.log" >&2; exit 1; }
done
sleep 2 # a few heartbeats: the main node must know both visitor nodes before redirecting

# Two subscribers: on the up subject with the main node's NATS user (the one allowed to),
# on the room's events with visitor-1's (what the main node emits, before any fan-out).
ROOM_SUBJECT=room.${ROOM%%/*}.${ROOM##*/}
start_tap() { # node subject name
  NATS_TAP_USER=$(conf nats_user "$1") NATS_TAP_PASSWORD=$(conf nats_password "$1") \
    "${NICE_CMD[@]}" taskset -c 0 python3 "$TAP" --port "$NATS_PORT" --subject "$2" \
    --out "$TMP/$3.txt" --ready "$TMP/$3.ready" 2>"$TMP/$3.err" &
  TAP_PIDS+=($!)
  PIDS+=($!)
  for _ in $(seq 100); do
    [ -f "$TMP/$3.ready" ] && return 0
    kill -0 "$!" 2>/dev/null || { echo "poll.sh: the subscriber to $2 exited:" >&2;
                                  cat "$TMP/$3.err" >&2; exit 1; }
    sleep 0.1
  done
  echo "poll.sh: the subscriber to $2 is not subscribed" >&2
  exit 1
}
TAP_PIDS=()
start_tap main "$ROOM_SUBJECT.up" up
start_tap visitor-1 "$ROOM_SUBJECT.ev" ev

# --- the poll and its audience ----------------------------------------------------------
WS=ws://127.0.0.1:$MAIN_PORT/ws
"${NICE_CMD[@]}" taskset -c 0 "$LOADGEN" --main "$WS" --room "$ROOM" --poll-create "Which one?" \
  --poll-options "red,green,blue" --poll-id-file "$TMP/poll.id" --polls-file "$TMP/polls.creator" \
  --hold 900 --name-prefix creator- --quiet --source-ip "$SRC_NET.10" \
  >"$TMP/creator.json" 2>"$TMP/creator.err" &
CREATOR_PID=$!
PIDS+=("$CREATOR_PID")
for _ in $(seq 100); do
  [ -f "$TMP/poll.id" ] && break
  kill -0 "$CREATOR_PID" 2>/dev/null || { echo "poll.sh: the creator exited:" >&2;
                                          cat "$TMP/creator.err" >&2; exit 1; }
  sleep 0.1
done
[ -f "$TMP/poll.id" ] || { echo "poll.sh: no poll created:" >&2; cat "$TMP/creator.err" >&2; exit 1; }
POLL=$(cat "$TMP/poll.id")
log "poll $POLL created"

loadgen_cmd() { # i clients conc
  LG_CMD=("${NICE_CMD[@]}" taskset -c 0 "$LOADGEN" --main "$WS" --room "$ROOM" --clients "$2" --concurrency "$3"
    --hold 900 --name-prefix "lg$1-" --quiet --source-ip "$SRC_NET.$((10 + $1))"
    --ready-file "$TMP/ready.$1" --vote --vote-window "$WINDOW_MS" --change-pct "$CHANGE_PCT"
    --seed "$((SEED * 100 + $1))" --polls-file "$TMP/polls.$1" --voted-file "$TMP/voted.$1")
}
T_JOIN0=$(date +%s.%N)
start_loadgens "$N" "$L" "$CONC" visitors
wait_ready "$L" "$JOIN_TIMEOUT_S" "$MAIN_PID" "the main node" "$TMP/main.log"
T_JOIN1=$(date +%s.%N)
sleep 2 # let the counts settle
VIS_CONNS=()
for k in 0 1; do
  VIS_CONNS+=("$(curl -fsS -m 5 "http://127.0.0.1:${VIS_PORTS[$k]}/metrics" |
    awk '/^amphi_ws_connections/ { print $2 }')")
done
log "joins done in $(awk -v a="$T_JOIN0" -v b="$T_JOIN1" 'BEGIN { printf "%.1f", b - a }') s;" \
  "visitor node 1 holds ${VIS_CONNS[0]:-?}, node 2 ${VIS_CONNS[1]:-?} WebSockets"

# --- the votes --------------------------------------------------------------------------
# What each node's NATS connection has published so far (heartbeats, counts, votes...).
connz_in_msgs() { # node user
  curl -fsS -m 5 "http://127.0.0.1:$MON_PORT/connz?auth=true&limit=1024" |
    python3 -c 'import json, sys
print(sum(c.get("in_msgs", 0) for c in json.load(sys.stdin)["connections"]
          if c.get("authorized_user") == sys.argv[1]))' "$1"
}
# CPU 1's busy ticks, whoever ran (user, nice, system, irq, softirq).
cpu1_busy() { awk '$1 == "cpu1" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
IN0=("$(connz_in_msgs visitor-1)" "$(connz_in_msgs visitor-2)")
BUSY0=$(cpu1_busy)
runq_all() { for p in "${VIS_PIDS[@]}" "${LG_PIDS[@]}"; do runq_ms "$p"; done; }
mapfile -t RUNQ0 < <(runq_all)
CPU0=("$(cpu_ticks "${VIS_PIDS[0]}")" "$(cpu_ticks "${VIS_PIDS[1]}")" "$(cpu_ticks "$MAIN_PID")")
if [ $PERF = 1 ]; then
  perf record -q -g -p "${VIS_PIDS[0]}" -o "$TMP/perf.visitor-1.data" >"$TMP/perf.log" 2>&1 &
  PERF_PID=$!
  PIDS+=("$PERF_PID")
  sleep 0.5 # perf attached
fi
T_VOTE0_US=$(($(date +%s%N) / 1000))
log "$N visitors vote within $WINDOW_MS ms, $CHANGE_PCT% of them twice"
for p in "${LG_PIDS[@]}"; do kill -USR1 "$p"; done
deadline=$((SECONDS + VOTE_TIMEOUT_S))
while :; do
  done_n=0
  for i in $(seq 1 "$L"); do [ -f "$TMP/voted.$i" ] && done_n=$((done_n + 1)); done
  [ "$done_n" = "$L" ] && break
  [ $SECONDS -lt $deadline ] || { log "not every vote answered after ${VOTE_TIMEOUT_S}s"; break; }
  sleep 0.1
done
sleep "$SETTLE_S"
IN1=("$(connz_in_msgs visitor-1)" "$(connz_in_msgs visitor-2)")
BUSY1=$(cpu1_busy)
mapfile -t RUNQ1 < <(runq_all)
CPU1=("$(cpu_ticks "${VIS_PIDS[0]}")" "$(cpu_ticks "${VIS_PIDS[1]}")" "$(cpu_ticks "$MAIN_PID")")
T_END_US=$(($(date +%s%N) / 1000))
if [ $PERF = 1 ]; then
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" || true
fi
ALIVE=yes
for p in "$MAIN_PID" "${VIS_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || ALIVE=no; done

for p in "${LG_PIDS[@]}" "$CREATOR_PID" "${TAP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${LG_PIDS[@]}" "$CREATOR_PID" "${TAP_PIDS[@]}"; do wait "$p" || true; done

# --- results ----------------------------------------------------------------------------
. "$(dirname "${BASH_SOURCE[0]}")/merge.sh" # cpu_s
. "$(dirname "${BASH_SOURCE[0]}")/poll_merge.sh"
poll_merge

PHASE_MS=$(( (T_END_US - T_VOTE0_US) / 1000 ))
WAITED=() # ms each waited for a CPU over the votes: the visitor nodes, then the loadgens
for i in "${!RUNQ1[@]}"; do WAITED+=($((RUNQ1[i] - RUNQ0[i]))); done
W_VIS="${WAITED[0]} and ${WAITED[1]}"
W_LG="${WAITED[*]:2}"
IN_D1=$((IN1[0] - IN0[0]))
IN_D2=$((IN1[1] - IN0[1]))
OTHERS_S=$(awk -v b0="$BUSY0" -v b1="$BUSY1" -v a="$((CPU1[0] + CPU1[1] - CPU0[0] - CPU0[1]))" \
  -v hz="$HZ" 'BEGIN { o = (b1 - b0 - a) / hz; printf "%.2f", o < 0 ? 0 : o }')
OTHERS_PCT=$(awk -v o="$OTHERS_S" -v ms="$PHASE_MS" 'BEGIN { printf "%.0f", 100 * o * 1000 / ms }')
cat <<EOF

=== amphi poll benchmark: $N visitors, one poll, two visitor nodes ===
machine:      $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -r)
layout:       visitor nodes on CPU 1; NATS, main node, $L loadgens, creator, subscribers on CPU 0
visitors:     $JOINED of $N joined (node 1: ${VIS_CONNS[0]:-?}, node 2: ${VIS_CONNS[1]:-?}); errors $ERRORS, drops $DROPS
votes:        $VOTES_SENT written over ${VOTE_SPAN_MS} ms (due over ${QUEUE_SPAN_MS} ms), $N first votes and $((VOTES_SENT - N)) changes; $VOTES_OK ok, $VOTES_ERR refused, the last answered ${ANSWER_AFTER_MS} ms after the last was written
CPU, votes:   visitor node 1 $(cpu_s "${CPU0[0]}" "${CPU1[0]}") s, node 2 $(cpu_s "${CPU0[1]}" "${CPU1[1]}") s, main $(cpu_s "${CPU0[2]}" "${CPU1[2]}") s over $PHASE_MS ms (signal to $SETTLE_S s after the last answer)
waited:       for a CPU, runnable (event-loop threads): visitor nodes $W_VIS ms, loadgens ${W_LG// /, } ms
CPU 1, others: ${OTHERS_S} s (${OTHERS_PCT}% of the core) not charged to the two visitor nodes (other processes; interrupt time, some of it the nodes' own traffic)

| measure | target | measured | verdict |
|---|---|---|---|
| (a) final tally = each visitor's last vote | exact, at every client | expected [$EXPECTED], $TALLY_OK of $CLIENTS clients hold it ("voters": $VOTERS_SEEN clients) | $V_A |
| (b) last vote sent -> final tally, max over clients | <= 1000 ms | ${DELAY_MAX} ms (p99 ${DELAY_P99} ms, p50 ${DELAY_P50} ms) | $V_B |
| (c) bus messages up per visitor node, most in any 1 s | <= 10 | node 1: $UP_MAX_1, node 2: $UP_MAX_2 (votes batches: $BATCHES_1 and $BATCHES_2) | $V_C |
| (d) poll events per client, most in any 1 s | <= 4 | ${EV_MAX_1S} (${EV_MEAN} events per client in all, on average) | $V_D |
| (d') poll events the main node emitted, most in any 1 s | <= 4 | ${EMIT_MAX_1S} (${EMITTED} in all, at least ${EMIT_MIN_GAP_MS} ms apart) | $V_D2 |

the last vote's way: to the last batch up $PATH_VIS_MS ms (visitor node), to the final poll event on the bus $PATH_MAIN_MS ms (main node), to the last client $PATH_FAN_MS ms (fan-out)
up, per node:  every message on $ROOM_SUBJECT.up from the signal on, by second (node 1 | node 2):
               $UP_SECONDS_1 | $UP_SECONDS_2
               votes batches carry ${BATCH_VOTES_MAX} votes at most; ${BUS_PER_VOTE} bus messages up per vote ($UP_VOTES_TOTAL batches for $VOTES_SENT votes)
               nats-server /connz: the nodes' connections published $IN_D1 and $IN_D2 messages over $PHASE_MS ms (with heartbeats and replies to the main node's requests)
visitor nodes alive at the end: $ALIVE
EOF
SUMMARY=$(printf '{"benchmark":"poll","clients":%s,"joined":%s,"visitors_node":[%s,%s],"votes_sent":%s,"votes_ok":%s,"votes_err":%s,"changes":%s,"window_ms":%s,"votes_written_ms":%s,"last_answer_after_ms":%s,"cpu1_others_pct":%s,"runq_wait_ms":{"visitor_nodes":[%s],"loadgens":[%s]},"expected":[%s],"clients_checked":%s,"clients_with_final_tally":%s,"clients_with_all_voters":%s,"final_delay_ms":{"max":%s,"p99":%s,"p50":%s},"final_path_ms":[%s],"up_max_per_s":[%s,%s],"up_vote_batches":[%s,%s],"up_per_s_by_second":[[%s],[%s]],"connz_in_msgs":[%s,%s],"connz_window_ms":%s,"bus_messages_per_vote":%s,"poll_events_max_per_s":%s,"poll_events_emitted":%s,"poll_events_emitted_max_per_s":%s,"poll_events_emitted_min_gap_ms":%s,"poll_events_mean_per_client":%s,"errors":%s,"drops":%s,"alive":%s,"verdict":{"a":"%s","b":"%s","c":"%s","d":"%s","d_emitted":"%s"}}' \
  "$N" "$JOINED" "${VIS_CONNS[0]:-null}" "${VIS_CONNS[1]:-null}" "$VOTES_SENT" "$VOTES_OK" "$VOTES_ERR" \
  "$((VOTES_SENT - N))" "$WINDOW_MS" "$VOTE_SPAN_MS" "$ANSWER_AFTER_MS" "$OTHERS_PCT" "${W_VIS/ and /,}" "${W_LG// /,}" "$EXPECTED" "$CLIENTS" "$TALLY_OK" "$VOTERS_OK" \
  "$DELAY_MAX" "$DELAY_P99" "$DELAY_P50" "$PATH_VIS_MS,$PATH_MAIN_MS,$PATH_FAN_MS" "$UP_MAX_1" "$UP_MAX_2" "$BATCHES_1" "$BATCHES_2" \
  "${UP_SECONDS_1// /,}" "${UP_SECONDS_2// /,}" "$IN_D1" "$IN_D2" \
  "$PHASE_MS" "$BUS_PER_VOTE" "$EV_MAX_1S" "$EMITTED" "$EMIT_MAX_1S" "$EMIT_MIN_GAP_MS" "$EV_MEAN" "$ERRORS" "$DROPS" \
  "$([ $ALIVE = yes ] && echo true || echo false)" "$V_A" "$V_B" "$V_C" "$V_D" "$V_D2")
echo "$SUMMARY"
echo "$SUMMARY" >"$TMP/summary.json"
[ -z "$JSON_OUT" ] || echo "$SUMMARY" >"$JSON_OUT"

if [ "$V_A" != pass ] || [ "$JOINED" != "$N" ] || [ "$ERRORS" != 0 ] || [ "$ALIVE" != yes ]; then
  log "INCOMPLETE or WRONG: see the figures above (--keep keeps the logs)"
  exit 1
fi
