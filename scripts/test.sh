#!/usr/bin/env bash
# Command (2) of the README: install what is missing, build, run the whole suite with CTest.
#   1. clang build (warnings as errors): unit, integration, end-to-end (real Chromium and
#      Selenium clients) and fuzz tests;
#   2. g++ build of the whole tree (warnings as errors), so both compilers stay clean;
#   3. clang ASan+UBSan build, then 4. clang TSan build: unit and integration tests under each
#      (a sanitizer report in any gridhub process fails its test).
# Each build has its own folder next to ./build (build-gcc, build-asan, build-tsan), reused
# between runs. Every phase runs even when an earlier one failed; the exit status is non-zero if
# any failed. Arguments go to every ctest run (e.g. -R pattern). GRIDHUB_TEST_PHASES limits the
# phases (e.g. "clang asan").
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${GRIDHUB_BUILD_DIR:-$root/build}"
phases="${GRIDHUB_TEST_PHASES:-clang gcc asan tsan}"
# shellcheck source=scripts/configure.sh
source "$root/scripts/configure.sh"

"$root/scripts/install-deps.sh" || exit 1
if [[ -f "$root/tests/clients/js/package.json" ]]; then
  "$root/tests/clients/js/install.sh" || exit 1
fi

failed=()
timings=()
# phase NAME COMMAND...: runs and times one step; a failure is recorded, not fatal.
phase() {
  local name=$1 start=$SECONDS
  shift
  echo "=== test.sh: $name"
  if "$@"; then
    timings+=("$(printf '%-28s %5d s' "$name" $((SECONDS - start)))")
  else
    timings+=("$(printf '%-28s %5d s  FAILED' "$name" $((SECONDS - start)))")
    failed+=("$name")
    return 1
  fi
}

run_ctest() {
  local dir=$1
  shift
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j2 "$@")
}

clang_args=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
# Sanitizer builds: no benchmarks or fuzzers; -O1 and line tables keep them quick to build
# while reports still name file and line.
san_args=(-G Ninja "${clang_args[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
          "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only"
          "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only"
          -DGRIDHUB_WERROR=ON -DGRIDHUB_BUILD_BENCH=OFF -DGRIDHUB_BUILD_FUZZ=OFF
          "${gridhub_linker_args[@]}")
# Unit and integration tests; the browser tests stay on the clang build.
san_ctest=(-LE 'e2e|fuzz' -E '^e2e_')

build_sanitized() {  # DIR SANITIZERS
  gridhub_configure "$root" "$1" "${san_args[@]}" "-DGRIDHUB_SANITIZE=$2" &&
    nice -n 10 cmake --build "$1"
}

# g++ build: only its warnings matter, so no debug info (-g0 saves about a third of its compile
# time); still -O2, which flow warnings such as -Wmaybe-uninitialized need, and -DNDEBUG, as
# CMake's own RelWithDebInfo flags have.
build_gcc() {  # DIR
  gridhub_configure "$root" "$1" -G Ninja -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g0 -DNDEBUG" \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g0 -DNDEBUG" -DGRIDHUB_WERROR=ON \
    -DGRIDHUB_BUILD_FUZZ=OFF "${gridhub_linker_args[@]}" &&
    nice -n 10 cmake --build "$1"
}

for p in $phases; do
  case $p in
    clang)
      phase "clang: build" nice -n 10 "$root/scripts/build.sh" &&
        phase "clang: tests" run_ctest "$build" "$@"
      ;;
    gcc)
      phase "g++: build" build_gcc "$build-gcc"
      ;;
    asan)
      # Reports halt the process; in a child gridhub they go to files that
      # scripts/sanitizer-logs.sh turns into a failed test.
      phase "asan+ubsan: build" build_sanitized "$build-asan" address,undefined &&
        ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        phase "asan+ubsan: tests" run_ctest "$build-asan" "${san_ctest[@]}" "$@"
      ;;
    tsan)
      phase "tsan: build" build_sanitized "$build-tsan" thread &&
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp \
        phase "tsan: tests" run_ctest "$build-tsan" "${san_ctest[@]}" "$@"
      ;;
    *)
      echo "test.sh: unknown phase $p (clang, gcc, asan, tsan)" >&2
      failed+=("$p")
      ;;
  esac
done

echo "=== test.sh: wall time per phase"
printf '%s\n' "${timings[@]}"
if ((${#failed[@]})); then
  echo "=== test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "=== test.sh: all phases passed"
