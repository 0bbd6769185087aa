#!/bin/sh
# Runs a command in a fresh network namespace whose only interface is lo, up, so that WebRTC
# can gather loopback candidates and nothing else. Needs root (or CAP_SYS_ADMIN) for unshare.
#   tests/browser/run-in-netns.sh                    the media browser test
#   tests/browser/run-in-netns.sh CMD [ARGS...]      CMD, from the current directory
set -eu
if [ $# -eq 0 ]; then
  cd "$(dirname "$0")"
  set -- node --test media.netns.mjs
fi
if ! unshare -n true 2>/dev/null; then
  echo "run-in-netns.sh: cannot create a network namespace (unshare -n needs root)" >&2
  exit 1
fi
exec unshare -n -- sh -c 'ip link set lo up && exec "$@"' sh "$@"
