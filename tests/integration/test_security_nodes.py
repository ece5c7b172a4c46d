"""What a node may do to the real `gridhub hub` (DESIGN 7a: registration, node URIs, limits).

Remote callers run in a private network namespace (netns.py): the hub sees them come from the
namespace's veth address, not from loopback. Those tests need root and `ip netns` and are
skipped, with the reason, where they are unavailable.
"""

import json
import subprocess
import unittest

import netns
from hubtest import FakeNode, HubTestCase, call, call_json, wait_for

PYTHON = "/usr/bin/python3"

# Runs inside the namespace: each call of a JSON list on stdin, one {"status", "body"} per
# call on stdout. urllib only, so that nothing but the standard library is needed there.
REMOTE_CLIENT = r"""
import json, sys, urllib.error, urllib.request
out = []
for method, url, body, headers in json.load(sys.stdin):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    out.append({"status": status, "body": payload.decode("utf-8", "replace")})
print(json.dumps(out))
"""


def remote_calls(ns, calls):
    """[(method, url, body, headers)] from inside `ns`: [(status, body text)]."""
    done = ns.run([PYTHON, "-c", REMOTE_CLIENT], input=json.dumps(calls), timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"remote client failed: {done.stderr}")
    return [(r["status"], r["body"]) for r in json.loads(done.stdout)]


def registration(node, node_id="n1", **extra):
    body = {"id": node_id, "uri": node.url,
            "slots": [{"id": "s0", "stereotype": {"browserName": "chrome"}}]}
    body.update(extra)
    return body


def hub_port(hub):
    return int(hub.url.rsplit(":", 1)[1])


class RemoteNodeCallsTest(HubTestCase):
    """Who may register, heartbeat, drain and deregister, from where."""

    def node_calls(self, base, node, headers):
        return [("POST", base + "/nodes", registration(node), headers),
                ("POST", base + "/nodes/n1/heartbeat", {"sessions": []}, headers),
                ("DELETE", base + "/nodes/n1", None, headers),
                ("POST", base + "/nodes", registration(node), headers),
                ("POST", base + "/nodes/n1/drain", None, headers)]

    def test_without_a_secret_only_loopback_may_make_node_calls(self):
        with netns.Namespace() as ns:
            hub = self.start_hub("--server.host", "0.0.0.0")
            node = self.start_node()
            hub.register(node, node_id="n1")  # loopback: accepted
            remote = f"http://{ns.host_ip}:{hub_port(hub)}"
            calls = self.node_calls(remote, node, {})
            for (status, body), (method, url, _, _) in zip(remote_calls(ns, calls), calls):
                self.assertEqual(status, 401, (method, url, body))
                error = json.loads(body)["value"]
                self.assertEqual(error["error"], "unauthorized")
                self.assertIn("hub.registration-secret", error["message"])
                self.assertIn(ns.peer_ip, error["message"])
            # Nothing changed: the node is still UP, registered from loopback.
            status, nodes = call_json("GET", hub.url + "/nodes")
            self.assertEqual(status, 200)
            self.assertEqual([(n["id"], n["availability"]) for n in nodes["value"]],
                             [("n1", "UP")])
            # A remote client may still use the W3C API and the probes.
            answers = remote_calls(ns, [("GET", remote + "/status", None, {})])
            self.assertEqual(answers[0][0], 200)
            # Loopback may do every node call.
            self.assertEqual(call("POST", hub.url + "/nodes/n1/heartbeat", {"sessions": []})[0],
                             204)
            self.assertEqual(call("DELETE", hub.url + "/nodes/n1")[0], 204)
            hub.register(node, node_id="n1")
            self.assertEqual(call("POST", hub.url + "/nodes/n1/drain")[0], 200)

    def test_with_a_secret_every_node_call_needs_it_from_anywhere(self):
        with netns.Namespace() as ns:
            hub = self.start_hub("--server.host", "0.0.0.0",
                                 "--hub.registration-secret", "s3cret-reg")
            node = self.start_node()
            remote = f"http://{ns.host_ip}:{hub_port(hub)}"
            for headers in ({}, {"X-Registration-Secret": "wrong"},
                            {"X-Registration-Secret": "s3cret-re"}):
                for status, body in remote_calls(ns, self.node_calls(remote, node, headers)):
                    self.assertEqual(status, 401, body)
                    self.assertIn("X-Registration-Secret", json.loads(body)["value"]["message"])
            # Loopback is no exception once a secret is set.
            self.assertEqual(call("POST", hub.url + "/nodes", registration(node))[0], 401)
            self.assertEqual(call_json("GET", hub.url + "/nodes")[1]["value"], [])
            good = {"X-Registration-Secret": "s3cret-reg"}
            answers = remote_calls(ns, self.node_calls(remote, node, good))
            self.assertEqual([status for status, _ in answers], [201, 204, 204, 201, 200])
            # The secret is never shown.
            for path in ("/status", "/nodes", "/metrics", "/admin/config"):
                self.assertNotIn(b"s3cret-reg", call("GET", hub.url + path)[2], path)


class RemoteAdminCallsTest(HubTestCase):
    """Admin calls on a hub with no token stay on its machine; the admin token opens them."""

    def admin_calls(self, base, headers):
        return [("PUT", base + "/admin/config", {"queue": {"max-per-label": 1}}, headers),
                ("GET", base + "/admin/config", None, headers),
                ("DELETE", base + "/queue", None, headers),
                ("DELETE", base + "/se/grid/newsessionqueue/queue", None, headers)]

    def max_per_label(self, hub, headers=None):
        status, settings = call_json("GET", hub.url + "/admin/config", headers=headers)
        self.assertEqual(status, 200)
        return settings["queue"]["max-per-label"]

    def test_without_tokens_only_loopback_may_administer(self):
        with netns.Namespace() as ns:
            hub = self.start_hub("--server.host", "0.0.0.0")
            remote = f"http://{ns.host_ip}:{hub_port(hub)}"
            before = self.max_per_label(hub)
            calls = self.admin_calls(remote, {})
            for (status, body), (method, url, _, _) in zip(remote_calls(ns, calls), calls):
                self.assertEqual(status, 401, (method, url, body))
                message = json.loads(body)["value"]["message"]
                self.assertIn("hub.admin-token", message)
                self.assertIn(ns.peer_ip, message)
            self.assertEqual(self.max_per_label(hub), before)  # nothing applied
            status, _, _ = call("PUT", hub.url + "/admin/config", {"queue": {"max-per-label": 1}})
            self.assertEqual(status, 200)
            self.assertEqual(self.max_per_label(hub), 1)

    def test_the_admin_token_works_from_anywhere(self):
        with netns.Namespace() as ns:
            hub = self.start_hub("--server.host", "0.0.0.0", "--hub.admin-token", "adm1n-t")
            remote = f"http://{ns.host_ip}:{hub_port(hub)}"
            wrong = remote_calls(ns, self.admin_calls(remote, {"Authorization": "Bearer x"}))
            self.assertEqual([status for status, _ in wrong], [401] * 4)
            # Loopback without the token is no exception once a token is set.
            self.assertEqual(call("GET", hub.url + "/admin/config")[0], 401)
            good = {"Authorization": "Bearer adm1n-t"}
            answers = remote_calls(ns, self.admin_calls(remote, good))
            self.assertEqual([status for status, _ in answers], [200] * 4)
            self.assertEqual(self.max_per_label(hub, good), 1)


class NodeUriTest(HubTestCase):
    def assert_refused(self, hub, uri, fragment):
        status, body = call_json("POST", hub.url + "/nodes",
                                 {"id": "n1", "uri": uri,
                                  "slots": [{"stereotype": {"browserName": "chrome"}}]})
        self.assertEqual(status, 400, (uri, body))
        self.assertEqual(body["value"]["error"], "invalid argument")
        self.assertTrue(body["value"]["message"].startswith("uri "), body)
        self.assertIn(fragment, body["value"]["message"])

    def test_only_http_host_port_path_is_accepted(self):
        hub = self.start_hub()
        node = self.start_node()
        port = node.url.rsplit(":", 1)[1]
        self.assert_refused(hub, f"http://127.0.0.1:{port}/x#", "query or fragment")
        self.assert_refused(hub, f"http://127.0.0.1:{port}/wd?x=1", "query or fragment")
        self.assert_refused(hub, f"http://admin:pa55word@127.0.0.1:{port}", "user-info")
        self.assert_refused(hub, "http://127.0.0.1", "explicit port")
        self.assert_refused(hub, "http://127.0.0.1:0", "1 to 65535")
        self.assert_refused(hub, f"http://127.1:{port}", "dotted-quad")
        self.assert_refused(hub, f"http://127.0.0.1:{port}/a/../b", "'..'")
        self.assert_refused(hub, f"http://127.0.0.1:{port}/a b", "whitespace")
        self.assert_refused(hub, f"gopher://127.0.0.1:{port}", "http://")
        # None of it was registered, and no password is ever shown.
        self.assertEqual(call_json("GET", hub.url + "/nodes")[1]["value"], [])
        for path in ("/status", "/nodes"):
            self.assertNotIn(b"pa55word", call("GET", hub.url + path)[2])
        # A well-formed URI is accepted and shown normalised.
        status, body = call_json("POST", hub.url + "/nodes",
                                 {"id": "n1", "uri": f"HTTP://LOCALHOST:{port}/",
                                  "slots": [{"stereotype": {"browserName": "chrome"}}]})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["value"]["uri"], f"http://localhost:{port}")

    def test_the_hub_itself_is_never_a_node(self):
        hub = self.start_hub("--server.host", "0.0.0.0")
        port = hub_port(hub)
        for host in ("127.0.0.1", "localhost", "0.0.0.0", "[::1]", "[::ffff:127.0.0.1]"):
            self.assert_refused(hub, f"http://{host}:{port}", "this hub's own address")
        try:
            addresses = subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                                       timeout=10).stdout.split()
        except OSError:
            addresses = []
        for address in addresses[:2]:  # this machine's other addresses
            host = f"[{address}]" if ":" in address else address
            self.assert_refused(hub, f"http://{host}:{port}/wd/hub", "this hub's own address")
        self.assertEqual(call_json("GET", hub.url + "/nodes")[1]["value"], [])
        # Nothing was asked of itself: no waiter appeared in its own queue.
        self.assertEqual(hub.queue(), [])


class RegistrationLimitsTest(HubTestCase):
    def test_slots_and_sessions_per_slot_are_bounded(self):
        hub = self.start_hub()
        node = self.start_node()
        slots = [{"id": str(i), "stereotype": {"browserName": "chrome"}} for i in range(1025)]
        status, body = call_json("POST", hub.url + "/nodes", registration(node, slots=slots))
        self.assertEqual(status, 400)
        self.assertIn("at most 1024", body["value"]["message"])
        big = [{"id": "s0", "maxSessions": 1025, "stereotype": {"browserName": "chrome"}}]
        status, body = call_json("POST", hub.url + "/nodes", registration(node, slots=big))
        self.assertEqual(status, 400)
        self.assertIn("maxSessions must be an integer from 1 to 1024", body["value"]["message"])
        self.assertEqual(call_json("GET", hub.url + "/nodes")[1]["value"], [])

    def test_status_follows_slots_and_sessions_not_max_sessions(self):
        hub = self.start_hub("--queue.timeout", "2s")
        node = self.start_node()
        # The largest registration allowed: 1,024 slots of 1,024 sessions, about 80 KB.
        slots = [{"id": str(i), "maxSessions": 1024,
                  "stereotype": {"browserName": "chrome" if i == 0 else "firefox"}}
                 for i in range(1024)]
        status, _ = call_json("POST", hub.url + "/nodes", registration(node, slots=slots))
        self.assertEqual(status, 201)
        status, created = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, created)
        _, _, raw = call("GET", hub.url + "/status")
        shown = json.loads(raw)["value"]["nodes"][0]
        self.assertEqual(shown["maxSessions"], 1024 * 1024)
        self.assertEqual(len(shown["slots"]), 1025)  # one free entry per slot, one session
        busy = [s for s in shown["slots"] if s["session"]]
        self.assertEqual([s["session"]["sessionId"] for s in busy],
                         [created["value"]["sessionId"]])
        self.assertEqual(sum(s.get("free", 0) for s in shown["slots"]), 1024 * 1024 - 1)
        self.assertLess(len(raw), 1 << 20)
        # Queue calls work as usual next to a million free units nobody can use.
        waiter = hub.new_session({"browserName": "safari"}, timeout=10)
        self.assertEqual(waiter[0], 500)


class ReRegistrationTest(HubTestCase):
    def test_another_uri_cannot_take_a_live_nodes_id(self):
        hub = self.start_hub()
        real, impostor = self.start_node(), self.start_node()
        hub.register(real, node_id="n1")
        _, body = hub.new_session({"browserName": "chrome"})
        sid = body["value"]["sessionId"]
        status, answer = call_json("POST", hub.url + "/nodes", registration(impostor))
        self.assertEqual(status, 409, answer)
        self.assertEqual(set(answer["value"]), {"error", "message", "stacktrace"})
        self.assertIn("cannot re-register from another uri", answer["value"]["message"])
        # The session's commands still go to the real node; the impostor sees nothing.
        self.assertEqual(call_json("GET", f"{hub.url}/session/{sid}/url")[0], 200)
        self.assertEqual(len(real.commands), 1)
        self.assertEqual(impostor.commands, [])
        self.assertEqual(call_json("GET", hub.url + "/nodes")[1]["value"][0]["uri"], real.url)
        # The node itself re-registering (agent or hub restart) keeps its session.
        self.assertEqual(call("POST", hub.url + "/nodes",
                              registration(real, sessions=[sid]))[0], 201)
        self.assertEqual(call_json("GET", f"{hub.url}/session/{sid}/url")[0], 200)
        self.assertEqual(len(real.commands), 2)
        # Once its sessions ended, the id may move.
        self.assertEqual(call_json("DELETE", f"{hub.url}/session/{sid}")[0], 200)
        self.assertEqual(call("POST", hub.url + "/nodes", registration(impostor))[0], 201)


class LyingNode(FakeNode):
    """Answers every POST /session with `session_id`, someone else's live session."""

    def __init__(self, session_id):
        super().__init__()
        self.session_id = session_id
        node = self
        handler = self.server.RequestHandlerClass

        def create(self, body):
            with node.lock:
                node.creates_started += 1
            self._send(200, {"value": {"sessionId": node.session_id, "capabilities": {}}})

        handler._create = create


class DuplicateSessionIdTest(HubTestCase):
    def test_a_node_answering_a_live_session_id_fails_that_creation_only(self):
        hub = self.start_hub("--queue.retry-limit", "1")
        real = self.start_node()
        hub.register(real, node_id="a-real")
        _, body = hub.new_session({"browserName": "chrome"})
        sid = body["value"]["sessionId"]
        liar = LyingNode(sid)
        self._nodes.append(liar)
        hub.register(liar, node_id="b-liar")
        good = self.start_node()
        hub.register(good, node_id="c-good")
        # The liar is preferred (idle longest), fails, and the request is retried elsewhere.
        status, body = hub.new_session({"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        self.assertEqual(liar.creates_started, 1)
        self.assertEqual(body["value"]["capabilities"]["se:gridhubNode"], "c-good")
        self.assertNotEqual(body["value"]["sessionId"], sid)
        # The real session still routes to the real node; nobody deleted anything.
        self.assertEqual(call_json("GET", f"{hub.url}/session/{sid}/url")[0], 200)
        self.assertEqual(real.commands[-1][1], f"/session/{sid}/url")
        self.assertEqual(liar.commands, [])
        self.assertEqual(real.deleted, [])
        # The liar's slot is free again.
        liar_view = [n for n in hub.status()["nodes"] if n["id"] == "b-liar"][0]
        self.assertEqual([s["session"] for s in liar_view["slots"]], [None])


class HeartbeatSessionsTest(HubTestCase):
    def test_a_session_the_node_no_longer_lists_is_ended_on_the_hub(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node, node_id="n1",
                     slots=[{"maxSessions": 2, "stereotype": {"browserName": "chrome"}}])
        kept = hub.new_session({"browserName": "chrome"})[1]["value"]["sessionId"]
        gone = hub.new_session({"browserName": "chrome"})[1]["value"]["sessionId"]

        def live():
            self.assertEqual(call("POST", hub.url + "/nodes/n1/heartbeat",
                                  {"sessions": [kept], "draining": False})[0], 204)
            return [s["session"]["sessionId"] for s in hub.busy_slots()]

        # Young sessions survive a list that lacks them (it may predate them); after the grace
        # (10 s) the one the node no longer has is ended, the other stays.
        self.assertEqual(sorted(live()), sorted([kept, gone]))
        wait_for(lambda: live() == [kept], 30, "the unlisted session to end", interval=0.5)
        self.assertEqual(call_json("GET", f"{hub.url}/session/{gone}/url")[0], 404)
        self.assertEqual(call_json("GET", f"{hub.url}/session/{kept}/url")[0], 200)
        self.assertEqual(node.deleted, [])  # the node said it has none: nothing to delete
        # Its slot unit is free: a new session gets it.
        self.assertEqual(hub.new_session({"browserName": "chrome"})[0], 200)

    def test_the_answer_names_sessions_the_hub_does_not_route_to_the_node(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node, node_id="n1")
        live = hub.new_session({"browserName": "chrome"})[1]["value"]["sessionId"]
        status, body = call_json("POST", hub.url + "/nodes/n1/heartbeat",
                                 {"sessions": [live, "not-on-the-hub"], "draining": False})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["value"], {"id": "n1", "availability": "UP",
                                         "unknownSessions": ["not-on-the-hub"]})
        # The hub changed nothing: its session stays, and the unknown one is the node's to end.
        self.assertEqual(call_json("GET", f"{hub.url}/session/{live}/url")[0], 200)
        self.assertEqual(node.deleted, [])
        self.assertEqual(call("POST", hub.url + "/nodes/n1/heartbeat", {"sessions": [live]})[0],
                         204)

    def test_malformed_heartbeat_bodies_are_refused(self):
        hub = self.start_hub()
        hub.register(self.start_node(), node_id="n1")
        for body in ('{"sessions": "x"}', '{"sessions": [1]}', '{"draining": "yes"}', "[]",
                     "{nope"):
            status, answer = call_json("POST", hub.url + "/nodes/n1/heartbeat", body)
            self.assertEqual(status, 400, (body, answer))
        self.assertEqual(call("POST", hub.url + "/nodes/n1/heartbeat", b"")[0], 204)

    def test_a_heartbeat_saying_draining_drains_the_node(self):
        hub = self.start_hub()
        hub.register(self.start_node(), node_id="n1")
        status, body = call_json("POST", hub.url + "/nodes/n1/heartbeat",
                                 {"sessions": [], "draining": True})
        self.assertEqual(status, 200)
        self.assertEqual(body["value"]["availability"], "DRAINING")
        self.assertEqual(call_json("GET", hub.url + "/nodes")[1]["value"], [])


if __name__ == "__main__":
    unittest.main()
