#!/usr/bin/env bash
# Runs clang-tidy with the checks of .clang-tidy over every tracked C file of src/:
# scripts/run-tidy.sh BUILD JOBS. BUILD holds the compile_commands.json `make build` writes.
# One file per clang-tidy process, JOBS at a time: given several files, one process carries
# analyzer state from file to file and reports va_lists as uninitialized that are not. Any
# warning is an error and fails the run.
set -euo pipefail
build=$1 jobs=$2
cd "$(dirname "$0")/.."
command -v clang-tidy >/dev/null || { echo "tidy: clang-tidy is missing" >&2; exit 1; }
[ -f "$build/compile_commands.json" ] || { echo "tidy: no $build/compile_commands.json" >&2; exit 1; }
n=$(git ls-files -- 'src/*.c' | wc -l)
# Each file's report printed in one piece; "N warnings generated." only counts the warnings
# hidden in system headers, so it is dropped.
if git ls-files -z -- 'src/*.c' | xargs -0 -n 1 -P "$jobs" sh -c '
    out=$(clang-tidy --quiet -p "$0" --warnings-as-errors="*" "$1" 2>&1) && rc=0 || rc=$?
    printf "%s\n" "$out" | grep -v -e "warnings\{0,1\} generated\.$" -e "^$" || true
    exit $rc' "$build"; then
  echo "tidy: $n files clean"
else
  echo "tidy: FAILED: fix the warnings above, or mark a wrong one NOLINTNEXTLINE(check) with why" >&2
  exit 1
fi
