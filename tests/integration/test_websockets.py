"""WebSockets through the real hub (DESIGN 4a) and session events (4b).

A fake W3C node (`WsNode`, below) answers new sessions with a `webSocketUrl` (its own address,
as a node agent does) and, when asked, a DevTools address; it accepts the upgrade at
/session/{id}/se/bidi and /se/cdp and echoes every frame (a minimal RFC 6455, enough for a
fake). The tests check the URLs the hub hands out (hub.public-url, se:remoteUrl, X-Forwarded-*
with and without trust, Host, /wd/hub kept), bytes both ways through the hub, the refusals
(unknown session, one socket too many, no token, a node refusing), a node dying mid-stream,
DELETE closing the socket, the metrics, and POST /session/{id}/se/event.
"""

import base64
import http.server
import json
import os
import re
import socket
import struct
import threading
import time
import unittest
import urllib.parse

import loopback_http
from hubtest import HubTestCase, call, call_json, caps, wait_for
from test_metrics import scrape, value
from wsframe import accept_key, frame, read_exact, read_frame


class WsNode:
    """A fake W3C node whose sessions offer BiDi (and CDP when `devtools`), echoing frames.

    With `devtools="own"` the DevTools address is the fake itself, which then answers
    /json/version like a browser and accepts the upgrade at /devtools/browser/... (a bare
    node's CDP as the hub dials it).
    """

    def __init__(self, devtools=False):
        self.lock = threading.Lock()
        self.devtools = devtools
        self.refuse_upgrade = False
        self.die_after_first_message = False
        self.created = []
        self.create_bodies = []
        self.deleted = []
        self.upgrades = []  # (path, headers dict) of every upgrade request
        self.posts = []     # paths of POSTs other than /session
        self.open_sockets = 0
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_POST(self):
                body = self._body()
                if self.path != "/session":
                    with node.lock:
                        node.posts.append(self.path)
                    return self._send(200, {"value": None})
                session_id = base64.b16encode(os.urandom(16)).decode().lower()
                port = node.server.server_address[1]
                answer = {"browserName": "chrome", "browserVersion": "156.0.8078.114",
                          "webSocketUrl": f"ws://127.0.0.1:{port}/session/{session_id}/se/bidi"}
                if node.devtools == "own":
                    answer["goog:chromeOptions"] = {"debuggerAddress": f"localhost:{port}"}
                elif node.devtools == "dead":  # a DevTools address nobody answers at
                    answer["goog:chromeOptions"] = {"debuggerAddress": "localhost:9"}
                elif node.devtools:
                    answer["goog:chromeOptions"] = {"debuggerAddress": "localhost:9"}
                    answer["se:cdp"] = f"ws://127.0.0.1:{port}/session/{session_id}/se/cdp"
                with node.lock:
                    node.created.append(session_id)
                    node.create_bodies.append(json.loads(body))
                self._send(200, {"value": {"sessionId": session_id, "capabilities": answer}})

            def do_DELETE(self):
                m = re.match(r"^/session/([^/]+)$", self.path)
                if m:
                    with node.lock:
                        node.deleted.append(m.group(1))
                self._send(200, {"value": None})

            def do_GET(self):
                if self.path == "/status":
                    return self._send(200, {"value": {"ready": True, "message": "ws fake"}})
                if self.path == "/json/version" and node.devtools == "own":
                    port = node.server.server_address[1]
                    return self._send(200, {"Browser": "Chrome/156", "webSocketDebuggerUrl":
                                            f"ws://127.0.0.1:{port}/devtools/browser/b-1"})
                m = re.match(r"^/session/([^/]+)/se/(bidi|cdp)$|^/devtools/browser/b-1$",
                             self.path)
                if not m or self.headers.get("Upgrade", "").lower() != "websocket":
                    return self._send(404, {"value": {"error": "unknown command",
                                                      "message": self.path, "stacktrace": ""}})
                with node.lock:
                    node.upgrades.append((self.path, {k.lower(): v for k, v in
                                                      self.headers.items()}))
                if node.refuse_upgrade:
                    return self._send(403, {"value": {"error": "unknown error",
                                                      "message": "no sockets", "stacktrace": ""}})
                self._echo()

            def _echo(self):
                key = self.headers.get("Sec-WebSocket-Key", "")
                self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode())
                self.close_connection = True
                with node.lock:
                    node.open_sockets += 1
                try:
                    while True:
                        got = read_frame(self.rfile)
                        if got is None:
                            return
                        fin, opcode, payload = got
                        if node.die_after_first_message:
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        self.wfile.write(frame(opcode, payload, mask=False))
                        if opcode == 8:
                            return
                except OSError:
                    return
                finally:
                    with node.lock:
                        node.open_sockets -= 1

        self.server, self.url = loopback_http.start(Handler)

    def stop(self):
        loopback_http.stop(self.server)


class WsClient:
    """A client's WebSocket through the hub, on a raw socket."""

    def __init__(self, hub_url, path, headers=None, upgrade=True):
        parsed = urllib.parse.urlsplit(hub_url)
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
        self.key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {parsed.hostname}:{parsed.port}"]
        if upgrade:
            lines += ["Upgrade: websocket", "Connection: Upgrade",
                      f"Sec-WebSocket-Key: {self.key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                break
            head += chunk
        self.head = head.decode("latin-1")
        self.status = int(self.head.split(" ")[1]) if self.head else 0
        self.headers = {}
        for line in self.head.split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        self.body = b""
        if self.status != 101:
            length = int(self.headers.get("content-length", "0"))
            self.body = read_exact(self.sock, length) or b"" if length else b""

    def json(self):
        return json.loads(self.body)

    def send(self, opcode, payload):
        self.sock.sendall(frame(opcode, payload, mask=True))

    def receive(self):
        return read_frame(self.sock)

    def closed_by_peer(self, timeout=5.0):
        """True once the connection ends (EOF or reset) within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


class WebSocketTestCase(HubTestCase):
    def start_ws_node(self, hub, devtools=False, **extra):
        """A WsNode registered as a node agent, or with healthCheck="status" as a bare one."""
        node = WsNode(devtools=devtools)
        self._nodes.append(node)
        hub.register(node, slots=[{"id": "s0", "stereotype": {"browserName": "chrome"},
                                   "maxSessions": 3}], **extra)
        return node

    def new_session(self, hub, always=None, headers=None, prefix=""):
        always = dict({"browserName": "chrome", "webSocketUrl": True}, **(always or {}))
        status, body = call_json("POST", hub.url + prefix + "/session", caps(always), headers)
        self.assertEqual(status, 200, body)
        return body["value"]["sessionId"], body["value"]["capabilities"]

    def hub_authority(self, hub):
        return urllib.parse.urlsplit(hub.url).netloc


class UrlTest(WebSocketTestCase):
    def test_urls_from_the_host_header_keep_wd_hub(self):
        hub = self.start_hub()
        self.start_ws_node(hub, devtools=True)
        session, capabilities = self.new_session(hub)
        base = f"ws://{self.hub_authority(hub)}"
        self.assertEqual(capabilities["webSocketUrl"], f"{base}/session/{session}/se/bidi")
        self.assertEqual(capabilities["se:cdp"], f"{base}/session/{session}/se/cdp")
        self.assertEqual(capabilities["se:cdpVersion"], "156.0.8078.114")
        session, capabilities = self.new_session(hub, prefix="/wd/hub")
        self.assertEqual(capabilities["webSocketUrl"], f"{base}/wd/hub/session/{session}/se/bidi")

    def test_public_url_wins(self):
        hub = self.start_hub("--hub.public-url", "https://grid.example.com/selenium/",
                             "--hub.trust-forwarded", "true")
        self.start_ws_node(hub)
        session, capabilities = self.new_session(
            hub, always={"se:remoteUrl": "http://other:1"}, headers={"X-Forwarded-Host": "proxy"})
        self.assertEqual(capabilities["webSocketUrl"],
                         f"wss://grid.example.com/selenium/session/{session}/se/bidi")

    def test_remote_url_is_used_and_never_reaches_the_node(self):
        hub = self.start_hub()
        node = self.start_ws_node(hub)
        session, capabilities = self.new_session(
            hub, always={"se:remoteUrl": "http://client-view:4444/wd/hub"})
        self.assertEqual(capabilities["webSocketUrl"],
                         f"ws://client-view:4444/wd/hub/session/{session}/se/bidi")
        self.assertNotIn("se:remoteUrl", json.dumps(node.create_bodies))

    def test_forwarded_headers_only_when_trusted(self):
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "grid.example.com",
                     "X-Forwarded-Prefix": "/p"}
        hub = self.start_hub()
        self.start_ws_node(hub)
        session, capabilities = self.new_session(hub, headers=forwarded)
        self.assertEqual(capabilities["webSocketUrl"],
                         f"ws://{self.hub_authority(hub)}/session/{session}/se/bidi")
        trusting = self.start_hub("--hub.trust-forwarded", "true")
        self.start_ws_node(trusting)
        session, capabilities = self.new_session(trusting, headers=forwarded, prefix="/wd/hub")
        self.assertEqual(capabilities["webSocketUrl"],
                         f"wss://grid.example.com/p/wd/hub/session/{session}/se/bidi")

    def test_garbage_host_offers_no_socket_and_no_node_address(self):
        hub = self.start_hub()
        self.start_ws_node(hub, devtools=True)
        session, capabilities = self.new_session(hub, headers={"Host": "bad:99999"})
        self.assertNotIn("webSocketUrl", capabilities)
        self.assertNotIn("se:cdp", capabilities)
        self.assertIs(capabilities["se:bidiEnabled"], False)
        self.assertIs(capabilities["se:cdpEnabled"], False)

    def test_ticket_answer_is_rewritten_too(self):
        hub = self.start_hub()
        self.start_ws_node(hub)
        status, ticket = call_json("POST", hub.url + "/queue/requests",
                                   caps({"browserName": "chrome", "webSocketUrl": True}),
                                   headers={"Host": "tickets.example:4444"})
        self.assertEqual(status, 201, ticket)

        def take():
            s, body = call_json("POST", f"{hub.url}/queue/requests/{ticket['id']}/take",
                                headers={"X-Queue-Token": ticket["token"]})
            return body if s == 200 else None
        body = wait_for(take, 5, "the ticket's session")
        session = body["value"]["sessionId"]
        self.assertEqual(body["value"]["capabilities"]["webSocketUrl"],
                         f"ws://tickets.example:4444/session/{session}/se/bidi")


class TunnelTest(WebSocketTestCase):
    def open_socket(self, hub, session, kind="bidi", headers=None):
        client = WsClient(hub.url, f"/session/{session}/se/{kind}", headers)
        self.addCleanup(client.close)
        return client

    def test_bytes_both_ways_and_metrics(self):
        hub = self.start_hub("--hub.registration-secret", "s3cret")
        node = WsNode()
        self._nodes.append(node)
        hub.register(node, headers={"X-Registration-Secret": "s3cret"})
        session, _ = self.new_session(hub)
        client = self.open_socket(hub, session, headers={"Authorization": "Bearer nope"})
        self.assertEqual(client.status, 101, client.head)
        self.assertEqual(client.headers.get("sec-websocket-accept"), accept_key(client.key))
        client.send(1, b"hello bidi")
        self.assertEqual(client.receive(), (True, 1, b"hello bidi"))
        big = os.urandom(300_000)
        client.send(2, big)
        self.assertEqual(client.receive(), (True, 2, big))
        path, headers = node.upgrades[-1]
        self.assertEqual(path, f"/session/{session}/se/bidi")
        self.assertEqual(headers.get("x-registration-secret"), "s3cret")
        self.assertNotIn("authorization", headers)
        samples = scrape(hub)[1]
        self.assertEqual(value(samples, "gridhub_websockets_open", kind="bidi"), 1)
        self.assertEqual(value(samples, "gridhub_websocket_upgrades_total", kind="bidi",
                               outcome="ok"), 1)
        # Counted as the pump reports them, which may be just after the client has read them.
        for direction in ("to_node", "to_client"):
            wait_for(lambda: value(scrape(hub)[1], "gridhub_websocket_bytes_total",
                                   direction=direction) > 300_000, 5, f"bytes {direction}")
        client.send(8, struct.pack("!H", 1000))
        self.assertEqual(client.receive()[1], 8)
        self.assertTrue(client.closed_by_peer())
        # The node's side ended: the tunnel is gone once the client closes its side too.
        client.close()
        wait_for(lambda: value(scrape(hub)[1], "gridhub_websockets_open", kind="bidi") == 0, 5,
                 "the gauge back at 0")

    def test_cdp_and_devtools_reach_the_nodes_cdp_endpoint(self):
        hub = self.start_hub()
        node = self.start_ws_node(hub, devtools=True)
        session, _ = self.new_session(hub)
        for path in (f"/session/{session}/se/cdp", f"/wd/hub/devtools/{session}"):
            client = WsClient(hub.url, path)
            self.addCleanup(client.close)
            self.assertEqual(client.status, 101, (path, client.head))
            client.send(1, b'{"id":1,"method":"Browser.getVersion"}')
            self.assertEqual(client.receive()[2], b'{"id":1,"method":"Browser.getVersion"}')
            self.assertEqual(node.upgrades[-1][0], f"/session/{session}/se/cdp")
        self.assertEqual(value(scrape(hub)[1], "gridhub_websockets_open", kind="cdp"), 2)

    def test_unknown_session_is_404_without_upgrade(self):
        hub = self.start_hub()
        self.start_ws_node(hub)
        client = self.open_socket(hub, "no-such-session")
        self.assertEqual(client.status, 404)
        self.assertEqual(client.json()["value"]["error"], "invalid session id")
        self.assertEqual(value(scrape(hub)[1], "gridhub_websocket_upgrades_total", kind="bidi",
                               outcome="unknown_session"), 1)

    def test_plain_get_is_400(self):
        hub = self.start_hub()
        self.start_ws_node(hub)
        session, _ = self.new_session(hub)
        status, body = call_json("GET", f"{hub.url}/session/{session}/se/bidi")
        self.assertEqual(status, 400, body)
        self.assertEqual(body["value"]["error"], "invalid argument")

    def test_eleventh_socket_is_429(self):
        hub = self.start_hub()
        node = self.start_ws_node(hub)
        session, _ = self.new_session(hub)
        clients = [self.open_socket(hub, session) for _ in range(10)]
        self.assertEqual([c.status for c in clients], [101] * 10)
        eleventh = self.open_socket(hub, session, kind="cdp")
        self.assertEqual(eleventh.status, 429, eleventh.head)
        self.assertIn("websockets-per-session", eleventh.json()["value"]["message"])
        self.assertEqual(len(node.upgrades), 10)
        self.assertEqual(value(scrape(hub)[1], "gridhub_websocket_upgrades_total", kind="cdp",
                               outcome="limit"), 1)
        # A closed socket frees its place.
        clients[0].close()
        wait_for(lambda: self.open_socket(hub, session).status == 101, 5, "a freed place")

    def test_client_token_is_required(self):
        hub = self.start_hub("--hub.client-token", "t0ken")
        self.start_ws_node(hub)
        session, _ = self.new_session(hub, headers={"Authorization": "Bearer t0ken"})
        refused = self.open_socket(hub, session)
        self.assertEqual(refused.status, 401)
        allowed = self.open_socket(hub, session, headers={"Authorization": "Bearer t0ken"})
        self.assertEqual(allowed.status, 101)
        samples = scrape(hub)[1]
        self.assertEqual(value(samples, "gridhub_websocket_upgrades_total", kind="bidi",
                               outcome="unauthorized"), 1)

    def test_node_refusing_the_upgrade_is_502(self):
        hub = self.start_hub()
        node = self.start_ws_node(hub)
        node.refuse_upgrade = True
        session, _ = self.new_session(hub)
        client = self.open_socket(hub, session)
        self.assertEqual(client.status, 502, client.head)
        wait_for(lambda: value(scrape(hub)[1], "gridhub_websocket_upgrades_total", kind="bidi",
                               outcome="node_failed") == 1, 5, "node_failed counted")
        self.assertEqual(value(scrape(hub)[1], "gridhub_websockets_open", kind="bidi"), 0)

    def test_node_dying_mid_stream_closes_the_client(self):
        hub = self.start_hub()
        node = self.start_ws_node(hub)
        node.die_after_first_message = True
        session, _ = self.new_session(hub)
        client = self.open_socket(hub, session)
        self.assertEqual(client.status, 101)
        client.send(1, b"last words")
        self.assertTrue(client.closed_by_peer())
        # The node's side ended: the tunnel is gone once the client closes its side too.
        client.close()
        wait_for(lambda: value(scrape(hub)[1], "gridhub_websockets_open", kind="bidi") == 0, 5,
                 "the gauge back at 0")

    def test_deleting_the_session_closes_its_sockets(self):
        hub = self.start_hub()
        node = self.start_ws_node(hub)
        session, _ = self.new_session(hub)
        client = self.open_socket(hub, session)
        self.assertEqual(client.status, 101)
        client.send(1, b"ping")
        self.assertEqual(client.receive()[2], b"ping")
        status, _ = call_json("DELETE", f"{hub.url}/session/{session}")
        self.assertEqual(status, 200)
        self.assertTrue(client.closed_by_peer())
        wait_for(lambda: node.open_sockets == 0, 5, "the node's side closed too")
        self.assertEqual(value(scrape(hub)[1], "gridhub_websockets_open", kind="bidi"), 0)

    def test_bare_node_sockets_are_dialled_where_its_answer_said(self):
        hub = self.start_hub()
        node = self.start_ws_node(hub, devtools="own", healthCheck="status")
        session, capabilities = self.new_session(hub)
        base = f"ws://{self.hub_authority(hub)}"
        self.assertEqual(capabilities["webSocketUrl"], f"{base}/session/{session}/se/bidi")
        self.assertEqual(capabilities["se:cdp"], f"{base}/session/{session}/se/cdp")
        bidi = self.open_socket(hub, session)
        self.assertEqual(bidi.status, 101, bidi.head)
        bidi.send(1, b"bare")
        self.assertEqual(bidi.receive()[2], b"bare")
        self.assertEqual(node.upgrades[-1][0], f"/session/{session}/se/bidi")
        cdp = self.open_socket(hub, session, kind="cdp")
        self.assertEqual(cdp.status, 101, cdp.head)
        self.assertEqual(node.upgrades[-1][0], "/devtools/browser/b-1")

    def test_bare_node_without_reachable_devtools_offers_no_cdp(self):
        hub = self.start_hub()
        self.start_ws_node(hub, devtools="dead", healthCheck="status")
        session, capabilities = self.new_session(hub)
        self.assertIn("webSocketUrl", capabilities)
        self.assertNotIn("se:cdp", capabilities)
        self.assertIs(capabilities["se:cdpEnabled"], False)
        refused = self.open_socket(hub, session, kind="cdp")
        self.assertEqual(refused.status, 404)
        self.assertEqual(refused.json()["value"]["error"], "unknown command")

    def test_node_deregistering_closes_its_sessions_sockets(self):
        hub = self.start_hub()
        node = self.start_ws_node(hub)
        session, _ = self.new_session(hub)
        client = self.open_socket(hub, session)
        self.assertEqual(client.status, 101)
        node_id = f"node-{node.url.rsplit(':', 1)[1]}"
        status, _, _ = call("DELETE", f"{hub.url}/nodes/{node_id}")
        self.assertEqual(status, 204)
        self.assertTrue(client.closed_by_peer())


class SessionEventTest(WebSocketTestCase):
    def test_event_is_answered_by_the_hub_and_counted(self):
        hub = self.start_hub()
        node = self.start_ws_node(hub)
        session, _ = self.new_session(hub, headers={"X-Run-Id": "run-7"})
        url = f"{hub.url}/session/{session}/se/event"
        status, body = call_json("POST", url, {"eventType": "test:failed",
                                               "payload": {"name": "login"}})
        self.assertEqual((status, body), (200, {"value": None}))
        status, body = call_json("POST", "/wd/hub".join([hub.url, f"/session/{session}/se/event"]),
                                 {"eventType": "suite:custom-1"})
        self.assertEqual(status, 200, body)
        for bad in ({"eventType": "1st"}, {"eventType": "a b"}, {"payload": {}}, [1],
                    {"eventType": "x", "payload": 3}):
            status, body = call_json("POST", url, bad)
            self.assertEqual(status, 400, bad)
            self.assertEqual(body["value"]["error"], "invalid argument")
        status, body = call_json("POST", f"{hub.url}/session/nope/se/event", {"eventType": "x"})
        self.assertEqual(status, 404)
        self.assertEqual(body["value"]["error"], "invalid session id")
        self.assertEqual(node.created, [session])
        self.assertEqual(node.posts, [])  # the hub answered every event itself
        samples = scrape(hub)[1]
        self.assertEqual(value(samples, "gridhub_session_events_total", label="chrome",
                               event="test:failed"), 1)
        self.assertEqual(value(samples, "gridhub_session_events_total", label="chrome",
                               event="other"), 1)
        self.assertEqual(value(samples, "gridhub_session_events_total", label="chrome",
                               event="test:passed"), 0)
        wait_for(lambda: any("event=test:failed" in line and "run=run-7" in line and session in line
                             for line in hub.stderr_lines), 5, "the event's log line")


if __name__ == "__main__":
    unittest.main()
