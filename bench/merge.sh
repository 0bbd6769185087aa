# Shared by bench/signaling.sh and bench/peer-prosody.sh: merges what the load generator
# processes wrote into $TMP (loadgen.<i>.json: their JSON lines; speaker.json; delays.<i>:
# one "k delay_us" line per receipt) into the figures both scripts print. Source it, then
# call bench_merge; it reads RSS_BASE and RSS_FULL (the server's VmRSS before and at full
# load, KB), sets JOINED ERRORS DROPS DELIVERIES SPOKEN EXPECTED JSTART JEND JOIN_RATE
# JOIN_WALL D50 D90 D99 DMAX DMIN FIRST_MED SPREAD_MED SPREAD_MAX JOIN_P50 JOIN_P99_MAX
# KB_DELTA KB_TOTAL and writes $TMP/all.json, $TMP/delays.sorted and $TMP/per-chat.txt.

bench_merge() {
  cat "$TMP"/loadgen.*.json >"$TMP/all.json"
  sum() { # field: sum over the listeners' JSON lines
    sed -n "s/.*\"$1\":\\([-0-9.]*\).*/\\1/p" "$TMP/all.json" | awk '{ s += $1 } END { print s + 0 }'
  }
  field() { sed -n "s/.*\"$1\":\\([-0-9.]*\).*/\\1/p" "$2" | head -1; }
  JOINED=$(sum joined)
  ERRORS=$(sum errors)
  DROPS=$(sum drops)
  DELIVERIES=$(sum deliveries)
  SPOKEN=$(field spoken "$TMP/speaker.json")
  SPOKEN=${SPOKEN:-0}
  EXPECTED=$((JOINED * SPOKEN))
  # The join rate over all processes: first join started to last join done, across them.
  JSTART=$(sed -n 's/.*"join_start_us":\([0-9]*\).*/\1/p' "$TMP/all.json" | sort -n | head -1)
  JEND=$(sed -n 's/.*"join_end_us":\([0-9]*\).*/\1/p' "$TMP/all.json" | sort -n | tail -1)
  JOIN_RATE=$(awk -v n="$JOINED" -v a="${JSTART:-0}" -v b="${JEND:-0}" \
    'BEGIN { if (b > a) printf "%.0f", n / ((b - a) / 1e6); else print 0 }')
  JOIN_WALL=$(awk -v a="${JSTART:-0}" -v b="${JEND:-0}" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')

  # Percentiles (nearest rank) over every receipt of every listener process. Each line of
  # a delays file is "k delay_us".
  cat "$TMP"/delays.[0-9]* 2>/dev/null | awk '{ print $2 }' | sort -n >"$TMP/delays.sorted" || true
  pct() {
    local n k
    n=$(wc -l <"$2")
    [ "$n" -gt 0 ] || { echo "n/a"; return; }
    k=$(awk -v p="$1" -v n="$n" 'BEGIN { k = int(p * n + 0.999999); if (k < 1) k = 1; print k }')
    sed -n "${k}p" "$2" | awk '{ printf "%.1f", $1 / 1000 }'
  }
  D50=$(pct 0.50 "$TMP/delays.sorted")
  D90=$(pct 0.90 "$TMP/delays.sorted")
  D99=$(pct 0.99 "$TMP/delays.sorted")
  DMAX=$(pct 1.0 "$TMP/delays.sorted")
  DMIN=$(pct 0.000001 "$TMP/delays.sorted")
  # Per chat: its first receipt (the path speaker -> main -> NATS -> node -> first socket) and
  # its last; last - first is how long one fan-out to every visitor took, end to end.
  cat "$TMP"/delays.[0-9]* 2>/dev/null | awk '
    { if (!($1 in lo) || $2 < lo[$1]) lo[$1] = $2; if ($2 > hi[$1]) hi[$1] = $2 }
    END { for (k in lo) printf "%d %.1f %.1f %.1f\n", k, lo[k] / 1000, hi[k] / 1000, (hi[k] - lo[k]) / 1000 }' |
    sort -n >"$TMP/per-chat.txt" || true
  FIRST_MED=$(awk '{ print $2 }' "$TMP/per-chat.txt" | sort -n | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : "n/a" }')
  SPREAD_MED=$(awk '{ print $4 }' "$TMP/per-chat.txt" | sort -n | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : "n/a" }')
  SPREAD_MAX=$(awk '{ print $4 }' "$TMP/per-chat.txt" | sort -n | awk 'END { print NR ? $1 : "n/a" }')
  JOIN_P50=$(sed -n 's/.*"join_p50_ms":\([-0-9.]*\).*/\1/p' "$TMP/all.json" | sort -n |
    awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  JOIN_P99_MAX=$(sed -n 's/.*"join_p99_ms":\([-0-9.]*\).*/\1/p' "$TMP/all.json" | sort -n | tail -1)
  # The server's memory per joined client: what the load added, and all of it.
  per_client() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (n > 0) printf "%.1f", (a - b) / n; else print "n/a" }'; }
  KB_DELTA=$(per_client "$RSS_FULL" "$RSS_BASE" "$JOINED")
  KB_TOTAL=$(per_client "$RSS_FULL" 0 "$JOINED")
}

cpu_s() { # ticks0 ticks1: the CPU seconds between two cpu_ticks readings (HZ ticks a second)
  awk -v a="$1" -v b="$2" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }'
}
