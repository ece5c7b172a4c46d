"""Queueing through the real hub: waiting, fairness, timeouts, refusals, fail-fast, clients that
leave, and the asynchronous ticket API."""

import json
import time
import unittest

from hubtest import AsyncRequest, HubTestCase, call, call_json, caps, wait_for


class QueueingTest(HubTestCase):
    def occupy(self, hub, always):
        status, body = hub.new_session(always, timeout=5)
        self.assertEqual(status, 200, body)
        return body["value"]["sessionId"]

    def release(self, hub, sid):
        self.assertEqual(call_json("DELETE", f"{hub.url}/session/{sid}")[0], 200)

    def test_waits_for_a_slot_and_gets_it_when_freed(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        sid = self.occupy(hub, {"browserName": "chrome"})
        waiter = AsyncRequest(hub.new_session, {"browserName": "chrome"})
        hub.wait_queue_length(1)
        self.assertFalse(waiter.done())
        self.release(hub, sid)
        status, body = waiter.result()
        self.assertEqual(status, 200, body)
        self.assertEqual(hub.queue(), [])

    def test_serves_labels_round_robin_and_fcfs_within_a_label(self):
        # One slot labelled a:x serves both request labels "a" (prefix-expand) and "a:x".
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node, slots=[{"id": "s", "label": "a:x",
                                   "stereotype": {"browserName": "chrome"}}])
        sid = self.occupy(hub, {"browserName": "chrome", "gridhub:label": "a:x"})
        order = []
        waiters = []
        for name, label in (("A1", "a"), ("A2", "a"), ("B1", "a:x")):
            req = AsyncRequest(hub.new_session, {"browserName": "chrome", "gridhub:label": label,
                                                 "se:name": name}, timeout=20)
            waiters.append((name, req))
            hub.wait_queue_length(len(waiters))
        # The last label served was a:x, so the round starts at "a": A1, then a:x, then A2.
        for _ in range(3):
            self.release(hub, sid)

            def served():
                for name, req in waiters:
                    if req.done() and name not in order:
                        return name
                return None

            name = wait_for(served, 10, "the next waiter to be served")
            order.append(name)
            status, body = dict(waiters)[name].result()
            self.assertEqual(status, 200, body)
            sid = body["value"]["sessionId"]
        self.assertEqual(order, ["A1", "B1", "A2"])

    def test_timeout_is_session_not_created(self):
        hub = self.start_hub("--queue.timeout", "1s")
        node = self.start_node()
        hub.register(node)
        self.occupy(hub, {"browserName": "chrome"})
        started = time.monotonic()
        status, body = hub.new_session({"browserName": "chrome"}, timeout=10)
        waited = time.monotonic() - started
        self.assertEqual(status, 500, body)
        self.assertEqual(body["value"]["error"], "session not created")
        self.assertIn("queue.timeout", body["value"]["message"])
        self.assertGreaterEqual(waited, 0.9)
        self.assertLess(waited, 10)
        self.assertEqual(hub.queue(), [])

    def test_queue_full_and_run_limit_refuse_at_once(self):
        hub = self.start_hub("--queue.max-per-label", "2", "--queue.max-per-run", "1")
        node = self.start_node()
        hub.register(node)
        self.occupy(hub, {"browserName": "chrome"})
        first = AsyncRequest(hub.new_session, {"browserName": "chrome"},
                             headers={"X-Run-Id": "run-1"})
        hub.wait_queue_length(1)
        started = time.monotonic()
        status, body = hub.new_session({"browserName": "chrome", "gridhub:runId": "run-1"})
        self.assertEqual(status, 500, body)
        self.assertEqual(body["value"]["error"], "session not created")
        self.assertIn("max-per-run", body["value"]["message"])
        second = AsyncRequest(hub.new_session, {"browserName": "chrome"})
        hub.wait_queue_length(2)
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 500, body)
        self.assertIn("max-per-label", body["value"]["message"])
        self.assertLess(time.monotonic() - started, 10)  # at once, not after queue.timeout
        self.assertEqual(len(hub.queue()), 2)
        self.assertFalse(first.done() or second.done())

    def test_unsatisfiable_fails_at_once_with_an_explanation(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node, slots=[{"stereotype": {"browserName": "chrome",
                                                  "browserVersion": "156.0.8078.79"}}])
        started = time.monotonic()
        status, body = hub.new_session({"browserName": "chrome", "browserVersion": "120"})
        self.assertEqual(status, 500, body)
        self.assertEqual(body["value"]["error"], "session not created")
        self.assertIn("unsatisfiable", body["value"]["message"])
        self.assertIn("120", body["value"]["message"])
        status, body = hub.new_session({"browserName": "firefox"})
        self.assertEqual(status, 500, body)
        self.assertLess(time.monotonic() - started, 10)  # at once, not after queue.timeout

    def test_during_registration_grace_unsatisfiable_requests_wait_for_nodes(self):
        hub = self.start_hub("--queue.registration-grace", "30s")
        waiter = AsyncRequest(hub.new_session, {"browserName": "firefox"})
        hub.wait_queue_length(1)
        node = self.start_node()
        hub.register(node, slots=[{"stereotype": {"browserName": "firefox"}}])
        status, body = waiter.result()
        self.assertEqual(status, 200, body)

    def test_trailing_fallback_serves_a_more_specific_label_from_its_parent(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node, slots=[{"label": "appa:chromium",
                                   "stereotype": {"browserName": "chrome"}}])
        status, body = hub.new_session({"browserName": "chrome",
                                        "gridhub:label": "AppA:Chromium:UAT"})
        self.assertEqual(status, 200, body)

    def test_fail_fast_headers_and_capability(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        self.occupy(hub, {"browserName": "chrome"})
        for headers, always in (({"X-No-Wait": "true"}, {"browserName": "chrome"}),
                                ({"X-Selenoid-No-Wait": "true"}, {"browserName": "chrome"}),
                                ({}, {"browserName": "chrome", "gridhub:noWait": True})):
            started = time.monotonic()
            status, body = hub.new_session(always, headers=headers)
            self.assertEqual(status, 500, body)
            self.assertEqual(body["value"]["error"], "session not created")
            self.assertLess(time.monotonic() - started, 10)  # at once, not after 300 s
        self.assertEqual(hub.queue(), [])

    def test_fail_fast_succeeds_when_a_slot_is_free(self):
        hub = self.start_hub()
        hub.register(self.start_node())
        status, body = hub.new_session({"browserName": "chrome"}, headers={"X-No-Wait": "true"})
        self.assertEqual(status, 200, body)

    def test_client_that_disconnects_while_waiting_never_gets_a_slot(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        sid = self.occupy(hub, {"browserName": "chrome"})
        sock = self.raw_new_session(hub, {"browserName": "chrome"})
        hub.wait_queue_length(1)
        sock.close()
        hub.wait_queue_length(0)
        self.release(hub, sid)
        # The freed slot stays free: no creation was attempted for the departed client.
        self.assertEqual(node.creates_started, 1)
        self.assertEqual(hub.busy_slots(), [])
        self.assertEqual(self.occupy(hub, {"browserName": "chrome"}) in node.created, True)

    def test_session_created_for_a_departed_client_is_deleted_on_the_node(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        node.create_delay = 0.7
        sock = self.raw_new_session(hub, {"browserName": "chrome"})
        wait_for(lambda: node.creates_started == 1, 5, "the node to start creating")
        sock.close()
        wait_for(lambda: len(node.created) == 1 and node.deleted == node.created, 5,
                 "the late session to be deleted on the node")
        wait_for(lambda: hub.busy_slots() == [], 5, "the slot to be free")
        node.create_delay = 0
        status, body = hub.new_session({"browserName": "chrome"}, timeout=5)
        self.assertEqual(status, 200, body)

    def test_admin_config_raises_a_cap_and_waiters_are_served(self):
        hub = self.start_hub("--queue.concurrency-caps", "chrome=1")
        node = self.start_node()
        hub.register(node, slots=[{"maxSessions": 3, "stereotype": {"browserName": "chrome"}}])
        self.occupy(hub, {"browserName": "chrome"})
        waiter = AsyncRequest(hub.new_session, {"browserName": "chrome"})
        hub.wait_queue_length(1)
        status, body = call_json("PUT", hub.url + "/admin/config",
                                 {"queue": {"concurrency-caps": {"chrome": 2}}})
        self.assertEqual(status, 200, body)
        status, body = waiter.result()
        self.assertEqual(status, 200, body)
        status, body = call_json("PUT", hub.url + "/admin/config", {"queue": {"timeout": -1}})
        self.assertEqual(status, 400, body)
        status, body = call_json("GET", hub.url + "/admin/config")
        self.assertEqual(status, 200)
        self.assertEqual(body["queue"]["concurrency-caps"], {"chrome": 2})

    def test_admin_clears_the_queue(self):
        hub = self.start_hub("--hub.admin-token", "adm")
        node = self.start_node()
        hub.register(node)
        self.occupy(hub, {"browserName": "chrome"})
        waiter = AsyncRequest(hub.new_session, {"browserName": "chrome"})
        hub.wait_queue_length(1)
        self.assertEqual(call_json("DELETE", hub.url + "/queue")[0], 401)
        status, body = call_json("DELETE", hub.url + "/queue", None,
                                 {"Authorization": "Bearer adm"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["value"], 1)
        self.assertEqual(body["cleared"], 1)
        status, body = waiter.result()
        self.assertEqual(status, 500)
        self.assertEqual(body["value"]["error"], "session not created")


class TicketTest(HubTestCase):
    def test_ticket_lifecycle(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        status, body = hub.new_session({"browserName": "chrome"})
        sid = body["value"]["sessionId"]
        status, ticket = call_json("POST", hub.url + "/queue/requests",
                                   dict(caps({"browserName": "chrome"}), runId="r9"))
        self.assertEqual(status, 201, ticket)
        self.assertEqual(ticket["status"], "waiting")
        self.assertEqual(ticket["position"], 1)
        self.assertEqual(ticket["label"], "chrome")
        tid, token = ticket["id"], ticket["token"]
        auth = {"X-Queue-Token": token}
        self.assertEqual(call("GET", f"{hub.url}/queue/requests/{tid}")[0], 403)
        status, info = call_json("GET", f"{hub.url}/queue/requests/{tid}", None, auth)
        self.assertEqual((status, info["status"], info["position"]), (200, "waiting", 1))
        status, headers, _ = call("POST", f"{hub.url}/queue/requests/{tid}/take", None,
                                  {"X-Queue-Token": token})
        self.assertEqual(status, 503)
        self.assertIn("retry-after", headers)
        self.assertEqual(call("POST", f"{hub.url}/queue/requests/{tid}/take", None,
                              {"X-Queue-Token": "wrong"})[0], 403)
        self.assertEqual(call("POST", f"{hub.url}/queue/requests/{tid}/heartbeat")[0], 403)
        self.assertEqual(call("POST", f"{hub.url}/queue/requests/{tid}/heartbeat", None,
                              auth)[0], 204)
        call_json("DELETE", f"{hub.url}/session/{sid}")
        wait_for(lambda: call_json("GET", f"{hub.url}/queue/requests/{tid}", None,
                                   auth)[1]["status"] == "ready", 5, "the ticket to be ready")
        status, taken = call_json("POST", f"{hub.url}/queue/requests/{tid}/take", None,
                                  {"X-Queue-Token": token})
        self.assertEqual(status, 200, taken)
        self.assertIn(taken["value"]["sessionId"], node.created)
        self.assertEqual(call("GET", f"{hub.url}/queue/requests/{tid}", None, auth)[0], 404)
        self.assertEqual(call("POST", f"{hub.url}/queue/requests/{tid}/take", None,
                              {"X-Queue-Token": token})[0], 404)

    def test_ticket_refusals(self):
        hub = self.start_hub("--queue.max-per-label", "1")
        node = self.start_node()
        hub.register(node)
        self.assertEqual(call_json("POST", hub.url + "/queue/requests", {})[0], 400)
        status, _ = call_json("POST", hub.url + "/queue/requests", caps({"browserName": "x"}))
        self.assertEqual(status, 422)
        hub.new_session({"browserName": "chrome"})
        self.assertEqual(call_json("POST", hub.url + "/queue/requests",
                                   caps({"browserName": "chrome"}))[0], 201)
        self.assertEqual(call_json("POST", hub.url + "/queue/requests",
                                   caps({"browserName": "chrome"}))[0], 429)

    def test_deleting_a_ready_ticket_deletes_its_session(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        status, ticket = call_json("POST", hub.url + "/queue/requests",
                                   caps({"browserName": "chrome"}))
        tid, auth = ticket["id"], {"X-Queue-Token": ticket["token"]}
        wait_for(lambda: call_json("GET", f"{hub.url}/queue/requests/{tid}", None,
                                   auth)[1]["status"] == "ready", 5, "the ticket to be ready")
        self.assertEqual(call("DELETE", f"{hub.url}/queue/requests/{tid}")[0], 403)
        self.assertEqual(call("DELETE", f"{hub.url}/queue/requests/{tid}", None, auth)[0], 204)
        wait_for(lambda: node.deleted == node.created, 5, "the session to be deleted")
        self.assertEqual(hub.busy_slots(), [])

    def test_abandoned_ticket_is_dropped(self):
        hub = self.start_hub("--queue.abandon-after", "2s")
        node = self.start_node()
        hub.register(node)
        hub.new_session({"browserName": "chrome"})
        _, ticket = call_json("POST", hub.url + "/queue/requests", caps({"browserName": "chrome"}))
        hub.wait_queue_length(1)
        hub.wait_queue_length(0, timeout=5)
        self.assertEqual(call("GET", f"{hub.url}/queue/requests/{ticket['id']}", None,
                              {"X-Queue-Token": ticket["token"]})[0], 404)


if __name__ == "__main__":
    unittest.main()
