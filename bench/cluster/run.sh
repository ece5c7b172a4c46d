#!/usr/bin/env bash
# Cluster benchmark: the hub load benchmark (bench/hub/run.sh) with 1, 2 and 3 hubs on one Redis
# (hub.state: redis://...), beside the in-memory hub, on the same fake nodes.
#
# For each grid — memory, redis x1, redis x2, redis x3, and redis x3 behind nginx — it measures
#   - create+delete cycles/s (hub_load, clients spread round-robin over the hubs), hub CPU per
#     cycle (utime+stime of every hub process from /proc/<pid>/stat), Redis CPU per cycle, and
#     Redis commands per cycle (INFO commandstats, total calls over the step / cycles);
#   - dispatch with a deep queue (queue_churn): DELETE -> grant of the label's oldest waiter, with
#     WAITERS queued over 100 labels, its time, hub CPU and Redis commands per grant
#     (memory, redis x1 and redis x3; a fresh grid for each depth, killed after it).
# Every figure is the median of ROUNDS rounds. Every process (redis-server with a scratch dir,
# hubs, fake nodes, nginx) is started here on free loopback ports and stopped by pid.
#
# Usage: bench/cluster/run.sh [BUILD_DIR] [SECONDS_PER_STEP] [ROUNDS]
#   CONCURRENCY="1 8"  client threads per throughput step
#   DEPTHS="100 1000 10000"  waiters queued for the churn steps; each round at most GRANTS=1000
#   grants and CHURN_SECONDS=10 seconds
#   NGINX_BIN=/usr/sbin/nginx  (empty: skip the nginx grid; not NGINX, which nginx itself reads)
#   GRIDS="memory redis1 redis2 redis3 nginx3"  grids of the throughput steps (empty: none)
#   CHURN_GRIDS="memory redis1 redis3"  grids of the deep-queue steps (empty: none)
# The quick variant (CTest, bench/cluster/CMakeLists.txt) runs
#   CONCURRENCY=2 DEPTHS=20 GRANTS=50 bench/cluster/run.sh BUILD 1 1
# and checks that every figure was printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-${GRIDHUB_BUILD_DIR:-$root/build}}
seconds=${2:-3}
rounds=${3:-3}
concurrency=${CONCURRENCY:-1 8}
depths=${DEPTHS:-100 1000 10000}
grants=${GRANTS:-1000}
churn_seconds=${CHURN_SECONDS:-10}
labels=100
grids=${GRIDS-memory redis1 redis2 redis3 nginx3}
churn_grids=${CHURN_GRIDS-memory redis1 redis3}
nginx_bin=${NGINX_BIN-/usr/sbin/nginx}
redis_bin=${REDIS_SERVER:-/usr/bin/redis-server}
tmp=$(mktemp -d)
pids=()      # everything this script started, stopped by pid at the end
hub_pids=()  # the current grid's hubs
# shellcheck source=bench/cluster/lib.sh
source "$here/lib.sh"
trap cleanup EXIT

start_fixtures
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "# redis $redis_port (pid $redis_pid), fake nodes $fast_node $queue_node"
for grid in $grids; do
  [[ $grid == nginx3 && -z $nginx_bin ]] && continue
  start_grid "$grid"
  for c in $concurrency; do
    for r in $(seq "$rounds"); do measure_sessions "$grid" "$c" "$r"; done
  done
  stop_grid
done
for grid in $churn_grids; do
  for w in $depths; do
    start_grid "$grid"
    measure_churn "$grid" "$w" "$rounds"
    stop_grid KILL
  done
done
summarise "$tmp/results"
