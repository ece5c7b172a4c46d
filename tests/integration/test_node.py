"""Black-box tests of `gridhub node` and `gridhub standalone` with fake drivers.

The node runs as a real process registered with a real `gridhub hub`; its slots start
node-agent/testdata/fake_driver.py (a W3C server on the --port it is given, which reports its
pid as the `fake:pid` capability), so driver processes can be watched and killed. Python
standard library only; every process is stopped by pid in tearDown. Uses hubtest.py's harness.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from hubtest import HubTestCase, START_TIMEOUT, call_json, wait_for, GRIDHUB
from process_tree import kill_with_children

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_DRIVER = os.path.join(HERE, "..", "..", "node-agent", "testdata", "fake_driver.py")
PYTHON = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_slot(max_sessions=1, label="chrome"):
    return {"label": label, "max-sessions": max_sessions, "driver": [PYTHON, FAKE_DRIVER],
            "stereotype": {"browserName": "chrome",
                           "goog:chromeOptions": {"binary": "/opt/fake/chrome",
                                                  "args": ["--headless"]}}}


def pid_alive(pid):
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


class GridhubProcess:
    """`gridhub node|standalone --config FILE` with its output collected; the first line that
    matches `ready_pattern` gives the URL."""

    def __init__(self, mode, config, tmp, ready_pattern):
        path = os.path.join(tmp, f"{mode}-{free_port()}.yaml")
        self.config_path = path  # rewrite it and send SIGHUP to reload
        with open(path, "w") as f:
            json.dump(config, f)  # JSON is YAML
        env = dict(os.environ, TMPDIR=tmp)
        self.process = subprocess.Popen([GRIDHUB, mode, "--config", path],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        env=env, text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

        def ready():
            for line in list(self.lines):
                m = re.match(ready_pattern, line.strip())
                if m:
                    return m.group(1)
            if self.process.poll() is not None:
                raise AssertionError(f"gridhub {mode} exited {self.process.returncode}:\n"
                                     + "".join(self.lines))
            return None

        self.url = wait_for(ready, START_TIMEOUT, f"gridhub {mode} to listen")

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self):
        return "".join(self.lines)

    def stop(self):
        # Its drivers too: killed outright, the node cannot end them itself.
        kill_with_children(self.process)
        self._reader.join(timeout=5)
        self.process.stdout.close()


class NodeTestCase(HubTestCase):
    def setUp(self):
        super().setUp()
        self._tmp = tempfile.TemporaryDirectory(prefix="gridhub-node-it-")
        self._gridhubs = []

    def tearDown(self):
        for p in self._gridhubs:
            p.stop()
            if p.process.returncode not in (0, -signal.SIGKILL):
                print(p.output(), file=sys.stderr)
        super().tearDown()
        self._tmp.cleanup()

    def start_gridhub_node(self, hub, node_settings=None, slots=None, secret=None, node_id="n1",
                           host="127.0.0.1"):
        port = free_port()
        config = {"server": {"host": host, "port": port},
                  "node": dict({"hub": hub.url, "id": node_id,
                                "slots": slots or [fake_slot()]}, **(node_settings or {}))}
        if secret:
            config["hub"] = {"registration-secret": secret}
        node = GridhubProcess("node", config, self._tmp.name,
                              r"^gridhub node listening on (http://\S+)$")
        self._gridhubs.append(node)
        wait_for(lambda: any(n["id"] == node_id for n in hub.status()["nodes"]), START_TIMEOUT,
                 "the node's registration")
        return node

    def new_session(self, hub):
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        return body["value"]["sessionId"], body["value"]["capabilities"]["fake:pid"]


class NodeProcessTest(NodeTestCase):
    def test_session_through_hub_and_node_with_secret_ends_driver_on_delete(self):
        hub = self.start_hub("--hub.registration-secret", "s3cret")
        self.start_gridhub_node(hub, secret="s3cret")
        session, pid = self.new_session(hub)
        self.assertTrue(pid_alive(pid))
        status, _ = call_json("POST", f"{hub.url}/session/{session}/url", {"url": "data:,x"})
        self.assertEqual(status, 200)
        status, body = call_json("GET", f"{hub.url}/session/{session}/url")
        self.assertEqual((status, body["value"]), (200, "data:,x"))
        status, _ = call_json("DELETE", f"{hub.url}/session/{session}")
        self.assertEqual(status, 200)
        wait_for(lambda: not pid_alive(pid), 10, "the driver process to end")
        self.assertEqual(hub.busy_slots(), [])

    def test_node_with_wrong_secret_is_refused(self):
        hub = self.start_hub("--hub.registration-secret", "s3cret")
        port = free_port()
        config = {"server": {"host": "127.0.0.1", "port": port},
                  "hub": {"registration-secret": "wrong"},
                  "node": {"hub": hub.url, "id": "bad", "slots": [fake_slot()]}}
        node = GridhubProcess("node", config, self._tmp.name,
                              r"^gridhub node listening on (http://\S+)$")
        self._gridhubs.append(node)
        wait_for(lambda: "registration with hub" in node.output(), 10, "a refused registration")
        self.assertIn("401", node.output())
        self.assertEqual(hub.status()["nodes"], [])

    def test_killed_driver_frees_the_hub_slot(self):
        hub = self.start_hub()
        self.start_gridhub_node(hub)
        session, pid = self.new_session(hub)
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: hub.busy_slots() == [], 10, "the slot to come back")
        status, body = call_json("GET", f"{hub.url}/session/{session}/title")
        self.assertEqual(status, 404)
        self.assertEqual(body["value"]["error"], "invalid session id")
        session2, _ = self.new_session(hub)
        self.assertNotEqual(session2, session)

    def test_idle_session_is_deleted_and_the_hub_slot_freed(self):
        hub = self.start_hub()
        self.start_gridhub_node(hub, {"session-timeout": "1s"})
        session, pid = self.new_session(hub)
        wait_for(lambda: hub.busy_slots() == [], 10, "the idle session to be deleted")
        wait_for(lambda: not pid_alive(pid), 10, "the idle session's driver to end")
        status, _ = call_json("GET", f"{hub.url}/session/{session}/title")
        self.assertEqual(status, 404)

    def test_zero_session_timeout_means_idle_sessions_are_never_deleted(self):
        hub = self.start_hub()
        node = self.start_gridhub_node(hub, {"session-timeout": "0s"})
        self.assertIn("idle sessions are never deleted", node.output())
        session, pid = self.new_session(hub)
        # Absence can only be observed over a window: twice the 1 s timeout of the test above,
        # with no command in between.
        time.sleep(2)
        self.assertTrue(pid_alive(pid))
        self.assertEqual(len(hub.busy_slots()), 1)
        status, _ = call_json("GET", f"{hub.url}/session/{session}/title")
        self.assertEqual(status, 200)
        self.assertNotIn("idle", node.output().replace("idle sessions are never deleted", ""))

    def test_sigterm_drains_running_session_then_exits_zero(self):
        hub = self.start_hub()
        node = self.start_gridhub_node(hub, {"drain-timeout": "60s"})
        session, pid = self.new_session(hub)
        node.process.send_signal(signal.SIGTERM)
        wait_for(lambda: hub.status()["nodes"][0]["availability"] == "DRAINING", 10,
                 "the hub to see the node draining")
        # The running session keeps working; the node does not leave under it.
        status, _ = call_json("GET", f"{hub.url}/session/{session}/title")
        self.assertEqual(status, 200)
        self.assertIsNone(node.process.poll())
        status, _ = call_json("DELETE", f"{hub.url}/session/{session}")
        self.assertEqual(status, 200)
        self.assertEqual(node.process.wait(timeout=15), 0)
        self.assertFalse(pid_alive(pid))
        wait_for(lambda: hub.status()["nodes"] == [], 10, "the node to deregister")

    def test_drain_timeout_ends_sessions_and_exits_zero(self):
        hub = self.start_hub()
        node = self.start_gridhub_node(hub, {"drain-timeout": "1s"})
        _, pid = self.new_session(hub)
        node.process.send_signal(signal.SIGTERM)
        self.assertEqual(node.process.wait(timeout=15), 0)
        self.assertFalse(pid_alive(pid))
        wait_for(lambda: hub.status()["nodes"] == [], 10, "the node to deregister")

    def test_node_registers_again_after_hub_restart_with_its_live_session(self):
        port = free_port()
        hub = self.start_hub("--server.port", str(port), "--hub.node-timeout", "3s")
        self.start_gridhub_node(hub)
        session, _ = self.new_session(hub)
        hub.stop()
        hub2 = self.start_hub("--server.port", str(port), "--hub.node-timeout", "3s")
        wait_for(lambda: len(hub2.busy_slots()) == 1, 15, "the node to report its session")
        status, body = call_json("GET", f"{hub2.url}/session/{session}/title")
        self.assertEqual((status, body["value"]), (200, "fake title"))


    def test_stereotype_naming_a_binary_advertises_its_version(self):
        browser = os.path.join(self._tmp.name, "fake-chrome")
        with open(browser, "w") as f:
            f.write("#!/bin/sh\n[ \"$1\" = --version ] && echo 'Fake Chrome 77.0.1234.5 built'\n")
        os.chmod(browser, 0o755)
        slot = fake_slot()
        slot["stereotype"]["goog:chromeOptions"]["binary"] = browser
        hub = self.start_hub()
        self.start_gridhub_node(hub, slots=[slot])
        stereotype = hub.status()["nodes"][0]["slots"][0]["stereotype"]
        self.assertEqual(stereotype["browserVersion"], "77.0.1234.5")
        status, body = hub.new_session({"browserName": "chrome", "browserVersion": "77"})
        self.assertEqual(status, 200, body)
        status, body = hub.new_session({"browserName": "chrome", "browserVersion": "78"})
        self.assertEqual(status, 500, body)
        self.assertEqual(body["value"]["error"], "session not created")


    def test_unreachable_hub_is_retried_with_backoff_and_logged_without_a_flood(self):
        # A "hub" that answers every request 503, recording when.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self.addCleanup(listener.close)
        accepted = []

        def answer(conn):
            with conn, conn.makefile("rb") as reader:
                length = 0
                for line in iter(reader.readline, b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                    if line in (b"\r\n", b"\n"):
                        break
                reader.read(length)
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n"
                             b"Connection: close\r\n\r\nbusy")

        def accept():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                accepted.append(time.monotonic())
                answer(conn)

        threading.Thread(target=accept, daemon=True).start()
        hub_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        config = {"server": {"host": "127.0.0.1", "port": free_port()},
                  "node": {"hub": hub_url, "id": "lonely", "slots": [fake_slot()]}}
        node = GridhubProcess("node", config, self._tmp.name,
                              r"^gridhub node listening on (http://\S+)$")
        self._gridhubs.append(node)
        wait_for(lambda: len(accepted) >= 5, 15, "five registration attempts")
        gaps = [b - a for a, b in zip(accepted, accepted[1:5])]
        self.assertTrue(all(later > earlier for earlier, later in zip(gaps, gaps[1:])), gaps)
        lines = [line for line in node.lines if "registration with hub" in line]
        self.assertEqual(len(lines), 1, node.output())
        self.assertIn(hub_url, lines[0])
        self.assertIn("(HTTP 503 busy); attempt 1, retrying in 0.25s", lines[0])

    def test_hub_url_with_a_bad_port_stops_start_up(self):
        done = subprocess.run([GRIDHUB, "node", "--node.hub", "http://127.0.0.1:99999"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("node.hub", done.stderr)
        self.assertIn("port out of range", done.stderr)

    def test_help_lists_every_flag(self):
        keys = ["server.host", "server.port", "server.threads", "server.max-body",
                "hub.node-timeout", "hub.health-check-period", "hub.slot-selection",
                "hub.admin-token", "hub.client-token", "hub.registration-secret",
                "queue.timeout", "queue.max-per-label", "queue.max-per-run",
                "queue.concurrency-default", "queue.concurrency-caps",
                "queue.reject-unsatisfiable", "queue.registration-grace", "queue.retry-limit",
                "queue.abandon-after", "queue.ready-ttl", "matching.prefix-expand",
                "matching.wildcards", "matching.trailing-fallback", "node.hub", "node.id",
                "node.uri", "node.session-timeout", "node.drain-after-sessions",
                "node.drain-timeout", "node.slots"]
        for mode in ("node", "standalone"):
            done = subprocess.run([GRIDHUB, mode, "--help"], capture_output=True, text=True,
                                  timeout=30)
            self.assertEqual(done.returncode, 0, done.stderr)
            for flag in ["--config", "--port", "--host", "--help"] + ["--" + k for k in keys]:
                self.assertIn(flag + " ", done.stdout, f"{mode} --help lacks {flag}")
            env = "GRIDHUB_" + keys[0].upper().replace(".", "_").replace("-", "_")
            self.assertIn(env, done.stdout)


class StandaloneProcessTest(NodeTestCase):
    def test_standalone_serves_configured_slots_and_stops_drivers_on_sigterm(self):
        port = free_port()
        config = {"server": {"host": "127.0.0.1", "port": port},
                  "node": {"slots": [fake_slot(max_sessions=2)]}}
        grid = GridhubProcess("standalone", config, self._tmp.name,
                              r"^gridhub standalone listening on (http://\S+)$")
        self._gridhubs.append(grid)
        self.assertEqual(grid.url, f"http://127.0.0.1:{port}")
        pids = []
        for _ in range(2):
            status, body = call_json("POST", grid.url + "/session",
                                     {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}})
            self.assertEqual(status, 200, body)
            pids.append(body["value"]["capabilities"]["fake:pid"])
        self.assertTrue(all(pid_alive(p) for p in pids))
        grid.process.send_signal(signal.SIGTERM)
        self.assertEqual(grid.process.wait(timeout=15), 0)
        self.assertFalse(any(pid_alive(p) for p in pids))

    @unittest.skipUnless(os.access("/usr/bin/chromium", os.X_OK)
                         and os.access("/usr/bin/chromedriver", os.X_OK),
                         "needs Debian's chromium and chromium-driver")
    def test_detected_chromium_advertises_its_version_and_serves_a_major_version_request(self):
        printed = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True,
                                 text=True, timeout=30).stdout
        version = re.search(r"\b(\d+(?:\.\d+)+)", printed).group(1)
        port = free_port()
        grid = GridhubProcess("standalone", {"server": {"host": "127.0.0.1", "port": port}},
                              self._tmp.name, r"^gridhub standalone listening on (http://\S+)$")
        self._gridhubs.append(grid)
        grid.status = lambda: call_json("GET", grid.url + "/status")[1]["value"]
        wait_for(lambda: grid.status()["nodes"], START_TIMEOUT, "the standalone's node")
        stereotypes = [s["stereotype"] for n in grid.status()["nodes"] for s in n["slots"]]
        chrome = [s for s in stereotypes if s["browserName"] == "chrome"]
        self.assertTrue(chrome, stereotypes)
        for stereotype in chrome:
            self.assertEqual(stereotype.get("browserVersion"), version, stereotype)
            self.assertEqual(stereotype.get("platformName"), "linux", stereotype)
        status, body = call_json("POST", grid.url + "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "browserVersion": version.split(".")[0],
            "platformName": "linux"}}}, timeout=60)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["value"]["capabilities"]["browserVersion"], version)
        status, _ = call_json("DELETE", f"{grid.url}/session/{body['value']['sessionId']}")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
