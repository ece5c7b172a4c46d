"""config/grafana-dashboard.json proven against a real Prometheus scraping the real hub.

A `prometheus` (Debian's package) runs on a kernel-chosen loopback port with a scratch TSDB and
a generated config that scrapes the hub every second. The hub, with fake nodes, is put in a
known state: sessions created, used and ended, N requests held in the queue by a concurrency
cap, refusals for queue_full, run_limit and unsatisfiable, one request timed out, a session
event and a refused WebSocket upgrade. Once Prometheus has scraped that state (polled through
its query API, bounded), every PromQL expression of the dashboard runs through /api/v1/query,
Grafana variables substituted, all evaluated at the instant of that scrape: each must succeed
with data, and the panels that show counts must show what the test did. `promtool check
metrics` must have nothing to say about a raw scrape.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import wsclient
from process_tree import stop_gracefully
from hubtest import AsyncRequest, HubTestCase, call, call_json, wait_for

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config",
                         "grafana-dashboard.json")
# Grafana's built-in variables, as Grafana would set them for this dashboard's default time
# range (the last hour) with a 1 s scrape interval: $__rate_interval is at least four scrape
# intervals, and $__range covers everything this test did.
BUILTINS = {"__rate_interval": "1m", "__interval": "5s", "__range": "1h"}
WAITERS = 3  # N: chrome requests held in the queue (= queue.max-per-label)


class Prometheus:
    """A `prometheus` process scraping `target` (host:port) every second, with its own folder."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="gridhub-prometheus-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: gridhub\n    metrics_path: /metrics\n"
                    f"    static_configs:\n      - targets: [\"{target}\"]\n")
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             "--web.listen-address=127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = []
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        # With port 0 the kernel picks the port; Prometheus logs the address it got.
        self.url = wait_for(self._listening, 20, "prometheus's listening address", 0.05)
        # It listens before its TSDB is open and answers 503 until then.
        wait_for(lambda: call("GET", self.url + "/-/ready")[0] == 200, 20, "prometheus ready",
                 0.05)

    def _read_log(self):
        for line in self.process.stderr:
            self.log.append(line)

    def _listening(self):
        if self.process.poll() is not None:
            raise AssertionError("prometheus exited: " + "".join(self.log))
        for line in list(self.log):
            m = re.search(r'msg="Listening on" address=(127\.0\.0\.1:\d+)', line)
            if m:
                return "http://" + m.group(1)
        return None

    def api(self, path, **params):
        """GET /api/v1/<path>: the parsed answer (asserting HTTP 200 and status success)."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params, doseq=True)}"
        status, body = call_json("GET", url)
        if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
            raise AssertionError(f"{path} {params}: HTTP {status}: {body}")
        return body["data"]

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", **params)

    def scalar(self, expr, at=None):
        """The value of a one-element instant vector, or None when it has no element."""
        data = self.query(expr, at)
        if not data["result"]:
            return None
        assert len(data["result"]) == 1, (expr, data)
        return float(data["result"][0]["value"][1])

    def stop(self):
        stop_gracefully(self.process)
        self._reader.join(timeout=5)
        self.process.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def dashboard_queries():
    """[(panel title, expr)] of every target of every panel (rows' nested panels included)."""
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    found = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                found.append((panel["title"], target["expr"]))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    return dashboard, found


def substitute(expr, variables):
    """`expr` with Grafana's $name / ${name} / [[name]] references replaced; unknown ones fail."""
    def value(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in variables:
            raise AssertionError(f"the test does not know Grafana variable ${name} in {expr}")
        return variables[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", value, expr)


def by(result, label):
    """{value of `label`: float} of an instant-query result."""
    return {series["metric"].get(label, ""): float(series["value"][1]) for series in result}


class PrometheusDashboardTest(HubTestCase):
    def setUp(self):
        super().setUp()
        if not PROMETHEUS or not PROMTOOL:
            self.skipTest("prometheus/promtool not installed (scripts/install-deps.sh)")

    def start_prometheus(self, hub):
        prometheus = Prometheus(urllib.parse.urlsplit(hub.url).netloc)
        self.addCleanup(prometheus.stop)
        return prometheus

    def new_session(self, hub, always, headers=None, expect=200):
        status, body = hub.new_session(always, headers=headers, timeout=20)
        self.assertEqual(status, expect, body)
        return body["value"]

    def load(self, hub):
        """Puts the hub in the state the panels are checked against (see expected_state)."""
        chrome, firefox = {"browserName": "chrome"}, {"browserName": "firefox"}
        # Sessions: three chrome (one used and ended), one firefox; an event and commands.
        first = self.new_session(hub, chrome)["sessionId"]
        second = self.new_session(hub, chrome)["sessionId"]
        self.assertEqual(call_json("GET", f"{hub.url}/session/{first}/url")[0], 200)
        self.assertEqual(call_json("GET", f"{hub.url}/session/no-such-session/url")[0], 404)
        status, body = call_json("POST", f"{hub.url}/session/{first}/se/event",
                                 {"eventType": "test:passed"})
        self.assertEqual(status, 200, body)
        self.assertEqual(call_json("DELETE", f"{hub.url}/session/{second}")[0], 200)
        self.new_session(hub, chrome)
        self.new_session(hub, firefox)
        # One firefox request times out: the only firefox slot is busy, and a timeout set just
        # for it (a changed timeout applies to requests admitted afterwards).
        self.assertEqual(call_json("PUT", hub.url + "/admin/config",
                                   {"queue": {"timeout": "1s"}})[0], 200)
        message = self.new_session(hub, firefox, expect=500)["message"]
        self.assertIn("timeout", message)
        self.assertEqual(call_json("PUT", hub.url + "/admin/config",
                                   {"queue": {"timeout": "300s"}})[0], 200)
        # N chrome waiters held back by the chrome cap (2) although a chrome slot is free; two
        # of one run, whose third request is refused (queue.max-per-run 2).
        waiters = []
        for i in range(WAITERS):
            headers = {"X-Run-Id": "run-1"} if i < 2 else None
            waiters.append(AsyncRequest(hub.new_session, chrome, headers=headers, timeout=300))
            hub.wait_queue_length(i + 1, timeout=10)
            if i == 1:
                body = self.new_session(hub, chrome, {"X-Run-Id": "run-1"}, expect=500)
                self.assertIn("max-per-run", body["message"])
        self.assertIn("max-per-label", self.new_session(hub, chrome, expect=500)["message"])
        self.assertIn("safari", self.new_session(hub, {"browserName": "safari"},
                                                 expect=500)["message"].lower())
        # A WebSocket upgrade for a session that does not exist: refused as unknown_session.
        ws_url = hub.url.replace("http://", "ws://") + "/session/no-such-session/se/bidi"
        with self.assertRaises(wsclient.HandshakeRefused) as refused:
            wsclient.WebSocket.connect(ws_url)
        self.assertEqual(refused.exception.status, 404)
        self.assertEqual(len(hub.queue()), WAITERS)
        self.assertFalse(any(w.done() for w in waiters))
        return waiters

    def test_every_dashboard_query_answers_what_the_hub_did(self):
        # The fake nodes send no heartbeats: a long node timeout keeps them UP however slowly
        # a sanitizer build runs.
        hub = self.start_hub("--queue.timeout", "300s", "--queue.max-per-label", str(WAITERS),
                             "--queue.max-per-run", "2", "--queue.concurrency-caps", "chrome=2",
                             "--hub.node-timeout", "300s")
        prometheus = self.start_prometheus(hub)
        hub.register(self.start_node(), node_id="chrome-node",
                     slots=[{"id": f"c{i}", "stereotype": {"browserName": "chrome"}}
                            for i in range(3)])
        hub.register(self.start_node(), node_id="firefox-node",
                     slots=[{"id": "f0", "stereotype": {"browserName": "firefox"}}])
        # Prometheus must have the idle grid first: every outcome series then starts at 0,
        # and increase() over the time range counts exactly what happens afterwards.
        wait_for(lambda: prometheus.scalar('count(gridhub_session_request_outcomes_total'
                                           '{label=~"chrome|firefox"} == 0)') == 16
                 and prometheus.scalar('gridhub_nodes{availability="up"}') == 2,
                 30, "prometheus to scrape the registered nodes", 0.2)

        waiters = self.load(hub)
        loaded = time.time()
        # A scrape that started after the load saw all of it; evaluate everything at its time.
        at = wait_for(lambda: (lambda t: t if t and t > loaded else None)(
            prometheus.scalar("timestamp(gridhub_build_info)")),
            30, "a scrape after the load", 0.2)
        self.assertEqual(len(hub.queue()), WAITERS)

        # That scrape succeeded (a slow scrape under a sanitizer may fail another one: no
        # matter, the wait above only takes a successful one).
        self.assertEqual(prometheus.scalar('up{job="gridhub"}', at), 1)
        self.assertEqual([t["scrapeUrl"] for t in prometheus.api("targets")["activeTargets"]],
                         [hub.url + "/metrics"])
        self.check_variables(prometheus, hub, at)
        self.check_every_query(prometheus, hub, at)
        self.check_promtool(hub)
        for waiter in waiters:
            self.assertFalse(waiter.done())

    def check_variables(self, prometheus, hub, at):
        # The dashboard's variable queries, label_values(metric, label), as Grafana runs them.
        dashboard, _ = dashboard_queries()
        instance = urllib.parse.urlsplit(hub.url).netloc
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        self.assertEqual(set(variables), {"datasource", "instance", "label"})
        for name, expected in (("instance", [instance]), ("label", ["chrome", "firefox", "other"])):
            m = re.fullmatch(r"label_values\((.+), (\w+)\)", variables[name]["definition"])
            self.assertIsNotNone(m, variables[name]["definition"])
            match = substitute(m.group(1), {"instance": ".*"})
            values = prometheus.api(f"label/{m.group(2)}/values", **{"match[]": match,
                                                                     "end": f"{at:.3f}"})
            self.assertEqual(sorted(values), expected, name)

    def check_every_query(self, prometheus, hub, at):
        _, queries = dashboard_queries()
        self.assertGreater(len(queries), 20)
        # This hub as Grafana writes one selected value into a regex matcher: dots escaped,
        # and the backslash doubled inside PromQL's double-quoted string.
        this_hub = urllib.parse.urlsplit(hub.url).netloc.replace(".", "\\\\.")
        selections = {"all": (".*", ".*"),              # Grafana's "All" for both variables
                      "chrome": (".*", "chrome"),       # one label
                      "two": (this_hub, "(chrome|firefox)")}  # one hub, two labels
        results = {}
        for name, (instance, label) in selections.items():
            variables = dict(BUILTINS, instance=instance, label=label, datasource="prometheus")
            results[name] = {}
            for title, expr in queries:
                promql = substitute(expr, variables)
                data = prometheus.query(promql, at)
                self.assertEqual(data["resultType"], "vector", promql)
                self.assertTrue(data["result"], f"panel {title!r}: no data for {promql}")
                results[name][expr] = data["result"]
        waiting = [expr for title, expr in queries if title == "Waiting requests"][0]
        self.assertEqual(float(results["two"][waiting][0]["value"][1]), WAITERS)
        self.check_values(results["all"], results["chrome"])

    def check_values(self, every, chrome):
        """The panels that count things show what load() did."""
        _, queries = dashboard_queries()
        panel = {}
        for title, expr in queries:
            panel.setdefault(title, []).append(expr)

        def one(results, title, index=0):
            result = results[panel[title][index]]
            self.assertEqual(len(result), 1, (title, result))
            return float(result[0]["value"][1])

        self.assertEqual(one(every, "Waiting requests"), WAITERS)
        self.assertEqual(one(chrome, "Waiting requests"), WAITERS)
        self.assertEqual(one(every, "Active sessions"), 3)
        self.assertEqual(one(chrome, "Active sessions"), 2)
        self.assertEqual(one(every, "Nodes up"), 2)
        self.assertAlmostEqual(one(every, "Slot utilisation"), 3 / 4)
        self.assertAlmostEqual(one(chrome, "Slot utilisation"), 2 / 3)
        # 4 sessions out of 8 decided requests (3 refusals, 1 timeout).
        self.assertAlmostEqual(one(every, "Success ratio (time range)"), 4 / 8)
        self.assertEqual(by(every[panel["Queue length per label"][0]], "label"),
                         {"chrome": WAITERS, "firefox": 0, "other": 0})
        outcomes = by(every[panel["Outcomes in the time range"][0]], "outcome")
        self.assertEqual(outcomes, {"success": 4, "timeout": 1, "queue_full": 1, "run_limit": 1,
                                    "unsatisfiable": 1, "no_wait": 0, "cancelled": 0,
                                    "failed": 0})
        chrome_outcomes = by(chrome[panel["Outcomes in the time range"][0]], "outcome")
        self.assertEqual({k: v for k, v in chrome_outcomes.items() if v},
                         {"success": 3, "queue_full": 1, "run_limit": 1})
        self.assertGreater(by(every[panel["Session request outcomes (rate)"][0]],
                              "outcome")["timeout"], 0)
        limits = every[panel["Active sessions vs concurrency limit"][1]]
        self.assertEqual(by(limits, "label"), {"chrome": 2})
        active = by(every[panel["Active sessions vs concurrency limit"][0]], "label")
        self.assertEqual(active, {"chrome": 2, "firefox": 1, "other": 0})
        slots = {(s["metric"]["label"], s["metric"]["state"]): float(s["value"][1])
                 for s in every[panel["Slots per label"][0]]}
        self.assertEqual(slots, {("chrome", "busy"): 2, ("chrome", "available"): 1,
                                 ("firefox", "busy"): 1, ("firefox", "available"): 0,
                                 ("other", "busy"): 0, ("other", "available"): 0})
        self.assertEqual(by(every[panel["Nodes by availability"][0]], "availability"),
                         {"up": 2, "draining": 0, "down": 0})
        self.assertGreater(by(every[panel["Test results reported (se/event)"][0]],
                              "event")["test:passed"], 0)
        upgrades = {(s["metric"]["kind"], s["metric"]["outcome"]): float(s["value"][1])
                    for s in every[panel["WebSocket upgrades by outcome"][0]]}
        self.assertEqual(len(upgrades), 10)
        self.assertGreater(upgrades[("bidi", "unknown_session")], 0)
        self.assertEqual(by(every[panel["WebSocket tunnels open"][0]], "kind"),
                         {"bidi": 0, "cdp": 0})
        self.assertGreater(by(every[panel["Commands per second by status class"][0]],
                              "class")["2xx"], 0)
        self.assertGreater(one(every, "Hub memory and descriptors"), 0)

    def test_shipped_scrape_config_is_valid(self):
        config = os.path.join(os.path.dirname(DASHBOARD), "prometheus.yml")
        checked = subprocess.run([PROMTOOL, "check", "config", config], capture_output=True,
                                 text=True, timeout=30)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)

    def check_promtool(self, hub):
        status, _, scrape = call("GET", hub.url + "/metrics")
        self.assertEqual(status, 200)
        checked = subprocess.run([PROMTOOL, "check", "metrics"], input=scrape,
                                 capture_output=True, timeout=30)
        self.assertEqual((checked.returncode, checked.stdout, checked.stderr), (0, b"", b""))


if __name__ == "__main__":
    unittest.main()
