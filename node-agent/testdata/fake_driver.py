#!/usr/bin/python3
"""A tiny W3C WebDriver server for node-agent tests: `fake_driver.py --port=N`.

Serves GET /status, POST /session (echoes the capabilities it received, plus its pid under
"fake:pid"), DELETE /session/{id}, and under /session/{id}/: POST url / GET url, GET title,
POST execute/sync (a script "sleep:SECONDS" sleeps, to make slow commands; "big:N" answers a
string of N bytes). Unknown sessions get
W3C `invalid session id`. Environment FAKE_DRIVER_NOT_READY=1 makes /status answer 500 forever;
FAKE_DRIVER_CREATE_DELAY=SECONDS delays every POST /session; FAKE_DRIVER_CREATE_ANSWER=TEXT
answers every POST /session with HTTP 500 and that body instead (a driver or relay answering
nonsense), and FAKE_DRIVER_CREATE_ANSWER_FILE=PATH does the same with the file's text; FAKE_DRIVER_EXIT_AFTER_CREATE=1 exits right after answering a POST /session.

WebSockets, as chromedriver has them: a session asked for with "webSocketUrl": true answers
webSocketUrl ws://127.0.0.1:PORT/session/{id}, and one with goog:chromeOptions answers
goog:chromeOptions.debuggerAddress localhost:PORT, whose GET /json/version names the browser
endpoint ws://localhost:PORT/devtools/browser/{uuid}. Both accept an RFC 6455 upgrade and echo
every frame back as it came (opcode and FIN kept: fragments echo as fragments), answer a ping
with a pong and a close with the same close. A text message "close:CODE" makes the fake close
with that code; "send:N" makes it send a text message of N bytes ("x" * N) before the echo.
Like Chromium, the DevTools endpoint refuses a Host header that is not an IP address or
localhost (500) and any Origin header (403). GET /fake/upgrades lists the headers (and
"path") of every upgrade request received, oldest first. /session/{id}/se/bidi and
/session/{id}/se/cdp echo too, as a grid node behind a relay slot would.
FAKE_DRIVER_DEBUGGER_ADDRESS=HOST:PORT reports that debuggerAddress instead of its own.
Start-up faults: FAKE_DRIVER_LISTEN_DELAY=SECONDS waits that long before it listens (a driver
that gets ready late); FAKE_DRIVER_EXIT_AT_START=CODE exits with CODE without ever listening.
"""
import ipaddress
import json
import os
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The frame code is the integration tests' (tests/integration/wsframe.py): run as a script by
# /usr/bin/python3 from anywhere, so its folder is found from this file's place in the repo.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                             "integration"))
from wsframe import accept_key, frame, read_frame  # noqa: E402

SESSIONS = {}
LOCK = threading.Lock()
BROWSER_ID = uuid.uuid4().hex
UPGRADES = []  # headers of every upgrade request, as dicts


def host_is_ip_or_localhost(host_header):
    host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def reply(handler, status, value):
    body = json.dumps({"value": value}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def error(handler, status, name, message):
    reply(handler, status, {"error": name, "message": message, "stacktrace": ""})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_driver: " + (fmt % args) + "\n")

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def parts(self):
        return [p for p in self.path.split("?")[0].split("/") if p]

    def do_GET(self):
        p = self.parts()
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.upgrade(p)
        if p == ["fake", "upgrades"]:
            with LOCK:
                return reply(self, 200, list(UPGRADES))
        if p == ["json", "version"]:
            port = self.server.server_address[1]
            return self.json_reply({"Browser": "FakeChrome/156.0.8078.114",
                                    "Protocol-Version": "1.3",
                                    "webSocketDebuggerUrl":
                                        f"ws://localhost:{port}/devtools/browser/{BROWSER_ID}"})
        if p == ["status"]:
            if os.environ.get("FAKE_DRIVER_NOT_READY") == "1":
                return error(self, 500, "unknown error", "never ready")
            return reply(self, 200, {"ready": True, "message": "fake driver ready"})
        self.session_command("GET", p, None)

    def do_POST(self):
        p = self.parts()
        body = self.body()
        if p == ["session"]:
            time.sleep(float(os.environ.get("FAKE_DRIVER_CREATE_DELAY") or 0))
            raw = os.environ.get("FAKE_DRIVER_CREATE_ANSWER")
            answer_file = os.environ.get("FAKE_DRIVER_CREATE_ANSWER_FILE")
            if answer_file:
                # Rewritten by a test between sessions: no setenv while the node spawns drivers.
                with open(answer_file) as f:
                    raw = f.read() or None  # empty: answer normally
            if raw is not None:
                data = raw.encode()
                self.send_response(500)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            caps = body.get("capabilities", {}).get("alwaysMatch", {})
            sid = uuid.uuid4().hex
            with LOCK:
                SESSIONS[sid] = {"url": "about:blank"}
            echoed = dict(caps)
            echoed["fake:pid"] = os.getpid()
            port = self.server.server_address[1]
            if caps.get("webSocketUrl") is True:
                echoed["webSocketUrl"] = f"ws://127.0.0.1:{port}/session/{sid}"
            if isinstance(caps.get("goog:chromeOptions"), dict):
                address = os.environ.get("FAKE_DRIVER_DEBUGGER_ADDRESS") or f"localhost:{port}"
                echoed["goog:chromeOptions"] = dict(caps["goog:chromeOptions"],
                                                    debuggerAddress=address)
            reply(self, 200, {"sessionId": sid, "capabilities": echoed})
            if os.environ.get("FAKE_DRIVER_EXIT_AFTER_CREATE") == "1":
                self.wfile.flush()
                os._exit(0)
            return None
        self.session_command("POST", p, body)

    def json_reply(self, payload):
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def upgrade(self, p):
        with LOCK:
            UPGRADES.append(dict({k: v for k, v in self.headers.items()}, path=self.path))
            known = (len(p) == 2 or (len(p) == 4 and p[2] == "se" and p[3] in ("bidi", "cdp"))) \
                and p[0] == "session" and p[1] in SESSIONS
        devtools = p == ["devtools", "browser", BROWSER_ID]
        if not known and not devtools:
            return error(self, 404, "invalid session id", "no socket at " + self.path)
        if devtools and not host_is_ip_or_localhost(self.headers.get("Host", "")):
            return error(self, 500, "unknown error",
                         "Host header is specified and is not an IP address or localhost.")
        if devtools and self.headers.get("Origin") is not None:
            return error(self, 403, "unknown error", "Rejected an incoming WebSocket "
                         "connection from the " + self.headers["Origin"] + " origin.")
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = accept_key(key)
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        self.echo()

    def echo(self):
        while True:
            got = read_frame(self.rfile)
            if got is None:
                return
            fin, opcode, payload = got
            if opcode == 0x8:  # close: answer with the same code, then end
                self.wfile.write(frame(0x8, payload))
                return
            if opcode == 0x9:
                self.wfile.write(frame(0xA, payload))
                continue
            if opcode == 0x1 and payload.startswith(b"close:"):
                self.wfile.write(frame(0x8, struct.pack("!H", int(payload[6:]))))
                return
            if opcode == 0x1 and payload.startswith(b"send:"):
                self.wfile.write(frame(0x1, b"x" * int(payload[5:])))
            self.wfile.write(frame(opcode, payload, fin))

    def do_DELETE(self):
        p = self.parts()
        if len(p) == 2 and p[0] == "session":
            with LOCK:
                known = SESSIONS.pop(p[1], None)
            if known is None:
                return error(self, 404, "invalid session id", "no session " + p[1])
            return reply(self, 200, None)
        self.session_command("DELETE", p, None)

    def session_command(self, method, p, body):
        if len(p) < 2 or p[0] != "session":
            return error(self, 404, "unknown command", self.path)
        with LOCK:
            session = SESSIONS.get(p[1])
        if session is None:
            return error(self, 404, "invalid session id", "no session " + p[1])
        rest = p[2:]
        if rest == ["url"] and method == "POST":
            session["url"] = body.get("url", "")
            return reply(self, 200, None)
        if rest == ["url"] and method == "GET":
            return reply(self, 200, session["url"])
        if rest == ["title"]:
            return reply(self, 200, "fake title")
        if rest == ["execute", "sync"] and method == "POST":
            script = body.get("script", "")
            if script.startswith("sleep:"):
                time.sleep(float(script[6:]))
            if script.startswith("big:"):
                return reply(self, 200, "x" * int(script[4:]))
            return reply(self, 200, script)
        return error(self, 404, "unknown command", self.path)


def main():
    port = 0
    for arg in sys.argv[1:]:
        if arg.startswith("--port="):
            port = int(arg.split("=", 1)[1])
    if os.environ.get("FAKE_DRIVER_EXIT_AT_START"):
        sys.exit(int(os.environ["FAKE_DRIVER_EXIT_AT_START"]))
    time.sleep(float(os.environ.get("FAKE_DRIVER_LISTEN_DELAY") or 0))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("fake_driver listening on", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
