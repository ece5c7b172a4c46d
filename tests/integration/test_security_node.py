"""Issue 9 against the real `gridhub node` and `gridhub standalone`: who may call a node agent,
bad input that used to crash it, URL parsing at start-up, and SIGHUP.

Drivers are node-agent/testdata/fake_driver.py (see test_node.py). "Remote" callers run in a
private network namespace (netns.py; skipped without root). Python standard library only;
every process is stopped by pid.
"""

import json
import os
import signal
import subprocess
import unittest

import netns
from hubtest import GRIDHUB, START_TIMEOUT, call, call_json, wait_for
from test_node import (FAKE_DRIVER, PYTHON, GridhubProcess, NodeTestCase, fake_slot, free_port,
                       pid_alive)

DEEP = 300_000  # ~600 KB of brackets: overflowed the node's stack before issue 9

# A remote caller's request, run inside the namespace: prints "STATUS BODY".
REMOTE_CALL = r"""
import http.client, sys
host, port, method, path, secret = sys.argv[1:6]
conn = http.client.HTTPConnection(host, int(port), timeout=10)
headers = {"Content-Type": "application/json"}
if secret:
    headers["X-Registration-Secret"] = secret
body = '{"capabilities": {"alwaysMatch": {}}}' if method == "POST" else None
conn.request(method, path, body=body, headers=headers)
r = conn.getresponse()
print(r.status, r.read().decode())
"""


def deep_session_body():
    return ('{"capabilities": {"alwaysMatch": {"x:deep": ' + "[" * DEEP + "]" * DEEP + "}}}")


def node_uri(hub, node_id):
    return next(n["uri"] for n in hub.status()["nodes"] if n["id"] == node_id)


class NodeInputTest(NodeTestCase):
    def test_deeply_nested_json_to_a_node_is_400_and_it_keeps_serving(self):
        hub = self.start_hub()
        node = self.start_gridhub_node(hub)
        status, body = call_json("POST", node.url + "/session", deep_session_body())
        self.assertEqual(status, 400, body)
        self.assertEqual(body["value"]["error"], "invalid argument")
        self.assertIn("deeper", body["value"]["message"])
        self.assertIsNone(node.process.poll())
        session, pid = self.new_session(hub)
        self.assertTrue(pid_alive(pid))

    def test_deeply_nested_json_to_a_standalone_is_400_and_it_keeps_serving(self):
        grid = self.start_standalone({"node": {"slots": [fake_slot()]}})
        status, body = call_json("POST", grid.url + "/session", deep_session_body())
        self.assertEqual(status, 400, body)
        self.assertEqual(body["value"]["error"], "invalid argument")
        self.assertIsNone(grid.process.poll())
        status, body = call_json("POST", grid.url + "/session",
                                 {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}})
        self.assertEqual(status, 200, body)

    def test_relay_answering_message_null_fails_the_session_and_the_node_lives(self):
        port = free_port()
        env = dict(os.environ, FAKE_DRIVER_CREATE_ANSWER=json.dumps(
            {"value": {"error": "session not created", "message": None}}))
        relay = subprocess.Popen([PYTHON, FAKE_DRIVER, f"--port={port}"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (relay.kill(), relay.wait(timeout=10)))
        relay_url = f"http://127.0.0.1:{port}"
        wait_for(lambda: self._answers(relay_url + "/status"), START_TIMEOUT, "the relay")
        hub = self.start_hub()
        node = self.start_gridhub_node(hub, slots=[{
            "label": "android", "relay": relay_url,
            "stereotype": {"browserName": "chrome", "platformName": "android"}}])
        for _ in range(2):  # straight to the node (the hub would retry and queue)
            status, body = call_json("POST", node.url + "/session",
                                     {"capabilities": {"alwaysMatch": {"platformName": "android"}}})
            self.assertEqual(status, 500, body)
            self.assertEqual(body["value"]["error"], "session not created")
        self.assertIsNone(node.process.poll(), node.output())
        status, _ = call_json("GET", node.url + "/status")
        self.assertEqual(status, 200)
        self.assertEqual(hub.busy_slots(), [])

    @staticmethod
    def _answers(url):
        try:
            return call("GET", url, timeout=2)[0] == 200
        except OSError:
            return False

    def test_hub_url_with_an_empty_port_is_exit_2_naming_key_value_and_reason(self):
        path = os.path.join(self._tmp.name, "bad-hub.yaml")
        with open(path, "w") as f:
            f.write('node:\n  hub: "http://[::1]:"\n')
        for argv in ([GRIDHUB, "node", "--config", path], [GRIDHUB, "check-config", path],
                     [GRIDHUB, "node", "--node.hub", "http://[::1]:"]):
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            self.assertEqual(done.returncode, 2, (argv, done.stderr))
            lines = [l for l in done.stderr.splitlines() if "node.hub" in l]
            self.assertEqual(len(lines), 1, done.stderr)  # one line, not an abort's trace
            self.assertIn('node.hub = "http://[::1]:"', lines[0])
            self.assertIn("empty port", lines[0])
            self.assertNotIn("terminate", done.stderr)
        env = dict(os.environ, GRIDHUB_NODE_HUB="http://h:99999999")
        done = subprocess.run([GRIDHUB, "check-config", "/dev/null"], capture_output=True,
                              text=True, timeout=30, env=env)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("node.hub", done.stderr)
        done = subprocess.run([GRIDHUB, "check-config", "/dev/null", "--node.session-timeout",
                               "99999999999999999999999s"], capture_output=True, text=True,
                              timeout=30)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("node.session-timeout", done.stderr)

    def start_standalone(self, config):
        config = dict(config)
        config.setdefault("server", {"host": "127.0.0.1", "port": free_port()})
        grid = GridhubProcess("standalone", config, self._tmp.name,
                              r"^gridhub standalone listening on (http://\S+)$")
        self._gridhubs.append(grid)
        return grid


class NodeAccessTest(NodeTestCase):
    def test_with_a_secret_the_node_needs_it_on_every_route_but_status(self):
        hub = self.start_hub("--hub.registration-secret", "s3cret")
        node = self.start_gridhub_node(hub, secret="s3cret")
        session, pid = self.new_session(hub)  # the hub sends the secret to the node
        for method, path in (("POST", "/session"), ("GET", f"/session/{session}/title"),
                             ("DELETE", f"/session/{session}"), ("POST", "/se/grid/node/drain")):
            for headers in ({}, {"X-Registration-Secret": "wrong"}):
                status, body = call_json(method, node.url + path, {}, headers)
                self.assertEqual(status, 401, (method, path, body))
                self.assertIn("hub.registration-secret", body["value"]["message"])
        status, _, raw = call("GET", node.url + "/status")
        self.assertEqual(status, 200)
        self.assertNotIn(session.encode(), raw)
        status, body = call_json("GET", f"{node.url}/session/{session}/title", None,
                                 {"X-Registration-Secret": "s3cret"})
        self.assertEqual((status, body["value"]), (200, "fake title"))
        # Still one live session, driven through the hub.
        self.assertTrue(pid_alive(pid))
        status, body = call_json("GET", f"{hub.url}/session/{session}/title")
        self.assertEqual((status, body["value"]), (200, "fake title"))

    def test_remote_caller_is_refused_without_a_secret(self):
        with netns.Namespace() as ns:
            hub = self.start_hub()
            node = self.start_gridhub_node(hub, host="0.0.0.0")
            port = node.url.rsplit(":", 1)[1]
            session, pid = self.new_session(hub)  # the hub, on loopback, may call
            for method, path in (("POST", "/session"), ("GET", f"/session/{session}/title"),
                                 ("POST", "/se/grid/node/drain")):
                status, body = self._remote(ns, ns.host_ip, port, method, path)
                self.assertEqual(status, 401, body)
                self.assertIn("hub.registration-secret", body)
                self.assertIn(ns.peer_ip, body)
            status, body = self._remote(ns, ns.host_ip, port, "GET", "/status")
            self.assertEqual(status, 200, body)
            self.assertNotIn(session, body)
            status, answer = call_json("GET", f"{hub.url}/session/{session}/title")
            self.assertEqual((status, answer["value"]), (200, "fake title"))
            self.assertIsNone(node.process.poll())

    def test_remote_caller_with_the_secret_is_let_through_and_without_it_refused(self):
        with netns.Namespace() as ns:
            hub = self.start_hub("--hub.registration-secret", "s3cret")
            node = self.start_gridhub_node(hub, secret="s3cret", host="0.0.0.0")
            port = node.url.rsplit(":", 1)[1]
            status, body = self._remote(ns, ns.host_ip, port, "GET", "/session/nosuch/title")
            self.assertEqual(status, 401, body)
            status, body = self._remote(ns, ns.host_ip, port, "GET", "/session/nosuch/title",
                                        "s3cret")
            self.assertEqual(status, 404, body)  # past the gate: an unknown session
            self.assertIn("invalid session id", body)

    def test_standalone_node_works_on_any_address_and_refuses_everyone_else(self):
        config = {"server": {"host": "0.0.0.0", "port": free_port()},
                  "node": {"slots": [fake_slot()]}}
        grid = GridhubProcess("standalone", config, self._tmp.name,
                              r"^gridhub standalone listening on (http://\S+)$")
        self._gridhubs.append(grid)
        status, body = call_json("POST", grid.url + "/session",
                                 {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}})
        self.assertEqual(status, 200, body)
        session = body["value"]["sessionId"]
        status, body = call_json("GET", f"{grid.url}/session/{session}/title")
        self.assertEqual((status, body["value"]), (200, "fake title"))
        # Its node listens on loopback with a secret generated at start: even a local caller
        # that is not its hub is refused.
        status, hub_status = call_json("GET", grid.url + "/status")
        uri = hub_status["value"]["nodes"][0]["uri"]
        status, body = call_json("GET", f"{uri}/session/{session}/title")
        self.assertEqual(status, 401, body)
        status, body = call_json("POST", f"{uri}/se/grid/node/drain")
        self.assertEqual(status, 401, body)
        self.assertIsNone(grid.process.poll())

    @staticmethod
    def _remote(ns, host, port, method, path, secret=""):
        done = ns.run([PYTHON, "-c", REMOTE_CALL, host, str(port), method, path, secret])
        if done.returncode != 0:
            raise AssertionError(f"remote call failed: {done.stderr}")
        status, _, body = done.stdout.strip().partition(" ")
        return int(status), body


class NodeReloadTest(NodeTestCase):
    def rewrite(self, process, config):
        with open(process.config_path, "w") as f:
            json.dump(config, f)

    def test_sighup_on_a_node_applies_live_settings_and_keeps_sessions_and_drivers(self):
        hub = self.start_hub()
        node = self.start_gridhub_node(hub, {"session-timeout": "0s"})
        session, pid = self.new_session(hub)
        with open(node.config_path) as f:
            config = json.load(f)
        config["node"]["session-timeout"] = "1s"
        config["node"]["slots"] = [fake_slot(max_sessions=3)]
        self.rewrite(node, config)
        node.process.send_signal(signal.SIGHUP)
        line = wait_for(lambda: next((l for l in node.lines if "settings reloaded" in l), None),
                        10, "the reload line")
        self.assertIn("changed: node.session-timeout", line)
        self.assertIn("need a restart (kept as they were): node.slots", line)
        self.assertIsNone(node.process.poll())
        self.assertTrue(pid_alive(pid))
        status, body = call_json("GET", f"{hub.url}/session/{session}/title")
        self.assertEqual((status, body["value"]), (200, "fake title"))
        # The new idle timeout applies to the running session.
        wait_for(lambda: hub.busy_slots() == [], 15, "the session to idle out")
        wait_for(lambda: not pid_alive(pid), 10, "its driver to end")
        self.assertIsNone(node.process.poll())
        # A broken file is refused and the node keeps running as it was.
        with open(node.config_path, "w") as f:
            f.write("node:\n  session-timeout: -5s\n")
        node.process.send_signal(signal.SIGHUP)
        wait_for(lambda: any("reload failed, keeping settings" in l for l in node.lines), 10,
                 "the failed reload line")
        self.assertIsNone(node.process.poll())
        session, pid = self.new_session(hub)
        self.assertTrue(pid_alive(pid))

    def test_sighup_on_a_standalone_reloads_and_keeps_the_session(self):
        config = {"server": {"host": "127.0.0.1", "port": free_port()},
                  "node": {"slots": [fake_slot()]}}
        grid = GridhubProcess("standalone", config, self._tmp.name,
                              r"^gridhub standalone listening on (http://\S+)$")
        self._gridhubs.append(grid)
        status, body = call_json("POST", grid.url + "/session",
                                 {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}})
        self.assertEqual(status, 200, body)
        session, pid = body["value"]["sessionId"], body["value"]["capabilities"]["fake:pid"]
        config["queue"] = {"timeout": "45s"}
        config["node"]["drain-timeout"] = "30s"
        config["server"]["port"] = free_port()
        self.rewrite(grid, config)
        grid.process.send_signal(signal.SIGHUP)
        line = wait_for(lambda: next((l for l in grid.lines if "settings reloaded" in l), None),
                        10, "the reload line")
        self.assertIn("queue.timeout", line)
        self.assertIn("node.drain-timeout", line)
        self.assertIn("server.port", line.split("need a restart")[1])
        self.assertIsNone(grid.process.poll())
        self.assertTrue(pid_alive(pid))
        # The hub still reaches its node: the generated secret survived the reload.
        status, body = call_json("GET", f"{grid.url}/session/{session}/title")
        self.assertEqual((status, body["value"]), (200, "fake title"))
        status, _ = call_json("DELETE", f"{grid.url}/session/{session}")
        self.assertEqual(status, 200)
        wait_for(lambda: not pid_alive(pid), 10, "the driver to end")


if __name__ == "__main__":
    unittest.main()
