"""Harness for the hub's integration tests: the real `gridhub hub` binary and fake W3C nodes.

Python standard library only. Every hub is started on port 0 (the URL is parsed from its
`gridhub hub listening on http://HOST:PORT` line) and stopped by pid in tearDown; every wait is
bounded.

    class MyTest(HubTestCase):
        def test_something(self):
            hub = self.start_hub("--queue.timeout", "2s")
            node = self.start_node()                      # a fake W3C server
            hub.register(node, slots=[{"stereotype": {"browserName": "chrome"}}])
            status, body = hub.new_session({"browserName": "chrome"})
"""

import base64
import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse

import loopback_http

GRIDHUB = os.environ.get("GRIDHUB_BIN", "")
START_TIMEOUT = 10.0


def call(method, url, body=None, headers=None, timeout=15.0):
    """One HTTP request on a fresh connection: (status, headers dict lower-cased, bytes)."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        data = body
        if body is not None and not isinstance(body, (bytes, str)):
            data = json.dumps(body)
        if isinstance(data, str):
            data = data.encode()
        hdrs = {"Content-Type": "application/json; charset=utf-8"} if data is not None else {}
        hdrs.update(headers or {})
        path = parsed.path + ("?" + parsed.query if parsed.query else "")
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
    finally:
        conn.close()


def call_json(method, url, body=None, headers=None, timeout=15.0):
    status, _, payload = call(method, url, body, headers, timeout)
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, payload


def wait_for(predicate, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def caps(always=None, first=None):
    body = {"capabilities": {"alwaysMatch": always or {}}}
    if first is not None:
        body["capabilities"]["firstMatch"] = first
    return body


class FakeNode:
    """A tiny W3C WebDriver server.

    POST /session creates a session after `create_delay` seconds, or answers 500 while
    `fail_creates` > 0 (counting down; -1 = always). Commands are echoed as JSON; `.../echo`
    returns the request body byte for byte with its content type; `.../screenshot` returns
    `big_payload`. DELETE /session/{id} records the deletion.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.create_delay = 0.0
        self.fail_creates = 0
        self.created = []          # session ids, in order
        self.create_bodies = []    # parsed POST /session bodies
        self.deleted = []
        self.commands = []         # (method, path, body bytes)
        self.big_payload = b""
        self.status_ok = True
        self.creates_started = 0
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status, payload, content_type="application/json; charset=utf-8"):
                if isinstance(payload, (dict, list)) or payload is None:
                    payload = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                self._dispatch("GET")

            def do_POST(self):
                self._dispatch("POST")

            def do_DELETE(self):
                self._dispatch("DELETE")

            def _dispatch(self, method):
                body = self._body()
                path = self.path
                if path == "/status" and method == "GET":
                    if node.status_ok:
                        return self._send(200, {"value": {"ready": True, "message": "fake"}})
                    return self._send(503, {"value": {"ready": False}})
                if path == "/session" and method == "POST":
                    return self._create(body)
                m = re.match(r"^/session/([^/?]+)(/[^?]*)?(\?.*)?$", path)
                if not m:
                    return self._send(404, {"value": {"error": "unknown command",
                                                      "message": path, "stacktrace": ""}})
                session_id, rest = m.group(1), m.group(2) or ""
                with node.lock:
                    known = session_id in node.created and session_id not in node.deleted
                    node.commands.append((method, path, body))
                if not known:
                    return self._send(404, {"value": {"error": "invalid session id",
                                                      "message": session_id, "stacktrace": ""}})
                if method == "DELETE" and rest == "":
                    with node.lock:
                        node.deleted.append(session_id)
                    return self._send(200, {"value": None})
                if rest == "/echo":
                    return self._send(200, body, self.headers.get("Content-Type", "text/plain"))
                if rest == "/screenshot":
                    return self._send(200, node.big_payload)
                if rest == "/status418":
                    return self._send(418, {"value": {"error": "teapot", "message": "x",
                                                      "stacktrace": ""}})
                return self._send(200, {"value": {"method": method, "path": path,
                                                  "body": body.decode("utf-8", "replace")}})

            def _create(self, body):
                with node.lock:
                    node.creates_started += 1
                    delay = node.create_delay
                    fail = node.fail_creates != 0
                    if node.fail_creates > 0:
                        node.fail_creates -= 1
                if delay:
                    time.sleep(delay)
                if fail:
                    return self._send(500, {"value": {"error": "session not created",
                                                      "message": "fake driver refused",
                                                      "stacktrace": ""}})
                parsed = json.loads(body)
                session_id = base64.b16encode(os.urandom(16)).decode().lower()
                with node.lock:
                    node.created.append(session_id)
                    node.create_bodies.append(parsed)
                requested = parsed["capabilities"]["alwaysMatch"]
                self._send(200, {"value": {"sessionId": session_id,
                                           "capabilities": dict(requested, fake=True)}})

        self.server, self.url = loopback_http.start(Handler)

    def stop(self):
        loopback_http.stop(self.server)

    def live_sessions(self):
        with self.lock:
            return [s for s in self.created if s not in self.deleted]


class Hub:
    """A running `gridhub hub` process."""

    def __init__(self, flags, env=None):
        if not GRIDHUB or not os.path.exists(GRIDHUB):
            raise unittest.SkipTest("GRIDHUB_BIN not set to the gridhub binary")
        args = [GRIDHUB, "hub", "--server.port", "0", "--server.host", "127.0.0.1"]
        args += list(flags)
        environment = dict(os.environ)
        environment.update(env or {})
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=environment, text=True)
        self.stderr_lines = []
        self.url = None
        line_holder = []

        def read_stdout():
            for line in self.process.stdout:
                line_holder.append(line)

        def read_stderr():
            for line in self.process.stderr:
                self.stderr_lines.append(line)

        self._readers = [threading.Thread(target=read_stdout, daemon=True),
                         threading.Thread(target=read_stderr, daemon=True)]
        for reader in self._readers:
            reader.start()

        def started():
            if self.process.poll() is not None:
                raise AssertionError(f"hub exited with {self.process.returncode}: "
                                     f"{''.join(self.stderr_lines)}")
            for line in line_holder:
                m = re.match(r"^gridhub hub listening on (http://\S+)$", line.strip())
                if m:
                    return m.group(1)
            return None

        self.url = wait_for(started, START_TIMEOUT, "the hub's listening line")

    def stop(self, sig=None):
        if self.process.poll() is None:
            self.process.terminate() if sig is None else self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for reader in self._readers:
            reader.join(timeout=5)
        self.process.stdout.close()
        self.process.stderr.close()

    # --- API helpers ----------------------------------------------------------------------
    def register(self, node, slots=None, node_id=None, headers=None, **extra):
        body = {"id": node_id or f"node-{node.url.rsplit(':', 1)[1]}", "uri": node.url,
                "slots": slots or [{"id": "s0", "stereotype": {"browserName": "chrome"}}]}
        body.update(extra)
        status, reply = call_json("POST", self.url + "/nodes", body, headers)
        if status != 201:
            raise AssertionError(f"registration refused: {status} {reply}")
        return body["id"]

    def new_session(self, always=None, first=None, headers=None, timeout=15.0, prefix=""):
        return call_json("POST", self.url + prefix + "/session", caps(always, first), headers,
                         timeout)

    def status(self):
        status, body = call_json("GET", self.url + "/status")
        assert status == 200, (status, body)
        return body["value"]

    def queue(self):
        status, body = call_json("GET", self.url + "/queue")
        assert status == 200, (status, body)
        return body["value"]

    def wait_queue_length(self, n, timeout=5.0):
        wait_for(lambda: len(self.queue()) == n, timeout, f"{n} waiter(s) in the queue")

    def busy_slots(self):
        return [s for n in self.status()["nodes"] for s in n["slots"] if s["session"]]


class AsyncRequest:
    """Runs a blocking call in a thread; .result() joins with a bound."""

    def __init__(self, fn, *args, **kwargs):
        self._result = None
        self._error = None

        def run():
            try:
                self._result = fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - reported by result()
                self._error = e

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def done(self):
        return not self.thread.is_alive()

    def result(self, timeout=15.0):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("request did not finish in time")
        if self._error:
            raise self._error
        return self._result


class HubTestCase(unittest.TestCase):
    """Starts hubs and fake nodes and stops all of them, by pid, in tearDown."""

    def setUp(self):
        self._hubs = []
        self._nodes = []

    def tearDown(self):
        for hub in self._hubs:
            hub.stop()
            if hub.process.returncode not in (0, None) and not getattr(hub, "crash_ok", False):
                print("hub stderr:\n" + "".join(hub.stderr_lines))
        for node in self._nodes:
            node.stop()

    def start_hub(self, *flags, env=None):
        hub = Hub(("--queue.registration-grace", "0s") + flags, env)
        self._hubs.append(hub)
        return hub

    def start_node(self):
        node = FakeNode()
        self._nodes.append(node)
        return node

    def raw_new_session(self, hub, always, headers=None):
        """Sends POST /session on a raw socket and returns it (to close it mid-wait)."""
        body = json.dumps(caps(always)).encode()
        host, port = urllib.parse.urlsplit(hub.url).hostname, urllib.parse.urlsplit(hub.url).port
        sock = socket.create_connection((host, port), timeout=5)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        sock.sendall((f"POST /session HTTP/1.1\r\nHost: {host}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                      f"{extra}\r\n").encode() + body)
        return sock
