# shellcheck shell=bash
# bench/lib.sh: shell helpers of the benchmark scripts (signaling.sh, peer-prosody.sh,
# media.sh), sourced by them, not run.
#
# The sourcing script sets, before the first call of bench_cleanup: TMP (its temp dir), KEEP (1: keep TMP) and PIDS (every process it
# starts, in order). STOP_TENTHS (default 60) is how long, in tenths of a second, a process
# gets between TERM and KILL. A function cleanup_more, when the script defines one, runs
# after the processes are gone and before TMP is removed.

ME=$(basename "$0") # the prefix of the messages

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# Every process started is stopped, newest first (load, nodes, then what they depend on,
# so that no node logs a lost dependency on the way), whatever way the script ends.
bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local i p
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    p=${PIDS[$i]}
    kill -0 "$p" 2>/dev/null || continue
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq "${STOP_TENTHS:-60}"); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if declare -F cleanup_more >/dev/null; then cleanup_more; fi
  if [ "$KEEP" = 1 ]; then echo "logs and raw data kept in $TMP" >&2; else rm -rf "$TMP"; fi
  exit $rc
}

bench_traps() {
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

wait_http() { # url what pid [tenths]: until the url answers, 10 s by default
  for _ in $(seq "${4:-100}"); do
    curl -fsS -m 1 "$1" >/dev/null 2>&1 && return 0
    kill -0 "$3" 2>/dev/null || { echo "$ME: $2 exited early:" >&2; return 1; }
    sleep 0.1
  done
  echo "$ME: $2 does not answer $1" >&2
  return 1
}

port_free() { ! ss -Htan "sport = :$1" | grep -q .; } # in no state at all: TIME_WAIT blocks a bind too

# BASE: a port P with P .. P+n-1 all free, below the ephemeral range (32768 up here), where
# a benchmark's own tens of thousands of client connections take their local ports. Ends
# the script when 50 tries find none.
free_ports() { # n
  local p k free
  BASE=
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 12000))
    free=1
    for ((k = 0; k < $1; k++)); do port_free $((p + k)) || { free=0; break; }; done
    # shellcheck disable=SC2034 # the caller's
    if [ $free = 1 ]; then BASE=$p; return 0; fi
  done
  echo "$ME: no free port range found" >&2
  exit 1
}

# The start of a run of a cluster benchmark: the tools it needs (or exit 2), TMP (a new temp
# dir /tmp/<stem>.XXXXXX), PIDS (empty) and the traps that stop them, BASE (n free ports)
# and SRC_NET: client source addresses new for every run (127.R.S, each loadgen binding its
# sockets to its own 127.R.S.x, so that the local ports of one process's thousands of
# connections, and the TIME_WAIT ones a previous run left for a minute, are not searched
# by the next).
bench_start() { # stem n tool...
  need_tools "${@:3}"
  TMP=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDS=()
  bench_traps
  free_ports "$2"
  # shellcheck disable=SC2034 # the caller's
  SRC_NET=127.$((1 + RANDOM % 250)).$((RANDOM % 250))
}

# Each variable named holds a positive whole number, or exit 2 saying which does not.
need_counts() { # name...
  local v
  for v; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] && continue
    echo "$ME: $v must be a positive whole number, got '${!v}'" >&2
    exit 2
  done
}

# The built binaries and the tools a script needs, or exit 2 saying which is missing.
need_built() { for b; do [ -x "$b" ] || { echo "$ME: $b not found: run make first" >&2; exit 2; }; done; }
need_tools() { for t; do command -v "$t" >/dev/null || { echo "$ME: $t is needed" >&2; exit 2; }; done; }

# These read /proc, and print 0 for a process that is gone, so that a process dying under
# load still leads to a summary (which says so) rather than to a silent stop.
cpu_ticks() { # utime + stime of a process, in clock ticks (fields 14, 15 of stat)
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# How long the process's first thread (an event loop) has waited runnable for a CPU, in
# ms (the second field of schedstat): what a busy machine took from it.
runq_ms() { awk '{ printf "%.0f\n", $2 / 1e6 }' "/proc/$1/task/$1/schedstat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# --- load from several processes ---------------------------------------------------------

share_of() { # n procs i: how many of n the i-th of procs processes takes (1-based)
  local each=$(($1 / $2))
  [ "$3" -le $(($1 % $2)) ] && each=$((each + 1))
  echo "$each"
}

# Starts procs load generator processes in the background, n clients (what: "visitors"...)
# spread over them, and conc joins in flight in all: the i-th (1-based) is the command that
# `loadgen_cmd i clients conc_each` (the script's) puts in the array LG_CMD, its stdout in
# $TMP/loadgen.<i>.json and stderr in $TMP/loadgen.<i>.err. Their pids go to LG_PIDS and PIDS.
start_loadgens() { # n procs conc what
  local i each=$((($3 + $2 - 1) / $2))
  log "joining $1 $4 from $2 processes ($each joins in flight each)"
  LG_PIDS=()
  for i in $(seq 1 "$2"); do
    loadgen_cmd "$i" "$(share_of "$1" "$2" "$i")" "$each"
    "${LG_CMD[@]}" >"$TMP/loadgen.$i.json" 2>"$TMP/loadgen.$i.err" &
    LG_PIDS+=($!)
    PIDS+=($!)
  done
}

# Until every one of procs load generators has written $TMP/ready.<i> (1-based), at most
# timeout_s seconds. The load generators are those in LG_PIDS; the server is pid, called
# what, logging to log. A load generator or the server that exits, or the time running
# out, ends the script.
wait_ready() { # procs timeout_s pid what log
  local deadline=$((SECONDS + $2)) ready i p
  while :; do
    ready=0
    for i in $(seq 1 "$1"); do [ -f "$TMP/ready.$i" ] && ready=$((ready + 1)); done
    [ "$ready" = "$1" ] && return 0
    for p in "${LG_PIDS[@]}"; do
      kill -0 "$p" 2>/dev/null || { echo "$ME: a loadgen exited during the joins" >&2;
                                    cat "$TMP"/loadgen.*.err >&2; exit 1; }
    done
    kill -0 "$3" 2>/dev/null || { echo "$ME: $4 died" >&2; tail -20 "$5" >&2; exit 1; }
    [ $SECONDS -lt "$deadline" ] || { echo "$ME: joins not done in ${2}s" >&2; exit 1; }
    sleep 0.2
  done
}

# Until the output of the command stays put for a second, at most 120 s: the server may
# still be writing a backlog, whose late receipts are to be counted (with their delay).
wait_steady() { # command...
  local prev cur deadline=$((SECONDS + 120))
  prev=$("$@" || true)
  while [ $SECONDS -lt $deadline ]; do
    sleep 1
    cur=$("$@" || true)
    [ -n "$cur" ] && [ "$cur" = "$prev" ] && return 0
    prev=$cur
  done
}
