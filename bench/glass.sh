#!/usr/bin/env bash
# Glass-to-glass delay of amphi's web client in the browser (docs/PERFORMANCE.md, "Glass to
# glass in the browser"): bench/glass/glass.mjs in Debian's Chromium, inside a private network
# namespace with only lo, against real processes (nats-server, main node, visitor node, a
# bridge alone on CPU 1). Prints a table; writes JSON.
#
# usage: bench/glass.sh [--seconds S] [--promotes N] [--load R] [--json FILE]
#   --seconds S   seconds measured per phase [30]
#   --promotes N  promote click -> video playing, repeated N times [10]
#   --load R      receivers of media_loadgen for the loaded phase [600]; 0: none
#   --load-reading  those receivers read their media (default: they drop it, --sink, so
#                 the browser is not starved of CPU by them)
#   --json FILE   where the figures go [glass.json in the current folder]
#   --peer P      janus: also Janus 1.1.2's VideoRoom demo page, idle, same clock [janus]; none
# Needs root (unshare -n), build/amphi and build/media_loadgen (make build), chromium,
# nats-server, and tests/browser/node_modules (npm ci there); installs the Debian packages
# with apt-get when missing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "glass.sh: needs root (network namespace)" >&2; exit 1; }
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v nats-server >/dev/null || need+=(nats-server)
command -v node >/dev/null || need+=(nodejs npm)
# the peer: Janus's VideoRoom demo page (--peer janus, the default)
command -v janus >/dev/null || need+=(janus)
[ -f /usr/share/janus/demos/videoroomtest.html ] || need+=(janus-demos)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The package enables a system-wide Janus; the benchmark runs its own, with its own config.
command -v systemctl >/dev/null && systemctl disable --now janus >/dev/null 2>&1 || true
[ -x "${AMPHI_BIN:-$ROOT/build/amphi}" ] || { echo "glass.sh: build/amphi missing: make build" >&2; exit 1; }
[ -x "${MEDIA_LOADGEN_BIN:-$ROOT/build/media_loadgen}" ] || { echo "glass.sh: build/media_loadgen missing: make build" >&2; exit 1; }
[ -d "$ROOT/tests/browser/node_modules/playwright-core" ] || (cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund)
args=("$@")
has_json=0
for a in "$@"; do [ "$a" = --json ] && has_json=1; done
[ $has_json = 1 ] || args+=(--json "$PWD/glass.json")
exec "$ROOT/tests/browser/run-in-netns.sh" node "$ROOT/bench/glass/glass.mjs" "${args[@]}"
