#!/usr/bin/python3
"""Prints start.sh's table: per target the median session start (with the quartiles) and its
gap to `chromedriver` (a chromedriver already running: the browser's own start) and to
`direct` (selenium-webdriver starting chromedriver itself), each gap the median of the
per-round differences (the targets of a round run back to back, so a load that drifts over
the sitting cancels out); then, per gridhub log given as NAME=PATH, the medians of the node
agent's phases from its node.session_started lines (the first, warm-up session left out), of
its own share (the node's total less the driver's create) and of the time outside it (each
start as the client saw it less the node's total for that session: client, hub, loopback).

Then, per target with chromedriver logs under WORK/<target>/ (session-*.log, any depth), the
median of each start less chromedriver's own InitSession time for it (COMMAND to RESPONSE in
the log): what the client and the grid add around the browser's start, which the browser's
own spread (hundreds of ms on a busy machine) cannot hide.

    summary.py times.jsonl WORK standalone=standalone.log hub+node=node.log
"""
import glob
import os
import json
import re
import statistics
import sys

PHASES = re.compile(r"node\.session_started .* in (\d+) ms: (.*)$")
PHASE = re.compile(r"([a-z ]+) (\d+) ms")
INIT = re.compile(r"^\[(\d+\.\d+)\]\[INFO\]: \[\w+\] (COMMAND|RESPONSE) InitSession")


def init_sessions(folder):
    """(start, seconds) of every InitSession in the chromedriver logs under `folder`."""
    found = []
    for path in glob.glob(os.path.join(folder, "**", "session-*.log"), recursive=True):
        begun = None
        for line in open(path, errors="replace"):
            match = INIT.match(line)
            if match and match.group(2) == "COMMAND":
                begun = float(match.group(1))
            elif match and begun is not None:
                found.append((begun, float(match.group(1)) - begun))
                begun = None
    return sorted(found)


def print_outside_driver(work, starts):
    print("added around chromedriver's own InitSession (start less InitSession), median ms:")
    for name, ms in starts.items():
        inits = init_sessions(os.path.join(work, name))[1:]  # the first: warm-up
        if len(inits) != len(ms):
            continue
        added = statistics.median(c - 1000 * s for c, (_, s) in zip(ms, inits))
        init = statistics.median(1000 * s for _, s in inits)
        print(f"  {name:14} {added:6.0f}   (InitSession itself {init:.0f})")


def quartiles(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 4], statistics.median(ordered), ordered[3 * len(ordered) // 4]


def print_starts(rows):
    runs = {row["target"]: row["ms"] for row in rows}
    print(f"{'target':14} {'median ms':>10} {'p25–p75':>15} {'vs chromedriver':>16} {'vs direct':>10}")
    for row in rows:
        low, mid, high = quartiles(row["ms"])
        gaps = [f"{statistics.median(a - b for a, b in zip(row['ms'], runs[name])):+.0f}"
                if name in runs else "—" for name in ("chromedriver", "direct")]
        print(f"{row['target']:14} {mid:10.0f} {f'{low:.0f}–{high:.0f}':>15} {gaps[0]:>16} "
              f"{gaps[1]:>10}")


def print_phases(name, path, starts):
    seen = {}
    for line in open(path, errors="replace"):
        match = PHASES.search(line)
        if not match:
            continue
        phases = {"node total": int(match.group(1))}
        phases.update((key.strip(), int(ms)) for key, ms in PHASE.findall(match.group(2)))
        phases["node's share"] = phases["node total"] - phases.get("create", 0)
        for key, ms in phases.items():
            seen.setdefault(key, []).append(ms)
    if not seen:
        print(f"{name}: no phases in its log (a build without them)")
        return
    sessions = len(seen["node total"])
    parts = []
    for key, values in seen.items():
        part = f"{key} {statistics.median(values[1:] or values):.0f}"
        if len(values) < sessions:
            part += f" (in {len(values)} of {sessions} sessions)"
        parts.append(part)
    print(f"{name} node agent, median ms: " + ", ".join(parts))
    # The n-th counted start is the node's (n+1)-th session: the first was the warm-up.
    totals = seen["node total"][1:]
    if starts and len(totals) == len(starts):
        outside = statistics.median(c - t for c, t in zip(starts, totals))
        print(f"{name} outside the node agent (client, hub, loopback), median ms: {outside:.0f}")


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
    print_starts(rows)
    starts = {row["target"]: row["ms"] for row in rows}
    print_outside_driver(sys.argv[2], starts)
    for arg in sys.argv[3:]:
        name, path = arg.split("=", 1)
        print_phases(name, path, starts.get(name))


if __name__ == "__main__":
    main()
