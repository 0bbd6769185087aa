# shellcheck shell=bash disable=SC2034 # what it sets is for the script that sources it
# bench/poll_merge.sh: the figures of bench/poll.sh from what its processes wrote into $TMP,
# sourced by it, not run. poll_merge reads
#   loadgen.<i>.json   the voting load generators' result lines (vote_counts: each of their
#                      visitors' last vote counted per option; last_vote_us: when the last
#                      vote was sent, CLOCK_REALTIME)
#   polls.<i>, polls.creator   one line per client: "tally voters changed_us events max_1s"
#   up.txt, ev.txt     nats_tap.py's lines of the room's up subject and of its events:
#                      "recv_us type node n_votes bytes"
# and T_VOTE0_US, T_END_US (the signal to vote, the end of the measurement), N. It sets
# JOINED ERRORS DROPS VOTES_SENT VOTES_OK VOTES_ERR VOTE_SPAN_MS QUEUE_SPAN_MS ANSWER_AFTER_MS
# EXPECTED CLIENTS TALLY_OK
# VOTERS_OK VOTERS_SEEN DELAY_MAX DELAY_P99 DELAY_P50 EV_MAX_1S EV_MEAN UP_MAX_<k> BATCHES_<k>
# UP_SECONDS_<k> (k = 1, 2: visitor-<k>) BATCH_VOTES_MAX UP_VOTES_TOTAL BUS_PER_VOTE EMITTED
# EMIT_MAX_1S EMIT_MIN_GAP_MS PATH_VIS_MS PATH_MAIN_MS PATH_FAN_MS (ms: the last vote to the
# last batch up, then to the final event on the bus, then to the last client) and the verdicts V_A V_B V_C V_D V_D2 (pass or FAIL).

poll_merge() {
  cat "$TMP"/loadgen.*.json >"$TMP/all.json"
  psum() { # field: its sum over the voting load generators
    sed -n "s/.*\"$1\":\\([-0-9.]*\).*/\\1/p" "$TMP/all.json" | awk '{ s += $1 } END { print s + 0 }'
  }
  JOINED=$(psum joined)
  ERRORS=$(( $(psum errors) + $(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' "$TMP/creator.json") ))
  DROPS=$(psum drops)
  VOTES_SENT=$(psum votes_sent)
  VOTES_OK=$(psum votes_ok)
  VOTES_ERR=$(psum votes_err)
  LAST_VOTE_US=$(sed -n 's/.*"last_vote_us":\([0-9]*\).*/\1/p' "$TMP/all.json" | sort -n | tail -1)
  last_of() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$TMP/all.json" | sort -n | tail -1; }
  LAST_QUEUED_US=$(last_of last_queued_us)
  LAST_ANSWER_US=$(last_of last_answer_us)
  VOTE_SPAN_MS=$(( (${LAST_VOTE_US:-$T_VOTE0_US} - T_VOTE0_US) / 1000 ))
  QUEUE_SPAN_MS=$(( (${LAST_QUEUED_US:-$T_VOTE0_US} - T_VOTE0_US) / 1000 ))
  ANSWER_AFTER_MS=$(( (${LAST_ANSWER_US:-0} - ${LAST_VOTE_US:-0}) / 1000 ))
  # The truth: each visitor's last vote, per option, summed over the processes.
  EXPECTED=$(sed -n 's/.*"vote_counts":"\([0-9,]*\)".*/\1/p' "$TMP/all.json" | awk -F, '
    { for (i = 1; i <= NF; i++) { s[i] += $i; if (NF > n) n = NF } }
    END { for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? "," : ""), s[i] }')

  # Every client (the visitors and the creator): does it hold the expected tally, and since
  # when relative to the last vote sent.
  cat "$TMP"/polls.* >"$TMP/polls.all"
  CLIENTS=$(wc -l <"$TMP/polls.all")
  TALLY_OK=$(awk -v e="$EXPECTED" '$1 == e' "$TMP/polls.all" | wc -l)
  VOTERS_OK=$(awk -v n="$N" '$2 == n' "$TMP/polls.all" | wc -l)
  VOTERS_SEEN=$(awk '{ print $2 }' "$TMP/polls.all" | sort -n | uniq -c |
    awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')
  awk -v l="${LAST_VOTE_US:-0}" '{ printf "%.1f\n", ($3 - l) / 1000 }' "$TMP/polls.all" |
    sort -n >"$TMP/final-delays.sorted"
  pick() { # p: nearest rank of final-delays.sorted
    awk -v p="$1" '{ a[NR] = $1 } END { if (!NR) { print "null"; exit }
      k = int(p * NR + 0.999999); if (k < 1) k = 1; print a[k] }' "$TMP/final-delays.sorted"
  }
  DELAY_MAX=$(pick 1.0)
  DELAY_P99=$(pick 0.99)
  DELAY_P50=$(pick 0.50)
  EV_MAX_1S=$(awk '$5 > m { m = $5 } END { print m + 0 }' "$TMP/polls.all")
  EV_MEAN=$(awk '{ s += $4 } END { printf "%.1f", NR ? s / NR : 0 }' "$TMP/polls.all")

  # The messages up, per node, from the signal to the end: by whole second since the
  # signal, and the most within any one second (a sliding window over their times).
  max_1s() { # file of lines whose first field is a time in us: the most within one second
    awk '{ t[NR] = $1; while (t[NR] - t[j + 1] >= 1000000) j++
           if (NR - j > m) m = NR - j } END { print m + 0 }' "$1"
  }
  for k in 1 2; do
    local node=visitor-$k
    awk -v t0="$T_VOTE0_US" -v t1="$T_END_US" -v node="$node" \
      '$3 == node && $1 >= t0 && $1 <= t1' "$TMP/up.txt" >"$TMP/up.$k"
    printf -v "UP_MAX_$k" '%s' "$(max_1s "$TMP/up.$k")"
    printf -v "BATCHES_$k" '%s' "$(awk '$2 == "votes"' "$TMP/up.$k" | wc -l)"
    printf -v "UP_SECONDS_$k" '%s' "$(awk -v t0="$T_VOTE0_US" -v t1="$T_END_US" '
        { c[int(($1 - t0) / 1000000)]++ }
        END { n = int((t1 - t0) / 1000000); for (s = 0; s <= n; s++) printf "%s%d", (s ? " " : ""), c[s] + 0 }' \
      "$TMP/up.$k")"
  done
  BATCH_VOTES_MAX=$(awk '$2 == "votes" && $4 > m { m = $4 } END { print m + 0 }' "$TMP/up.1" "$TMP/up.2")
  UP_VOTES_TOTAL=$((BATCHES_1 + BATCHES_2))
  BUS_PER_VOTE=$(awk -v b="$UP_VOTES_TOTAL" -v v="$VOTES_SENT" 'BEGIN { printf "%.5f", v ? b / v : 0 }')

  # The poll events as the main node put them on the bus.
  awk -v t0="$T_VOTE0_US" -v t1="$T_END_US" '$2 == "poll" && $1 >= t0 && $1 <= t1' \
    "$TMP/ev.txt" >"$TMP/ev.poll"
  EMITTED=$(wc -l <"$TMP/ev.poll")
  EMIT_MAX_1S=$(max_1s "$TMP/ev.poll")
  # Where the time from the last vote to the last client went: to the last batch up (read
  # by a visitor node, held for its batch), to the final poll event on the bus (applied,
  # coalesced by the main node), to the last client (fanned out, read by the load).
  LAST_BATCH_US=$(awk '$2 == "votes" && $1 > m { m = $1 } END { printf "%.0f", m }' "$TMP/up.1" "$TMP/up.2")
  FINAL_EV_US=$(awk 'END { printf "%.0f", $1 }' "$TMP/ev.poll")
  read -r PATH_VIS_MS PATH_MAIN_MS PATH_FAN_MS < <(awk -v v="${LAST_VOTE_US:-0}" \
    -v b="$LAST_BATCH_US" -v e="$FINAL_EV_US" -v d="$DELAY_MAX" \
    'BEGIN { printf "%.0f %.0f %.0f\n", (b - v) / 1000, (e - b) / 1000, d - (e - v) / 1000 }')
  EMIT_MIN_GAP_MS=$(awk 'NR > 1 && (g == "" || $1 - p < g) { g = $1 - p } { p = $1 }
    END { printf "%.0f", g == "" ? 0 : g / 1000 }' "$TMP/ev.poll")

  verdict() { if [ "$1" = 1 ]; then echo pass; else echo FAIL; fi; }
  V_A=$(verdict "$([ "$TALLY_OK" = "$CLIENTS" ] && [ "$CLIENTS" -gt 0 ] && [ "$VOTES_OK" = "$VOTES_SENT" ] &&
    [ "$(awk -v e="$EXPECTED" 'BEGIN { n = split(e, a, ","); for (i = 1; i <= n; i++) s += a[i]; print s }')" = "$N" ] &&
    awk -v n="$N" '$2 != n { bad = 1 } END { exit bad }' "$TMP/polls.all" && echo 1)")
  V_B=$(verdict "$(awk -v d="$DELAY_MAX" 'BEGIN { print (d != "null" && d + 0 <= 1000) }')")
  V_C=$(verdict "$([ "$UP_MAX_1" -le 10 ] && [ "$UP_MAX_2" -le 10 ] && echo 1)")
  V_D=$(verdict "$([ "$EV_MAX_1S" -le 4 ] && echo 1)")
  V_D2=$(verdict "$([ "$EMIT_MAX_1S" -le 4 ] && echo 1)")
}
