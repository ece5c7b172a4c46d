"""GET /metrics and /ui across three real hubs on one real Redis (docs/scale-out.md
"Metrics and the console"): the grid's gauges are the whole grid's on every hub, each hub's
own series carry hub="<its id>", and the console built at the dispatcher counts commands
proxied by the other hubs. A single hub's /metrics keeps its shape, with no hub label.

Every process is started by the test on free loopback ports and stopped by pid."""

import os
import re
import subprocess
import time
import unittest

from cluster_fixture import ClusterTestCase
from hubtest import HubTestCase, call, call_json, wait_for

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
CHROME_SLOT = [{"id": "s", "maxSessions": 4, "label": "chrome",
                "stereotype": {"browserName": "chrome"}}]
CHROME = {"browserName": "chrome"}
PROMTOOL = "/usr/bin/promtool"  # Debian's prometheus package; the lint is skipped without it
GRID_GAUGES = ("gridhub_queue_length", "gridhub_label_concurrency_limit", "gridhub_slots",
               "gridhub_slot_utilization_ratio", "gridhub_sessions_active", "gridhub_nodes")
# What one hub's GET /metrics showed before several hubs existed (taken from that build): its
# families in order, with the label names of their series (histograms by their base name).
SINGLE_HUB_SHAPE = [
    ("gridhub_session_requests_total", {("label",)}),
    ("gridhub_session_request_outcomes_total", {("label", "outcome")}),
    ("gridhub_commands_total", {("class",)}),
    ("gridhub_session_events_total", {("event", "label")}),
    ("gridhub_websocket_upgrades_total", {("kind", "outcome")}),
    ("gridhub_websocket_bytes_total", {("direction",)}),
    ("gridhub_build_info", {("version",)}),
    ("gridhub_session_request_duration_seconds", {("label",), ("label", "le")}),
    ("gridhub_queue_wait_seconds", {("label",), ("label", "le")}),
    ("gridhub_command_duration_seconds", {(), ("le",)}),
    ("gridhub_queue_length", {("label",)}),
    ("gridhub_label_concurrency_limit", {("label",)}),
    ("gridhub_slots", {("label", "state")}),
    ("gridhub_slot_utilization_ratio", {("label",)}),
    ("gridhub_sessions_active", {("label",)}),
    ("gridhub_nodes", {("availability",)}),
    ("gridhub_websockets_open", {("kind",)}),
    ("process_cpu_seconds_total", {()}),
    ("process_open_fds", {()}),
    ("process_resident_memory_bytes", {()}),
    ("process_start_time_seconds", {()}),
]


def scrape_lines(hub):
    status, _, payload = call("GET", hub.url + "/metrics")
    assert status == 200, (status, payload)
    return payload.decode().splitlines()


def parse(lines):
    """{(name, frozenset(labels)): value}; fails on a series shown twice in one scrape."""
    samples = {}
    for line in lines:
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        key = (m.group(1), frozenset(LABEL.findall(m.group(2) or "")))
        assert key not in samples, f"series twice in one scrape: {line}"
        samples[key] = float(m.group(3))
    return samples


def scrape(hub):
    return parse(scrape_lines(hub))


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def base_name(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def shape(lines):
    """[(family, {sorted label names of its series})] in the order the scrape shows them."""
    families, labels = [], {}
    for line in lines:
        if line.startswith("# TYPE "):
            families.append(line.split()[2])
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            names = tuple(sorted(k for k, _ in LABEL.findall(m.group(2) or "")))
            labels.setdefault(base_name(m.group(1)), set()).add(names)
    return [(f, labels.get(f, set())) for f in families]


class ClusterMetricsTest(ClusterTestCase):
    def dispatcher_of(self, hubs, ids):
        def known():
            flags = {h: value(scrape(h), "gridhub_dispatcher", hub=ids[h]) for h in hubs}
            values = list(flags.values())
            return flags if None not in values and sorted(values) == [0, 0, 1] else None
        flags = wait_for(known, 10, "exactly one hub to say it is the dispatcher")
        return next(h for h in hubs if flags[h] == 1)

    def test_grid_gauges_are_the_whole_grid_on_every_hub_and_own_series_carry_the_hub(self):
        hubs = a, b, c = self.start_cluster()
        ids = {h: self.hub_id(h) for h in hubs}
        self.assertEqual(len(set(ids.values())), 3, ids)
        node = self.start_node()
        a.register(node, slots=CHROME_SLOT)
        sids = []
        for _ in range(2):
            status, body = a.new_session(CHROME)
            self.assertEqual(status, 200, body)
            sids.append(body["value"]["sessionId"])

        def grid_seen(hub):
            s = scrape(hub)
            seen = (value(s, "gridhub_sessions_active", label="chrome"),
                    value(s, "gridhub_slots", label="chrome", state="busy"),
                    value(s, "gridhub_slots", label="chrome", state="available"),
                    value(s, "gridhub_slot_utilization_ratio", label="chrome"),
                    value(s, "gridhub_nodes", availability="up"),
                    value(s, "gridhub_queue_length", label="chrome"))
            return s if seen == (2, 2, 2, 0.5, 1, 0) else None

        # A front hub's copy is at most a second old (GridGaugeSource).
        grid = {h: wait_for(lambda h=h: grid_seen(h), 5, "the grid's gauges on every hub")
                for h in hubs}
        dispatcher = self.dispatcher_of(hubs, ids)
        for h in hubs:
            s = grid[h]
            build = [(ls, v) for (n, ls), v in s.items() if n == "gridhub_build_info"]
            self.assertEqual(len(build), 1, build)
            self.assertIn(("hub", ids[h]), build[0][0])
            self.assertEqual(build[0][1], 1)
            for (name, labels), _ in s.items():
                has_hub = any(k == "hub" for k, _ in labels)
                if name in GRID_GAUGES or name.startswith("process_"):
                    self.assertFalse(has_hub, (name, labels))
                else:
                    self.assertIn(("hub", ids[h]), labels, name)
        if os.path.exists(PROMTOOL):
            for h in hubs:
                lint = subprocess.run([PROMTOOL, "check", "metrics"], capture_output=True,
                                      input="\n".join(scrape_lines(h)) + "\n", text=True,
                                      timeout=30)
                self.assertEqual((lint.returncode, lint.stdout, lint.stderr), (0, "", ""))
        # The grid's series are the same series with the same values from every hub.
        grid_series = [{k: v for k, v in grid[h].items() if k[0] in GRID_GAUGES} for h in hubs]
        self.assertEqual(grid_series[0], grid_series[1])
        self.assertEqual(grid_series[0], grid_series[2])
        # Requests are counted where they are decided: at the dispatcher, once each.
        total = sum(value(grid[h], "gridhub_session_requests_total", hub=ids[h], label="chrome")
                    or 0 for h in hubs)
        self.assertEqual(total, 2)
        self.assertEqual(value(grid[dispatcher], "gridhub_session_requests_total",
                               hub=ids[dispatcher], label="chrome"), 2)

        # Commands are counted by the hub that proxied them.
        sent = {a: 0, b: 3, c: 2}
        for h, n in sent.items():
            for _ in range(n):
                status, body = call_json("POST", f"{h.url}/session/{sids[0]}/url",
                                         {"url": "about:blank"})
                self.assertEqual(status, 200, body)
        for h, n in sent.items():
            s = scrape(h)
            self.assertEqual(value(s, "gridhub_commands_total", hub=ids[h], **{"class": "2xx"}),
                             n, h.url)
            self.assertEqual(value(s, "gridhub_command_duration_seconds_count", hub=ids[h]), n)
        self.assertEqual(len([p for m, p, _ in node.commands if p.endswith("/url")]), 5)

        for sid in sids:
            self.assertEqual(call_json("DELETE", f"{c.url}/session/{sid}")[0], 200)
        for h in hubs:
            wait_for(lambda h=h: value(scrape(h), "gridhub_sessions_active", label="chrome") == 0,
                     5, "the ended sessions to leave every hub's gauges")

    def test_console_counts_commands_proxied_by_another_hub(self):
        hubs = self.start_cluster()
        ids = {h: self.hub_id(h) for h in hubs}
        dispatcher = self.dispatcher_of(hubs, ids)
        front = next(h for h in hubs if h is not dispatcher)
        other = next(h for h in hubs if h is not dispatcher and h is not front)
        node = self.start_node()
        front.register(node, slots=CHROME_SLOT)
        status, body = front.new_session(CHROME)
        self.assertEqual(status, 200, body)
        sid = body["value"]["sessionId"]

        def session_in_console(hub):
            status, state = call_json("GET", hub.url + "/ui/api/state")
            assert status == 200, (status, state)
            found = [s for n in state["nodes"] for slot in n["slots"] for s in slot["sessions"]
                     if s["id"] == sid]
            return found[0] if found else None

        self.assertIsNone(wait_for(lambda: session_in_console(other), 5,
                                   "the session in the console")["lastCommandAt"])
        before = time.time()
        status, _ = call_json("POST", f"{front.url}/session/{sid}/url", {"url": "about:blank"})
        self.assertEqual(status, 200)

        def stamped():
            s = session_in_console(other)
            return s if s["lastCommandAt"] is not None else None

        # Sent at once after a quiet spell; the console itself refreshes every 2 s.
        session = wait_for(stamped, 2.0, "the front hub's command in the dispatcher's console")
        self.assertGreaterEqual(session["lastCommandAt"], before - 1)
        self.assertLessEqual(session["lastCommandAt"], time.time() + 1)
        self.assertEqual(call_json("DELETE", f"{front.url}/session/{sid}")[0], 200)

    def test_peer_routes_are_refused_to_anyone_but_a_hub_of_the_grid(self):
        hubs = self.start_cluster()
        for h in hubs:
            self.assertEqual(call("GET", h.url + "/peer/grid-gauges")[0], 404)
            self.assertEqual(call("POST", h.url + "/peer/activity", {"sessions": []})[0], 404)


class SingleHubMetricsShapeTest(HubTestCase):
    def test_single_hub_metrics_keep_their_shape_without_a_hub_label(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node, slots=CHROME_SLOT)
        status, body = hub.new_session(CHROME)
        self.assertEqual(status, 200, body)
        sid = body["value"]["sessionId"]
        self.assertEqual(call_json("POST", f"{hub.url}/session/{sid}/url",
                                   {"url": "about:blank"})[0], 200)
        lines = scrape_lines(hub)
        self.assertEqual(shape(lines), SINGLE_HUB_SHAPE)
        samples = parse(lines)
        self.assertEqual(value(samples, "gridhub_commands_total", **{"class": "2xx"}), 1)
        self.assertEqual(value(samples, "gridhub_sessions_active", label="chrome"), 1)
        self.assertEqual(call("GET", hub.url + "/peer/grid-gauges")[0], 404)


if __name__ == "__main__":
    unittest.main()
