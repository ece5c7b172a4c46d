#!/usr/bin/env bash
# The hub unit's SystemCallFilter= against what the hub really calls: runs the extracted binary
# under strace with the shipped hub.yaml, answers status, metrics, console, GraphQL, a new
# session it cannot serve and a node registration it refuses, reloads on SIGHUP and stops on
# SIGTERM; every system call made must be in the unit's allow list and outside its deny list
# (under systemd, any other call fails with EPERM). A call missing here means a code path of
# the hub that this run did not reach; the list is a floor, not a proof of every path.
# Usage: hub_syscalls.sh WORK_DIR EXTRACTED_ROOT (called by test_package.sh). Skips (exit 0
# and a SKIP line) without strace or curl.
set -uo pipefail
work=$1
root=$2
for tool in strace curl; do
  command -v "$tool" >/dev/null || { echo "SKIP hub system calls: no $tool"; exit 0; }
done
unit="$root/lib/systemd/system/gridhub-hub.service"

# expand GROUP...: the system calls of filter groups, nested groups included.
expand() {
  local name
  for name in "$@"; do
    # shellcheck disable=SC2046  # one word per system call
    case $name in
      @*) expand $(systemd-analyze syscall-filter "$name" | awk 'NR > 1 && $1 !~ /^#/ {print $1}') ;;
      *) echo "$name" ;;
    esac
  done
}
: >"$work/allow.txt"
: >"$work/deny.txt"
while read -r value; do
  case $value in
    ~*) expand ${value#\~} >>"$work/deny.txt" ;;
    *) expand $value >>"$work/allow.txt" ;;
  esac
done < <(sed -n 's/^SystemCallFilter=//p' "$unit")
[[ -s $work/allow.txt ]] || { echo "FAIL: $unit has no SystemCallFilter allow list"; exit 1; }
comm -23 <(sort -u "$work/allow.txt") <(sort -u "$work/deny.txt") >"$work/permitted.txt"

log="$work/hub.out"
strace -f -qq -e signal=none -o "$work/strace.txt" "$root/usr/bin/gridhub" hub \
  --config "$root/etc/gridhub/hub.yaml" --server.host 127.0.0.1 --server.port 0 \
  --queue.registration-grace 0s >"$log" 2>&1 &
tracer=$!
port=""
for _ in $(seq 200); do  # up to 20 s for the listening line
  port=$(sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\).*|\1|p' "$log" | head -1)
  [[ -n $port ]] && break
  sleep 0.1
done
hub=$(ps -o pid= --ppid "$tracer" | head -1 | tr -d ' ')
if [[ -z $port || -z $hub ]]; then
  echo "FAIL: the hub under strace did not start"
  cat "$log"
  kill -KILL "$tracer" 2>/dev/null
  exit 1
fi
url="http://127.0.0.1:$port"
for path in /status /metrics /ui/ /ui/api/state; do curl -s -o /dev/null "$url$path"; done
curl -s -o /dev/null -X POST "$url/graphql" -d '{"query":"{ grid { uri } }"}'
curl -s -o /dev/null -X POST "$url/session" \
  -d '{"capabilities":{"alwaysMatch":{"browserName":"chrome"}}}'
curl -s -o /dev/null -X POST "$url/nodes" -d '{}'
kill -HUP "$hub"
for _ in $(seq 100); do  # the reload line, up to 10 s
  grep -q 'reload' "$log" && break
  sleep 0.1
done
kill -TERM "$hub"
alive() {  # bash reaps its children itself; a zombie or nothing means gone
  local state
  state=$(ps -o stat= -p "$1") && [[ $state != Z* ]]
}
for _ in $(seq 300); do  # up to 30 s to stop
  alive "$tracer" || break
  sleep 0.1
done
if alive "$tracer"; then
  kill -KILL "$tracer"
  echo "FAIL: the hub did not stop within 30 s of SIGTERM"
  exit 1
fi
wait "$tracer"

grep -oE '^[0-9]+ +[a-z_0-9]+\(' "$work/strace.txt" | awk '{print $2}' | tr -d '(' | sort -u \
  >"$work/used.txt"
refused=$(comm -23 "$work/used.txt" "$work/permitted.txt" | tr '\n' ' ')
if [[ -n $refused ]]; then
  echo "FAIL: the hub calls $refused— outside gridhub-hub.service's SystemCallFilter"
  exit 1
fi
echo "hub system calls: $(wc -l <"$work/used.txt") distinct, all within the unit's filter"
