#!/usr/bin/env bash
# Installs the Debian packages amphi needs to build, run and test, when they are missing.
# Called by `make` (and so by `make run` and `make check`). As a non-root user it only
# reports what is missing. Usage: scripts/install-deps.sh [build|check]
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config
  libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libjansson-dev libssl-dev
  libsrtp2-dev libnats-dev libinih-dev libwslay-dev)
check_pkgs=(nats-server libcmocka-dev clang clang-tidy libclang-rt-14-dev
  python3 python3-pytest python3-websockets python3-aiortc python3-av python3-numpy
  iproute2 procps chromium nginx openssl coturn nftables)

want=("${build_pkgs[@]}")
[ "${1:-build}" = check ] && want+=("${check_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the browser tests; a machine may have them from elsewhere than
# Debian (the image's nodesource build bundles npm), so look for the commands.
if [ "${1:-build}" = check ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "amphi: missing Debian packages (run as root to install): ${missing[*]}" >&2
  exit 1
fi
echo "amphi: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# apt-get update once: a fresh machine may have no package lists yet.
apt-get update -qq
# Packages with a daemon (nginx, nats-server) would start it at once on its default port;
# the tests run their own, so nothing starts while installing.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
