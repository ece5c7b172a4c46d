#!/usr/bin/env python3
"""The table of bench/peer/run.sh.

    table.py RESULTS HELD QUEUED [--check]

RESULTS has one line per measurement, "FIGURE SYSTEM ROUND VALUE" (systems: gridhub, selenium,
nginx, direct). Each cell is the median over rounds (over every session for Chromium); the
"added" rows are medians of each round's difference to the same round's no-hub figure. Ratios
are gridhub's figure divided by the other system's; "> X" marks a cell where a measurement
timed out after X (the ratio is then a bound too). With --check, exits 1 naming every cell
that is missing or not a number (the quick variant's only assertion).
"""

import math
import statistics
import sys
from collections import defaultdict

SYSTEMS = ["gridhub", "selenium", "nginx", "direct"]
HEADERS = ["gridhub", "Selenium Grid 4.48", "nginx (keep-alive upstream)", "no hub"]


def rows(held, queued):
    """(label, figure, systems, format); figure "+X" is X minus the no-hub figure."""
    grids = ["gridhub", "selenium"]
    proxies = ["gridhub", "selenium", "nginx"]
    return [
        ("start-up, process start to ready (ms)", "startup_ms", grids, "{:.0f}"),
        ("RSS idle (MiB)", "rss_idle_mib", grids, "{:.0f}"),
        ("RSS peak under the load steps (MiB)", "rss_load_mib", grids, "{:.0f}"),
        (f"waiters held, of {held:,} sent", "held_count", grids, "{:,.0f}"),
        (f"time to send {held:,} held waiters (s)", "held_s", grids, "{:.1f}"),
        (f"RSS with {held:,} held waiters (MiB)", "rss_held_mib", grids, "{:.0f}"),
        (f"GET /status with {held:,} held waiters (ms)", "status_held_ms", grids, "{:.1f}"),
        *[(f"new-session create+delete cycles/s, {c} client{'s' if c > 1 else ''}",
           f"cycles_c{c}", proxies + ["direct"], "{:,.0f}") for c in (1, 8, 32)],
        *[(f"hub CPU per create+delete cycle, {c} client{'s' if c > 1 else ''} (µs)",
           f"cycle_cpu_c{c}", proxies, "{:,.0f}") for c in (1, 8, 32)],
        *[(f"client + fake node CPU per cycle, {c} clients (µs)", f"cycle_rest_cpu_c{c}",
           proxies + ["direct"], "{:,.0f}") for c in (8, 32)],
        *[(f"proxied command req/s, {c} connection{'s' if c > 1 else ''}", f"cmd_rate_c{c}",
           proxies + ["direct"], "{:,.0f}") for c in (1, 16)],
        ("proxied command p50, 1 connection (µs)", "cmd_p50_c1", proxies + ["direct"], "{:.0f}"),
        ("proxied command added p50, 1 connection (µs)", "+cmd_p50_c1", proxies, "{:+.0f}"),
        *[(f"hub CPU per proxied command, {c} connection{'s' if c > 1 else ''} (µs)",
           f"cmd_cpu_c{c}", proxies, "{:.0f}") for c in (1, 16)],
        (f"{queued:,} waiters on 8 slots, 50 ms sessions: drain (s)", "queue_drain_s", grids,
         "{:.2f}"),
        (f"{queued:,} waiters on 8 slots: p99 wait (ms)", "queue_p99_wait_ms", grids, "{:,.0f}"),
        (f"{queued:,} waiters on 8 slots: FIFO inversions", "queue_inversions", grids, "{:.0f}"),
        ("real Chromium session start, selenium-webdriver (ms)", "chrome_start_ms",
         grids + ["direct"], "{:.0f}"),
        ("real Chromium session start, added over direct (ms)", "+chrome_start_ms", grids,
         "{:+.0f}"),
    ]


lower_bounds = set()  # (figure, system) with a measurement that only says "more than"


def load(path):
    values = defaultdict(lambda: defaultdict(list))  # figure -> system -> [(round, value)]
    with open(path) as f:
        for line in f:
            words = line.split() + ["nan"]  # a step that printed nothing left no value
            figure, system, rnd, value = words[:4]
            bound = value.startswith(">")  # no answer within that time
            try:
                number = float(value.lstrip(">"))
            except ValueError:
                number = math.nan
            values[figure][system].append((rnd, number))
            if bound:
                lower_bounds.add((figure, system))
    return values


def cell(values, figure, system):
    """The median, or None when a measurement is missing or failed."""
    if figure.startswith("+"):
        base = values[figure[1:]]
        direct = [statistics.median(v for r, v in base["direct"] if r == rnd)
                  for rnd, _ in base[system] if any(r == rnd for r, _ in base["direct"])]
        own = [statistics.median(v for r, v in base[system] if r == rnd)
               for rnd, _ in base[system] if any(r == rnd for r, _ in base["direct"])]
        found = [o - d for o, d in zip(own, direct)]
    else:
        found = [v for _, v in values[figure][system]]
    if not found or any(math.isnan(v) for v in found):
        return None
    return statistics.median(found)


def ratio(mine, other):
    if mine is None or other is None or other == 0:
        return "—"
    return f"{mine / other:.2f}×"


def table(values, held, queued):
    lines = ["| figure | " + " | ".join(HEADERS) + " | gridhub ÷ Grid | gridhub ÷ nginx |"
             " gridhub ÷ no hub |", "|---" * (len(HEADERS) + 4) + "|"]
    missing = []
    for label, figure, systems, fmt in rows(held, queued):
        cells = {s: cell(values, figure, s) for s in systems}
        missing += [f"{figure} {s}" for s, v in cells.items() if v is None]
        shown = [("?" if cells[s] is None else
                  ("> " if (figure, s) in lower_bounds else "") + fmt.format(cells[s]))
                 if s in cells else "—" for s in SYSTEMS]
        ratios = [ratio(cells.get("gridhub"), cells[s]) if s in cells else "—"
                  for s in ("selenium", "nginx", "direct")]
        lines.append(f"| {label} | " + " | ".join(shown + ratios) + " |")
    return lines, missing


def main(argv):
    if len(argv) not in (4, 5) or (len(argv) == 5 and argv[4] != "--check"):
        sys.exit(__doc__)
    lines, missing = table(load(argv[1]), int(argv[2]), int(argv[3]))
    print("\n".join(lines))
    if len(argv) == 5:
        for m in missing:
            print("missing:", m)
        return 1 if missing else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
