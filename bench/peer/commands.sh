#!/usr/bin/env bash
# The proxied-command rows of bench/peer/run.sh alone, for a before/after comparison in one
# sitting (issue 14):
#
#   bench/peer/commands.sh [BUILD_DIR [BEFORE_BUILD_DIR]]
#
# The same fast fake node (BUILD_DIR's gridhub_fake_node) behind gridhub from BUILD_DIR, gridhub
# from BEFORE_BUILD_DIR when given (a folder with app/gridhub, e.g. a copy of an older build),
# nginx as a keep-alive reverse proxy, and nothing; ROUNDS rounds (default 3) of each in turn
# (A/B/A/B), each `wrk` on GET /session/{id}/url at 1 and 16 connections for SECONDS_PER_STEP
# seconds (default 4). Prints per round the lines of run.sh's measure_commands, then the medians:
# req/s, p50, p50 added over the fake node of the same round, and hub CPU per request (utime +
# stime of the process, nginx: master and workers, from /proc). CYCLES=1 adds each gridhub's
# new-session create+delete rows (hub_load sessions at 1, 8 and 32 clients, as run.sh does).
set -euo pipefail
peer=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$peer/../.." && pwd)
here=$root/bench/cluster  # lib.sh's folder: its start_nginx reads $here/nginx.conf.in
build=${1:-${GRIDHUB_BUILD_DIR:-$root/build}}
before_build=${2:-}
rounds=${ROUNDS:-3}
cycles=${CYCLES:-0}
seconds=${SECONDS_PER_STEP:-4}
nginx_bin=/usr/sbin/nginx  # lib.sh's start_nginx
tmp=$(mktemp -d)
pids=()
results=$tmp/results
# shellcheck source=bench/cluster/lib.sh
source "$here/lib.sh"
# shellcheck source=bench/peer/steps.sh
source "$peer/steps.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

"$build/bench/hub/gridhub_fake_node" 1 >"$tmp/fake-node.out" &
fast_node_pid=$!
pids+=("$fast_node_pid")
fast_node=$(url_from "$tmp/fake-node.out")
start_nginx "$fast_node"
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)," \
  "$rounds round(s) of ${seconds} s steps; fake node $fast_node, nginx $nginx_url"
systems=(gridhub)
[[ -z $before_build ]] || systems=(before gridhub)
for round in $(seq "$rounds"); do
  echo "# round $round"
  for system in "${systems[@]}"; do
    dir=$build
    [[ $system == before ]] && dir=$before_build
    build=$dir start_gridhub
    ((cycles)) && measure_cycles "$system" "$url" "$sys_pid"
    session=$(new_session "$url" chrome)
    measure_commands "$system" "$url" "${session:-none}" "$sys_pid"
    stop_pid "$sys_pid"
  done
  measure_commands nginx "$nginx_url" fake0 "${nginx_pids[@]}"
  measure_commands direct "$fast_node" fake0
done
echo "# $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$results" "${systems[@]}" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    figure, system, round_, value = line.split()
    rows.setdefault((figure, system), {})[round_] = float(value)
systems = sys.argv[2:] + ["nginx", "direct"]
def med(figure, system):
    values = [v for v in rows.get((figure, system), {}).values() if v == v]
    return statistics.median(values) if values else float("nan")
def added(c, system):
    a, d = rows.get((f"cmd_p50_c{c}", system), {}), rows.get((f"cmd_p50_c{c}", "direct"), {})
    values = [a[r] - d[r] for r in a if r in d]
    return statistics.median(values) if values else float("nan")
print("| figure | " + " | ".join(systems) + " |")
print("|---" * (len(systems) + 1) + "|")
for c in (1, 16):
    print(f"| req/s, c={c} | " + " | ".join(f"{med(f'cmd_rate_c{c}', s):,.0f}" for s in systems) + " |")
    print(f"| p50 µs, c={c} | " + " | ".join(f"{med(f'cmd_p50_c{c}', s):.0f}" for s in systems) + " |")
    print(f"| added p50 µs, c={c} | " + " | ".join(f"{added(c, s):+.0f}" for s in systems[:-1]) + " | 0 |")
    print(f"| CPU µs per request, c={c} | " + " | ".join(f"{med(f'cmd_cpu_c{c}', s):.0f}" for s in systems[:-1]) + " | — |")
for c in (1, 16):
    for s in systems[:-1]:
        per_round = rows.get((f"cmd_cpu_c{c}", s), {})
        print(f"# CPU µs per request, c={c}, {s}, by round: " +
              " ".join(f"{per_round[r]:.0f}" for r in sorted(per_round, key=int)))
grids = sys.argv[2:]
for c in (1, 8, 32):
    if (f"cycles_c{c}", grids[-1]) not in rows:
        continue
    print(f"| create+delete cycles/s, {c} clients | " + " | ".join(f"{med(f'cycles_c{c}', s):,.0f}" for s in grids) + " | — | — |")
    print(f"| hub CPU µs per cycle, {c} clients | " + " | ".join(f"{med(f'cycle_cpu_c{c}', s):.0f}" for s in grids) + " | — | — |")
PY
