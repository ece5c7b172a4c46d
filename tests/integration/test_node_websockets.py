"""Black-box tests of the node agent's WebSocket routes (/session/{id}/se/bidi and /se/cdp).

A real `gridhub node` registered with a real `gridhub hub`, called directly as a client of the
node would (the hub's own socket path is tested by the hub's modules). Slots start
node-agent/testdata/fake_driver.py, whose BiDi and DevTools sockets echo every frame and whose
DevTools endpoint refuses an Origin header as Chromium does. StandaloneWebSocketTest runs the
whole path (client → hub → node → driver) in `gridhub standalone`; the last class runs real
chromedriver + Chromium (skipped when they are not installed) through `gridhub node` and
`gridhub standalone`. The client is wsclient.py. Every process is stopped by pid in tearDown.
"""

import json
import os
import time
import unittest
import urllib.parse

from hubtest import call_json, wait_for
from test_node import GridhubProcess, NodeTestCase, fake_slot, free_port, pid_alive
from wsclient import BINARY, Closed, HandshakeRefused, WebSocket

SECRET = "s3cret"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def node_call(node, method, path, body=None):
    return call_json(method, node.url + path, body, headers={"X-Registration-Secret": SECRET},
                     timeout=60)


def new_session(node, always):
    status, body = node_call(node, "POST", "/session",
                             {"capabilities": {"alwaysMatch": always}})
    assert status == 200, body
    return body["value"]["sessionId"], body["value"]["capabilities"]


class SocketTestCase(NodeTestCase):
    def connect(self, url, secret=SECRET, **headers):
        """A WebSocket to `url` (with the node's secret), closed at the end of the test."""
        if secret:
            headers["X-Registration-Secret"] = secret
        ws = WebSocket.connect(url, headers=headers)
        self.addCleanup(ws.close)
        return ws

    def start_standalone(self, slots, node_settings=None):
        port = free_port()
        config = {"server": {"host": "127.0.0.1", "port": port},
                  "node": dict({"slots": slots}, **(node_settings or {}))}
        grid = GridhubProcess("standalone", config, self._tmp.name,
                              r"^gridhub standalone listening on (http://\S+)$")
        self._gridhubs.append(grid)
        return grid


class NodeWebSocketTest(SocketTestCase):
    def start(self, node_settings=None, slots=None):
        hub = self.start_hub("--hub.registration-secret", SECRET)
        return self.start_gridhub_node(hub, node_settings, slots=slots, secret=SECRET)

    def test_answer_names_the_nodes_socket_urls_and_both_sockets_echo(self):
        node = self.start()
        session, caps = new_session(node, {"browserName": "chrome", "webSocketUrl": True})
        ws_base = "ws://" + urllib.parse.urlsplit(node.url).netloc
        self.assertEqual(caps["webSocketUrl"], f"{ws_base}/session/{session}/se/bidi")
        self.assertEqual(caps["se:cdp"], f"{ws_base}/session/{session}/se/cdp")

        bidi = self.connect(caps["webSocketUrl"])
        message = json.dumps({"id": 1, "method": "session.status", "params": {}})
        bidi.send_text(message)
        self.assertEqual(bidi.recv_text(), message)
        big = os.urandom(2 << 20)  # 2 MiB each way, binary
        bidi.send(BINARY, big)
        self.assertEqual(bidi.recv(), (BINARY, big))
        # Fragments arrive as fragments, reassembled by the client.
        bidi.send(0x1, "frag", fin=False)
        bidi.send(0x0, "mented")
        self.assertEqual(bidi.recv_text(), "fragmented")

        # DevTools refuses any Origin: the client's must not reach it.
        cdp = self.connect(caps["se:cdp"], Origin="http://example.test")
        cdp.send_text('{"id":1,"method":"Browser.getVersion"}')
        self.assertEqual(cdp.recv_text(), '{"id":1,"method":"Browser.getVersion"}')

        # A close code from the driver's side reaches the client.
        bidi.send_text("close:4001")
        with self.assertRaises(Closed) as closed:
            bidi.recv()
        self.assertEqual(closed.exception.code, 4001)
        cdp.close()

    def test_refusals_are_w3c_errors_and_touch_nothing(self):
        node = self.start()
        session, caps = new_session(node, {"browserName": "chrome"})
        self.assertNotIn("webSocketUrl", caps)
        ws_base = "ws://" + urllib.parse.urlsplit(node.url).netloc
        cases = [(f"/session/{session}/se/bidi", {"X-Registration-Secret": SECRET}, 404,
                  "unknown command"),
                 ("/session/nosuch/se/bidi", {"X-Registration-Secret": SECRET}, 404,
                  "invalid session id"),
                 (f"/session/{session}/se/cdp", {}, 401, "unauthorized"),
                 (f"/session/{session}/se/cdp", {"X-Registration-Secret": "wrong"}, 401,
                  "unauthorized")]
        for path, headers, status, error in cases:
            with self.assertRaises(HandshakeRefused, msg=path) as refused:
                WebSocket.connect(ws_base + path, headers=headers)
            self.assertEqual(refused.exception.status, status, path)
            self.assertEqual(json.loads(refused.exception.body)["value"]["error"], error, path)
        status, _ = node_call(node, "GET", f"/session/{session}/title")
        self.assertEqual(status, 200)

    def test_bidi_traffic_keeps_the_session_alive_and_silence_ends_it(self):
        node = self.start({"session-timeout": "2s"})
        session, caps = new_session(node, {"browserName": "chrome", "webSocketUrl": True})
        ws = self.connect(caps["webSocketUrl"])
        # Five seconds, more than twice the timeout, of BiDi only: no HTTP command at all.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            ws.send_text("still here")
            self.assertEqual(ws.recv_text(), "still here")
            time.sleep(0.25)
        self.assertTrue(pid_alive(caps["fake:pid"]))
        # Silent from here, the socket still open: the session idles out, the socket with it.
        silent = time.monotonic()
        self.assertTrue(ws.wait_closed(10), "the node to close the socket")
        # The timeout counts from the last byte (2 s, less the 0.25 s pause after it).
        self.assertGreaterEqual(time.monotonic() - silent, 1.5)
        wait_for(lambda: not pid_alive(caps["fake:pid"]), 10, "the driver to stop")
        status, _ = node_call(node, "GET", f"/session/{session}/title")
        self.assertEqual(status, 404)
        self.assertIn(f"session {session} idle for 2s", node.output())

    def test_delete_closes_the_sessions_sockets(self):
        node = self.start()
        session, caps = new_session(node, {"browserName": "chrome", "webSocketUrl": True})
        sockets = [self.connect(caps["webSocketUrl"]), self.connect(caps["se:cdp"])]
        status, _ = node_call(node, "DELETE", f"/session/{session}")
        self.assertEqual(status, 200)
        for ws in sockets:
            self.assertTrue(ws.wait_closed(10))
        with self.assertRaises(HandshakeRefused) as refused:
            self.connect(caps["webSocketUrl"])
        self.assertEqual(refused.exception.status, 404)


class StandaloneWebSocketTest(SocketTestCase):
    """The whole path in one process: client → hub → node agent → driver, a tunnel a hop."""

    def test_sockets_through_the_standalone_hub_reach_the_fake_driver(self):
        grid = self.start_standalone([fake_slot()])
        status, body = call_json("POST", grid.url + "/session", {"capabilities": {
            "alwaysMatch": {"browserName": "chrome", "webSocketUrl": True}}})
        self.assertEqual(status, 200, body)
        session, caps = body["value"]["sessionId"], body["value"]["capabilities"]
        hub_ws = "ws://" + urllib.parse.urlsplit(grid.url).netloc
        # The hub's own address: the node's is on another port, behind a secret.
        self.assertEqual(caps["webSocketUrl"], f"{hub_ws}/session/{session}/se/bidi")
        self.assertEqual(caps["se:cdp"], f"{hub_ws}/session/{session}/se/cdp")
        bidi = self.connect(caps["webSocketUrl"], secret=None)
        bidi.send_text("through two tunnels")
        self.assertEqual(bidi.recv_text(), "through two tunnels")
        cdp = self.connect(caps["se:cdp"], secret=None, Origin="http://example.test")
        cdp.send_text('{"id":1,"method":"Browser.getVersion"}')
        self.assertEqual(cdp.recv_text(), '{"id":1,"method":"Browser.getVersion"}')
        status, _ = call_json("DELETE", f"{grid.url}/session/{session}")
        self.assertEqual(status, 200)
        self.assertTrue(bidi.wait_closed(10))
        self.assertTrue(cdp.wait_closed(10))

    def test_bidi_through_the_hub_is_activity_on_the_node(self):
        grid = self.start_standalone([fake_slot()], {"session-timeout": "2s"})
        status, body = call_json("POST", grid.url + "/session", {"capabilities": {
            "alwaysMatch": {"browserName": "chrome", "webSocketUrl": True}}})
        self.assertEqual(status, 200, body)
        session, caps = body["value"]["sessionId"], body["value"]["capabilities"]
        bidi = self.connect(caps["webSocketUrl"], secret=None)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            bidi.send_text("busy")
            self.assertEqual(bidi.recv_text(), "busy")
            time.sleep(0.25)
        status, _ = call_json("GET", f"{grid.url}/session/{session}/title")
        self.assertEqual(status, 200)
        # Silence: the node ends the session, both tunnels close, the hub forgets it.
        self.assertTrue(bidi.wait_closed(10))
        wait_for(lambda: call_json("GET", f"{grid.url}/session/{session}/title")[0] == 404, 10,
                 "the hub to forget the idle session")
        # The node tells the hub before its task thread has stopped the driver: wait for that.
        wait_for(lambda: not pid_alive(caps["fake:pid"]), 10, "the idle session's driver to end")


@unittest.skipUnless(os.path.exists(CHROMEDRIVER) and os.path.exists(CHROMIUM),
                     "needs chromedriver and chromium")
class NodeWebSocketChromiumTest(SocketTestCase):
    def chromium_slot(self):
        return {"label": "chrome", "max-sessions": 1, "driver": [CHROMEDRIVER],
                "stereotype": {"browserName": "chrome",
                               "goog:chromeOptions": {"binary": CHROMIUM,
                                                      "args": ["--headless=new", "--no-sandbox",
                                                               "--disable-gpu"]}}}

    def test_real_bidi_and_cdp_through_the_node(self):
        hub = self.start_hub("--hub.registration-secret", SECRET)
        node = self.start_gridhub_node(hub, slots=[self.chromium_slot()], secret=SECRET)
        session, caps = new_session(node, {"browserName": "chrome", "webSocketUrl": True})
        try:
            ws_base = "ws://" + urllib.parse.urlsplit(node.url).netloc
            self.assertEqual(caps["webSocketUrl"], f"{ws_base}/session/{session}/se/bidi")
            self.assertEqual(caps["se:cdpVersion"], caps["browserVersion"])

            bidi = self.connect(caps["webSocketUrl"])
            bidi.send_text(json.dumps({"id": 1, "method": "session.status", "params": {}}))
            answer = json.loads(bidi.recv_text())
            self.assertEqual(answer["id"], 1, answer)
            self.assertEqual(answer["type"], "success", answer)
            self.assertIn("ready", answer["result"])
            bidi.close()

            cdp = self.connect(caps["se:cdp"], Origin="http://example.test")
            cdp.send_text(json.dumps({"id": 1, "method": "Browser.getVersion"}))
            version = json.loads(cdp.recv_text())
            self.assertEqual(version["id"], 1, version)
            self.assertIn(caps["browserVersion"], version["result"]["product"])
            cdp.close()
        finally:
            node_call(node, "DELETE", f"/session/{session}")

    def test_real_bidi_and_cdp_through_the_standalone_hub(self):
        grid = self.start_standalone([self.chromium_slot()])
        status, body = call_json("POST", grid.url + "/session", {"capabilities": {
            "alwaysMatch": {"browserName": "chrome", "webSocketUrl": True}}}, timeout=60)
        self.assertEqual(status, 200, body)
        session, caps = body["value"]["sessionId"], body["value"]["capabilities"]
        try:
            self.assertTrue(caps["webSocketUrl"].startswith(
                "ws://" + urllib.parse.urlsplit(grid.url).netloc + "/"), caps["webSocketUrl"])
            bidi = self.connect(caps["webSocketUrl"], secret=None)
            bidi.send_text(json.dumps({"id": 1, "method": "session.status", "params": {}}))
            answer = json.loads(bidi.recv_text())
            self.assertEqual((answer["id"], answer["type"]), (1, "success"), answer)
            cdp = self.connect(caps["se:cdp"], secret=None)
            cdp.send_text(json.dumps({"id": 1, "method": "Browser.getVersion"}))
            version = json.loads(cdp.recv_text())
            self.assertIn(caps["browserVersion"], version["result"]["product"])
        finally:
            call_json("DELETE", f"{grid.url}/session/{session}", timeout=60)


if __name__ == "__main__":
    unittest.main()
