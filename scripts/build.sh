#!/usr/bin/env bash
# Configures (once, or again when the settings below change) and builds gridhub with Ninja into
# ./build, warnings as errors. Prefers clang, which also gives -Wthread-safety checks; falls
# back to the default compiler. (The libFuzzer targets are built by scripts/test.sh's ASan
# build, not here.) Arguments go to `cmake --build`.
# Debug info is line tables only (-gline-tables-only): stack traces, sanitizer reports and
# gdb's backtraces still name function, file and line, for a fifth less compile time and half
# the object size of full -g (no variables or types for a debugger to print; configure a build
# folder by hand with -g for that). -O2 -DNDEBUG as in CMake's own RelWithDebInfo flags.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${GRIDHUB_BUILD_DIR:-$root/build}"
args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRIDHUB_WERROR=ON
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG"
      "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG")
if command -v clang++ >/dev/null 2>&1; then
  args+=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
fi
# shellcheck source=scripts/configure.sh
source "$root/scripts/configure.sh"
gridhub_configure "$root" "$build" "${args[@]}" "${gridhub_linker_args[@]}"
cmake --build "$build" "$@"
