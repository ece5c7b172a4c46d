"""Logs a machine can read (docs/logging.md), against the real binary.

`log.format: json` makes every line the process prints one JSON object with time, level and
event; text lines carry a time and a level; `log.level` drops what is below it and a SIGHUP
changes both; and no token, secret or ticket token ever reaches a line of the hub, a node or a
standalone, in either format, whatever the requests carry (right and wrong credentials, a
reload that replaces them, a node registering with the secret, tickets taken).

Every process is started on a free port and stopped by pid; every wait is bounded.
"""

import base64
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import unittest
import uuid

from hubtest import HubTestCase, GRIDHUB, START_TIMEOUT, call, call_json, caps, wait_for
from process_tree import stop_gracefully
from test_node import fake_slot, free_port

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARN|ERROR) \S+")
LISTENING = re.compile(r"gridhub (hub|node|standalone) listening on (http://\S+)")


def unique(what):
    return f"{what}-{uuid.uuid4().hex}"


class LoggedProcess:
    """`gridhub MODE --config FILE` with stdout and stderr kept apart as lists of raw lines."""

    def __init__(self, mode, config_path, env=None):
        if not GRIDHUB or not os.path.exists(GRIDHUB):
            raise unittest.SkipTest("GRIDHUB_BIN not set to the gridhub binary")
        self.mode = mode
        self.config_path = config_path
        environment = {k: v for k, v in os.environ.items() if not k.startswith("GRIDHUB_LOG_")}
        environment.update(env or {})
        self.process = subprocess.Popen([GRIDHUB, mode, "--config", config_path],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=environment)
        self.out, self.err = [], []
        self._readers = [threading.Thread(target=self._read, args=(s, into), daemon=True)
                         for s, into in ((self.process.stdout, self.out),
                                         (self.process.stderr, self.err))]
        for reader in self._readers:
            reader.start()
        self.url = wait_for(self._listening, START_TIMEOUT, f"gridhub {mode} to listen")

    @staticmethod
    def _read(stream, into):
        for line in stream:
            into.append(line)

    def _listening(self):
        """The URL from the banner on stdout (text) or the started event on stderr (json)."""
        if self.process.poll() is not None:
            raise AssertionError(f"gridhub {self.mode} exited {self.process.returncode}: "
                                 f"{self.text()}")
        for raw in list(self.out) + list(self.err):
            line = raw.decode("utf-8", "replace")
            if line.startswith("{"):
                line = json.loads(line).get("message", "")
            m = LISTENING.search(line)
            if m and m.group(1) == self.mode:
                return m.group(2)
        return None

    def text(self):
        return b"".join(self.out + self.err).decode("utf-8", "replace")

    def err_lines(self):
        return [raw.decode("utf-8").rstrip("\n") for raw in list(self.err)]

    def events(self):
        """The stderr lines parsed as JSON (json format only)."""
        return [json.loads(line) for line in self.err_lines()]

    def reload(self, config=None):
        if config is not None:
            write_config(self.config_path, config)
        self.process.send_signal(signal.SIGHUP)

    def stop(self):
        stop_gracefully(self.process)
        for reader in self._readers:
            reader.join(timeout=5)
        self.process.stdout.close()
        self.process.stderr.close()


def write_config(path, config):
    with open(path, "w") as f:
        json.dump(config, f)  # JSON is YAML


class LogTestCase(HubTestCase):
    def setUp(self):
        super().setUp()
        self._tmp = tempfile.TemporaryDirectory(prefix="gridhub-logs-it-")
        self._processes = []

    def tearDown(self):
        for p in reversed(self._processes):
            p.stop()
        super().tearDown()
        self._tmp.cleanup()

    def start(self, mode, config, env=None):
        path = os.path.join(self._tmp.name, f"{mode}-{uuid.uuid4().hex[:8]}.yaml")
        write_config(path, config)
        p = LoggedProcess(mode, path, env=dict(env or {}, TMPDIR=self._tmp.name))
        self._processes.append(p)
        return p

    def hub_config(self, log=None, hub=None):
        config = {"server": {"host": "127.0.0.1", "port": 0},
                  "queue": {"registration-grace": "0s"}}
        if log:
            config["log"] = log
        if hub:
            config["hub"] = hub
        return config

    def wait_event(self, p, event, what=None):
        return wait_for(lambda: next((e for e in p.events() if e["event"] == event), None), 10,
                        what or f"a {event} line")


class FormatTest(LogTestCase):
    def test_json_lines_parse_from_the_first_and_carry_the_fields(self):
        hub = self.start("hub", self.hub_config(log={"format": "json"}))
        node = self.start_node()
        body = {"id": "node-a", "uri": node.url,
                "slots": [{"id": "s0", "stereotype": {"browserName": "chrome"}}]}
        self.assertEqual(call_json("POST", hub.url + "/nodes", body)[0], 201)
        status, reply = call_json("POST", hub.url + "/session", caps({"browserName": "chrome"}),
                                  {"X-Run-Id": "run-logs"})
        self.assertEqual(status, 200, reply)
        session = reply["value"]["sessionId"]
        self.assertEqual(call_json("POST", f"{hub.url}/session/{session}/se/event",
                                   {"eventType": "test:failed"})[0], 200)
        line = self.wait_event(hub, "session.event")
        self.assertEqual((line["label"], line["run_id"], line["session_id"]),
                         ("chrome", "run-logs", session))
        self.assertEqual(line["level"], "info")
        hub.stop()
        self.assertEqual(hub.out, [], "in json format nothing but JSON lines, all on stderr")
        events = hub.events()
        self.assertEqual(events[0]["event"], "process.open_files")
        for e in events:
            self.assertTrue({"time", "level", "event"} <= set(e), e)
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(e["level"], ("debug", "info", "warn", "error"))
            self.assertTrue(set(e) <= {"time", "level", "event", "label", "run_id",
                                       "session_id", "node_id", "message"}, e)
        started = [e for e in events if e["event"] == "hub.started"]
        self.assertEqual(len(started), 1, events)
        self.assertIn(hub.url, started[0]["message"])

    def test_text_lines_each_have_a_time_and_a_level(self):
        hub = self.start("hub", self.hub_config())
        self.assertEqual(call("GET", hub.url + "/nope")[0], 404)
        hub.reload()
        wait_for(lambda: any("config.reloaded" in l for l in hub.err_lines()), 10, "the reload")
        hub.stop()
        lines = hub.err_lines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, TEXT_LINE)
        self.assertIn(b"gridhub hub listening on " + hub.url.encode() + b"\n", hub.out)

    def test_the_environment_gives_json_before_the_file_is_read(self):
        path = os.path.join(self._tmp.name, "bad.yaml")
        write_config(path, {"queue": {"timeout": "-5s"}, "log": {"format": "text"}})
        done = subprocess.run([GRIDHUB, "hub", "--config", path], capture_output=True,
                              env=dict(os.environ, GRIDHUB_LOG_FORMAT="json"), timeout=30)
        self.assertEqual(done.returncode, 2, done.stderr)
        lines = done.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        line = json.loads(lines[0])
        self.assertEqual((line["level"], line["event"]), ("error", "config.invalid"))
        self.assertIn('queue.timeout = "-5s": negative duration', line["message"])

    def test_a_bad_log_value_stops_start_up_with_one_line(self):
        for env, want in (({"GRIDHUB_LOG_FORMAT": "xml"}, 'log.format = "xml": must be one of'),
                          ({"GRIDHUB_LOG_LEVEL": "loud"}, 'log.level = "loud": must be one of')):
            done = subprocess.run([GRIDHUB, "hub", "--server.port", "0"], capture_output=True,
                                  text=True, env=dict(os.environ, **env), timeout=30)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)
            self.assertIn(want, done.stderr)
        done = subprocess.run([GRIDHUB, "check-config", os.devnull, "--log.level", "warn",
                               "--log.format", "json"], capture_output=True, text=True,
                              timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertRegex(done.stdout, r'(?m)^log\.format = "json" +\(flag\)$')
        self.assertRegex(done.stdout, r'(?m)^log\.level = "warn" +\(flag\)$')


class LevelTest(LogTestCase):
    def test_warn_drops_info_and_a_reload_changes_level_and_format_live(self):
        config = self.hub_config(log={"level": "warn"})
        hub = self.start("hub", config)
        with open(hub.config_path, "w") as f:
            f.write("queue: [not: valid")  # the reload fails: a warn line
        hub.reload()
        wait_for(lambda: any("config.reload_failed" in l for l in hub.err_lines()), 10,
                 "the failed reload's line")
        self.assertTrue(all(" WARN " in l or " ERROR " in l for l in hub.err_lines()),
                        hub.err_lines())
        # Back to info, then json: each reload's own line is already in the new form.
        hub.reload(self.hub_config(log={"level": "info"}))
        line = wait_for(lambda: next((l for l in hub.err_lines() if " INFO config.reloaded" in l),
                                     None), 10, "the info reload line")
        self.assertIn("changed: log.level", line)
        hub.reload(self.hub_config(log={"level": "info", "format": "json"}))
        wait_for(lambda: hub.err_lines()[-1].startswith("{"), 10, "a json line")
        last = json.loads(hub.err_lines()[-1])
        self.assertEqual((last["event"], last["level"]), ("config.reloaded", "info"))
        self.assertIn("log.format", last["message"])

    def test_a_node_applies_its_log_level_on_sighup(self):
        hub = self.start("hub", self.hub_config())
        config = {"server": {"host": "127.0.0.1", "port": free_port()},
                  "node": {"hub": hub.url, "id": "n-level", "slots": [fake_slot()]},
                  "log": {"format": "json"}}
        node = self.start("node", config)
        self.wait_event(node, "node.registered")
        node.reload(dict(config, log={"format": "json", "level": "error"}))
        line = self.wait_event(node, "config.reloaded")
        self.assertIn("log.level", line["message"])
        self.assertEqual(line["node_id"], "n-level")
        count = len(node.err)
        node.reload()  # an info line that is now dropped
        node.stop()  # the drain lines are info too
        self.assertEqual(node.err[count:], [])


class SecretTest(LogTestCase):
    """Every credential the test uses, right or wrong, is a unique string no line may hold."""

    def setUp(self):
        super().setUp()
        self.secrets = []

    def new(self, what):
        value = unique(what)
        self.secrets.append(value)
        return value

    def assert_no_secret(self, *processes):
        for p in processes:
            text = p.text()
            self.assertTrue(text)
            for value in self.secrets:
                self.assertNotIn(value, text, f"gridhub {p.mode} logged a credential")
                encoded = base64.b64encode(f"admin:{value}".encode()).decode()
                self.assertNotIn(encoded, text)

    def credentials(self):
        return {"admin-token": self.new("admin"), "client-token": self.new("client"),
                "registration-secret": self.new("secret")}

    def exercise_hub(self, url, hub_creds, node_id=None):
        """Right and wrong credentials on every kind of call; returns the client headers."""
        client = {"Authorization": "Bearer " + hub_creds["client-token"]}
        wrong = {"Authorization": "Bearer " + self.new("wrong-client")}
        admin = {"Authorization": "Bearer " + hub_creds["admin-token"]}
        basic = base64.b64encode(f"admin:{self.new('wrong-admin')}".encode()).decode()
        for headers in (wrong, {"Authorization": "Basic " + basic},
                        {"X-Registration-Secret": self.new("wrong-secret")}):
            self.assertIn(call("GET", url + "/queue", None, headers)[0], (401, 403))
            self.assertIn(call("PUT", url + "/admin/config", {"queue": {"max-per-run": 4}},
                               headers)[0], (401, 403))
        self.assertEqual(call("GET", f"{url}/status?token={self.new('query')}", None,
                              client)[0], 200)
        self.assertEqual(call("PUT", url + "/admin/config", {"queue": {"max-per-run": 6}},
                              admin)[0], 200)
        self.assertEqual(call_json("POST", url + "/nodes",
                                   {"id": "intruder", "uri": "http://127.0.0.1:9/",
                                    "slots": []},
                                   {"X-Registration-Secret": self.new("wrong-reg")})[0], 401)
        status, reply = call_json("POST", url + "/session", caps({"browserName": "chrome"}),
                                  client)
        self.assertEqual(status, 200, reply)
        session = reply["value"]["sessionId"]
        self.exercise_tickets(url, client)
        self.assertEqual(call("DELETE", f"{url}/session/{session}", None, client)[0], 200)
        self.assertEqual(call("DELETE", f"{url}/session/{session}", None, wrong)[0], 401)
        return client

    def exercise_tickets(self, url, client):
        """A ticket waits (the only slot is busy), is asked about with right and wrong tokens,
        and leaves; its token is a secret too."""
        status, ticket = call_json("POST", url + "/queue/requests",
                                   caps({"browserName": "chrome"}), client)
        self.assertEqual(status, 201, ticket)
        self.secrets.append(ticket["token"])
        tid = ticket["id"]
        right = dict(client, **{"X-Queue-Token": ticket["token"]})
        bad = dict(client, **{"X-Queue-Token": self.new("wrong-ticket")})
        self.assertEqual(call("GET", f"{url}/queue/requests/{tid}", None, right)[0], 200)
        self.assertEqual(call("POST", f"{url}/queue/requests/{tid}/take", None, bad)[0], 403)
        self.assertEqual(call("POST", f"{url}/queue/requests/{tid}/take", None, right)[0], 503)
        self.assertEqual(call("POST", f"{url}/queue/requests/{tid}/heartbeat", None, bad)[0],
                         403)
        self.assertEqual(call("DELETE", f"{url}/queue/requests/{tid}", None, right)[0], 204)

    def check_hub_and_node(self, log):
        creds = self.credentials()
        hub_config = self.hub_config(log=log, hub=creds)
        hub = self.start("hub", hub_config)
        node_config = {"server": {"host": "127.0.0.1", "port": free_port()},
                       "hub": creds,
                       "node": {"hub": hub.url, "id": "n-secret", "slots": [fake_slot()]},
                       "log": log}
        node = self.start("node", node_config)
        wait_for(lambda: call_json("GET", hub.url + "/status", None,
                                   {"Authorization": "Bearer " + creds["client-token"]})[1]
                 ["value"]["ready"], 10, "the node's registration")
        # Straight to the node, with a wrong secret: refused, and logged without it.
        self.assertIn(call("GET", node.url + "/session/x/url", None,
                           {"X-Registration-Secret": self.new("wrong-node")})[0], (401, 403))
        self.exercise_hub(hub.url, creds)
        # SIGHUP replaces every credential, on the hub and on the node.
        fresh = self.credentials()
        hub.reload(self.hub_config(log=log, hub=fresh))
        wait_for(lambda: "config.reloaded" in hub.text(), 10, "the hub's reload line")
        node.reload(dict(node_config, hub=fresh))
        wait_for(lambda: "config.reloaded" in node.text(), 10, "the node's reload line")
        self.exercise_hub(hub.url, fresh)
        node.stop()
        hub.stop()
        self.assertIn("hub.client-token", hub.text())  # the reload names what changed
        self.assert_no_secret(hub, node)
        return hub, node

    def test_hub_and_node_in_text(self):
        self.check_hub_and_node({"format": "text", "level": "debug"})

    def test_hub_and_node_in_json(self):
        hub, node = self.check_hub_and_node({"format": "json", "level": "debug"})
        for p in (hub, node):
            self.assertTrue(all(line.startswith("{") for line in p.err_lines()))
            p.events()  # every line parses
        # The node's lines name it, and the session a line is about.
        sessions = [e for e in node.events() if e["event"].startswith("node.session_")]
        self.assertEqual(len(sessions), 4, node.events())  # two sessions started and ended
        for e in sessions:
            self.assertEqual(e["node_id"], "n-secret", e)
            self.assertIn(e["session_id"], e["message"])

    def check_standalone(self, log):
        creds = self.credentials()
        config = {"server": {"host": "127.0.0.1", "port": 0}, "hub": creds,
                  "queue": {"registration-grace": "0s"}, "node": {"slots": [fake_slot()]},
                  "log": log}
        standalone = self.start("standalone", config)
        wait_for(lambda: call_json("GET", standalone.url + "/status", None,
                                   {"Authorization": "Bearer " + creds["client-token"]})[1]
                 ["value"]["ready"], 10, "the standalone's node")
        self.exercise_hub(standalone.url, creds)
        fresh = self.credentials()
        standalone.reload(dict(config, hub=fresh))
        wait_for(lambda: "config.reloaded" in standalone.text(), 10, "the reload line")
        self.exercise_hub(standalone.url, fresh)
        standalone.stop()
        self.assert_no_secret(standalone)
        return standalone

    def test_standalone_in_text(self):
        self.check_standalone({"format": "text", "level": "debug"})

    def test_standalone_in_json(self):
        standalone = self.check_standalone({"format": "json", "level": "debug"})
        self.assertEqual(standalone.out, [])
        standalone.events()


if __name__ == "__main__":
    unittest.main()
