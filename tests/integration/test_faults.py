"""Faults through the real hub: nodes that stop heartbeating or fail creations, health-checked
bare W3C nodes, draining, and a hub stopped with waiters."""

import signal
import threading
import time
import unittest

from hubtest import AsyncRequest, HubTestCase, call, call_json, wait_for


class Heartbeats:
    """Heartbeats a node every `period` seconds until stopped."""

    def __init__(self, hub, node_id, period=0.2):
        self.stopped = threading.Event()

        def run():
            while not self.stopped.wait(period):
                call("POST", f"{hub.url}/nodes/{node_id}/heartbeat", timeout=2)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopped.set()
        self.thread.join(timeout=5)


def availability(hub, node_id):
    for node in hub.status()["nodes"]:
        if node["id"] == node_id:
            return node["availability"]
    return None


class NodeFaultTest(HubTestCase):
    def test_heartbeat_loss_marks_node_down_and_waiters_move_on(self):
        hub = self.start_hub("--hub.node-timeout", "2s")
        node_a = self.start_node()
        hub.register(node_a, node_id="a")
        beats = Heartbeats(hub, "a")
        self.addCleanup(beats.stop)
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        sid = body["value"]["sessionId"]
        waiter = AsyncRequest(hub.new_session, {"browserName": "chrome"}, timeout=20)
        hub.wait_queue_length(1)
        time.sleep(2.5)  # heartbeats keep the node UP past its timeout
        self.assertEqual(availability(hub, "a"), "UP")
        beats.stop()
        wait_for(lambda: availability(hub, "a") == "DOWN", 5, "node a DOWN")
        status, body = call_json("GET", f"{hub.url}/session/{sid}/url")
        self.assertEqual(status, 404)
        self.assertEqual(body["value"]["error"], "invalid session id")
        self.assertEqual(len(hub.queue()), 1)  # the waiter stays queued
        self.assertFalse(waiter.done())
        node_b = self.start_node()
        hub.register(node_b, node_id="b")
        status, body = waiter.result()
        self.assertEqual(status, 200, body)
        self.assertEqual(body["value"]["capabilities"]["se:gridhubNode"], "b")

    def test_failed_creation_is_retried_on_another_node(self):
        hub = self.start_hub()
        bad = self.start_node()
        bad.fail_creates = -1
        good = self.start_node()
        hub.register(bad, node_id="bad")  # registered first: idle longest, tried first
        hub.register(good, node_id="good")
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["value"]["capabilities"]["se:gridhubNode"], "good")
        self.assertEqual(bad.creates_started, 1)
        self.assertEqual(len(good.created), 1)
        self.assertEqual(hub.busy_slots()[0]["session"]["sessionId"], good.created[0])

    def test_creation_failing_everywhere_says_what_failed(self):
        hub = self.start_hub("--queue.retry-limit", "2")
        bad = self.start_node()
        bad.fail_creates = -1
        hub.register(bad, node_id="bad")
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 500, body)
        self.assertEqual(body["value"]["error"], "session not created")
        self.assertIn("bad", body["value"]["message"])
        self.assertIn("fake driver refused", body["value"]["message"])
        self.assertEqual(bad.creates_started, 3)  # first try + 2 retries
        self.assertEqual(hub.busy_slots(), [])

    def test_unreachable_node_fails_creation_and_frees_the_slot(self):
        hub = self.start_hub("--queue.retry-limit", "0")
        node = self.start_node()
        node.stop()
        self._nodes.remove(node)
        hub.register(node, node_id="gone")
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 500, body)
        self.assertIn("gone", body["value"]["message"])
        self.assertEqual(hub.busy_slots(), [])

    def test_status_health_checked_node_goes_down_and_up(self):
        hub = self.start_hub("--hub.node-timeout", "2s", "--hub.health-check-period", "200ms")
        node = self.start_node()
        hub.register(node, node_id="bare", healthCheck="status")
        time.sleep(2.5)  # answered probes keep it UP without heartbeats
        self.assertEqual(availability(hub, "bare"), "UP")
        node.status_ok = False
        wait_for(lambda: availability(hub, "bare") == "DOWN", 5, "node DOWN")
        node.status_ok = True
        wait_for(lambda: availability(hub, "bare") == "UP", 5, "node UP again")
        self.assertEqual(hub.new_session({"browserName": "chrome"})[0], 200)

    def test_drained_node_takes_no_sessions_and_leaves_when_empty(self):
        hub = self.start_hub("--hub.admin-token", "adm")
        node = self.start_node()
        hub.register(node, node_id="d", slots=[{"maxSessions": 2,
                                                "stereotype": {"browserName": "chrome"}}])
        _, body = hub.new_session({"browserName": "chrome"})
        sid = body["value"]["sessionId"]
        self.assertEqual(call("POST", f"{hub.url}/nodes/d/drain")[0], 401)
        self.assertEqual(call("POST", f"{hub.url}/nodes/d/drain", None,
                              {"Authorization": "Bearer adm"})[0], 200)
        self.assertEqual(availability(hub, "d"), "DRAINING")
        status, body = hub.new_session({"browserName": "chrome"},
                                       headers={"X-No-Wait": "true"})
        self.assertEqual(status, 500, body)
        self.assertEqual(call_json("DELETE", f"{hub.url}/session/{sid}")[0], 200)
        self.assertIsNone(availability(hub, "d"))


class ShutdownTest(HubTestCase):
    def test_sigterm_answers_waiters_and_exits(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        self.assertEqual(hub.new_session({"browserName": "chrome"})[0], 200)
        waiters = [AsyncRequest(hub.new_session, {"browserName": "chrome"}) for _ in range(3)]
        hub.wait_queue_length(3)
        hub.process.send_signal(signal.SIGTERM)
        for waiter in waiters:
            status, body = waiter.result(timeout=10)
            self.assertEqual(status, 500, body)
            self.assertEqual(body["value"]["error"], "session not created")
            self.assertIn("shutting down", body["value"]["message"])
        self.assertEqual(hub.process.wait(timeout=10), 0)

    def test_sigint_with_nothing_running_exits_cleanly(self):
        hub = self.start_hub()
        hub.process.send_signal(signal.SIGINT)
        self.assertEqual(hub.process.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
