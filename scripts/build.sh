#!/usr/bin/env bash
# Configures (once, or again when the settings below change) and builds gridhub with Ninja into
# ./build, warnings as errors. Prefers clang, which also gives the libFuzzer targets and
# -Wthread-safety checks; falls back to the default compiler. Arguments go to `cmake --build`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${GRIDHUB_BUILD_DIR:-$root/build}"
args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRIDHUB_WERROR=ON)
if command -v clang++ >/dev/null 2>&1; then
  args+=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
fi
# shellcheck source=scripts/configure.sh
source "$root/scripts/configure.sh"
gridhub_configure "$root" "$build" "${args[@]}"
cmake --build "$build" "$@"
