#!/usr/bin/env bash
# Command (2) of the README: install what is missing, build, run the whole suite with CTest.
#   1. clang build (warnings as errors): unit, integration and end-to-end (real Chromium and
#      Selenium clients) tests;
#   2. clang ASan+UBSan build: unit and integration tests and the fuzzers under it;
#   3. clang TSan build: unit and integration tests under it (a sanitizer report in any
#      gridhub process fails its test);
#   4. g++ build of the whole tree (warnings as errors), so both compilers stay clean.
# The tests mostly wait (on processes, sockets, browsers), so the later builds do not wait for
# them: once the clang build is done, one background chain builds ASan, TSan and g++ in turn at
# the lowest CPU priority while the tests run in the foreground; each test phase starts when its
# build is done. A background build's output goes to <build>/test-sh-build.log, printed when it
# fails. Each build has its own folder next to ./build (build-asan, build-tsan, build-gcc),
# reused between runs. Every phase runs even when an earlier one failed; the exit status is
# non-zero if any failed. Arguments go to every ctest run (e.g. -R pattern).
# GRIDHUB_TEST_PHASES limits the phases (e.g. "clang asan").
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
# record NAME SECONDS STATUS: one line of the closing table; a non-zero STATUS fails NAME.
record() {
  if (($3 == 0)); then
    timings+=("$(printf '%-28s %5d s' "$1" "$2")")
  else
    timings+=("$(printf '%-28s %5d s  FAILED' "$1" "$2")")
    failed+=("$1")
  fi
}

# phase NAME COMMAND...: runs and times one foreground step; a failure is recorded, not fatal.
phase() {
  local name=$1 start=$SECONDS status=0
  shift
  echo "=== test.sh: $name"
  "$@" || status=$?
  record "$name" $((SECONDS - start)) $status
  return $status
}

run_ctest() {
  local dir=$1
  shift
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j2 "$@")
}

clang_args=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
# Sanitizer builds: no benchmarks; -O1 and line tables keep them quick to build while reports
# still name file and line. Only the ASan build has the fuzzers (libFuzzer wants ASan).
san_args=(-G Ninja "${clang_args[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
          "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only"
          "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only"
          -DGRIDHUB_WERROR=ON -DGRIDHUB_BUILD_BENCH=OFF
          "${gridhub_linker_args[@]}")
# Unit and integration tests (and, where built, fuzzers); the browser tests stay on the clang
# build.
san_ctest=(-LE e2e -E '^e2e_')

build_asan() {  # DIR
  gridhub_configure "$root" "$1" "${san_args[@]}" -DGRIDHUB_SANITIZE=address,undefined \
    -DGRIDHUB_BUILD_FUZZ=ON && cmake --build "$1"
}

build_tsan() {  # DIR
  gridhub_configure "$root" "$1" "${san_args[@]}" -DGRIDHUB_SANITIZE=thread \
    -DGRIDHUB_BUILD_FUZZ=OFF && cmake --build "$1"
}

# g++ build: only its warnings matter, so no debug info (-g0 saves about a third of its compile
# time); still -O2, which flow warnings such as -Wmaybe-uninitialized need, and -DNDEBUG, as
# CMake's own RelWithDebInfo flags have.
build_gcc() {  # DIR
  gridhub_configure "$root" "$1" -G Ninja -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g0 -DNDEBUG" \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g0 -DNDEBUG" -DGRIDHUB_WERROR=ON \
    -DGRIDHUB_BUILD_FUZZ=OFF "${gridhub_linker_args[@]}" && cmake --build "$1"
}

wanted() { [[ " $phases " == *" $1 "* ]]; }

for p in $phases; do
  case $p in
    clang | asan | tsan | gcc) ;;
    *)
      echo "test.sh: unknown phase $p (clang, asan, tsan, gcc)" >&2
      failed+=("$p")
      ;;
  esac
done

# The background chain: each wanted build in turn, its log in the build folder, its exit status
# and duration in $marks/<phase> once it is done.
marks=$(mktemp -d)
trap 'rm -rf "$marks"' EXIT
background_builds() {
  local p dir start status
  for p in asan tsan gcc; do
    wanted "$p" || continue
    dir="$build-$p"
    mkdir -p "$dir"
    start=$SECONDS
    status=0
    "build_$p" "$dir" >"$dir/test-sh-build.log" 2>&1 || status=$?
    echo "$status $((SECONDS - start))" >"$marks/$p.tmp"
    mv "$marks/$p.tmp" "$marks/$p"
  done
}

# await_build PHASE: waits for PHASE's background build, records it; fails if the build did.
await_build() {
  local p=$1 status secs name
  name="$(build_name "$p"): build"
  while [[ ! -f "$marks/$p" ]]; do sleep 2; done
  read -r status secs <"$marks/$p"
  echo "=== test.sh: $name (background, ${secs} s)"
  if ((status != 0)); then
    cat "$build-$p/test-sh-build.log"
  fi
  record "$name" "$secs" "$status"
  return "$status"
}

build_name() {
  case $1 in
    asan) echo "asan+ubsan" ;;
    gcc) echo "g++" ;;
    *) echo "$1" ;;
  esac
}

if wanted clang; then
  phase "clang: build" nice -n 10 "$root/scripts/build.sh"
  clang_built=$?
fi
# The chain yields the CPU to the tests: nice 19 gets a sliver of a core against nice 0.
(
  renice -n 19 -p "$BASHPID" >/dev/null
  background_builds
) &
chain=$!
if wanted clang && ((clang_built == 0)); then
  phase "clang: tests" run_ctest "$build" "$@"
fi
if wanted asan && await_build asan; then
  # Reports halt the process; in a child gridhub they go to files that
  # scripts/sanitizer-logs.sh turns into a failed test.
  ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    phase "asan+ubsan: tests" run_ctest "$build-asan" "${san_ctest[@]}" "$@"
fi
if wanted tsan && await_build tsan; then
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp \
    phase "tsan: tests" run_ctest "$build-tsan" "${san_ctest[@]}" "$@"
fi
if wanted gcc; then
  await_build gcc
fi
wait "$chain"

echo "=== test.sh: wall time per phase (background builds overlap the tests)"
printf '%s\n' "${timings[@]}"
echo "total: $SECONDS s"
if ((${#failed[@]})); then
  echo "=== test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "=== test.sh: all phases passed"
