#!/usr/bin/env bash
# Hub load benchmark: starts `gridhub hub` and a fast fake W3C node on free ports, registers the
# node (64 sessions), then measures
#   - new-session throughput (create+delete cycles) at concurrency 1, 8 and 32, and
#   - proxied-command latency through the hub vs the fake node directly (hub-added latency).
# Usage: bench/hub/run.sh [BUILD_DIR] [SECONDS_PER_STEP]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${GRIDHUB_BUILD_DIR:-$root/build}}
seconds=${2:-5}
commands=${COMMANDS:-5000}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

url_from() {  # waits (bounded) for the "... listening on URL" line in $1
  for _ in $(seq 100); do
    if grep -q "listening on" "$1" 2>/dev/null; then
      sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$1" | head -1
      return
    fi
    sleep 0.05
  done
  echo "no listening line in $1" >&2
  exit 1
}

"$build/bench/hub/gridhub_fake_node" 1 >"$tmp/node.out" &
pids+=($!)
"$build/app/gridhub" hub --server.port 0 --server.host 127.0.0.1 \
  --queue.registration-grace 0s >"$tmp/hub.out" 2>"$tmp/hub.err" &
pids+=($!)
node=$(url_from "$tmp/node.out")
hub=$(url_from "$tmp/hub.out")
curl -sf -X POST "$hub/nodes" -H 'Content-Type: application/json' -d "{\"id\":\"fast\",\"uri\":\"$node\",\"healthCheck\":\"status\",
  \"slots\":[{\"id\":\"s\",\"maxSessions\":64,\"stereotype\":{\"browserName\":\"chrome\"}}]}" >/dev/null

echo "# hub $hub, fake node $node, $(nproc) cores"
for c in 1 8 32; do
  "$build/bench/hub/hub_load" sessions "$hub" "$c" "$seconds"
done
session=$(curl -sf -X POST "$hub/session" -H 'Content-Type: application/json' \
  -d '{"capabilities":{"alwaysMatch":{"browserName":"chrome"}}}' |
  sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
for c in 1 8; do
  echo "# direct to the fake node"
  "$build/bench/hub/hub_load" commands "$node" "$session" "$c" "$commands"
  echo "# through the hub"
  "$build/bench/hub/hub_load" commands "$hub" "$session" "$c" "$commands"
done
