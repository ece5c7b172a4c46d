"""W3C path through the real hub: creation, byte-for-byte proxying, /wd/hub, /status, bad input,
node registration rules."""

import json
import os
import unittest

from hubtest import HubTestCase, call, call_json, caps


class SessionLifecycleTest(HubTestCase):
    def setUp(self):
        super().setUp()
        self.hub = self.start_hub()
        self.node = self.start_node()
        self.node_id = self.hub.register(self.node, slots=[
            {"id": "chrome-1", "stereotype": {"browserName": "chrome", "platformName": "linux",
                                              "goog:chromeOptions": {"args": ["--headless"]}}}])

    def test_creates_session_with_node_capabilities_and_node_id(self):
        status, body = self.hub.new_session(
            {"browserName": "chrome", "gridhub:runId": "r1", "acceptInsecureCerts": True})
        self.assertEqual(status, 200, body)
        value = body["value"]
        self.assertIn(value["sessionId"], self.node.created)
        self.assertEqual(value["capabilities"]["se:gridhubNode"], self.node_id)
        self.assertTrue(value["capabilities"]["fake"])
        sent = self.node.create_bodies[0]["capabilities"]["alwaysMatch"]
        self.assertEqual(sent["browserName"], "chrome")
        self.assertTrue(sent["acceptInsecureCerts"])
        self.assertNotIn("gridhub:runId", sent)  # the hub's own keys never reach a driver
        self.assertIn("--headless", sent["goog:chromeOptions"]["args"])
        busy = self.hub.busy_slots()
        self.assertEqual(len(busy), 1)
        self.assertEqual(busy[0]["session"]["sessionId"], value["sessionId"])

    def test_proxies_commands_byte_for_byte(self):
        _, body = self.hub.new_session({"browserName": "chrome"})
        sid = body["value"]["sessionId"]
        payload = json.dumps({"url": "https://example.test/ü?a=1&b=2", "n": [1, 2.5, None]},
                             ensure_ascii=False).encode()
        status, headers, reply = call("POST", f"{self.hub.url}/session/{sid}/echo", payload)
        self.assertEqual(status, 200)
        self.assertEqual(reply, payload)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        # GET with a query string, and the node's own error statuses pass through unchanged.
        status, reply = call_json("GET", f"{self.hub.url}/session/{sid}/url?x=1")
        self.assertEqual(status, 200)
        self.assertEqual(reply["value"]["method"], "GET")
        self.assertEqual(reply["value"]["path"], f"/session/{sid}/url?x=1")
        status, reply = call_json("GET", f"{self.hub.url}/session/{sid}/status418")
        self.assertEqual(status, 418)
        self.assertEqual(reply["value"]["error"], "teapot")

    def test_carries_five_megabyte_bodies_both_ways(self):
        _, body = self.hub.new_session({"browserName": "chrome"})
        sid = body["value"]["sessionId"]
        picture = base64_like(5 * 1024 * 1024)
        self.node.big_payload = json.dumps({"value": picture}).encode()
        status, _, reply = call("GET", f"{self.hub.url}/session/{sid}/screenshot", timeout=30)
        self.assertEqual(status, 200)
        self.assertEqual(reply, self.node.big_payload)
        upload = json.dumps({"file": picture}).encode()
        status, _, reply = call("POST", f"{self.hub.url}/session/{sid}/echo", upload, timeout=30)
        self.assertEqual(status, 200)
        self.assertEqual(reply, upload)

    def test_delete_ends_session_and_frees_slot(self):
        _, body = self.hub.new_session({"browserName": "chrome"})
        sid = body["value"]["sessionId"]
        status, reply = call_json("DELETE", f"{self.hub.url}/session/{sid}")
        self.assertEqual(status, 200, reply)
        self.assertEqual(self.node.deleted, [sid])
        self.assertEqual(self.hub.busy_slots(), [])
        status, reply = call_json("GET", f"{self.hub.url}/session/{sid}/url")
        self.assertEqual(status, 404)
        self.assertEqual(reply["value"]["error"], "invalid session id")
        # The slot serves the next request at once.
        status, _ = self.hub.new_session({"browserName": "chrome"}, timeout=5)
        self.assertEqual(status, 200)

    def test_legacy_wd_hub_prefix(self):
        status, body = self.hub.new_session({"browserName": "chrome"}, prefix="/wd/hub")
        self.assertEqual(status, 200, body)
        sid = body["value"]["sessionId"]
        status, reply = call_json("POST", f"{self.hub.url}/wd/hub/session/{sid}/url",
                                  {"url": "about:blank"})
        self.assertEqual(status, 200)
        self.assertEqual(reply["value"]["path"], f"/session/{sid}/url")  # prefix stripped
        self.assertEqual(call_json("GET", f"{self.hub.url}/wd/hub/status")[0], 200)
        status, _ = call_json("DELETE", f"{self.hub.url}/wd/hub/session/{sid}")
        self.assertEqual(status, 200)
        self.assertEqual(self.node.deleted, [sid])

    def test_status_has_selenium_shape(self):
        _, body = self.hub.new_session({"browserName": "chrome"})
        value = self.hub.status()
        self.assertIs(value["ready"], True)
        self.assertIsInstance(value["message"], str)
        [node] = value["nodes"]
        self.assertEqual(node["id"], self.node_id)
        self.assertEqual(node["uri"], self.node.url)
        self.assertEqual(node["availability"], "UP")
        self.assertEqual(node["maxSessions"], 1)
        [slot] = node["slots"]
        self.assertEqual(slot["id"], "chrome-1")
        self.assertEqual(slot["stereotype"]["browserName"], "chrome")
        self.assertEqual(slot["session"]["sessionId"], body["value"]["sessionId"])

    def test_multi_session_slot_appears_as_one_status_slot_per_session(self):
        node = self.start_node()
        self.hub.register(node, node_id="wide", slots=[
            {"id": "ff", "maxSessions": 3, "stereotype": {"browserName": "firefox"}}])
        for _ in range(3):
            self.assertEqual(self.hub.new_session({"browserName": "firefox"}, timeout=5)[0], 200)
        [wide] = [n for n in self.hub.status()["nodes"] if n["id"] == "wide"]
        self.assertEqual(wide["maxSessions"], 3)
        self.assertEqual(len(wide["slots"]), 3)
        self.assertTrue(all(s["session"] for s in wide["slots"]))


class BadInputTest(HubTestCase):
    def setUp(self):
        super().setUp()
        self.hub = self.start_hub("--server.max-body", "100000")
        self.node = self.start_node()
        self.hub.register(self.node)

    def assert_w3c_error(self, response, status, error):
        got_status, body = response
        self.assertEqual(got_status, status, body)
        self.assertEqual(body["value"]["error"], error)
        self.assertIsInstance(body["value"]["message"], str)
        self.assertIn("stacktrace", body["value"])

    def test_malformed_json_and_wrong_types(self):
        url = self.hub.url + "/session"
        self.assert_w3c_error(call_json("POST", url, b"{not json"), 400, "invalid argument")
        self.assert_w3c_error(call_json("POST", url, {}), 400, "invalid argument")
        self.assert_w3c_error(call_json("POST", url, {"desiredCapabilities": {}}), 400,
                              "invalid argument")
        status, body = call_json("POST", url, caps({"browserName": 7}))
        self.assert_w3c_error((status, body), 400, "invalid argument")
        self.assertIn("browserName", body["value"]["message"])
        self.assert_w3c_error(call_json("POST", url, caps({"unknownKey": 1})), 400,
                              "invalid argument")
        # Nothing changed: no waiter, no session, the node was never asked.
        self.assertEqual(self.hub.queue(), [])
        self.assertEqual(self.hub.busy_slots(), [])
        self.assertEqual(self.node.creates_started, 0)

    def test_unknown_routes_methods_and_sessions(self):
        self.assert_w3c_error(call_json("GET", self.hub.url + "/no/such/thing"), 404,
                              "unknown command")
        self.assert_w3c_error(call_json("GET", self.hub.url + "/session"), 405, "unknown method")
        self.assert_w3c_error(call_json("PUT", self.hub.url + "/session/abc/url"), 405,
                              "unknown method")
        self.assert_w3c_error(call_json("GET", self.hub.url + "/session/nope/url"), 404,
                              "invalid session id")
        self.assert_w3c_error(call_json("DELETE", self.hub.url + "/session/nope"), 404,
                              "invalid session id")

    def test_oversize_body_is_413(self):
        status, _, _ = call("POST", self.hub.url + "/session", b"x" * 150000)
        self.assertEqual(status, 413)
        self.assertEqual(self.node.creates_started, 0)
        # The hub still serves.
        self.assertEqual(self.hub.new_session({"browserName": "chrome"})[0], 200)

    def test_node_answer_larger_than_max_body_is_an_error_not_a_hang(self):
        _, body = self.hub.new_session({"browserName": "chrome"})
        sid = body["value"]["sessionId"]
        self.node.big_payload = b'{"value": "' + b"x" * 300000 + b'"}'
        status, reply = call_json("GET", f"{self.hub.url}/session/{sid}/screenshot", timeout=10)
        self.assertEqual(status, 502, reply)
        self.assertIn("max-body", reply["value"]["message"])

    def test_deeply_nested_json_is_refused_without_harm(self):
        deep = b"[" * 40000 + b"]" * 40000  # under this hub's 100 kB max-body
        for path in ("/session", "/nodes", "/queue/requests"):
            body = (b'{"capabilities": {"alwaysMatch": {"se:x": ' + deep + b"}}}"
                    if path != "/nodes" else
                    b'{"id": "d", "uri": "http://127.0.0.1:9", "slots": [{"stereotype": '
                    b'{"se:x": ' + deep + b"}}]}")
            status, reply = call_json("POST", self.hub.url + path, body)
            self.assertEqual(status, 400, (path, reply))
            self.assertEqual(reply["value"]["error"], "invalid argument")
        self.assertEqual(len(self.hub.status()["nodes"]), 1)
        self.assertEqual(self.hub.new_session({"browserName": "chrome"})[0], 200)

    def test_bad_node_registrations(self):
        url = self.hub.url + "/nodes"
        for body in ({"uri": "http://x"}, {"id": "a", "uri": "ftp://x", "slots": [{}]},
                     {"id": "a", "uri": "http://x", "slots": []},
                     {"id": "a", "uri": "http://x", "slots": [{"stereotype": 5}]},
                     {"id": "a", "uri": "http://x", "slots": [{"maxSessions": 0}]}):
            status, reply = call_json("POST", url, body)
            self.assertEqual(status, 400, (body, reply))
        self.assertEqual(call_json("POST", url, b"[[")[0], 400)
        self.assertEqual(len(self.hub.status()["nodes"]), 1)
        self.assertEqual(call_json("POST", url + "/ghost/heartbeat")[0], 404)


class RegistrationSecretTest(HubTestCase):
    def test_secret_is_required_to_register_and_heartbeat(self):
        hub = self.start_hub("--hub.registration-secret", "s3cret")
        node = self.start_node()
        body = {"id": "n1", "uri": node.url, "slots": [{"stereotype": {"browserName": "chrome"}}]}
        self.assertEqual(call_json("POST", hub.url + "/nodes", body)[0], 401)
        self.assertEqual(call_json("POST", hub.url + "/nodes", body,
                                   {"X-Registration-Secret": "wrong"})[0], 401)
        self.assertEqual(hub.status()["nodes"], [])
        self.assertEqual(call_json("POST", hub.url + "/nodes", body,
                                   {"X-Registration-Secret": "s3cret"})[0], 201)
        self.assertEqual(call("POST", hub.url + "/nodes/n1/heartbeat")[0], 401)
        self.assertEqual(call("POST", hub.url + "/nodes/n1/heartbeat", None,
                              {"X-Registration-Secret": "s3cret"})[0], 204)
        self.assertEqual(call("DELETE", hub.url + "/nodes/n1")[0], 401)
        self.assertEqual(len(hub.status()["nodes"]), 1)
        self.assertEqual(call("DELETE", hub.url + "/nodes/n1", None,
                              {"X-Registration-Secret": "s3cret"})[0], 204)
        self.assertEqual(hub.status()["nodes"], [])

    def test_reregistration_keeps_live_sessions(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node, node_id="n1")
        _, body = hub.new_session({"browserName": "chrome"})
        sid = body["value"]["sessionId"]
        hub.register(node, node_id="n1")
        self.assertEqual(call_json("GET", f"{hub.url}/session/{sid}/title")[0], 200)
        self.assertEqual(len(hub.busy_slots()), 1)


def base64_like(size):
    """A deterministic printable payload, like a base64 screenshot."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    seed = os.urandom(64)
    chunk = bytes(alphabet[b % 64] for b in seed * 16)
    return (chunk * (size // len(chunk) + 1))[:size].decode()


if __name__ == "__main__":
    unittest.main()
