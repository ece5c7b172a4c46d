#!/usr/bin/python3
"""A tiny W3C WebDriver server for node-agent tests: `fake_driver.py --port=N`.

Serves GET /status, POST /session (echoes the capabilities it received, plus its pid under
"fake:pid"), DELETE /session/{id}, and under /session/{id}/: POST url / GET url, GET title,
POST execute/sync (a script "sleep:SECONDS" sleeps, to make slow commands; "big:N" answers a
string of N bytes). Unknown sessions get
W3C `invalid session id`. Environment FAKE_DRIVER_NOT_READY=1 makes /status answer 500 forever;
FAKE_DRIVER_CREATE_DELAY=SECONDS delays every POST /session; FAKE_DRIVER_CREATE_ANSWER=TEXT
answers every POST /session with HTTP 500 and that body instead (a driver or relay answering
nonsense); FAKE_DRIVER_EXIT_AFTER_CREATE=1 exits right after answering a POST /session.
"""
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SESSIONS = {}
LOCK = threading.Lock()


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
            reply(self, 200, {"sessionId": sid, "capabilities": echoed})
            if os.environ.get("FAKE_DRIVER_EXIT_AFTER_CREATE") == "1":
                self.wfile.flush()
                os._exit(0)
            return None
        self.session_command("POST", p, body)

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
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("fake_driver listening on", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
