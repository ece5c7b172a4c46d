#!/usr/bin/env bash
# Configures (once) and builds gridhub with Ninja into ./build. Prefers clang, which also gives
# the libFuzzer target and -Wthread-safety checks; falls back to the default compiler.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${GRIDHUB_BUILD_DIR:-$root/build}"
if [[ ! -f "$build/build.ninja" ]]; then
  cc_args=()
  if command -v clang++ >/dev/null 2>&1; then
    cc_args=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
  fi
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cc_args[@]}"
fi
cmake --build "$build" "$@"
