#!/usr/bin/env bash
# Runs every libFuzzer harness briefly over its corpus: scripts/run-fuzzers.sh BUILD SECONDS
set -euo pipefail
build=$1 secs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
n=0
for f in "$build"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  seeds="$root/fuzz/corpora/${name#fuzz_}"
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  "$f" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=0 "$work" \
    >"$work.log" 2>&1 || { tail -50 "$work.log"; echo "fuzz: $name FAILED"; exit 1; }
  rm -rf "$work" "$work.log"
  n=$((n+1))
done
echo "fuzz: $n harnesses ran clean"
