"""What the real-client modules of issue 11 share: one grid per test class, and each client case
run twice, from loopback and from a network namespace of its own.

    class MyTest(client_cases.SharedGridTest):
        GRID_CONFIG = {...}                        # merged into the standalone's YAML

        def check_thing(self, where):              # where: LOOPBACK or NAMESPACE
            result = self.run_js(where, "script.js", "--grid", self.grid_url(where), ...)

        def test_thing_loopback(self): self.check_thing(client_cases.LOOPBACK)
        def test_thing_from_namespace(self): self.check_thing(client_cases.NAMESPACE)

The standalone listens on 0.0.0.0: loopback clients reach it at 127.0.0.1, namespaced ones at
the veth's host end. Inside the namespace, 127.0.0.1 is the namespace's own loopback, so a
client that dials a driver- or browser-local URL (chromedriver's `webSocketUrl`, the DevTools
port) past the hub fails there; from loopback the same mistake would pass, which is why every
case also asserts whom the returned URLs name. The namespace is made once per class, and only
when a namespace case runs; where it cannot be made those cases skip with the reason.

On a failure the test prints the logs of the grid and of the client it ran.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

import client_pages
import harness

sys.path.insert(0, os.path.join(harness.REPO_ROOT, "tests", "integration"))
import netns  # noqa: E402

LOOPBACK = "loopback"
NAMESPACE = "namespace"

RUBY = "/usr/bin/ruby"
RUBY_CLIENTS = os.path.join(harness.REPO_ROOT, "tests", "clients", "ruby")
CLIENT_TIMEOUT = harness.SESSION_TIMEOUT + 30


def parse_ws(url):
    """(scheme, host:port, path) of a ws:// URL, or raises AssertionError naming it."""
    if not isinstance(url, str):
        raise AssertionError(f"not a URL: {url!r}")
    u = urllib.parse.urlsplit(url)
    return u.scheme, u.netloc, u.path


_METRIC_LINE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? ([0-9.eE+-]+)$')
_LABEL = re.compile(r'([a-z_]+)="([^"]*)"')


def parse_metrics(text):
    """Prometheus text -> [(name, {label: value}, number)] (comments skipped)."""
    samples = []
    for line in str(text).splitlines():
        m = _METRIC_LINE.match(line)
        if m:
            samples.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")),
                            float(m.group(3))))
    return samples


def last_json_line(text):
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError(f"client printed no result:\n{text[-4000:]}")
    return json.loads(lines[-1])


class SharedGridTest(unittest.TestCase):
    """One standalone (and page server) for every test of the class; see the module docstring."""

    GRID_CONFIG = {}
    SLOTS = 1

    @classmethod
    def setUpClass(cls):
        cls.h = harness.Harness(None)
        cls.ns = None
        cls.ns_skip = None
        try:
            cls.pages = client_pages.ClientPages()
            cls.grid = cls.start_grid(cls.h)
        except BaseException:
            cls.h.dump_logs()
            cls._close_class()
            raise

    @classmethod
    def start_grid(cls, h):
        """The grid the class's clients use; a subclass may start hub + node instead."""
        config = harness.deep_merge({"server": {"host": "0.0.0.0"}}, cls.GRID_CONFIG)
        return h.start_standalone(slots=cls.SLOTS, config=config)

    @classmethod
    def start_hub_and_node(cls, h, node_config=None):
        """`gridhub hub` on 0.0.0.0 and a node agent on loopback, for a start_grid override."""
        hub = h.start_hub(config={"server": {"host": "0.0.0.0"}})
        node = h.start_node(hub, slots=cls.SLOTS, config=node_config)
        harness.wait_node_registered(hub, node.id, cls.SLOTS)
        return hub

    @classmethod
    def tearDownClass(cls):
        cls._close_class()

    @classmethod
    def _close_class(cls):
        if getattr(cls, "pages", None):
            cls.pages.stop()
            cls.pages = None
        cls.h.close()
        if cls.ns:
            cls.ns.__exit__(None, None, None)
            cls.ns = None

    @classmethod
    def class_namespace(cls):
        """The class's namespace, made on first use; None (reason in ns_skip) where none can be
        made."""
        if cls.ns is None and cls.ns_skip is None:
            try:
                cls.ns = netns.Namespace().__enter__()
            except unittest.SkipTest as e:
                cls.ns_skip = str(e)
        return cls.ns

    def namespace(self):
        """The class's namespace; skips the test where none can be made."""
        if self.class_namespace() is None:
            self.skipTest(f"no network namespace: {type(self).ns_skip}")
        return type(self).ns

    def setUp(self):
        self.client_logs = []
        # Every case starts on a free grid: a session that an earlier failed case left behind
        # is deleted, so that one failure does not queue every later case.
        for slot in self.grid.busy_slots():
            session = slot["session"].get("sessionId") if isinstance(slot["session"], dict) else None
            if session:
                harness.http_json("DELETE", f"{self.grid.url}/session/{session}", timeout=15)
        self.grid.wait_free_slots(self.SLOTS, timeout=15)

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > failures:
            self.h.dump_logs()
            for name, text in self.client_logs:
                print(f"\n===== client {name}\n{text[-6000:]}", file=sys.stderr)
        return out

    # --- where the client runs ----------------------------------------------------------------
    def host(self, where):
        """The address a client at `where` reaches this host's grid (and proxy) at."""
        return "127.0.0.1" if where == LOOPBACK else self.namespace().host_ip

    def grid_url(self, where):
        return f"http://{self.host(where)}:{self.grid.port}"

    def grid_netloc(self, where):
        return f"{self.host(where)}:{self.grid.port}"

    def run_client(self, where, argv, env=None, cwd=None, timeout=CLIENT_TIMEOUT):
        """Runs argv to completion at `where`; the JSON line it printed last, plus `exitCode`."""
        full_env = dict(os.environ, **(env or {}))
        name = f"{os.path.basename(argv[1] if len(argv) > 1 else argv[0])} from {where}"
        if where == LOOPBACK:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  env=full_env, cwd=cwd, stdin=subprocess.DEVNULL)
        else:
            done = self.namespace().run(argv, timeout=timeout, env=full_env, cwd=cwd,
                                        stdin=subprocess.DEVNULL)
        self.client_logs.append((name, done.stdout + done.stderr))
        result = last_json_line(done.stdout)
        result["exitCode"] = done.returncode
        return result

    def run_js(self, where, script, *args, env=None):
        return self.run_client(where, self.h.js_command(script, *args), env=env,
                               cwd=harness.JS_CLIENTS)

    def run_python(self, where, script, *args):
        return self.run_client(where, ["/usr/bin/python3", os.path.join(harness.PY_CLIENTS, script),
                                       *args], cwd=harness.PY_CLIENTS)

    def run_ruby(self, where, script, *args):
        if not os.access(RUBY, os.X_OK):
            self.fail(f"{RUBY} is missing: scripts/install-deps.sh installs ruby-selenium-webdriver")
        return self.run_client(where, [RUBY, os.path.join(RUBY_CLIENTS, script), *args])

    def user_data_dir(self):
        return self.h.user_data_dir()

    def local_file(self, name, text):
        """A file the client uploads: its own folder, so the name is exactly `name`."""
        folder = tempfile.mkdtemp(prefix="upload-", dir=self.h.tmp)
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # --- the hub's own view ---------------------------------------------------------------------
    def metric(self, name, **labels):
        """The sum of `name`'s samples at the grid whose labels include `labels`."""
        status, text = harness.http_json("GET", self.grid.url + "/metrics", timeout=5)
        self.assertEqual(status, 200, f"GET /metrics -> {status}")
        return sum(v for n, ls, v in parse_metrics(text)
                   if n == name and all(ls.get(k) == want for k, want in labels.items()))

    def upgrade_counts(self):
        """Upgrades the grid accepted so far, by socket kind; for assert_through_hub."""
        return {k: self.metric("gridhub_websocket_upgrades_total", kind=k, outcome="ok")
                for k in ("bidi", "cdp")}

    def assert_through_hub(self, before, *kinds):
        """Since `before` (upgrade_counts()), each socket kind in `kinds` was upgraded through
        the grid's own port, and no tunnel is left open now that the client has ended."""
        after = self.upgrade_counts()
        for k in kinds:
            self.assertGreater(after[k], before[k], f"no {k} socket went through the grid")
        harness.wait_for(lambda: self.metric("gridhub_websockets_open") == 0, 10,
                         "every tunnel through the grid to close after its session ended")

    # --- assertions ---------------------------------------------------------------------------
    def assert_ok(self, result):
        self.assertTrue(result.get("ok"), f"client failed at {result.get('step')!r}: "
                        f"{result.get('error')}\n{json.dumps(result, indent=1)[:3000]}")
        self.assertEqual(result["exitCode"], 0, result)

    def assert_names_grid(self, url, where, session_id, kind, netloc=None, prefix=""):
        """`url` is ws://{the address the client used}{prefix}/session/{id}/se/{kind}."""
        scheme, got_netloc, path = parse_ws(url)
        self.assertEqual(scheme, "ws", url)
        self.assertEqual(got_netloc, netloc or self.grid_netloc(where),
                         f"{url} does not name the address the client used")
        self.assertEqual(path, f"{prefix}/session/{session_id}/se/{kind}", url)
