#!/usr/bin/env bash
# Soak of `gridhub hub` (issue 14): a bounded mixed load for --minutes (default 30), the hub's
# RSS and open fds sampled every 10 s into a CSV, a summary and end-of-run checks (every slot
# free, queue empty, nothing leaked). Not a test; see README.md and docs/benchmarks.md "Soak".
#   bench/soak/run.sh [--minutes 30] [--build DIR] [--csv FILE] [--warmup-minutes 5] [--verbose]
# Needs `gridhub` and `gridhub_fake_node` built in DIR (default $GRIDHUB_BUILD_DIR or ./build):
#   scripts/build.sh --target gridhub gridhub_fake_node
# soak.py starts every process itself and stops each by its pid on any exit, Ctrl-C included
# (its children also get SIGTERM if soak.py itself is killed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${GRIDHUB_BUILD_DIR:-$root/build}
for binary in app/gridhub bench/hub/gridhub_fake_node; do
  if [[ ! -x $build/$binary && " $* " != *" --build "* ]]; then
    echo "run.sh: $build/$binary missing;" \
      "build it (scripts/build.sh --target gridhub gridhub_fake_node)" >&2
    exit 2
  fi
done
exec python3 "$root/bench/soak/soak.py" --build "$build" "$@"
