"""Deviations from DESIGN.md found by an audit of the real binary, each pinned by a test:
ticket states, fail-fast headers on tickets, admin auth, run id types, status-code details,
the registration grace, failing nodes, malformed HTTP and connection handling."""

import base64
import socket
import time
import unittest
import urllib.parse

from hubtest import AsyncRequest, HubTestCase, call, call_json, caps, wait_for


def basic(password, user="u"):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class TicketApiTest(HubTestCase):
    def occupy(self, hub):
        status, body = hub.new_session({"browserName": "chrome"}, timeout=5)
        self.assertEqual(status, 200, body)
        return body["value"]["sessionId"]

    def test_no_wait_headers_refuse_a_ticket_at_once(self):
        hub = self.start_hub()
        hub.register(self.start_node())
        self.occupy(hub)
        for header in ("X-No-Wait", "X-Selenoid-No-Wait"):
            status, body = call_json("POST", hub.url + "/queue/requests",
                                     caps({"browserName": "chrome"}), {header: "true"})
            self.assertEqual(status, 429, (header, body))
            self.assertEqual(body["value"]["error"], "session not created")
            self.assertIn("no free slot can serve", body["value"]["message"])
            # No cap is configured, so none is blamed.
            self.assertNotIn("concurrency cap", body["value"]["message"])
        self.assertEqual(hub.queue(), [])

    def test_non_string_run_id_is_invalid_argument(self):
        hub = self.start_hub()
        hub.register(self.start_node())
        status, body = call_json("POST", hub.url + "/queue/requests",
                                 dict(caps({"browserName": "chrome"}), runId=5))
        self.assertEqual(status, 400, body)
        self.assertEqual(body["value"]["error"], "invalid argument")
        self.assertIn("runId", body["value"]["message"])
        self.assertEqual(hub.queue(), [])

    def test_expired_ticket_is_unknown_to_get_and_take(self):
        hub = self.start_hub("--queue.timeout", "1s")
        hub.register(self.start_node())
        self.occupy(hub)
        status, ticket = call_json("POST", hub.url + "/queue/requests",
                                   caps({"browserName": "chrome"}))
        self.assertEqual(status, 201, ticket)
        tid, token = ticket["id"], ticket["token"]
        wait_for(lambda: call("GET", f"{hub.url}/queue/requests/{tid}", None,
                              {"X-Queue-Token": token})[0] == 404, 5,
                 "the expired ticket to be gone")
        status, body = call_json("POST", f"{hub.url}/queue/requests/{tid}/take", None,
                                 {"X-Queue-Token": token})
        self.assertEqual(status, 404, body)

    def test_ticket_whose_creation_failed_answers_take_500_once(self):
        hub = self.start_hub("--queue.retry-limit", "0")
        node = self.start_node()
        node.fail_creates = -1
        hub.register(node)
        status, ticket = call_json("POST", hub.url + "/queue/requests",
                                   caps({"browserName": "chrome"}))
        self.assertEqual(status, 201, ticket)
        tid, token = ticket["id"], ticket["token"]
        # GET shows only waiting or ready; a failed ticket is no longer waiting.
        wait_for(lambda: call("GET", f"{hub.url}/queue/requests/{tid}", None,
                              {"X-Queue-Token": token})[0] == 404, 5,
                 "the failed ticket to leave GET")
        status, body = call_json("POST", f"{hub.url}/queue/requests/{tid}/take", None,
                                 {"X-Queue-Token": token})
        self.assertEqual(status, 500, body)
        self.assertEqual(body["value"]["error"], "session not created")
        self.assertIn("fake driver refused", body["value"]["message"])
        status, _ = call_json("POST", f"{hub.url}/queue/requests/{tid}/take", None,
                              {"X-Queue-Token": token})
        self.assertEqual(status, 404)


class GraceAndFailingNodesTest(HubTestCase):
    def test_unsatisfiable_waiters_fail_when_the_registration_grace_ends(self):
        hub = self.start_hub("--queue.registration-grace", "2s", "--queue.timeout", "60s")
        hub.register(self.start_node())  # one chrome slot
        status, body = hub.new_session({"browserName": "chrome"}, timeout=5)
        self.assertEqual(status, 200, body)
        started = time.monotonic()
        hopeless = AsyncRequest(hub.new_session, {"browserName": "firefox"}, timeout=30)
        patient = AsyncRequest(hub.new_session, {"browserName": "chrome"}, timeout=30)
        hub.wait_queue_length(2)
        status, body = hopeless.result(timeout=20)
        self.assertEqual(status, 500, body)
        self.assertIn("unsatisfiable", body["value"]["message"])
        self.assertIn("firefox", body["value"]["message"])
        self.assertLess(time.monotonic() - started, 15)  # at the grace's end, not the timeout
        # A request some slot can serve keeps waiting.
        self.assertFalse(patient.done())
        self.assertEqual([w["label"] for w in hub.queue()], ["chrome"])

    def test_node_that_recovers_serves_every_waiter(self):
        hub = self.start_hub("--queue.retry-limit", "3")
        node = self.start_node()
        node.fail_creates = -1  # refuses every creation for a while, then recovers
        hub.register(node)
        waiters = [AsyncRequest(hub.new_session, {"browserName": "chrome"}, timeout=40)
                   for _ in range(3)]
        wait_for(lambda: node.creates_started >= 1, 5, "a first attempt")
        time.sleep(1.2)  # the node's outage, not a wait for the hub
        with node.lock:
            node.fail_creates = 0
        # One slot: each waiter's session is ended as soon as it arrives, freeing the slot for
        # the next (in service order, which need not be the order of the list).
        pending = list(waiters)
        while pending:
            wait_for(lambda: any(w.done() for w in pending), 40, "the next waiter served")
            waiter = next(w for w in pending if w.done())
            pending.remove(waiter)
            status, body = waiter.result()
            self.assertEqual(status, 200, body)
            sid = body["value"]["sessionId"]
            self.assertEqual(call_json("DELETE", f"{hub.url}/session/{sid}")[0], 200)
        self.assertEqual(len(node.created), 3)

    def test_node_that_always_fails_spaces_its_attempts(self):
        hub = self.start_hub("--queue.retry-limit", "1")
        node = self.start_node()
        node.fail_creates = -1
        hub.register(node)
        waiters = [AsyncRequest(hub.new_session, {"browserName": "chrome"}, timeout=60)
                   for _ in range(3)]
        wait_for(lambda: any(w.done() for w in waiters), 15, "the first waiter to fail")
        first = next(w for w in waiters if w.done())
        status, body = first.result()
        self.assertEqual(status, 500, body)
        self.assertIn("fake driver refused", body["value"]["message"])
        # The first waiter used its two attempts; the others were not burnt in the same burst.
        self.assertEqual(node.creates_started, 2)
        self.assertEqual(sum(1 for w in waiters if not w.done()), 2)
        self.assertEqual(len(hub.queue()), 2)


class AdminAuthTest(HubTestCase):
    def admin_calls(self, hub):
        return [("DELETE", hub.url + "/queue", None),
                ("DELETE", hub.url + "/se/grid/newsessionqueue/queue", None),
                ("GET", hub.url + "/admin/config", None),
                ("PUT", hub.url + "/admin/config", {"queue": {"max-per-label": 7}})]

    def test_client_token_guards_admin_calls_without_an_admin_token(self):
        hub = self.start_hub("--hub.client-token", "client-secret")
        for method, url, body in self.admin_calls(hub):
            status, headers, _ = call(method, url, body)
            self.assertEqual(status, 401, (method, url))
            self.assertTrue(headers.get("www-authenticate", "").startswith("Bearer"), headers)
            self.assertEqual(call(method, url, body, {"Authorization": "Bearer wrong"})[0], 401)
            self.assertEqual(
                call(method, url, body, {"Authorization": "Bearer client-secret"})[0], 200,
                (method, url))
            self.assertEqual(
                call(method, url, body, {"Authorization": basic("client-secret")})[0], 200)

    def test_admin_token_alone_suffices_also_as_basic_password(self):
        hub = self.start_hub("--hub.client-token", "client-secret", "--hub.admin-token", "boss")
        for method, url, body in self.admin_calls(hub):
            self.assertEqual(call(method, url, body)[0], 401)
            # With an admin token set, the client token is not an admin credential.
            self.assertEqual(
                call(method, url, body, {"Authorization": "Bearer client-secret"})[0], 401)
            self.assertEqual(call(method, url, body, {"Authorization": "Bearer boss"})[0], 200)
            self.assertEqual(call(method, url, body, {"Authorization": basic("boss")})[0], 200)
        # The admin token works as a client credential too, as a basic password as well.
        self.assertEqual(call("GET", hub.url + "/queue", None,
                              {"Authorization": basic("boss")})[0], 200)

    def test_node_drains_itself_with_the_registration_secret(self):
        hub = self.start_hub("--hub.client-token", "c", "--hub.registration-secret", "reg")
        node_id = hub.register(self.start_node(), headers={"X-Registration-Secret": "reg"})
        self.assertEqual(call("POST", f"{hub.url}/nodes/{node_id}/drain")[0], 401)
        self.assertEqual(call("POST", f"{hub.url}/nodes/{node_id}/drain", None,
                              {"X-Registration-Secret": "reg"})[0], 200)


class StatusDetailsTest(HubTestCase):
    def test_405_names_the_allowed_methods(self):
        hub = self.start_hub()
        status, headers, _ = call("PUT", hub.url + "/status", b"")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("allow"), "GET, HEAD")
        status, headers, _ = call("GET", hub.url + "/session")
        self.assertEqual((status, headers.get("allow")), (405, "POST"))
        status, headers, _ = call("POST", hub.url + "/admin/config", b"{}")
        self.assertEqual((status, headers.get("allow")), (405, "GET, PUT"))

    def test_head_status_is_200_without_a_body(self):
        hub = self.start_hub()
        status, _, payload = call("HEAD", hub.url + "/status")
        self.assertEqual((status, payload), (200, b""))


class GraphqlDetailsTest(HubTestCase):
    def graphql(self, hub, query):
        status, body = call_json("POST", hub.url + "/graphql", {"query": query})
        self.assertEqual(status, 200, body)
        return body

    def test_object_fields_need_a_selection_even_when_empty(self):
        hub = self.start_hub()
        hub.register(self.start_node())  # no sessions: the list is empty
        for query in ("{ nodesInfo { nodes { sessions } } }", "{ sessionsInfo { sessions } }",
                      "{ nodesInfo { nodes { sessions { slot } } } }"):
            body = self.graphql(hub, query)
            self.assertIn("errors", body, query)
            self.assertNotIn("data", body, query)
        body = self.graphql(hub, "{ grid { version { x } } }")
        self.assertIn("errors", body)

    def test_grid_uri_is_the_hubs_url(self):
        hub = self.start_hub()
        body = self.graphql(hub, "{ grid { uri, nodeCount } }")
        self.assertEqual(body["data"]["grid"], {"uri": hub.url, "nodeCount": 0})


class HttpEdgeTest(HubTestCase):
    """Raw sockets against the hub: framing, malformed heads and honest Connection handling."""

    def exchange(self, hub, data, read_for=3.0):
        """Sends raw bytes; returns (everything read, whether the server closed) after at most
        `read_for` seconds."""
        parsed = urllib.parse.urlsplit(hub.url)
        sock = socket.create_connection((parsed.hostname, parsed.port), timeout=read_for)
        try:
            sock.sendall(data)
            received = b""
            deadline = time.monotonic() + read_for
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    return received, False
                if not chunk:
                    return received, True
                received += chunk
            return received, False
        finally:
            sock.close()

    def assert_rejected(self, hub, data, status):
        received, closed = self.exchange(hub, data)
        self.assertTrue(received.startswith(f"HTTP/1.1 {status} ".encode()), received[:200])
        self.assertIn(b'"error":"', received)  # a W3C error body, not C++ exception text
        self.assertIn(b"connection: close", received.lower())
        self.assertTrue(closed, "the connection should close after a malformed request")
        return received

    def test_malformed_requests_get_a_clean_4xx_and_the_connection_closes(self):
        hub = self.start_hub()
        self.assert_rejected(hub, b"GARBAGE\r\n\r\n", 400)
        self.assert_rejected(hub, b"GARBAGE\r\n", 400)
        for length in (b"-5", b"99999999999999999999999"):
            body = self.assert_rejected(
                hub, b"POST /session HTTP/1.1\r\nContent-Length: " + length + b"\r\n\r\n", 400)
            self.assertNotIn(b"basic_string", body)
            self.assertNotIn(b"stoull", body)
        for length in (b"1000000000000", b"4000000000"):
            self.assert_rejected(
                hub, b"POST /session HTTP/1.1\r\nContent-Length: " + length + b"\r\n\r\n", 413)
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(3000))
        self.assert_rejected(hub, b"GET /status HTTP/1.1\r\n" + many + b"\r\n", 431)
        # The hub is unharmed.
        self.assertTrue(call("GET", hub.url + "/status")[0] == 200)

    def test_connection_header_tells_the_truth(self):
        hub = self.start_hub()
        status_get = b"GET /status HTTP/1.1\r\nHost: x\r\n"
        # HTTP/1.1 default: kept open, and no "Connection: Close" claim.
        received, closed = self.exchange(hub, status_get + b"\r\n", read_for=1.0)
        self.assertTrue(received.startswith(b"HTTP/1.1 200"), received[:100])
        self.assertNotIn(b"connection: close", received.lower())
        self.assertFalse(closed)
        # Asked to close: says so and does so (a client reading to EOF finishes).
        for request in (status_get + b"Connection: close\r\n\r\n",
                        b"GET /status HTTP/1.0\r\n\r\n"):
            received, closed = self.exchange(hub, request)
            self.assertIn(b" 200 ", received.split(b"\r\n")[0])
            self.assertIn(b"connection: close", received.lower())
            self.assertTrue(closed, request)

    def test_pipelined_requests_are_all_answered_in_order(self):
        hub = self.start_hub()
        received, closed = self.exchange(
            hub, b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /nodes HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /queue HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(received.count(b"HTTP/1.1 200 OK"), 3, received)
        self.assertLess(received.index(b'"ready"'), received.index(b'{"value":[]}'))
        self.assertTrue(closed)

    def test_hop_by_hop_headers_of_a_node_are_not_relayed(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        sid = body["value"]["sessionId"]
        status, headers, _ = call("GET", f"{hub.url}/session/{sid}/url")
        self.assertEqual(status, 200)
        self.assertNotIn("connection", headers)
        self.assertNotIn("keep-alive", headers)
        self.assertNotIn("transfer-encoding", headers)


if __name__ == "__main__":
    unittest.main()
