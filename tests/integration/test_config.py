"""Hub settings at run time through the real binary: client token, SIGHUP reload, env vars."""

import base64
import os
import signal
import tempfile
import time
import unittest

from hubtest import AsyncRequest, HubTestCase, call, call_json, caps, wait_for


class ClientTokenTest(HubTestCase):
    def test_w3c_and_queue_calls_need_the_client_token(self):
        hub = self.start_hub("--hub.client-token", "ct", "--hub.admin-token", "adm")
        node = self.start_node()
        hub.register(node)
        body = caps({"browserName": "chrome"})
        self.assertEqual(call_json("POST", hub.url + "/session", body)[0], 401)
        self.assertEqual(call_json("POST", hub.url + "/session", body,
                                   {"Authorization": "Bearer wrong"})[0], 401)
        self.assertEqual(call_json("GET", hub.url + "/queue")[0], 401)
        self.assertEqual(call_json("POST", hub.url + "/queue/requests", body)[0], 401)
        # A method the path does not take: 401 without the token (the methods stay unsaid),
        # 405 with it.
        for method, path in (("GET", "/session"), ("PUT", "/session/abc/url"), ("PUT", "/queue")):
            status, headers, _ = call(method, hub.url + path)
            self.assertEqual(status, 401, (method, path))
            self.assertNotIn("allow", {k.lower() for k in headers})
            status, headers, _ = call(method, hub.url + path, None, {"Authorization": "Bearer ct"})
            self.assertEqual(status, 405, (method, path))
            self.assertIn("allow", headers)
        self.assertEqual(call("PUT", hub.url + "/status")[0], 405)  # an open path says so
        self.assertEqual(node.creates_started, 0)
        # Probes stay open.
        self.assertEqual(call_json("GET", hub.url + "/status")[0], 200)
        status, reply = call_json("POST", hub.url + "/session", body,
                                  {"Authorization": "Bearer ct"})
        self.assertEqual(status, 200, reply)
        basic = base64.b64encode(b"anyone:ct").decode()
        sid = reply["value"]["sessionId"]
        self.assertEqual(call_json("GET", f"{hub.url}/session/{sid}/url", None,
                                   {"Authorization": f"Basic {basic}"})[0], 200)
        self.assertEqual(call_json("GET", f"{hub.url}/session/{sid}/url")[0], 401)
        # The admin token alone is enough too.
        self.assertEqual(call_json("DELETE", f"{hub.url}/session/{sid}", None,
                                   {"Authorization": "Bearer adm"})[0], 200)


class ReloadTest(HubTestCase):
    def test_sighup_rereads_the_file_and_keeps_waiters(self):
        directory = tempfile.mkdtemp(prefix="gridhub-it-")
        path = os.path.join(directory, "hub.yaml")
        with open(path, "w") as f:
            f.write("queue:\n  concurrency-caps: {chrome: 1}\n")
        hub = self.start_hub("--config", path)
        node = self.start_node()
        hub.register(node, slots=[{"maxSessions": 2, "stereotype": {"browserName": "chrome"}}])
        self.assertEqual(hub.new_session({"browserName": "chrome"})[0], 200)
        waiter = AsyncRequest(hub.new_session, {"browserName": "chrome"})
        hub.wait_queue_length(1)
        with open(path, "w") as f:
            f.write("queue:\n  concurrency-caps: {chrome: 2}\n")
        hub.process.send_signal(signal.SIGHUP)
        status, body = waiter.result()
        self.assertEqual(status, 200, body)
        os.remove(path)
        os.rmdir(directory)

    def test_environment_variables_configure_the_hub(self):
        hub = self.start_hub(env={"GRIDHUB_QUEUE_TIMEOUT": "1s"})
        node = self.start_node()
        hub.register(node)
        hub.new_session({"browserName": "chrome"})
        started = time.monotonic()
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 500, body)
        self.assertLess(time.monotonic() - started, 10)  # 1 s, not the default 300 s


class SlowNodeTest(HubTestCase):
    def test_node_slower_than_the_deadline_times_out_and_its_late_session_is_deleted(self):
        hub = self.start_hub("--queue.timeout", "1s")
        node = self.start_node()
        node.create_delay = 3.0
        hub.register(node)
        started = time.monotonic()
        status, body = hub.new_session({"browserName": "chrome"}, timeout=10)
        self.assertEqual(status, 500, body)
        self.assertEqual(body["value"]["error"], "session not created")
        self.assertLess(time.monotonic() - started, 2.5)  # at the deadline, not the node's 3 s
        # The node finishes its session after the hub gave up: it must not stay behind.
        wait_for(lambda: node.created and node.deleted == node.created, 10,
                 "the late session to be deleted")
        wait_for(lambda: hub.busy_slots() == [], 5, "the slot to be free")

    def test_a_slow_node_does_not_stall_others(self):
        hub = self.start_hub()
        slow = self.start_node()
        slow.create_delay = 4.0
        fast = self.start_node()
        hub.register(slow, node_id="slow")  # idle longest: chosen first
        hub.register(fast, node_id="fast")
        first = AsyncRequest(hub.new_session, {"browserName": "chrome"})
        wait_for(lambda: slow.creates_started == 1, 5, "the slow node to be asked")
        started = time.monotonic()
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["value"]["capabilities"]["se:gridhubNode"], "fast")
        self.assertLess(time.monotonic() - started, 3.0)  # not behind the slow node's 4 s
        self.assertEqual(first.result()[0], 200)


if __name__ == "__main__":
    unittest.main()
