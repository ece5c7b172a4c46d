"""What the hub does for clients and operators, against the real binary (DESIGN 7a).

Paths are routed as forwarded (nothing that escapes a session's route reaches a node), the
headers a node gets, ticket tokens, what /status, /graphql and /metrics show without the client
token, SIGHUP, and bounded growth after many varied requests.
"""

import http.client
import json
import os
import signal
import socket
import tempfile
import unittest
import urllib.parse

from hubtest import AsyncRequest, HubTestCase, call, call_json, caps, wait_for

SECRET = "s3cret-registration"


def record_requests(node):
    """Makes `node` record every request it gets as (method, path, headers lower-cased)."""
    node.requests = []
    handler = node.server.RequestHandlerClass

    class Recording(handler):
        def _dispatch(self, method):
            with node.lock:
                node.requests.append(
                    (method, self.path, {k.lower(): v for k, v in self.headers.items()}))
            return super()._dispatch(method)

    node.server.RequestHandlerClass = Recording
    return node


def without_nagle(node):
    """Makes `node` answer without Nagle's delay (it writes a head and a body separately, and
    the hub's client delays its ACK): a hub test that creates thousands of sessions needs it."""
    handler = node.server.RequestHandlerClass

    class NoDelay(handler):
        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    node.server.RequestHandlerClass = NoDelay
    return node


def requests_of(node):
    with node.lock:
        return list(node.requests)


class PathRoutingTest(HubTestCase):
    """A proxied path is refused unless the node would read it as the hub routed it."""

    def setUp(self):
        super().setUp()
        self.hub = self.start_hub()
        self.node = record_requests(self.start_node())
        self.hub.register(self.node)
        status, body = self.hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        self.sid = body["value"]["sessionId"]

    def assert_refused(self, method, path, status, error):
        before = len(requests_of(self.node))
        got, body = call_json(method, self.hub.url + path, {} if method == "POST" else None)
        self.assertEqual(got, status, (method, path, body))
        self.assertEqual(body["value"]["error"], error, (method, path, body))
        self.assertEqual(requests_of(self.node)[before:], [], (method, path))

    def test_dot_segments_and_encoded_separators_reach_no_node(self):
        sid = self.sid
        for method, path in [
                ("POST", f"/session/{sid}/../../drain"),
                ("POST", f"/session/{sid}/../../session"),
                ("DELETE", f"/session/{sid}/../{sid}"),
                ("GET", f"/session/{sid}/./url"),
                ("GET", f"/wd/hub/session/{sid}/../../status"),
                ("GET", f"/session/{sid}/%2e%2e/%2E%2E/status"),
                ("GET", f"/session/{sid}/.%2e/status"),
                ("GET", f"/session/{sid}%2F..%2F..%2Fstatus"),
                ("GET", f"/session/{sid}/x%2fy"),
                ("GET", f"/session/{sid}/x%5Cy"),
                ("GET", f"/session/{sid}/x\\y"),
                ("GET", f"/session/{sid}/x%zz"),
                ("GET", "/session/../status"),
                ("GET", "/session/./url"),
                ("GET", "/session/a%2Fb/url"),
        ]:
            self.assert_refused(method, path, 400, "invalid argument")
        for method, path in [("GET", "/session/" + "a" * 129 + "/url"),
                             ("GET", "/session/a:b/url"),
                             ("DELETE", "/session/a%20b"),
                             ("GET", "/session/a%2E/url")]:
            self.assert_refused(method, path, 404, "invalid session id")
        # The session is still the hub's and the node's: nothing ended it behind the hub's back.
        self.assertEqual(len(self.hub.busy_slots()), 1)
        self.assertEqual(self.node.live_sessions(), [sid])

    def test_the_node_gets_exactly_the_routed_path(self):
        sid = self.sid
        before = len(requests_of(self.node))
        status, body = call_json("GET",
                                 f"{self.hub.url}/wd/hub//session//{sid}/url?b=2&a=1&b=%2F")
        self.assertEqual(status, 200, body)
        status, body = call_json("GET", f"{self.hub.url}/session/{sid}/cookie/my%20cookie")
        self.assertEqual(status, 200, body)
        paths = [path for _, path, _ in requests_of(self.node)[before:]]
        # The query string goes as received: order, repeated keys and escapes kept.
        self.assertEqual(paths, [f"/session/{sid}/url?b=2&a=1&b=%2F",
                                 f"/session/{sid}/cookie/my%20cookie"])


class NodeHeadersTest(HubTestCase):
    """Headers a node gets: the hub's secret on every call, none of the client's credentials."""

    def test_every_call_carries_the_secret_and_no_client_credentials(self):
        hub = self.start_hub("--hub.registration-secret", SECRET,
                             "--hub.health-check-period", "200ms")
        node = record_requests(self.start_node())
        probed = record_requests(self.start_node())
        auth = {"X-Registration-Secret": SECRET}
        hub.register(node, headers=auth)
        hub.register(probed, headers=auth, healthCheck="status",
                     slots=[{"id": "s0", "stereotype": {"browserName": "firefox"}}])
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        sid = body["value"]["sessionId"]
        client_headers = {
            "Authorization": "Basic dXNlcjpwYXNz",
            "Proxy-Authorization": "Basic dXNlcjpwYXNz",
            "X-Registration-Secret": "forged",
            "X-Queue-Token": "someone-elses",
            "TE": "trailers",
            "Keep-Alive": "timeout=5",
            "Connection": "keep-alive",
            "X-Forwarded-For": "10.1.2.3",
        }
        status, body = call_json("POST", f"{hub.url}/session/{sid}/url",
                                 {"url": "http://example.com"}, client_headers)
        self.assertEqual(status, 200, body)
        status, body = call_json("DELETE", f"{hub.url}/session/{sid}", None, client_headers)
        self.assertEqual(status, 200, body)
        wait_for(lambda: any(m == "GET" and p == "/status" for m, p, _ in requests_of(probed)),
                 5, "a status probe")

        seen = requests_of(node) + requests_of(probed)
        kinds = {(m, "command" if p.startswith(f"/session/{sid}") else p) for m, p, _ in seen}
        self.assertLessEqual({("POST", "/session"), ("POST", "command"), ("DELETE", "command"),
                              ("GET", "/status")}, kinds)
        for method, path, headers in seen:
            self.assertEqual(headers.get("x-registration-secret"), SECRET, (method, path))
            for name in ("authorization", "proxy-authorization", "x-queue-token", "te",
                         "keep-alive", "x-forwarded-for"):
                self.assertNotIn(name, headers, (method, path))


class TicketTokenTest(HubTestCase):
    def test_every_ticket_call_needs_its_token(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        self.assertEqual(hub.new_session({"browserName": "chrome"})[0], 200)
        status, ticket = call_json("POST", hub.url + "/queue/requests",
                                   caps({"browserName": "chrome"}))
        self.assertEqual(status, 201, ticket)
        tid, token = ticket["id"], ticket["token"]
        base = f"{hub.url}/queue/requests/{tid}"
        for wrong in ({}, {"X-Queue-Token": "wrong"}, {"X-Queue-Token": token[:-1]}):
            self.assertEqual(call("GET", base, None, wrong)[0], 403)
            self.assertEqual(call("POST", base + "/heartbeat", None, wrong)[0], 403)
            self.assertEqual(call("POST", base + "/take", None, wrong)[0], 403)
            self.assertEqual(call("DELETE", base, None, wrong)[0], 403)
        # GET /queue lists the waiter, but not by its ticket's id.
        listed = hub.queue()
        self.assertEqual(len(listed), 1)
        self.assertNotIn(tid, json.dumps(listed))
        good = {"X-Queue-Token": token}
        status, info = call_json("GET", base, None, good)
        self.assertEqual((status, info["status"]), (200, "waiting"))
        self.assertEqual(call("POST", base + "/heartbeat", None, good)[0], 204)
        self.assertEqual(call("DELETE", base, None, good)[0], 204)
        for method, path in (("GET", ""), ("POST", "/heartbeat"), ("POST", "/take"),
                             ("DELETE", "")):
            self.assertEqual(call(method, base + path, None, good)[0], 404, (method, path))
        hub.wait_queue_length(0)


class ExposureTest(HubTestCase):
    """With hub.client-token set, /status, /graphql and /metrics show counts to anyone."""

    QUERY = ("{ grid { sessionCount maxSession sessionQueueSize } nodesInfo { nodes { id uri "
             "status sessionCount maxSession slotCount stereotypes sessions { id capabilities "
             "nodeUri slot { id stereotype } } } } sessionsInfo { sessionQueueRequests } }")

    def test_counts_without_the_token_everything_with_it(self):
        hub = self.start_hub("--hub.client-token", "ct")
        token = {"Authorization": "Bearer ct"}
        node = self.start_node()
        hub.register(node, slots=[{"id": "s0", "stereotype": {"browserName": "chrome",
                                                               "acme:stereo": "stereo-marker"}}])
        status, body = hub.new_session({"browserName": "chrome", "acme:cap": "cap-marker"},
                                       headers=token)
        self.assertEqual(status, 200, body)
        sid = body["value"]["sessionId"]
        # A second request waits: its capabilities are a queue entry.
        pending = AsyncRequest(call_json, "POST", hub.url + "/session",
                               caps({"browserName": "chrome", "acme:cap": "queued-marker"}),
                               token, 30)
        wait_for(lambda: hub.status()["queueSize"] == 1, 5, "a waiter")
        secrets = (sid, node.url, "stereo-marker", "cap-marker", "queued-marker")

        status, open_status = call_json("GET", hub.url + "/status")
        self.assertEqual(status, 200)
        status, open_graphql = call_json("POST", hub.url + "/graphql", {"query": self.QUERY})
        self.assertEqual(status, 200, open_graphql)
        status, _, open_metrics = call("GET", hub.url + "/metrics")
        self.assertEqual(status, 200)
        for text in (json.dumps(open_status), json.dumps(open_graphql), open_metrics.decode()):
            for secret in secrets:
                self.assertNotIn(secret, text)
        value = open_status["value"]
        self.assertTrue(value["ready"])
        self.assertEqual(value["queueSize"], 1)
        self.assertEqual([(n["availability"], n["sessionCount"], n["maxSessions"])
                          for n in value["nodes"]], [("UP", 1, 1)])
        data = open_graphql["data"]
        self.assertEqual((data["grid"]["sessionCount"], data["grid"]["sessionQueueSize"]), (1, 1))
        self.assertEqual(len(data["sessionsInfo"]["sessionQueueRequests"]), 1)
        self.assertEqual(data["nodesInfo"]["nodes"][0]["status"], "UP")

        status, full_status = call_json("GET", hub.url + "/status", None, token)
        status, full_graphql = call_json("POST", hub.url + "/graphql", {"query": self.QUERY},
                                         token)
        for text in (json.dumps(full_status), json.dumps(full_graphql)):
            for secret in secrets[:3]:
                self.assertIn(secret, text)
        self.assertIn("queued-marker", json.dumps(full_graphql))
        call_json("DELETE", f"{hub.url}/session/{sid}", None, token)
        self.assertEqual(pending.result()[0], 200)


class ReloadTest(HubTestCase):
    """SIGHUP re-reads the file: new tokens and secret are in force, and only names are logged."""

    def write(self, text):
        with open(self.path, "w") as f:
            f.write(text)

    def test_sighup_swaps_tokens_and_secret_and_logs_names_only(self):
        directory = tempfile.mkdtemp(prefix="gridhub-it-")
        self.path = os.path.join(directory, "hub.yaml")
        self.addCleanup(os.rmdir, directory)
        self.addCleanup(os.remove, self.path)
        self.write("hub:\n  client-token: old-client-value\n"
                   "  registration-secret: old-secret-value\n")
        hub = self.start_hub("--config", self.path)
        node = record_requests(self.start_node())
        hub.register(node, headers={"X-Registration-Secret": "old-secret-value"})
        old = {"Authorization": "Bearer old-client-value"}
        new = {"Authorization": "Bearer new-client-value"}
        self.assertEqual(call_json("GET", hub.url + "/queue", None, old)[0], 200)

        self.write("hub:\n  client-token: new-client-value\n"
                   "  registration-secret: new-secret-value\n"
                   "queue:\n  max-per-label: 7\nserver:\n  max-body: 1000000\n")
        hub.process.send_signal(signal.SIGHUP)
        line = wait_for(lambda: next((l for l in hub.stderr_lines if "reloaded" in l), None), 5,
                        "the reload line")
        for name in ("hub.client-token", "hub.registration-secret", "queue.max-per-label"):
            self.assertIn(name, line.split("need a restart")[0])
        self.assertIn("server.max-body", line.split("need a restart")[1])
        log = "".join(hub.stderr_lines)
        for value in ("old-client-value", "new-client-value", "old-secret-value",
                      "new-secret-value"):
            self.assertNotIn(value, log)

        self.assertEqual(call_json("GET", hub.url + "/queue", None, old)[0], 401)
        self.assertEqual(call_json("GET", hub.url + "/queue", None, new)[0], 200)
        other = self.start_node()
        body = {"id": "other", "uri": other.url,
                "slots": [{"id": "s0", "stereotype": {"browserName": "firefox"}}]}
        self.assertEqual(call_json("POST", hub.url + "/nodes", body,
                                   {"X-Registration-Secret": "old-secret-value"})[0], 401)
        self.assertEqual(call_json("POST", hub.url + "/nodes", body,
                                   {"X-Registration-Secret": "new-secret-value"})[0], 201)
        # Calls to nodes carry the new secret from now on.
        status, reply = hub.new_session({"browserName": "chrome"}, headers=new)
        self.assertEqual(status, 200, reply)
        method, path, headers = requests_of(node)[-1]
        self.assertEqual((method, path), ("POST", "/session"))
        self.assertEqual(headers.get("x-registration-secret"), "new-secret-value")
        # A second reload with nothing new says so, and still names what needs a restart.
        hub.process.send_signal(signal.SIGHUP)
        wait_for(lambda: sum("reloaded" in l for l in hub.stderr_lines) == 2, 5, "reload 2")
        second = [l for l in hub.stderr_lines if "reloaded" in l][1]
        self.assertNotIn("hub.client-token", second)
        self.assertIn("server.max-body", second)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def sanitized():
    """Whether the binary under test is built with ASan or TSan."""
    with open(os.environ["GRIDHUB_BIN"], "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def series_count(hub):
    status, _, text = call("GET", hub.url + "/metrics")
    assert status == 200
    return sum(1 for line in text.decode().splitlines()
               if line.startswith("gridhub_") and "{" in line and "label=" in line)


class Client:
    """Requests on one kept-alive connection (reopened when the hub closes it)."""

    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                response = self.conn.getresponse()
                payload = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, payload
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class GrowthTest(HubTestCase):
    """No structure grows with requests that are gone (DESIGN 7a)."""

    def test_labels_a_request_invents_share_the_budget_of_the_label_that_serves_it(self):
        hub = self.start_hub("--queue.max-per-label", "3", "--queue.reject-unsatisfiable",
                             "false")
        hub.register(self.start_node())
        self.assertEqual(hub.new_session({"browserName": "chrome"})[0], 200)  # busy
        # chrome:x1, chrome:x2, ... are served by the chrome slot (trailing fallback).
        got = [call_json("POST", hub.url + "/queue/requests",
                         caps({"browserName": "chrome", "gridhub:label": f"chrome:x{i}"}))
               for i in range(6)]
        self.assertEqual([status for status, _ in got], [201] * 3 + [429] * 3)
        self.assertEqual({body["label"] for status, body in got if status == 201}, {"chrome"})
        # Labels nothing declares share one bucket of the same size.
        got = [call_json("POST", hub.url + "/queue/requests",
                         caps({"browserName": "chrome", "gridhub:label": f"nowhere{i}"}))[0]
               for i in range(6)]
        self.assertEqual(got, [201] * 3 + [429] * 3)
        self.assertEqual(len(hub.queue()), 6)

    def test_a_node_with_200_labels_leaves_no_series_behind(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        baseline = series_count(hub)
        slots = [{"id": f"s{i}", "label": f"team{i}", "stereotype": {"browserName": "chrome"}}
                 for i in range(200)]
        hub.register(self.start_node(), slots=slots, node_id="wide")
        self.assertGreater(series_count(hub), baseline + 200 * 20)
        self.assertEqual(call("DELETE", hub.url + "/nodes/wide")[0], 204)
        self.assertEqual(series_count(hub), baseline)

    def test_ten_thousand_varied_requests_leave_memory_and_series_as_they_were(self):
        # Fake nodes do not heartbeat: node-timeout must outlast the test.
        hub = self.start_hub("--queue.max-per-label", "20", "--queue.abandon-after", "1s",
                             "--queue.ready-ttl", "1s", "--hub.node-timeout", "1h")
        chrome = self.start_node()
        firefox = without_nagle(self.start_node())
        hub.register(chrome)
        hub.register(firefox, slots=[{"id": "s0", "stereotype": {"browserName": "firefox"}}])
        self.assertEqual(hub.new_session({"browserName": "chrome"})[0], 200)  # chrome is busy
        client = Client(hub.url)
        self.addCleanup(client.close)
        counts = {}

        def run(start, n):
            for i in range(start, start + n):
                kind = i % 5
                if kind == 0:  # refused: no slot could ever serve it
                    status, _ = client.call("POST", "/session", caps(
                        {"browserName": "chrome", "platformName": "nowhere",
                         "gridhub:label": f"l{i}:a:b"}), {"X-Run-Id": f"run{i}"})
                elif kind == 1:  # a ticket nobody will poll (abandoned), or refused when full
                    status, _ = client.call("POST", "/queue/requests", dict(caps(
                        {"browserName": "chrome", "gridhub:label": f"chrome:x{i}"}),
                        runId=f"run{i}"))
                elif kind == 2:  # served, then ended
                    status, body = client.call("POST", "/session", caps(
                        {"browserName": "firefox", "gridhub:runId": f"run{i}"}))
                    if status == 200:
                        sid = json.loads(body)["value"]["sessionId"]
                        client.call("DELETE", f"/session/{sid}")
                elif kind == 3:  # fail fast on the busy label, under an invented label
                    status, _ = client.call("POST", "/session", caps(
                        {"browserName": "chrome", "gridhub:label": f"chrome:n{i}",
                         "gridhub:noWait": True}))
                else:  # commands for sessions that do not exist
                    status, _ = client.call("GET", f"/session/gone{i}/url")
                counts[(kind, status)] = counts.get((kind, status), 0) + 1

        def settled():
            return hub.queue() == [] and hub.status()["queueSize"] == 0

        run(0, 1000)  # warm up: allocator arenas, connection buffers
        wait_for(settled, 10, "the tickets to be abandoned")
        rss_before, series_before = rss_kib(hub.process.pid), series_count(hub)
        run(1000, 10000)
        wait_for(settled, 10, "the tickets to be abandoned")
        rss_after, series_after = rss_kib(hub.process.pid), series_count(hub)

        self.assertEqual(series_after, series_before)
        if not sanitized():  # ASan's quarantine and TSan's shadow memory grow on their own
            self.assertLess(rss_after - rss_before, 20 * 1024, (rss_before, rss_after))
        # Every kind of request happened, refused and served alike.
        for kind, status in ((0, 500), (1, 201), (1, 429), (2, 200), (3, 500), (4, 404)):
            self.assertGreater(counts.get((kind, status), 0), 0, (kind, status, counts))
        self.assertEqual(len(hub.busy_slots()), 1)  # only the chrome session from the start


if __name__ == "__main__":
    unittest.main()
