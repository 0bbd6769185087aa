#!/usr/bin/env bash
# `make bench`: the benchmarks of bench/, each against the freshly built binaries. Today
# that is the visitor-node signaling benchmark (docs/PERFORMANCE.md); extra arguments go
# to it, e.g. `make bench` then `bench/run.sh --clients 2000` for a quick run.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/signaling.sh" "$@"
