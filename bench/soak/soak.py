#!/usr/bin/python3
"""Soak of `gridhub hub`: a bounded mixed load for a long time, with the hub's RSS and open
descriptors sampled every 10 s. Never a test (issue 14's soak target). Run it through run.sh:

    bench/soak/run.sh [--minutes 30] [--build DIR] [--csv FILE] [--warmup-minutes M]

It starts, on free loopback ports, `gridhub hub` with small queue limits and short timeouts,
and three fake W3C nodes:
  - `chrome`: bench/hub's gridhub_fake_node (C++, answers instantly), 4 session units;
  - `edge`: another gridhub_fake_node, 1 unit, which one client holds almost all the time,
    so that what else asks for it queues and times out, is refused (queue full, no wait, run
    limit) or leaves (client disconnect, ticket deleted or abandoned);
  - `firefox`: tests/integration's WsNode (Python, in this process), 2 units, whose sessions
    offer BiDi and echo every WebSocket frame.
Clients (one thread and one kept-alive connection each): session create / commands / delete
cycles, no-wait requests, requests that queue and time out or are refused, held requests whose
client disconnects, tickets (polled, taken, deleted, abandoned, refused by run limit), BiDi
sockets through the hub (echoed messages; some closed by the client, some by the hub at
DELETE), and /status, /queue, /metrics, /ui/api/state readers. Each pauses --pace seconds
between operations, so the load is bounded whatever the machine.

Every 10 s it appends a sample (elapsed s, VmRSS KiB, open fds, threads, operations so far) to
the CSV. At the end it stops the load, waits (bounded) for the hub to be idle, and checks that
every slot is free, the queue empty, every session the firefox node created was deleted on it
and none of its sockets is still open; then it prints the summary: RSS at the warm-up sample,
at the end, growth %, slope after warm-up, fd min/max under load and idle before/after, the
count of every operation and every unexpected answer. Exit status 1 when a check failed, RSS
grew more than 5 % after warm-up, or any operation had an unexpected answer. Every process it
started is stopped by its pid on the way out (also on Ctrl-C, SIGTERM or a failure).
"""

import argparse
import collections
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from test_websockets import WsNode  # noqa: E402
from wsclient import WebSocket, Closed, HandshakeRefused  # noqa: E402

QUEUE_TIMEOUT_S = 3


def die_with_parent():
    """In a child before exec: SIGTERM when this script dies, even by SIGKILL."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def descendant_running(pid, binary):
    """The pid of the process under `pid` (or `pid` itself) whose executable is `binary`."""
    binary = os.path.realpath(binary)
    children = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children[ppid].append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            if os.path.realpath(f"/proc/{current}/exe") == binary:
                return current
        except OSError:
            pass
        todo += children[current]
    raise RuntimeError(f"no {binary} under pid {pid}")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = collections.Counter()
        self.errors = collections.Counter()
        self.error_samples = []

    def op(self, name, n=1):
        with self.lock:
            self.ops[name] += n

    def error(self, name, detail):
        with self.lock:
            self.errors[name] += 1
            if len(self.error_samples) < 20:
                self.error_samples.append(f"{name}: {detail}"[:400])

    def total(self):
        with self.lock:
            return sum(self.ops.values())


class Http:
    """One kept-alive connection to the hub; reconnects when the hub closed an idle one."""

    def __init__(self, base):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname, parsed.port
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, method, path, body=None, headers=None, timeout=15.0):
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json; charset=utf-8"} if data is not None else {}
        hdrs.update(headers or {})
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.timeout = timeout
                if self.conn.sock is not None:
                    self.conn.sock.settimeout(timeout)
                self.conn.request(method, path, body=data, headers=hdrs)
                response = self.conn.getresponse()
                payload = response.read()
                if response.will_close:
                    self.close()
                return response.status, response.getheaders(), payload
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 1 or not reused:
                    raise
            except Exception:
                self.close()
                raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, headers=None, timeout=15.0):
        status, _, payload = self.call(method, path, body, headers, timeout)
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, payload


def complete(answer):
    """Whether `answer` holds a whole HTTP answer with a Content-Length body."""
    head, found, payload = answer.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(found and m and len(payload) >= int(m.group(1)))


def caps(browser, **extra):
    always = {"browserName": browser}
    always.update(extra)
    return {"capabilities": {"alwaysMatch": always}}


def refusal_kind(status, body):
    """The kind of a failed new-session answer, from its W3C message."""
    try:
        message = body["value"]["message"]
    except (TypeError, KeyError):
        return f"http_{status}"
    if "queue full" in message:
        return "queue_full"
    if "run limit" in message:
        return "run_limit"
    if "no wait" in message or "no-wait" in message:
        return "no_wait"
    if "queue.timeout" in message or "timed out" in message:
        return "timed_out"
    return f"http_{status}:{message[:80]}"


class Soak:
    def __init__(self, args):
        self.args = args
        self.stats = Stats()
        self.stop = threading.Event()
        self.processes = []
        self.tmp = tempfile.mkdtemp(prefix="gridhub-soak-")
        self.samples = []
        self.hub = None
        self.hub_pid = None
        self.ws_node = None
        self.node_ports = {}  # node port -> node id

    # --- processes -----------------------------------------------------------------------
    def start(self, args, name, env=None):
        out = open(os.path.join(self.tmp, name + ".out"), "w")
        err = open(os.path.join(self.tmp, name + ".err"), "w")
        environment = dict(os.environ)
        environment.update(env or {})
        process = subprocess.Popen(args, stdout=out, stderr=err, env=environment,
                                   preexec_fn=die_with_parent)
        out.close()
        err.close()
        self.processes.append(process)
        path = os.path.join(self.tmp, name + ".out")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: "
                                   f"{open(os.path.join(self.tmp, name + '.err')).read()[-2000:]}")
            with open(path) as f:
                m = re.search(r"listening on (http://\S+)", f.read())
            if m:
                return process, m.group(1)
            time.sleep(0.05)
        raise RuntimeError(f"{name}: no listening line within 15 s")

    def stop_all(self):
        self.stop.set()
        if self.hub_pid is not None and self.processes[-1].pid != self.hub_pid:
            try:
                os.kill(self.hub_pid, signal.SIGTERM)  # the hub under a wrapper, by its pid
                self.processes[-1].wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self.ws_node is not None:
            self.ws_node.stop()
            self.ws_node = None

    def setup(self):
        build = self.args.build
        fake = os.path.join(build, "bench", "hub", "gridhub_fake_node")
        _, chrome = self.start([fake, "1"], "chrome-node")
        _, edge = self.start([fake, "1"], "edge-node")
        self.ws_node = WsNode()
        flags = ["--server.port", "0", "--server.host", "127.0.0.1",
                 "--queue.timeout", f"{QUEUE_TIMEOUT_S}s", "--queue.max-per-label", "8",
                 "--queue.max-per-run", "3", "--queue.abandon-after", "2s",
                 "--queue.ready-ttl", "2s", "--queue.registration-grace", "0s",
                 "--hub.health-check-period", "2s", "--log.level", "warn"]
        binary = os.path.join(build, "app", "gridhub")
        wrapper = self.args.hub_wrapper.split() if self.args.hub_wrapper else []
        hub_process, self.hub = self.start(wrapper + [binary, "hub"] + flags, "hub")
        self.hub_pid = hub_process.pid
        if wrapper:  # sample and stop the hub itself, not the wrapper (heaptrack's shell)
            self.hub_pid = descendant_running(hub_process.pid, binary)
        admin = Http(self.hub)
        for node_id, uri, browser, units in (("chrome", chrome, "chrome", 4),
                                             ("edge", edge, "MicrosoftEdge", 1),
                                             ("firefox", self.ws_node.url, "firefox", 2)):
            status, body = admin.json("POST", "/nodes", {
                "id": node_id, "uri": uri, "healthCheck": "status",
                "slots": [{"id": "s", "maxSessions": units,
                           "stereotype": {"browserName": browser}}]})
            if status != 201:
                raise RuntimeError(f"registering {node_id}: {status} {body}")
            self.node_ports[urllib.parse.urlsplit(uri).port] = node_id
        admin.close()

    # --- sampling ------------------------------------------------------------------------
    def sample(self, started):
        fields = {}
        with open(f"/proc/{self.hub_pid}/status") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "RssAnon", "RssFile", "Threads"):
                    fields[name] = int(value.split()[0])
        fds = len(os.listdir(f"/proc/{self.hub_pid}/fd"))
        return (round(time.monotonic() - started, 1), fields["VmRSS"], fds, fields["Threads"],
                self.stats.total(), fields["RssAnon"], fields["RssFile"])

    def fd_kinds(self):
        """The hub's open descriptors by kind: TCP sockets by peer (a node, a client of the hub's
        port, the listener), pipes, eventfds and the like, files."""
        sockets = {}
        for table in ("tcp", "tcp6"):
            try:
                with open(f"/proc/{self.hub_pid}/net/{table}") as f:
                    next(f)
                    for line in f:
                        fields = line.split()
                        local = int(fields[1].rsplit(":", 1)[1], 16)
                        remote = int(fields[2].rsplit(":", 1)[1], 16)
                        sockets[fields[9]] = (local, remote, fields[3])
            except OSError:
                pass
        hub_port = urllib.parse.urlsplit(self.hub).port
        kinds = collections.Counter()
        for fd in os.listdir(f"/proc/{self.hub_pid}/fd"):
            try:
                target = os.readlink(f"/proc/{self.hub_pid}/fd/{fd}")
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]", target)
            if m and m.group(1) in sockets:
                local, remote, state = sockets[m.group(1)]
                if state == "0A":
                    kinds["tcp listening"] += 1
                elif local == hub_port:
                    kinds["tcp from a client"] += 1
                else:
                    kinds["tcp to node " + self.node_ports.get(remote, str(remote))] += 1
            elif m:
                kinds["socket (not TCP)"] += 1
            elif target.startswith("anon_inode:"):
                kinds[target.split(":", 1)[1].strip("[]")] += 1
            elif target.startswith("pipe:"):
                kinds["pipe"] += 1
            else:
                kinds["file " + target] += 1
        return kinds

    def sampler(self, started, csv):
        next_at = started
        while not self.stop.is_set():
            row = self.sample(started)
            self.samples.append(row)
            csv.write(",".join(str(x) for x in row) + "\n")
            csv.flush()
            if self.args.verbose:
                print(f"  t={row[0]:7.1f}s rss={row[1]} KiB (anon {row[5]}) fds={row[2]} "
                      f"threads={row[3]} ops={row[4]}", flush=True)
            next_at += self.args.sample_seconds
            self.stop.wait(max(0, next_at - time.monotonic()))

    # --- clients -------------------------------------------------------------------------
    def loop(self, name, body, index):
        """Runs body(http, rng) until the stop flag; counts exceptions as errors of `name`."""
        def run():
            hub = Http(self.hub)
            rng = random.Random(index)
            while not self.stop.is_set():
                try:
                    body(hub, rng)
                except Exception as e:  # noqa: BLE001 - every failure is counted, then go on
                    hub.close()
                    self.stats.error(name, repr(e))
                    self.stop.wait(0.2)
                self.stop.wait(self.args.pace)
            hub.close()
        thread = threading.Thread(target=run, name=f"{name}-{index}", daemon=True)
        thread.start()
        return thread

    def expect(self, name, status, want, body):
        if status != want:
            self.stats.error(name, f"HTTP {status} (wanted {want}): {body!r}"[:300])
            return False
        return True

    def new_session_outcome(self, name, status, body):
        """Counts a POST /session answer; the session id when it was created."""
        if status == 200:
            self.stats.op("session_created")
            return body["value"]["sessionId"]
        kind = refusal_kind(status, body)
        if kind.startswith("http_"):
            self.stats.error(name, kind)
        else:
            self.stats.op("refused_" + kind if kind != "timed_out" else "queued_timed_out")
        return None

    def end_session(self, name, hub, session):
        status, body = hub.json("DELETE", f"/session/{session}")
        if self.expect(name, status, 200, body):
            self.stats.op("session_ended")

    def commands(self, name, hub, session, n):
        for i in range(n):
            if i % 2 == 0:
                status, body = hub.json("GET", f"/session/{session}/url")
            else:
                status, body = hub.json("POST", f"/session/{session}/url",
                                        {"url": "https://example.test/"})
            if self.expect(name, status, 200, body):
                self.stats.op("command")

    def cycle(self, hub, rng):
        """Create a chrome session (queues when the 4 units are taken), commands, delete."""
        status, body = hub.json("POST", "/session", caps("chrome"))
        session = self.new_session_outcome("cycle", status, body)
        if session is None:
            return
        self.commands("cycle", hub, session, rng.randint(2, 8))
        if rng.random() < 0.1:
            status, body = hub.json("GET", "/session/no-such-session/url")
            if self.expect("cycle", status, 404, body):
                self.stats.op("unknown_session_404")
        self.end_session("cycle", hub, session)

    def hold_edge(self, hub, rng):
        """Holds the one edge unit for 20 s at a time (a command every 2 s), then frees it."""
        status, body = hub.json("POST", "/session", caps("MicrosoftEdge"), timeout=30)
        session = self.new_session_outcome("hold_edge", status, body)
        if session is None:
            return
        for _ in range(10):
            if self.stop.wait(2):
                break
            self.commands("hold_edge", hub, session, 1)
        self.end_session("hold_edge", hub, session)

    def want_edge(self, hub, rng):
        """A request for the held unit: waits queue.timeout, or is refused when 8 wait."""
        status, body = hub.json("POST", "/session", caps("MicrosoftEdge"),
                                timeout=QUEUE_TIMEOUT_S + 10)
        session = self.new_session_outcome("want_edge", status, body)
        if session is not None:
            self.end_session("want_edge", hub, session)
        self.stop.wait(rng.uniform(0, 1))

    def no_wait(self, hub, rng):
        """Fail-fast requests: chrome (often served) and edge (held: refused)."""
        browser = "chrome" if rng.random() < 0.5 else "MicrosoftEdge"
        status, body = hub.json("POST", "/session", caps(browser), headers={"X-No-Wait": "true"})
        session = self.new_session_outcome("no_wait", status, body)
        if session is not None:
            self.end_session("no_wait", hub, session)
        self.stop.wait(0.1)

    def disconnect(self, hub, rng):
        """A POST /session for edge whose client goes away while it waits. It only shuts its
        sending side (the hub takes the EOF for a departure) and reads on: when the grant
        raced the departure and the answer was already on its way, the session is the
        client's, and it deletes it instead of leaving it to the end-of-run check."""
        body = json.dumps(caps("MicrosoftEdge")).encode()
        with socket.create_connection((hub.host, hub.port), timeout=10) as sock:
            sock.sendall(b"POST /session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            self.stop.wait(rng.uniform(0.1, 1.0))
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while not complete(answer):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        if not answer:
            self.stats.op("client_disconnected_waiting")
        else:
            head, _, payload = answer.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            session = self.new_session_outcome("disconnect", status, json.loads(payload))
            if session is not None:
                self.stats.op("disconnect_raced_grant")
                self.end_session("disconnect", hub, session)
        self.stop.wait(0.5)

    def ticket(self, hub, rng):
        """A chrome ticket: polled until ready, then taken and used, or deleted or abandoned."""
        status, body = hub.json("POST", "/queue/requests", caps("chrome"))
        if status == 429:
            self.stats.op("ticket_refused_" + refusal_kind(status, body))
            return
        if not self.expect("ticket", status, 201, body):
            return
        self.stats.op("ticket_created")
        ticket, token = body["id"], {"X-Queue-Token": body["token"]}
        fate = rng.random()
        if fate < 0.1:
            self.stats.op("ticket_abandoned")  # abandon-after / ready-ttl drop it
            return
        if fate < 0.25:
            status, body = hub.json("DELETE", f"/queue/requests/{ticket}", headers=token)
            if self.expect("ticket", status, 204, body):
                self.stats.op("ticket_deleted")
            return
        deadline = time.monotonic() + QUEUE_TIMEOUT_S + 5
        while time.monotonic() < deadline and not self.stop.is_set():
            status, body = hub.json("GET", f"/queue/requests/{ticket}", headers=token)
            self.stats.op("ticket_polled")
            if status == 404:
                self.stats.op("ticket_expired")
                return
            if not self.expect("ticket", status, 200, body):
                return
            if body["status"] == "ready":
                status, body = hub.json("POST", f"/queue/requests/{ticket}/take", headers=token)
                if not self.expect("ticket", status, 200, body):
                    return
                self.stats.op("ticket_taken")
                session = body["value"]["sessionId"]
                self.commands("ticket", hub, session, 2)
                self.end_session("ticket", hub, session)
                return
            self.stop.wait(0.05)
        status, body = hub.json("DELETE", f"/queue/requests/{ticket}", headers=token)
        if status in (204, 404):
            self.stats.op("ticket_deleted")

    def edge_tickets(self, hub, rng):
        """Four edge tickets of one run: the fourth is refused (max-per-run 3); the others wait
        for the held unit, heartbeat, and expire after queue.timeout (or are deleted)."""
        run = {"X-Run-Id": f"run-{rng.randrange(1 << 30)}"}
        tickets = []
        for _ in range(4):
            status, body = hub.json("POST", "/queue/requests", caps("MicrosoftEdge"), headers=run)
            if status == 201:
                self.stats.op("ticket_created")
                tickets.append((body["id"], {"X-Queue-Token": body["token"]}))
            elif status == 429:
                self.stats.op("ticket_refused_" + refusal_kind(status, body))
            else:
                self.stats.error("edge_tickets", f"HTTP {status}: {body!r}")
        self.stop.wait(rng.uniform(0.5, 2))
        for ticket, token in tickets:
            status, body = hub.json("POST", f"/queue/requests/{ticket}/heartbeat", headers=token)
            if status == 204:
                self.stats.op("ticket_heartbeat")
            elif status == 404:
                self.stats.op("ticket_expired")
            else:
                self.stats.error("edge_tickets", f"heartbeat HTTP {status}: {body!r}")
        self.stop.wait(rng.uniform(0, 2.5))
        for ticket, token in tickets:
            status, body = hub.json("DELETE", f"/queue/requests/{ticket}", headers=token)
            if status == 204:
                self.stats.op("ticket_deleted")
            elif status == 404:
                self.stats.op("ticket_expired")
            else:
                self.stats.error("edge_tickets", f"delete HTTP {status}: {body!r}")
        self.stop.wait(rng.uniform(0, 1))

    def websocket(self, hub, rng):
        """A firefox session with BiDi: messages echoed through the hub; the socket is closed
        by the client, or by the hub when the session is deleted with it open."""
        status, body = hub.json("POST", "/session", caps("firefox", webSocketUrl=True))
        session = self.new_session_outcome("websocket", status, body)
        if session is None:
            return
        url = body["value"]["capabilities"].get("webSocketUrl", "")
        try:
            sockets = [WebSocket.connect(url, timeout=10) for _ in range(rng.choice((1, 1, 2)))]
        except (OSError, HandshakeRefused) as e:
            self.stats.error("websocket", f"connect {url}: {e!r}")
            self.end_session("websocket", hub, session)
            return
        self.stats.op("websocket_opened", len(sockets))
        for i in range(rng.randint(5, 30)):
            ws = sockets[i % len(sockets)]
            message = json.dumps({"id": i, "method": "session.status", "params": {}})
            ws.send_text(message)
            if ws.recv_text() != message:
                self.stats.error("websocket", "echo differs")
            else:
                self.stats.op("websocket_message")
        if rng.random() < 0.5:
            for ws in sockets:
                ws.close()
            self.stats.op("websocket_closed_by_client", len(sockets))
            self.end_session("websocket", hub, session)
        else:
            self.end_session("websocket", hub, session)
            for ws in sockets:
                if ws.wait_closed(10):
                    self.stats.op("websocket_closed_by_hub")
                else:
                    self.stats.error("websocket", "socket still open 10 s after DELETE")
                ws.close()

    def reader(self, hub, rng):
        """What a console and a Prometheus do: /status, /queue, /metrics, /ui/api/state."""
        for path in ("/status", "/queue", "/metrics", "/ui/api/state", "/nodes"):
            status, _, payload = hub.call("GET", path)
            if self.expect("reader", status, 200, payload[:200]):
                self.stats.op("read_" + path.strip("/").replace("/", "_"))
        self.stop.wait(1)

    # --- the end -------------------------------------------------------------------------
    def idle_state(self):
        hub = Http(self.hub)
        try:
            _, status = hub.json("GET", "/status")
            _, queue = hub.json("GET", "/queue")
        finally:
            hub.close()
        value = status["value"]
        busy = sum(n["sessionCount"] for n in value["nodes"])
        return busy, value["queueSize"], len(queue["value"]), value["nodes"]

    def wait_idle(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            busy, queue_size, queued, _ = self.idle_state()
            with self.ws_node.lock:
                sockets = self.ws_node.open_sockets
            if busy == 0 and queue_size == 0 and queued == 0 and sockets == 0:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    def run(self):
        args = self.args
        self.setup()
        started = time.monotonic()
        load1 = os.getloadavg()[0]
        self.stop.wait(1)
        idle_before = self.sample(started)
        self.fds_before = self.fd_kinds()
        csv_path = args.csv or os.path.join(args.build, "soak", "soak.csv")
        os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
        print(f"# soak: hub {self.hub} (pid {self.hub_pid}), {args.minutes} min, pace "
              f"{args.pace}s, samples every {args.sample_seconds}s -> {csv_path}", flush=True)
        print(f"# started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
              f"load average {load1:.2f}, {os.cpu_count()} cores", flush=True)
        clients = [("cycle", self.cycle)] * 6 + [("hold_edge", self.hold_edge)] + \
                  [("want_edge", self.want_edge)] * 6 + [("no_wait", self.no_wait)] + \
                  [("disconnect", self.disconnect)] + [("ticket", self.ticket)] * 2 + \
                  [("edge_tickets", self.edge_tickets)] + [("websocket", self.websocket)] * 2 + \
                  [("reader", self.reader)]
        loads = []
        with open(csv_path, "w") as csv:
            csv.write("seconds,rss_kib,fds,threads,operations,rss_anon_kib,rss_file_kib\n")
            sampler = threading.Thread(target=self.sampler, args=(time.monotonic(), csv),
                                       daemon=True)
            threads = [self.loop(name, body, i) for i, (name, body) in enumerate(clients)]
            sampler.start()
            end = time.monotonic() + args.minutes * 60
            while time.monotonic() < end:
                time.sleep(min(60, max(0, end - time.monotonic())))
                loads.append(os.getloadavg()[0])
                for process in self.processes:
                    if process.poll() is not None:  # a negative code is the signal's number
                        raise RuntimeError(f"{' '.join(process.args[:2])} (pid {process.pid}) "
                                           f"exited with {process.returncode} under load")
                print(f"  {len(self.samples) and self.samples[-1][0] / 60:5.1f} min: "
                      f"rss {self.samples[-1][1]} KiB (anon {self.samples[-1][5]}), "
                      f"fds {self.samples[-1][2]}, "
                      f"ops {self.stats.total()}, errors {sum(self.stats.errors.values())}, "
                      f"load {loads[-1]:.2f}", flush=True)
            self.stop.set()
            for thread in threads:
                thread.join(timeout=40)
            sampler.join(timeout=15)
        stuck = [t.name for t in threads if t.is_alive()]
        idle = self.wait_idle(timeout=2 * QUEUE_TIMEOUT_S + 10)
        self.leftovers = []
        if not idle:  # what is left, and whether it ever goes (the hub's own timers)
            _, _, _, nodes = self.idle_state()
            for node in nodes:
                for slot in node["slots"]:
                    if slot.get("session"):
                        session = slot["session"]
                        self.leftovers.append(
                            f"node {node['id']} slot {slot['id']}: session "
                            f"{session['sessionId']} started "
                            f"{time.time() - session.get('start', time.time()):.0f} s ago")
            waited = time.monotonic()
            cleared = self.wait_idle(timeout=120)
            self.leftovers.append(f"{'cleared' if cleared else 'still there'} after "
                                  f"{time.monotonic() - waited:.0f} s more")
        time.sleep(1)
        idle_after = self.sample(started)
        self.fds_after = self.fd_kinds()
        busy, queue_size, queued, nodes = self.idle_state()
        with self.ws_node.lock:
            created, deleted = set(self.ws_node.created), set(self.ws_node.deleted)
            open_sockets = self.ws_node.open_sockets
        return self.report(csv_path, idle_before, idle_after, idle, busy, queue_size, queued,
                           created - deleted, open_sockets, stuck, load1, loads)

    def report(self, csv_path, idle_before, idle_after, idle, busy, queue_size, queued,
               undeleted, open_sockets, stuck, load1, loads):
        args = self.args
        warm_s = args.warmup_minutes * 60
        warm = next((s for s in self.samples if s[0] >= warm_s), self.samples[-1])
        after = [s for s in self.samples if s[0] >= warm[0]]
        end = self.samples[-1]
        growth = 100.0 * (end[1] - warm[1]) / warm[1]
        peak_growth = 100.0 * (max(s[1] for s in after) - warm[1]) / warm[1]
        # Least-squares slope of RSS after warm-up, KiB per minute.
        n = len(after)
        slope = 0.0
        if n >= 2:
            mt = sum(s[0] for s in after) / n
            mr = sum(s[1] for s in after) / n
            den = sum((s[0] - mt) ** 2 for s in after)
            slope = 60 * sum((s[0] - mt) * (s[1] - mr) for s in after) / den if den else 0.0
        fds = [s[2] for s in self.samples]
        fds_after = [s[2] for s in after]
        print(f"# finished {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; load average "
              f"at start {load1:.2f}, during {min(loads or [0]):.2f}-{max(loads or [0]):.2f}")
        print("# per-minute samples (minute, RSS MiB, of which anonymous MiB, fds, threads):")
        minute = -1
        for s in self.samples:
            if int(s[0] // 60) != minute or s is end:
                minute = int(s[0] // 60)
                print(f"  {s[0] / 60:5.1f}  {s[1] / 1024:7.2f}  {s[5] / 1024:7.2f}  {s[2]:4d}  "
                      f"{s[3]:3d}")
        print(f"RSS idle before load      {idle_before[1] / 1024:.2f} MiB")
        print(f"RSS at warm-up ({warm[0] / 60:.1f} min) {warm[1] / 1024:.2f} MiB")
        print(f"RSS at end ({end[0] / 60:.1f} min)     {end[1] / 1024:.2f} MiB")
        print(f"RSS growth after warm-up  {growth:+.2f} % (peak {peak_growth:+.2f} %, slope "
              f"{slope:+.1f} KiB/min)")
        anon_growth = 100.0 * (end[5] - warm[5]) / warm[5]
        print(f"anonymous RSS (heap, stacks): warm-up {warm[5] / 1024:.2f} MiB, end "
              f"{end[5] / 1024:.2f} MiB, growth {anon_growth:+.2f} %; file-backed (code) "
              f"{warm[6] / 1024:.2f} -> {end[6] / 1024:.2f} MiB")
        full = next((s for s in self.samples if s[0] >= 15 * 60), None)
        if full is not None and end[0] - full[0] >= 5 * 60:
            # The console keeps a 15-minute chart (hub/console_history.h, one sample every
            # 5 s): the hub's memory may grow with it until it is full.
            print(f"RSS growth after 15 min   {100.0 * (end[1] - full[1]) / full[1]:+.2f} % "
                  f"({full[1] / 1024:.2f} -> {end[1] / 1024:.2f} MiB; the console's chart is "
                  f"full then)")
        print(f"RSS idle after load       {idle_after[1] / 1024:.2f} MiB")
        print(f"fds under load            min {min(fds)}, max {max(fds)}; after warm-up "
              f"{min(fds_after)}-{max(fds_after)}")
        print(f"fds idle before / after   {idle_before[2]} / {idle_after[2]}")
        for kind in sorted(set(self.fds_before) | set(self.fds_after)):
            print(f"  {kind:40s} {self.fds_before[kind]:4d} / {self.fds_after[kind]:4d}")
        print(f"threads                   {idle_before[3]} idle before, "
              f"{min(s[3] for s in self.samples)}-{max(s[3] for s in self.samples)} under load, "
              f"{idle_after[3]} after")
        print("operations:")
        for name, count in sorted(self.stats.ops.items()):
            print(f"  {name:32s} {count}")
        print(f"  {'total':32s} {sum(self.stats.ops.values())}")
        print("unexpected answers / errors:" + (" none" if not self.stats.errors else ""))
        for name, count in sorted(self.stats.errors.items()):
            print(f"  {name:32s} {count}")
        for line in self.stats.error_samples:
            print("    " + line)
        failures = []
        if not idle:
            failures.append(f"not idle at the end: {busy} sessions, queueSize {queue_size}, "
                            f"{queued} in GET /queue, {open_sockets} node sockets open")
        if undeleted:
            failures.append(f"{len(undeleted)} firefox sessions never deleted on the node")
        if stuck:
            failures.append(f"client threads still running: {stuck}")
        if growth > 5.0:
            failures.append(f"RSS grew {growth:.1f} % after warm-up")
        # Kept-alive connections to nodes may stay open after the load (the hub's pool); any
        # other descriptor must be back where it was.
        grown = {k: (self.fds_before[k], v) for k, v in self.fds_after.items()
                 if not k.startswith("tcp to node") and v > self.fds_before[k]}
        if grown:
            failures.append(f"descriptors idle after above before (before, after): {grown}")
        pooled = sum(v for k, v in self.fds_after.items() if k.startswith("tcp to node"))
        if pooled > 64:
            failures.append(f"{pooled} connections to nodes still open when idle")
        if self.stats.errors:
            failures.append(f"{sum(self.stats.errors.values())} unexpected answers")
        print("checks: " + ("every slot free, queue empty, node sessions deleted, sockets closed, "
                            "RSS and fds flat: OK" if not failures else "FAILED"))
        for failure in failures:
            print("  FAILED: " + failure)
        for line in self.leftovers:
            print("    left: " + line)
        print(f"# csv: {csv_path}")
        return 0 if not failures else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--warmup-minutes", type=float, default=None,
                        help="the sample growth is measured from (default 5, or a quarter of "
                             "shorter runs)")
    parser.add_argument("--sample-seconds", type=float, default=10)
    parser.add_argument("--pace", type=float, default=0.05,
                        help="pause of each client between operations (s)")
    parser.add_argument("--csv", default=None)
    parser.add_argument("--hub-wrapper", default="",
                        help="command the hub runs under, e.g. 'heaptrack -o FILE'")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.warmup_minutes is None:
        args.warmup_minutes = min(5.0, args.minutes / 4)
    soak = Soak(args)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    # Explicitly: a shell without job control starts background commands with SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    result = 1
    try:
        result = soak.run()
        return result
    except KeyboardInterrupt as e:
        print(f"soak: interrupted ({e}); stopping what it started", file=sys.stderr)
        result = 130
        return result
    finally:
        soak.stop_all()
        hub_err = os.path.join(soak.tmp, "hub.err")
        if os.path.exists(hub_err):
            text = open(hub_err).read()
            if "Sanitizer" in text:
                print("hub stderr (sanitizer report):\n" + text[-20000:])
            elif text:
                print(f"hub stderr: {len(text.splitlines())} lines, last: "
                      f"{text.splitlines()[-1][:300]}")
        if result == 0:
            shutil.rmtree(soak.tmp, ignore_errors=True)
        else:
            print(f"# the processes' output is kept in {soak.tmp}")


if __name__ == "__main__":
    sys.exit(main())
