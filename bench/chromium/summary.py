#!/usr/bin/python3
"""Prints start.sh's table: per target the median session start (with the quartiles) and its
gap to `chromedriver` (a chromedriver already running: the browser's own start) and to
`direct` (selenium-webdriver starting chromedriver itself), each gap the median of the
per-round differences (the targets of a round run back to back, so a load that drifts over
the sitting cancels out); then, per gridhub log given as NAME=PATH, the medians of the node
agent's phases from its node.session_started lines (the first, warm-up session left out) and
of its own share: the node's total less the driver's create.

    summary.py times.jsonl standalone=standalone.log hub+node=node.log
"""
import json
import re
import statistics
import sys

PHASES = re.compile(r"node\.session_started .* in (\d+) ms: (.*)$")
PHASE = re.compile(r"([a-z ]+) (\d+) ms")


def quartiles(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 4], statistics.median(ordered), ordered[3 * len(ordered) // 4]


def print_starts(path):
    rows = [json.loads(line) for line in open(path) if line.startswith("{")]
    runs = {row["target"]: row["ms"] for row in rows}
    print(f"{'target':14} {'median ms':>10} {'p25–p75':>15} {'vs chromedriver':>16} {'vs direct':>10}")
    for row in rows:
        low, mid, high = quartiles(row["ms"])
        gaps = [f"{statistics.median(a - b for a, b in zip(row['ms'], runs[name])):+.0f}"
                if name in runs else "—" for name in ("chromedriver", "direct")]
        print(f"{row['target']:14} {mid:10.0f} {f'{low:.0f}–{high:.0f}':>15} {gaps[0]:>16} "
              f"{gaps[1]:>10}")


def print_phases(name, path):
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


def main():
    print_starts(sys.argv[1])
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        print_phases(name, path)


if __name__ == "__main__":
    main()
