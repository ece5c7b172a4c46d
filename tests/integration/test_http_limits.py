"""The hub's HTTP edge against the real binary: header injection and smuggling refused, the
connection cap, the header and body time limits, memory for unfinished bodies, HEAD,
Expect: 100-continue, pipelining behind a chunked body, raw query strings, node answers over
server.max-body, and descriptors and threads back to their baseline afterwards.

Limits are set small (20 connections, a 1 s header timeout) so every test is bounded; nothing
asserts a duration beyond "closed within a generous bound".
"""

import json
import os
import resource
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from hubtest import GRIDHUB, AsyncRequest, HubTestCase, call, call_json, caps, wait_for

BOUND = 15.0  # generous bound for anything the hub must do "soon"


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def thread_count(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Raw:
    """A raw client socket: sends what it is told, reads until a marker, EOF or a bound."""

    def __init__(self, hub, timeout=BOUND):
        parsed = urllib.parse.urlsplit(hub.url)
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=timeout)
        self.received = b""
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def read(self, until=None, timeout=BOUND):
        deadline = time.monotonic() + timeout
        while not self.closed and (until is None or until not in self.received):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                self.closed = True
                break
            if not chunk:
                self.closed = True
                break
            self.received += chunk
        return self.received

    def close(self):
        self.sock.close()


class HttpLimitsTest(HubTestCase):
    def raw(self, hub):
        client = Raw(hub)
        self.addCleanup(client.close)
        return client

    def session(self, hub, node):
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        return body["value"]["sessionId"]

    # --- 2. header injection and smuggling --------------------------------------------------
    def test_cr_lf_nul_in_headers_and_ambiguous_framing_are_400_and_reach_no_node(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        sid = self.session(hub, node)
        target = f"/session/{sid}/url".encode()
        bad_heads = [
            b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nX-A: a\rX-Injected: 1\r\n\r\n",
            b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nX-A: a\nX-Injected: 1\r\n\r\n",
            b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
            b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
            b"Content-Length: 40\r\n\r\n{}{}",
            b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        ]
        for head in bad_heads:
            client = self.raw(hub)
            client.send(head + b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            received = client.read()
            self.assertTrue(received.startswith(b"HTTP/1.1 400 "), (head, received[:200]))
            self.assertEqual(received.count(b"HTTP/1.1 "), 1, received)  # nothing smuggled
            self.assertTrue(client.closed, head)
        with node.lock:
            self.assertEqual(node.commands, [])

    # --- 3. connection cap, descriptors back to baseline ------------------------------------
    def test_connections_over_the_cap_get_503_and_descriptors_return_to_baseline(self):
        hub = self.start_hub("--server.max-connections", "20", "--server.threads", "2")
        pid = hub.process.pid
        self.assertEqual(call("GET", hub.url + "/status")[0], 200)
        fds, threads = fd_count(pid), thread_count(pid)
        held = []
        for _ in range(20):
            client = Raw(hub)
            held.append(client)
            client.send(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b" 200 ", client.read(b'"ready"'))
        over = Raw(hub)
        received = over.read()
        over.close()
        self.assertTrue(received.startswith(b"HTTP/1.1 503 "), received[:200])
        self.assertIn(b"server.max-connections", received)
        self.assertIn(b'"error":"', received)
        self.assertTrue(over.closed)
        for client in held:
            client.close()
        wait_for(lambda: fd_count(pid) <= fds, BOUND, f"hub descriptors back to {fds}")
        self.assertEqual(thread_count(pid), threads)
        self.assertEqual(call("GET", hub.url + "/status")[0], 200)

    def test_open_files_limit_is_logged_and_running_out_of_descriptors_does_not_wedge(self):
        hub = self.start_hub("--server.header-timeout", "2s")
        wait_for(lambda: any("open-files limit" in line for line in hub.stderr_lines), BOUND,
                 "the open-files limit in the hub's log")
        pid = hub.process.pid
        self.assertEqual(call("GET", hub.url + "/status")[0], 200)
        # Lower the running hub's limit to just above its highest descriptor: once the holes
        # below it are used, accept() fails with EMFILE (the connection cap was computed for
        # the old limit). Pistache alone would spin on the readable listening socket and leave
        # those clients hanging; the hub answers them 503 and closes.
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        used = [int(fd) for fd in os.listdir(f"/proc/{pid}/fd")]
        holes = max(used) + 1 - len(used)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (max(used) + 1, hard))
        try:
            clients = [self.raw(hub) for _ in range(holes + 4)]
            answers = [client.read() for client in clients]
            for client in clients:
                # Shed at once with 503, or accepted into a hole and closed at the header
                # timeout: never left hanging.
                self.assertTrue(client.closed, "the hub should answer or close, not hang")
            self.assertTrue(any(a.startswith(b"HTTP/1.1 503 ") for a in answers), answers)
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        self.assertEqual(call("GET", hub.url + "/status")[0], 200)
        self.assertIsNone(hub.process.poll())

    # --- 4. header timeout and idle connections ---------------------------------------------
    def test_incomplete_heads_and_silent_connections_are_closed(self):
        hub = self.start_hub("--server.header-timeout", "1s", "--server.idle-timeout", "1s")
        pid = hub.process.pid
        self.assertEqual(call("GET", hub.url + "/status")[0], 200)
        fds = fd_count(pid)
        partial = self.raw(hub)
        partial.send(b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow:")
        silent = self.raw(hub)
        # A head sent byte by byte, slowly, does not restart the clock with each byte.
        dribble = self.raw(hub)
        dribble.send(b"G")
        kept = self.raw(hub)
        kept.send(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b" 200 ", kept.read(b'"ready"'))
        received = partial.read()
        self.assertTrue(received.startswith(b"HTTP/1.1 408 "), received[:200])
        self.assertIn(b"server.header-timeout", received)
        self.assertTrue(partial.closed)
        for _ in range(5):
            try:
                dribble.send(b"E")
            except OSError:
                break
            dribble.read(timeout=0.3)
        dribble.read()
        self.assertTrue(dribble.closed)
        self.assertEqual(silent.read(), b"")
        self.assertTrue(silent.closed)
        # The kept-alive connection is closed once idle, without a word.
        kept.read()
        self.assertTrue(kept.closed)
        self.assertNotIn(b"408", kept.received)
        for client in (partial, silent, dribble, kept):
            client.close()
        wait_for(lambda: fd_count(pid) <= fds, BOUND, f"hub descriptors back to {fds}")

    # --- 5. body rate; long-polled POST /session unaffected ---------------------------------
    def test_a_stalled_body_is_cut_with_408(self):
        hub = self.start_hub("--server.header-timeout", "1s", "--server.min-body-rate", "4K")
        client = self.raw(hub)
        client.send(b"POST /session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000000\r\n\r\n{\"capabilities\":")
        received = client.read()
        self.assertTrue(received.startswith(b"HTTP/1.1 408 "), received[:200])
        self.assertIn(b"server.min-body-rate", received)
        self.assertTrue(client.closed)

    def test_long_polled_new_session_outlives_every_connection_limit(self):
        hub = self.start_hub("--server.header-timeout", "1s", "--server.idle-timeout", "1s",
                             "--server.min-body-rate", "4K",
                             "--queue.reject-unsatisfiable", "false", "--queue.timeout", "60s")
        waiter = AsyncRequest(hub.new_session, {"browserName": "chrome"}, timeout=60)
        hub.wait_queue_length(1)
        # Several header timeouts pass while the request waits, its body long complete.
        time.sleep(3.5)
        self.assertFalse(waiter.done())
        node = self.start_node()
        hub.register(node)
        status, body = waiter.result(timeout=30)
        self.assertEqual(status, 200, body)
        self.assertIn("sessionId", body["value"])

    # --- 6. memory ---------------------------------------------------------------------------
    def test_unfinished_large_bodies_cost_only_what_was_sent(self):
        hub = self.start_hub()
        pid = hub.process.pid
        self.assertEqual(call("GET", hub.url + "/status")[0], 200)
        before = rss_bytes(pid)
        clients = []
        for _ in range(6):
            client = self.raw(hub)
            client.send(b"POST /session HTTP/1.1\r\nHost: x\r\nContent-Length: 41943040\r\n\r\n"
                        + b"x" * 1024)
            clients.append(client)
        self.assertEqual(call("GET", hub.url + "/status")[0], 200)  # all six heads were read
        grown = rss_bytes(pid) - before
        # The finding: 6 x 40 MiB declared cost ~300 MB up front. Now: only bytes received.
        self.assertLess(grown, 32 << 20, f"RSS grew by {grown} bytes")

    # --- 7. HEAD, Expect, pipelining behind chunked, raw query ------------------------------
    def test_head_answers_have_get_headers_and_no_body(self):
        hub = self.start_hub()
        _, get_headers, get_body = call("GET", hub.url + "/status")
        client = self.raw(hub)
        client.send(b"HEAD /status HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET /queue HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = client.read()
        self.assertTrue(client.closed)
        head_answer, _, rest = received.partition(b"\r\n\r\n")
        self.assertTrue(head_answer.startswith(b"HTTP/1.1 200 "), head_answer)
        lengths = [line for line in head_answer.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")]
        self.assertEqual(lengths, [b"Content-Length: " + get_headers["content-length"].encode()])
        self.assertGreater(len(get_body), 0)
        # The very next bytes are the second answer: the HEAD answer carried no body.
        self.assertTrue(rest.startswith(b"HTTP/1.1 200 "), rest[:100])

    def test_expect_100_continue(self):
        hub = self.start_hub("--server.max-body", "100K")
        node = self.start_node()
        hub.register(node)
        body = json.dumps(caps({"browserName": "chrome"})).encode()
        client = self.raw(hub)
        client.send(b"POST /session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        self.assertEqual(client.read(b"\r\n\r\n"), b"HTTP/1.1 100 Continue\r\n\r\n")
        client.send(body)
        received = client.read(b"sessionId")
        self.assertIn(b"HTTP/1.1 200 ", received)
        too_big = self.raw(hub)
        too_big.send(b"POST /session HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: 5000000\r\n\r\n")
        received = too_big.read()
        self.assertTrue(received.startswith(b"HTTP/1.1 413 "), received[:200])
        self.assertTrue(too_big.closed)
        self.assertEqual(node.creates_started, 1)

    def test_a_request_pipelined_behind_a_chunked_one_is_served(self):
        hub = self.start_hub()
        node = self.start_node()
        registration = json.dumps({"id": "n1", "uri": node.url,
                                   "slots": [{"id": "s0",
                                              "stereotype": {"browserName": "chrome"}}]})
        half = len(registration) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part.encode())
                          for part in (registration[:half], registration[half:]))
        client = self.raw(hub)
        client.send(b"POST /nodes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
                    b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = client.read()
        self.assertTrue(received.startswith(b"HTTP/1.1 201 "), received[:300])
        self.assertIn(b"\r\n\r\nHTTP/1.1 200 ", received.replace(b"}HTTP", b"}\r\n\r\nHTTP"))
        self.assertIn(b'"n1"', received.split(b"HTTP/1.1 200 ", 1)[1])

    def test_query_strings_reach_the_node_byte_for_byte(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        sid = self.session(hub, node)
        query = "?b=2&a=1&a=3&e=%20&=x&flag"
        status, _, _ = call("GET", f"{hub.url}/session/{sid}/url{query}")
        self.assertEqual(status, 200)
        with node.lock:
            self.assertEqual(node.commands[-1][1], f"/session/{sid}/url{query}")

    # --- 8. node answers beyond server.max-body ---------------------------------------------
    def test_node_answer_over_max_body_is_502_and_not_read_whole(self):
        hub = self.start_hub("--server.max-body", "1M")
        node = self.start_node()
        hub.register(node)
        sid = self.session(hub, node)
        node.big_payload = b'{"value": "' + b"x" * (5 << 20) + b'"}'
        before = rss_bytes(hub.process.pid)
        status, reply = call_json("GET", f"{hub.url}/session/{sid}/screenshot", timeout=BOUND)
        self.assertEqual(status, 502, reply)
        self.assertIn("max-body", reply["value"]["message"])
        self.assertLess(rss_bytes(hub.process.pid) - before, 4 << 20)
        # The session goes on.
        self.assertEqual(call("GET", f"{hub.url}/session/{sid}/url")[0], 200)

    # --- 9. configuration ---------------------------------------------------------------------
    def test_new_keys_come_from_flags_env_and_show_in_check_config_and_help(self):
        if not GRIDHUB:
            raise unittest.SkipTest("GRIDHUB_BIN not set")
        env = dict(os.environ, GRIDHUB_SERVER_MAX_CONNECTIONS="20",
                   GRIDHUB_SERVER_MIN_BODY_RATE="8K")
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as empty:
            empty.write("server:\n  idle-timeout: 300s\n")
        self.addCleanup(os.unlink, empty.name)
        out = subprocess.run([GRIDHUB, "check-config", empty.name, "--server.header-timeout", "5s"],
                             env=env, capture_output=True, text=True, timeout=BOUND)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = {line.split(" = ")[0]: line for line in out.stdout.splitlines() if " = " in line}
        self.assertIn("20", lines["server.max-connections"])
        self.assertIn("(env)", lines["server.max-connections"])
        self.assertIn("8192", lines["server.min-body-rate"])
        self.assertIn('"5s"', lines["server.header-timeout"])
        self.assertIn("(flag)", lines["server.header-timeout"])
        self.assertIn('"300s"', lines["server.idle-timeout"])
        bad = subprocess.run([GRIDHUB, "check-config", empty.name, "--server.max-connections", "0"],
                             capture_output=True, text=True, timeout=BOUND)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("server.max-connections", bad.stderr + bad.stdout)
        usage = subprocess.run([GRIDHUB, "hub", "--help"], capture_output=True, text=True,
                               timeout=BOUND)
        for key in ("server.max-connections", "server.header-timeout", "server.min-body-rate",
                    "server.idle-timeout", "GRIDHUB_SERVER_MAX_CONNECTIONS"):
            self.assertIn(key, usage.stdout)


if __name__ == "__main__":
    unittest.main()
