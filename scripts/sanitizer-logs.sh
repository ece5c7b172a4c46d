#!/usr/bin/env bash
# sanitizer-logs.sh COMMAND...: runs a test command (in a sanitizer build) with every sanitizer
# report written to a file of its own, and fails when any process it started wrote one. A test
# harness may ignore a child `gridhub`'s exit status (a hub stopped with SIGTERM, a crash the
# test expects); a report file it cannot miss. Reports are printed, then kept in
# $GRIDHUB_SANITIZER_LOG_DIR (default: a folder under the system temp directory).
set -uo pipefail
base="${GRIDHUB_SANITIZER_LOG_DIR:-${TMPDIR:-/tmp}}"
mkdir -p "$base"
dir=$(mktemp -d "$base/sanitizer.XXXXXX")
for var in ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS LSAN_OPTIONS; do
  prefix=$(tr '[:upper:]' '[:lower:]' <<<"${var%%_*}")
  export "$var=${!var:+${!var}:}log_path=$dir/$prefix"
done
"$@"
status=$?
shopt -s nullglob
reports=("$dir"/*)
if ((${#reports[@]})); then
  for report in "${reports[@]}"; do
    echo "=== sanitizer report $report"
    cat "$report"
  done
  echo "=== sanitizer-logs.sh: ${#reports[@]} report(s); the test fails"
  ((status)) || status=1
else
  rmdir "$dir"
fi
exit "$status"
