#!/usr/bin/env bash
# Black-box test of `gridhub check-config`: the example files pass (exit 0, every key printed
# with its source); each broken file exits 2 with exactly one stderr line naming the key, the
# value and the reason. Usage: check_config_test.sh GRIDHUB_BINARY CONFIG_DIR
set -uo pipefail
gridhub=$1
dir=$2
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

for example in hub node standalone; do
  out=$(env -u GRIDHUB_QUEUE_TIMEOUT "$gridhub" check-config "$dir/$example.yaml" 2>&1)
  rc=$?
  [[ $rc -eq 0 ]] || fail "$example.yaml: exit $rc, want 0: $out"
  grep -q '^queue.timeout = "300s" *(file)$' <<<"$out" ||
    [[ $example == node ]] || fail "$example.yaml: queue.timeout not shown from file: $out"
done

# GRIDHUB_* beats the file; a flag beats both.
out=$(GRIDHUB_QUEUE_TIMEOUT=45s "$gridhub" check-config "$dir/hub.yaml" --queue.max-per-run 9)
grep -q '^queue.timeout = "45s" *(env)$' <<<"$out" || fail "env did not override the file: $out"
grep -q '^queue.max-per-run = 9 *(flag)$' <<<"$out" || fail "flag not applied: $out"

# broken file | text the error line must contain (key, value, reason)
cases=(
  'unknown_key.yaml|queue.timout = "30s": unknown key'
  'negative_duration.yaml|queue.timeout = "-5s": negative duration'
  'wrong_type.yaml|server.port = ["1","2"]: wrong type'
  'malformed_caps.yaml|queue.concurrency-caps = "AppA:Chromium=2,AppB": malformed cap list'
  'bad_label.yaml|queue.concurrency-caps[App A] = "App A": '
  'unknown_section.yaml|bogus: unknown section'
  'syntax_error.yaml|not valid YAML'
  'slot_without_driver.yaml|node.slots[0] = '
  'does_not_exist.yaml|cannot read file'
  "bad_state.yaml|hub.state = \"redis://alice:<redacted>@store.example:99999/1\": redis URL: port"
)
for case in "${cases[@]}"; do
  file=${case%%|*}
  want=${case#*|}
  err=$("$gridhub" check-config "$dir/testdata/$file" 2>&1 >/dev/null)
  rc=$?
  [[ $rc -eq 2 ]] || fail "$file: exit $rc, want 2"
  [[ $(wc -l <<<"$err") -eq 1 ]] || fail "$file: want one line, got: $err"
  [[ $err == *"$want"* ]] || fail "$file: error '$err' lacks '$want'"
done

# The Redis password never reaches a printout: not the error line, not the effective settings.
err=$("$gridhub" check-config "$dir/testdata/bad_state.yaml" 2>&1)
[[ $err != *s3cret* ]] || fail "bad_state.yaml: the password is printed: $err"
out=$(GRIDHUB_HUB_STATE='redis://:s3cret@store:6380/2' "$gridhub" check-config "$dir/hub.yaml" 2>&1)
grep -q '^hub.state = "redis://:<redacted>@store:6380/2" *(env)$' <<<"$out" ||
  fail "hub.state not shown redacted from env: $out"
[[ $out != *s3cret* ]] || fail "check-config printed the Redis password: $out"

# A bad flag value is refused the same way.
err=$("$gridhub" check-config "$dir/hub.yaml" --server.port 70000 2>&1 >/dev/null)
[[ $? -eq 2 && $err == *'server.port = "70000": out of range'* ]] || fail "flag range: $err"

[[ $failures -eq 0 ]] && echo "all check-config cases passed"
exit $((failures > 0))
