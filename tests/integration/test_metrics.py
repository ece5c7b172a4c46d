"""GET /metrics through the real hub: exact counters after immediate, queued and refused
requests and proxied commands; the wait histogram counts every granted request; gauges agree
with /status; undeclared labels are `other`; the endpoint stays open with a client token."""

import json
import os
import re
import unittest

from hubtest import AsyncRequest, HubTestCase, call, call_json

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
OUTCOMES = ("success", "timeout", "queue_full", "run_limit", "unsatisfiable", "no_wait",
            "cancelled", "failed")


def scrape(hub, headers=None):
    """(content type, {(name, frozenset(labels)): value}) of one GET /metrics."""
    status, hdrs, payload = call("GET", hub.url + "/metrics", headers=headers)
    assert status == 200, (status, payload)
    samples = {}
    for line in payload.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return hdrs.get("content-type", ""), samples


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    if key not in samples:
        raise AssertionError(f"no series {name}{labels}")
    return samples[key]


def total(samples, name, **labels):
    """Sum of every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


class MetricsTest(HubTestCase):
    def test_counters_histograms_and_gauges_after_real_traffic(self):
        hub = self.start_hub("--queue.max-per-label", "1")
        node = self.start_node()
        hub.register(node, slots=[{"id": "s0", "stereotype": {"browserName": "chrome"}}])

        content_type, before = scrape(hub)
        self.assertTrue(content_type.startswith("text/plain; version=0.0.4"), content_type)
        # The slot declared "chrome": every chrome series exists, at 0, before any request.
        self.assertEqual(value(before, "gridhub_session_requests_total", label="chrome"), 0)
        for outcome in OUTCOMES:
            self.assertEqual(value(before, "gridhub_session_request_outcomes_total",
                                   label="chrome", outcome=outcome), 0)
        self.assertEqual(value(before, "gridhub_queue_wait_seconds_count", label="chrome"), 0)
        self.assertEqual(value(before, "gridhub_slots", label="chrome", state="available"), 1)
        build_info = [(ls, v) for (n, ls), v in before.items() if n == "gridhub_build_info"]
        self.assertEqual(len(build_info), 1)
        self.assertEqual(build_info[0][1], 1)
        self.assertRegex(dict(build_info[0][0])["version"], r"^\d+\.\d+\.\d+")

        # 1: served at once.
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        first = body["value"]["sessionId"]
        # 2: waits for the busy slot.
        waiter = AsyncRequest(hub.new_session, {"browserName": "chrome"}, timeout=20)
        hub.wait_queue_length(1)
        _, waiting = scrape(hub)
        self.assertEqual(value(waiting, "gridhub_queue_length", label="chrome"), 1)
        self.assertEqual(value(waiting, "gridhub_queue_length", label="chrome"),
                         hub.status()["queueSize"])
        # 3: refused, the label's backlog is full (max-per-label 1).
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 500, body)
        self.assertIn("max-per-label", body["value"]["message"])
        # 4: refused, fail fast.
        status, body = hub.new_session({"browserName": "chrome"}, headers={"X-No-Wait": "true"})
        self.assertEqual(status, 500, body)
        # 5: a label no slot or cap declares, refused as unsatisfiable: counted as "other".
        status, body = hub.new_session({"browserName": "firefox"})
        self.assertEqual(status, 500, body)

        # Commands: one relayed, one to an unknown session, then DELETE frees the slot.
        self.assertEqual(call_json("GET", f"{hub.url}/session/{first}/url")[0], 200)
        self.assertEqual(call_json("GET", f"{hub.url}/session/nope/url")[0], 404)
        self.assertEqual(call_json("DELETE", f"{hub.url}/session/{first}")[0], 200)
        status, body = waiter.result()
        self.assertEqual(status, 200, body)

        _, m = scrape(hub)
        self.assertEqual(value(m, "gridhub_session_requests_total", label="chrome"), 4)
        self.assertEqual(value(m, "gridhub_session_requests_total", label="other"), 1)
        self.assertNotIn(("gridhub_session_requests_total", frozenset({("label", "firefox")})),
                         m)
        expected = {"success": 2, "queue_full": 1, "no_wait": 1}
        for outcome in OUTCOMES:
            self.assertEqual(value(m, "gridhub_session_request_outcomes_total", label="chrome",
                                   outcome=outcome), expected.get(outcome, 0), outcome)
        self.assertEqual(value(m, "gridhub_session_request_outcomes_total", label="other",
                               outcome="unsatisfiable"), 1)
        # Every request with an outcome is in the duration histogram; only granted ones wait.
        self.assertEqual(value(m, "gridhub_session_request_duration_seconds_count",
                               label="chrome"), 4)
        granted = value(m, "gridhub_session_request_outcomes_total", label="chrome",
                        outcome="success")
        self.assertEqual(value(m, "gridhub_queue_wait_seconds_count", label="chrome"), granted)
        self.assertEqual(value(m, "gridhub_queue_wait_seconds_bucket", label="chrome", le="+Inf"),
                         granted)
        self.assertGreater(value(m, "gridhub_queue_wait_seconds_sum", label="chrome"), 0)
        self.assertEqual(value(m, "gridhub_queue_wait_seconds_count", label="other"), 0)

        self.assertEqual(value(m, "gridhub_commands_total", **{"class": "2xx"}), 2)
        self.assertEqual(value(m, "gridhub_commands_total", **{"class": "4xx"}), 1)
        self.assertEqual(value(m, "gridhub_commands_total", **{"class": "5xx"}), 0)
        self.assertEqual(value(m, "gridhub_command_duration_seconds_count"), 3)

        # Gauges against /status, read after the scrape (nothing changes in between).
        status_value = hub.status()
        busy = sum(1 for n in status_value["nodes"] for s in n["slots"] if s["session"])
        free = sum(1 for n in status_value["nodes"] if n["availability"] == "UP"
                   for s in n["slots"] if not s["session"])
        self.assertEqual(total(m, "gridhub_slots", state="busy"), busy)
        self.assertEqual(total(m, "gridhub_slots", state="available"), free)
        self.assertEqual(value(m, "gridhub_slots", label="chrome", state="busy"), 1)
        self.assertEqual(value(m, "gridhub_slot_utilization_ratio", label="chrome"), 1)
        self.assertEqual(total(m, "gridhub_sessions_active"), busy)
        self.assertEqual(total(m, "gridhub_queue_length"), status_value["queueSize"])
        self.assertEqual(value(m, "gridhub_nodes", availability="up"), len(status_value["nodes"]))
        self.assertEqual(value(m, "gridhub_nodes", availability="draining"), 0)
        self.assertEqual(value(m, "gridhub_nodes", availability="down"), 0)
        for name in ("process_resident_memory_bytes", "process_open_fds",
                     "process_start_time_seconds"):
            self.assertGreater(value(m, name), 0, name)
        self.assertGreaterEqual(value(m, "process_cpu_seconds_total"), 0)

    def test_open_with_a_client_token_and_caps_declare_labels(self):
        hub = self.start_hub("--hub.client-token", "ct",
                             "--queue.concurrency-caps", "AppA:UAT=2")
        self.assertEqual(call_json("GET", hub.url + "/queue")[0], 401)
        _, m = scrape(hub)  # no Authorization header
        self.assertEqual(value(m, "gridhub_label_concurrency_limit", label="appa:uat"), 2)
        self.assertEqual(value(m, "gridhub_session_requests_total", label="appa:uat"), 0)
        self.assertEqual(value(m, "gridhub_queue_length", label="appa:uat"), 0)
        self.assertEqual(value(m, "gridhub_nodes", availability="up"), 0)
        self.assertEqual(call("POST", hub.url + "/metrics", body=b"")[0], 405)

    def test_dashboard_and_scrape_config_use_what_the_hub_exports(self):
        hub = self.start_hub()
        hub.register(self.start_node())
        _, m = scrape(hub)
        exported = {name for name, _ in m}
        config_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config")
        with open(os.path.join(config_dir, "grafana-dashboard.json")) as f:
            dashboard = json.load(f)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        self.assertGreater(len(exprs), 10)
        for expr in exprs:
            for name in re.findall(r"\b((?:gridhub|process)_[a-z_]+)", expr):
                self.assertIn(name, exported, expr)
        with open(os.path.join(config_dir, "prometheus.yml")) as f:
            scrape_config = f.read()
        self.assertIn('"localhost:4444"', scrape_config)
        self.assertIn("metrics_path: /metrics", scrape_config)


if __name__ == "__main__":
    unittest.main()
