#!/usr/bin/env bash
# snapshot.sh DIR PHASE: writes DIR/PHASE.ticks ("HUB REDIS NGINX": utime+stime in clock ticks,
# summed over $SNAP_HUB_PIDS, $SNAP_REDIS_PID, and $SNAP_NGINX_PIDS with their children) and
# DIR/PHASE.cmdstats (INFO commandstats of the Redis on $SNAP_REDIS_PORT). A script of its own
# because queue_churn runs it as $CHURN_HOOK (adding the phase) around its timed loop.
set -euo pipefail
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hub=0
nginx=0
for pid in ${SNAP_HUB_PIDS:-}; do hub=$((hub + $(ticks "$pid"))); done
for pid in ${SNAP_NGINX_PIDS:-}; do
  nginx=$((nginx + $(ticks "$pid")))
  read -ra children <"/proc/$pid/task/$pid/children" || true  # one line of pids
  for child in "${children[@]}"; do nginx=$((nginx + $(ticks "$child"))); done
done
mkdir -p "$1"
echo "$hub $(ticks "$SNAP_REDIS_PID") $nginx" >"$1/$2.ticks"
redis-cli -p "$SNAP_REDIS_PORT" info commandstats >"$1/$2.cmdstats"
