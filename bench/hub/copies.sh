#!/usr/bin/env bash
# How many times the hub copies a large proxied answer in user space: runs `gridhub hub` with the
# copy_count.so shim preloaded (it counts the bytes of every memcpy/memmove of 4 KiB or more),
# proxies COUNT screenshots of BYTES bytes (default 20 x 5 MiB) from gridhub_fake_node to curl,
# and prints copied bytes / proxied bytes, net of a run that proxies no screenshot.
# Usage: bench/hub/copies.sh [BUILD_DIR] [COUNT] [BYTES]   (GRIDHUB=path: another hub binary)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${GRIDHUB_BUILD_DIR:-$root/build}}
count=${2:-20}
bytes=${3:-$((5 << 20))}
tmp=$(mktemp -d)
pids=()
# shellcheck source=bench/cluster/lib.sh
source "$root/bench/cluster/lib.sh"  # cleanup, url_from
trap cleanup EXIT

GRIDHUB_FAKE_SCREENSHOT_BYTES=$bytes "$build/bench/hub/gridhub_fake_node" 1 >"$tmp/node.out" &
pids+=($!)
node=$(url_from "$tmp/node.out")

copied_with() {  # SCREENSHOTS: prints the bytes the hub copied in large calls over one run
  local shots=$1 hub hub_pid session i
  GRIDHUB_COPY_COUNT_OUT="$tmp/count" LD_PRELOAD="$build/bench/hub/libgridhub_copy_count.so" \
    "${GRIDHUB:-$build/app/gridhub}" hub --server.port 0 --server.host 127.0.0.1 \
    --queue.registration-grace 0s >"$tmp/hub.out" 2>"$tmp/hub.err" &
  hub_pid=$!
  pids+=("$hub_pid")
  hub=$(url_from "$tmp/hub.out")
  curl -sf -X POST "$hub/nodes" -H 'Content-Type: application/json' \
    -d "{\"id\":\"fast\",\"uri\":\"$node\",\"healthCheck\":\"status\",
         \"slots\":[{\"id\":\"s\",\"maxSessions\":4,\"stereotype\":{\"browserName\":\"chrome\"}}]}" \
    >/dev/null
  session=$(curl -sf -X POST "$hub/session" -H 'Content-Type: application/json' \
    -d '{"capabilities":{"alwaysMatch":{"browserName":"chrome"}}}' |
    sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
  for ((i = 0; i < shots; i++)); do
    got=$(curl -sf "$hub/session/$session/screenshot" | wc -c)
    [[ $got -gt $bytes ]] || { echo "screenshot $i came back with $got bytes" >&2; exit 1; }
  done
  curl -sf -X DELETE "$hub/session/$session" >/dev/null
  kill -TERM "$hub_pid"
  wait "$hub_pid" || true
  read -r copied _ <"$tmp/count"
  echo "$copied"
}

base=$(copied_with 0)
with=$(copied_with "$count")
awk -v base="$base" -v with="$with" -v n="$count" -v b="$bytes" 'BEGIN {
  printf "answer body %d bytes, %d answers proxied\n", b, n
  printf "hub copies per answer (user space, memcpy/memmove >= 4 KiB): %.2f\n", (with - base) / (n * b)
}'
