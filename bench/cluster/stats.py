#!/usr/bin/env python3
"""Figures of bench/cluster/run.sh.

    stats.py step DIR COUNT [TAG]  # per-cycle CPU and Redis commands from
                                   # DIR/{begin,end}TAG.{ticks,cmdstats}
    stats.py summary RESULTS    # medians over rounds, one line per grid and step
    stats.py check OUTPUT GRIDS # run.sh's output has every figure for every grid (quick test)

A tick file holds "HUB REDIS NGINX": utime+stime in clock ticks, summed over the processes.
Redis commands are the `calls` of INFO commandstats, end minus begin, without INFO itself
(the snapshots' own calls), over COUNT cycles or grants.
"""

import os
import re
import statistics
import sys
from collections import defaultdict


def read_calls(path):
    calls = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
            if m:
                calls[m.group(1)] = int(m.group(2))
    return calls


def step(folder, count, tag=""):
    count = int(count or 0)
    try:
        begin = [int(x) for x in open(os.path.join(folder, f"begin{tag}.ticks")).read().split()]
        end = [int(x) for x in open(os.path.join(folder, f"end{tag}.ticks")).read().split()]
        calls0 = read_calls(os.path.join(folder, f"begin{tag}.cmdstats"))
        calls1 = read_calls(os.path.join(folder, f"end{tag}.cmdstats"))
    except (OSError, ValueError):
        return "incomplete=1"
    if count <= 0:
        return "incomplete=1"
    tick = os.sysconf("SC_CLK_TCK")
    hub, redis, nginx = ((e - b) * 1e6 / tick / count for b, e in zip(begin, end))
    delta = {k: v - calls0.get(k, 0) for k, v in calls1.items() if k != "info"}
    delta = {k: v for k, v in delta.items() if v > 0}
    total = sum(delta.values()) / count
    parts = ",".join(f"{k}:{v / count:.2f}" for k, v in sorted(delta.items(), key=lambda kv: -kv[1]))
    return (f"hub_cpu_us={hub:.0f} redis_cpu_us={redis:.0f} nginx_cpu_us={nginx:.0f} "
            f"redis_cmds={total:.2f} per_command={parts or '-'}")


NUMBER = re.compile(r"^-?[0-9.]+")


def summary(path):
    groups = defaultdict(list)
    order = []
    with open(path) as f:
        for line in f:
            words = line.split()
            fields = dict(w.split("=", 1) for w in words[1:] if "=" in w)
            key = (words[0], fields.get("grid"), fields.get("c") or fields.get("waiters"))
            if key not in groups:
                order.append(key)
            groups[key].append(fields)
    for key in order:
        rows = groups[key]
        kind, grid, arg = key
        shown = ["rate", "p50", "p99", "p90", "hub_cpu_us", "redis_cpu_us", "nginx_cpu_us",
                 "redis_cmds"]
        out = [f"{kind} grid={grid} {'c' if kind == 'sessions' else 'waiters'}={arg} "
               f"rounds={len(rows)}"]
        for name in shown:
            values = [float(NUMBER.match(r[name]).group()) for r in rows
                      if name in r and NUMBER.match(r[name])]
            if values:
                out.append(f"{name}={statistics.median(values):g}")
        if any("incomplete" in r or "failures" in r and r["failures"] != "0" for r in rows):
            out.append("INCOMPLETE")
        breakdown = rows[len(rows) // 2].get("per_command")
        if breakdown and breakdown != "-":
            out.append(f"per_command={breakdown}")
        print(" ".join(out))


def check(path, grids):
    """Every grid has a complete sessions line; memory, redis1 and redis3 a complete churn line."""
    lines = [l.split() for l in open(path) if l.startswith(("sessions ", "churn "))]
    missing = []
    for grid in grids.split():
        wanted = [("sessions", ["rate", "p50", "hub_cpu_us", "redis_cmds"])]
        if grid in ("memory", "redis1", "redis3"):
            wanted.append(("churn", ["rate", "p50", "p90", "hub_cpu_us", "redis_cmds"]))
        for kind, names in wanted:
            found = [w for w in lines if w[0] == kind and f"grid={grid}" in w]
            if not found or "INCOMPLETE" in found[-1]:
                missing.append(f"{kind} {grid}: no complete line")
                continue
            fields = dict(x.split("=", 1) for x in found[-1] if "=" in x)
            missing += [f"{kind} {grid}: no {n}" for n in names if n not in fields]
            if grid != "memory" and float(fields.get("redis_cmds", 0)) <= 0:
                missing.append(f"{kind} {grid}: no Redis command counted")
    for m in missing:
        print("missing:", m)
    return 1 if missing else 0


if __name__ == "__main__":
    if len(sys.argv) in (4, 5) and sys.argv[1] == "step":
        print(step(*sys.argv[2:]))
    elif len(sys.argv) == 3 and sys.argv[1] == "summary":
        summary(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
