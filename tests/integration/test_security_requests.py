"""What the hub does for clients and operators, against the real binary (DESIGN 7a).

Paths are routed as forwarded (nothing that escapes a session's route reaches a node), the
headers a node gets, ticket tokens, what /status, /graphql and /metrics show without the client
token, SIGHUP, and bounded growth after many varied requests.
"""

import json
import os
import signal
import tempfile
import unittest

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
        status, body = call_json("GET", f"{self.hub.url}/wd/hub//session//{sid}/url?a=1")
        self.assertEqual(status, 200, body)
        status, body = call_json("GET", f"{self.hub.url}/session/{sid}/cookie/my%20cookie")
        self.assertEqual(status, 200, body)
        paths = [path for _, path, _ in requests_of(self.node)[before:]]
        self.assertEqual(paths, [f"/session/{sid}/url?a=1", f"/session/{sid}/cookie/my%20cookie"])


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


if __name__ == "__main__":
    unittest.main()
