"""The console's server side through the real hub: GET /ui/api/state (sessions, the queue,
refusals, history, events, redaction without the client token), DELETE /queue/{id}, the
cross-site refusal of admin and drain calls, and the static files' headers (docs/api.md
"Console")."""

import json
import time
import unittest

import netns
from hubtest import AsyncRequest, HubTestCase, call, call_json, caps, wait_for
from test_security_nodes import hub_port, remote_calls

CHROME = {"browserName": "chrome"}
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}


def state(hub, headers=None):
    status, body = call_json("GET", hub.url + "/ui/api/state", None, headers)
    assert status == 200, (status, body)
    return body


def sessions_in(body):
    return [s for n in body["nodes"] for slot in n["slots"] for s in slot["sessions"]]


def node_id_of(hub):
    return call_json("GET", hub.url + "/status")[1]["value"]["nodes"][0]["id"]


def label_row(body, label):
    rows = [row for row in body["labels"] if row["label"] == label]
    return rows[0] if rows else None


class ConsoleStateTest(HubTestCase):
    def test_a_session_shows_within_two_seconds_with_its_activity_and_leaves_after_delete(self):
        hub = self.start_hub()
        node = self.start_node()
        node_id = hub.register(node)
        status, created = hub.new_session(dict(CHROME, **{"gridhub:runId": "run-7"}))
        self.assertEqual(status, 200, created)
        sid = created["value"]["sessionId"]

        def shown():
            found = [s for s in sessions_in(state(hub)) if s["id"] == sid]
            return found[0] if found else None

        session = wait_for(shown, 2.0, "the session in /ui/api/state")
        self.assertEqual((session["label"], session["browserName"], session["runId"]),
                         ("chrome", "chrome", "run-7"))
        self.assertIsNone(session["lastCommandAt"])
        self.assertIsNone(session["lastEvent"])
        before = time.time()
        self.assertEqual(call_json("GET", f"{hub.url}/session/{sid}/url")[0], 200)
        status, _ = call_json("POST", f"{hub.url}/session/{sid}/se/event",
                              {"eventType": "test:started", "payload": {}})
        self.assertEqual(status, 200)
        session = shown()
        self.assertGreaterEqual(session["lastCommandAt"], before - 1)
        self.assertEqual(session["lastEvent"]["type"], "test:started")
        body = state(hub)
        self.assertEqual(body["nodes"][0]["id"], node_id)
        self.assertEqual(body["nodes"][0]["availability"], "UP")
        row = label_row(body, "chrome")
        self.assertEqual((row["running"], row["slotsBusy"], row["slotsTotal"], row["utilization"]),
                         (1, 1, 1, 1.0))
        kinds = [e["kind"] for e in body["events"]]
        self.assertEqual(kinds[:2], ["granted", "node_up"])  # newest first
        self.assertEqual(body["events"][0]["sessionId"], sid)
        self.assertEqual(body["events"][0]["runId"], "run-7")

        self.assertEqual(call_json("DELETE", f"{hub.url}/session/{sid}")[0], 200)
        wait_for(lambda: shown() is None, 2.0, "the session to leave /ui/api/state")
        ended = state(hub)["events"][0]
        self.assertEqual((ended["kind"], ended["sessionId"], ended["reason"]),
                         ("session_ended", sid, "deleted"))

    def test_a_waiter_shows_with_its_label_and_position_and_an_operator_cancels_it(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        self.assertEqual(hub.new_session(CHROME)[0], 200)  # the only slot is busy
        first = AsyncRequest(hub.new_session, CHROME, None, {"X-Run-Id": "r1"})
        hub.wait_queue_length(1)
        status, ticket = call_json("POST", hub.url + "/queue/requests",
                                   dict(caps(CHROME), runId="r2"))
        self.assertEqual(status, 201, ticket)
        hub.wait_queue_length(2)
        body = state(hub)
        self.assertEqual([g["label"] for g in body["queue"]], ["chrome"])
        waiters = body["queue"][0]["waiters"]
        self.assertEqual([(w["position"], w["runId"], w["kind"]) for w in waiters],
                         [(1, "r1", "session"), (2, "r2", "ticket")])
        self.assertEqual(waiters[0]["browserName"], "chrome")
        self.assertGreaterEqual(waiters[0]["waitSeconds"], 0)
        # The ids are those GET /queue shows; the ticket's own id is never one of them.
        self.assertEqual([w["id"] for w in waiters], [w["id"] for w in hub.queue()])
        self.assertNotIn(ticket["id"], [w["id"] for w in waiters])
        row = label_row(body, "chrome")
        self.assertEqual(row["queueLength"], 2)
        self.assertIsNotNone(row["oldestWaitSeconds"])

        status, _, _ = call("DELETE", f"{hub.url}/queue/{waiters[0]['id']}")
        self.assertEqual(status, 204)
        status, answer = first.result()
        self.assertEqual(status, 500, answer)
        self.assertEqual(answer["value"]["error"], "session not created")
        self.assertIn("cancelled by an operator", answer["value"]["message"])
        self.assertEqual(call("DELETE", f"{hub.url}/queue/{waiters[0]['id']}")[0], 404)
        self.assertEqual(call("DELETE", f"{hub.url}/queue/999999")[0], 404)
        body = state(hub)
        self.assertEqual([w["id"] for w in body["queue"][0]["waiters"]], [waiters[1]["id"]])
        self.assertEqual(body["queue"][0]["waiters"][0]["position"], 1)
        cancelled = body["events"][0]
        self.assertEqual((cancelled["kind"], cancelled["label"], cancelled["runId"]),
                         ("cancelled", "chrome", "r1"))
        self.assertEqual(label_row(body, "chrome")["refusals"]["cancelled"], 1)

    def test_refusals_show_their_reason_in_events_and_per_label(self):
        hub = self.start_hub("--queue.max-per-label", "1")
        node = self.start_node()
        hub.register(node)
        self.assertEqual(hub.new_session(CHROME)[0], 200)
        waiter = AsyncRequest(hub.new_session, CHROME)
        hub.wait_queue_length(1)
        status, body = hub.new_session(CHROME, headers={"X-Run-Id": "full-run"})
        self.assertEqual(status, 500, body)
        status, body = hub.new_session({"browserName": "firefox"})  # no slot ever serves it
        self.assertEqual(status, 500, body)
        body = state(hub)
        refused = [e for e in body["events"] if e["kind"] == "refused"]
        self.assertEqual([(e["reason"], e["label"]) for e in refused],
                         [("unsatisfiable", "other"), ("queue_full", "chrome")])
        self.assertEqual(refused[1]["runId"], "full-run")
        self.assertIn("queue full", refused[1]["message"])
        self.assertEqual(label_row(body, "chrome")["refusals"]["queue_full"], 1)
        self.assertEqual(label_row(body, "other")["refusals"]["unsatisfiable"], 1)
        self.assertEqual(set(label_row(body, "chrome")["refusals"]),
                         {"queue_full", "run_limit", "unsatisfiable", "no_wait", "timeout",
                          "cancelled", "failed"})
        self.assertEqual(call("DELETE", hub.url + "/queue")[0], 200)
        waiter.result()

    def test_history_samples_queue_and_busy_slots_every_five_seconds(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        first = state(hub)["history"]
        self.assertEqual(first["intervalSeconds"], 5)
        self.assertGreaterEqual(len(first["points"]), 1)  # the one taken at start
        self.assertEqual(hub.new_session(CHROME)[0], 200)
        waiter = AsyncRequest(hub.new_session, CHROME)
        hub.wait_queue_length(1)

        def sampled():
            points = state(hub)["history"]["points"]
            loaded = [p for p in points if p["labels"].get("chrome") == {"queue": 1, "busy": 1}]
            return points if loaded else None

        points = wait_for(sampled, 8.0, "a history point with the waiter and the busy slot",
                          interval=0.2)
        stamps = [p["at"] for p in points]
        self.assertEqual(stamps, sorted(stamps))  # oldest first
        self.assertGreaterEqual(stamps[-1] - stamps[0], 4.5)
        self.assertEqual(call("DELETE", hub.url + "/queue")[0], 200)
        waiter.result()

    def test_without_the_client_token_it_shows_readiness_only(self):
        hub = self.start_hub("--hub.client-token", "ct-secret", "--hub.admin-token", "adm")
        node = self.start_node()
        hub.register(node, headers={"Authorization": "Bearer adm"})
        status, _ = hub.new_session(CHROME, headers={"Authorization": "Bearer ct-secret"})
        self.assertEqual(status, 200)
        status, headers, raw = call("GET", hub.url + "/ui/api/state")
        self.assertEqual(status, 200)
        body = json.loads(raw)
        self.assertEqual(set(body), {"version", "now", "ready", "message", "viewer", "redacted"})
        self.assertTrue(body["ready"])
        self.assertEqual(body["viewer"], {"authorized": False, "admin": False,
                                          "clientTokenRequired": True, "adminTokenSet": True})
        for secret in (node.url, "chrome", node.live_sessions()[0]):
            self.assertNotIn(secret.encode(), raw)
        client = state(hub, {"Authorization": "Bearer ct-secret"})
        self.assertTrue(client["viewer"]["authorized"])
        self.assertFalse(client["viewer"]["admin"])  # the admin token is set: only it is admin
        self.assertEqual(len(sessions_in(client)), 1)
        admin = state(hub, {"Authorization": "Bearer adm"})
        self.assertEqual((admin["viewer"]["authorized"], admin["viewer"]["admin"]), (True, True))
        self.assertEqual(call("DELETE", hub.url + "/queue/1", None,
                              {"Authorization": "Bearer ct-secret"})[0], 401)

    def test_a_label_cap_set_through_admin_config_shows_in_the_state(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node)
        self.assertEqual(label_row(state(hub), "chrome")["cap"], 0)
        status, effective = call_json("PUT", hub.url + "/admin/config",
                                      {"queue": {"concurrency-caps": {"chrome": 1}}})
        self.assertEqual(status, 200, effective)
        self.assertEqual(label_row(state(hub), "chrome")["cap"], 1)
        # The map replaces the one in force (docs/api.md): an empty map lifts every cap.
        status, _ = call_json("PUT", hub.url + "/admin/config",
                              {"queue": {"concurrency-caps": {}}})
        self.assertEqual(status, 200)
        self.assertEqual(label_row(state(hub), "chrome")["cap"], 0)


class CrossSiteTest(HubTestCase):
    def test_admin_and_drain_calls_from_another_site_are_refused(self):
        hub = self.start_hub()  # no tokens: loopback callers are trusted, browsers are not
        node = self.start_node()
        node_id = hub.register(node)
        host = hub.url.split("//", 1)[1]
        hostile = ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"},
                   {"Origin": "null"}, {"Origin": f"http://{host}.evil.example"})
        for headers in hostile:
            with self.subTest(headers=headers):
                status, body = call_json("POST", f"{hub.url}/nodes/{node_id}/drain", None,
                                         headers)
                self.assertEqual(status, 403, body)
                self.assertEqual(body["value"]["error"], "forbidden")
                self.assertEqual(call("DELETE", hub.url + "/queue", None, headers)[0], 403)
                self.assertEqual(call("PUT", hub.url + "/admin/config",
                                      {"queue": {"max-per-label": 3}}, headers)[0], 403)
                self.assertEqual(call("DELETE", hub.url + "/queue/1", None, headers)[0], 403)
        self.assertEqual(hub.status()["nodes"][0]["availability"], "UP")
        self.assertNotEqual(call_json("GET", hub.url + "/admin/config")[1]["queue"]["max-per-label"],
                            3)
        # The console itself (same origin) and clients that send neither header still work.
        same = {"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
        self.assertEqual(call("DELETE", hub.url + "/queue", None, same)[0], 200)
        self.assertEqual(call("DELETE", hub.url + "/queue")[0], 200)
        # Reading is not an admin call: the state is answered to any page (it has no CORS
        # header, so another site's script cannot read it).
        status, headers, _ = call("GET", hub.url + "/ui/api/state", None,
                                  {"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(status, 200)
        self.assertNotIn("access-control-allow-origin", headers)
        status, _ = call_json("POST", f"{hub.url}/nodes/{node_id}/drain", None, same)
        self.assertEqual(status, 200)
        # Empty, it leaves at once after draining.
        self.assertEqual(hub.status()["nodes"], [])
        events = state(hub)["events"]
        self.assertEqual([(e["kind"], e["nodeId"]) for e in events[:2]],
                         [("node_removed", node_id), ("node_draining", node_id)])


class ConsoleFilesTest(HubTestCase):
    def test_the_page_and_its_files_carry_the_security_headers(self):
        hub = self.start_hub()
        for path in ("/ui/", "/ui/index.html", "/ui/api/state"):
            with self.subTest(path=path):
                status, headers, body = call("GET", hub.url + path)
                self.assertEqual(status, 200)
                for name, value in SECURITY_HEADERS.items():
                    self.assertEqual(headers.get(name), value, name)
        status, headers, body = call("GET", hub.url + "/ui/")
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn(b"<html", body)
        self.assertEqual(call("GET", hub.url + "/ui/no-such.js")[0], 404)

    def test_a_browser_at_the_root_is_sent_to_the_console(self):
        hub = self.start_hub()
        status, headers, _ = call("GET", hub.url + "/", None,
                                  {"Accept": "text/html,application/xhtml+xml"})
        self.assertEqual((status, headers.get("location")), (302, "/ui/"))
        status, headers, _ = call("GET", hub.url + "/ui")
        self.assertEqual((status, headers.get("location")), (302, "/ui/"))
        status, body = call_json("GET", hub.url + "/", None, {"Accept": "application/json"})
        self.assertEqual(status, 404)
        self.assertEqual(body["value"]["error"], "unknown command")


class ConsoleFromAnotherHostTest(HubTestCase):
    """The console as an operator's browser on another machine reaches it: from a network
    namespace that cannot reach this host's loopback, through the hub's own address."""

    def test_page_and_state_from_another_host_and_admin_only_with_the_token(self):
        admin = "adm-remote-console"
        with netns.Namespace() as ns:
            open_hub = self.start_hub("--server.host", "0.0.0.0")
            node = self.start_node()
            open_hub.register(node)
            status, created = open_hub.new_session(CHROME)
            self.assertEqual(status, 200, created)
            remote = f"http://{ns.host_ip}:{hub_port(open_hub)}"
            page, script, data, drain = remote_calls(ns, [
                ("GET", remote + "/ui/", None, {}),
                ("GET", remote + "/ui/console.js", None, {}),
                ("GET", remote + "/ui/api/state", None, {}),
                ("POST", remote + "/nodes/" + node_id_of(open_hub) + "/drain", None, {}),
            ])
            self.assertEqual(page[0], 200)
            self.assertIn("console.js", page[1])
            self.assertEqual(script[0], 200)
            # The page asks the hub it came from: no address of this host is written into it.
            for text in (page[1], script[1]):
                self.assertNotIn("127.0.0.1", text)
                self.assertNotIn("localhost", text)
            self.assertEqual(data[0], 200, data[1])
            body = json.loads(data[1])
            # No tokens: a remote viewer sees the grid but may not administer it (admin calls
            # without a token are taken from loopback only), and the drain is refused.
            self.assertEqual(body["viewer"]["authorized"], True)
            self.assertEqual(body["viewer"]["admin"], False)
            self.assertIn(created["value"]["sessionId"], [s["id"] for s in sessions_in(body)])
            self.assertEqual(drain[0], 401, drain[1])
            self.assertEqual(call_json("GET", open_hub.url + "/status")[1]["value"]["nodes"][0]
                             ["availability"], "UP")

            guarded = self.start_hub("--server.host", "0.0.0.0", "--hub.admin-token", admin)
            remote = f"http://{ns.host_ip}:{hub_port(guarded)}"
            bearer = {"Authorization": "Bearer " + admin}
            without, wrong, right = remote_calls(ns, [
                ("GET", remote + "/ui/api/state", None, {}),
                ("GET", remote + "/ui/api/state", None, {"Authorization": "Bearer nope"}),
                ("GET", remote + "/ui/api/state", None, bearer),
            ])
            self.assertEqual(json.loads(without[1])["viewer"]["admin"], False)
            self.assertEqual(json.loads(wrong[1])["viewer"]["admin"], False)
            self.assertEqual(json.loads(right[1])["viewer"]["admin"], True)


if __name__ == "__main__":
    unittest.main()
