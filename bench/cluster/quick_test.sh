#!/usr/bin/env bash
# CTest's quick run of the cluster benchmark (label bench): one short round of every step, then
# a check that every figure was printed for every grid. It asserts nothing about the figures
# themselves: on a shared machine they mean little, and docs/benchmarks.md has the real ones.
# Exit 77 (skipped) without redis-server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
[[ -x ${REDIS_SERVER:-/usr/bin/redis-server} ]] || { echo "redis-server missing"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
nginx=/usr/sbin/nginx
[[ -x $nginx ]] || nginx=""
CONCURRENCY=2 DEPTHS=20 GRANTS=50 CHURN_SECONDS=5 NGINX_BIN=$nginx "$here/run.sh" "$build" 1 1 | tee "$out"
grids="memory redis1 redis2 redis3${nginx:+ nginx3}"
/usr/bin/python3 "$here/stats.py" check "$out" "$grids"
