"""Asynchronous tickets (POST /queue/requests) outlive their dispatcher (docs/scale-out.md): the
dispatcher keeps each open ticket in Redis, so after it is killed with SIGKILL the next one
serves a WAITING ticket in its turn and hands a READY ticket's session over, at any hub, under
the ticket's own id and token.

A ticket opened at one front hub is also taken at another by a client in a network namespace
of its own (netns.py), which reaches nothing but those two hubs.

Real redis-server and real `gridhub hub` processes on free loopback ports, fake nodes, all
stopped by pid. Skipped when /usr/bin/redis-server is missing; the namespace case is skipped,
with the reason, without root or `ip netns`.
"""

import json
import signal
import unittest

import netns
from cluster_fixture import PEER_TIMEOUT, ClusterTestCase
from hubtest import call_json, wait_for

CHROME = {"browserName": "chrome"}
TICKETS_KEY = "{gridhub}:tickets"
PYTHON = "/usr/bin/python3"

# Run inside the namespace: opens a ticket at argv[1], takes it at argv[2] (polling while it is
# 503, at most 20 s), drives the session through argv[2] and deletes it through argv[1]. Prints
# every answer as JSON.
REMOTE_TICKET_CLIENT = r"""
import json, sys, time, urllib.error, urllib.request
open_via, take_via = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def call(method, url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with opener.open(request, timeout=20) as response:
            return [response.status, json.loads(response.read() or b"null")]
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode("utf-8", "replace")]
out = {"open": call("POST", open_via + "/queue/requests",
                    {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}})}
if out["open"][0] == 201:
    ticket = out["open"][1]
    token = {"X-Queue-Token": ticket["token"]}
    deadline = time.monotonic() + 20
    while True:
        out["take"] = call("POST", f"{take_via}/queue/requests/{ticket['id']}/take", None, token)
        if out["take"][0] != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if out["take"][0] == 200:
        sid = out["take"][1]["value"]["sessionId"]
        out["again"] = call("POST", f"{open_via}/queue/requests/{ticket['id']}/take", None, token)
        out["command"] = call("POST", f"{take_via}/session/{sid}/url", {"url": "about:blank"})
        out["delete"] = call("DELETE", f"{open_via}/session/{sid}")
print(json.dumps(out))
"""


class ClusterTicketTest(ClusterTestCase):
    def dispatcher_of(self, hubs):
        def holder():
            url = self.redis.leader_url()
            return next((h for h in hubs if h.url == url), None)
        return wait_for(holder, 15, "a hub of the test to hold the dispatcher lease")

    def open_ticket(self, hub):
        status, ticket = call_json("POST", f"{hub.url}/queue/requests",
                                   {"capabilities": {"alwaysMatch": CHROME}})
        self.assertEqual(status, 201, ticket)
        return ticket["id"], {"X-Queue-Token": ticket["token"]}

    def stored(self, ticket_id):
        """The ticket's entry in Redis, as raw reply bytes (b"$-1..." when there is none)."""
        return self.redis.command("HGET", TICKETS_KEY, ticket_id)

    def kill_dispatcher(self, hubs):
        """SIGKILLs the dispatcher; returns the other hubs once one of them dispatches."""
        dispatcher = self.dispatcher_of(hubs)
        dispatcher.crash_ok = True
        dispatcher.process.send_signal(signal.SIGKILL)
        dispatcher.process.wait(10)
        fronts = [h for h in hubs if h is not dispatcher]
        self.assertIsNot(self.dispatcher_of(fronts), dispatcher)
        self.wait_leader(fronts)
        return fronts

    def ticket_status(self, hub, ticket_id, token):
        """GET /queue/requests/{id} once a dispatcher answers (503 meanwhile)."""
        def answered():
            status, body = call_json("GET", f"{hub.url}/queue/requests/{ticket_id}", None, token)
            return None if status == 503 else (status, body)
        return wait_for(answered, 15, "a dispatcher to answer for the ticket")

    def take(self, hub, ticket_id, token):
        return call_json("POST", f"{hub.url}/queue/requests/{ticket_id}/take", None, token)

    def release(self, hub, sid):
        status, body = call_json("DELETE", f"{hub.url}/session/{sid}")
        self.assertEqual(status, 200, body)

    def assert_nothing_leaked(self, hub, node):
        wait_for(lambda: not hub.busy_slots(), 5, "every slot to be free")
        self.assertEqual(hub.queue(), [])
        self.assertEqual(node.live_sessions(), [])
        wait_for(lambda: self.redis.command("HLEN", TICKETS_KEY).startswith(b":0"), 5,
                 "no ticket left in Redis")

    def test_waiting_tickets_are_served_in_their_order_after_the_dispatcher_is_killed(self):
        hubs = self.start_cluster(3)
        node = self.start_node()
        hubs[0].register(node)
        busy = hubs[0].new_session(CHROME, timeout=10)
        self.assertEqual(busy[0], 200, busy)
        sid = busy[1]["value"]["sessionId"]
        first, first_token = self.open_ticket(hubs[1])
        second, second_token = self.open_ticket(hubs[2])
        self.assertIn(b'"state":"waiting"', self.stored(second))

        a, b = self.kill_dispatcher(hubs)
        status, body = self.ticket_status(a, first, first_token)
        self.assertEqual(status, 200, body)
        self.assertEqual((body["status"], body["position"]), ("waiting", 1))
        status, body = self.ticket_status(b, second, second_token)
        self.assertEqual((status, body["status"], body["position"]), (200, "waiting", 2), body)
        # Still the holder's alone, and still unknown when it is not one.
        status, body = call_json("GET", f"{b.url}/queue/requests/{first}", None,
                                 {"X-Queue-Token": "not-its-token"})
        self.assertEqual(status, 403, body)
        status, body = self.take(a, "no-such-ticket", first_token)
        self.assertEqual(status, 404, body)
        status, body = self.take(b, first, first_token)
        self.assertEqual(status, 503, body)  # still waiting: come back later

        # The busy session was adopted too: ending it frees the slot for the oldest ticket.
        self.release(b, sid)

        def taken(hub, ticket_id, token):
            status, body = self.take(hub, ticket_id, token)
            return body if status == 200 else None

        answer = wait_for(lambda: taken(b, first, first_token), 10, "the first ticket served")
        self.assertEqual(self.take(a, second, second_token)[0], 503)  # not before the first
        served = answer["value"]["sessionId"]
        status, body = call_json("GET", f"{a.url}/session/{served}/url")
        self.assertEqual(status, 200, body)
        self.release(a, served)
        answer = wait_for(lambda: taken(a, second, second_token), 10, "the second ticket served")
        self.release(b, answer["value"]["sessionId"])
        self.assertEqual(self.take(a, first, first_token)[0], 404)  # taken once
        self.assert_nothing_leaked(a, node)

    def test_a_ready_ticket_keeps_its_session_after_the_dispatcher_is_killed(self):
        hubs = self.start_cluster(3)
        node = self.start_node()
        hubs[0].register(node)
        ticket, token = self.open_ticket(hubs[1])
        # READY in the store, not only in the dispatcher's memory, before the kill.
        wait_for(lambda: b'"state":"ready"' in self.stored(ticket), 10,
                 "the ticket to be stored READY")
        self.assertEqual(len(node.created), 1)

        a, b = self.kill_dispatcher(hubs)
        status, body = self.ticket_status(a, ticket, token)
        self.assertEqual((status, body["status"]), (200, "ready"), body)
        status, body = self.take(b, ticket, {"X-Queue-Token": "not-its-token"})
        self.assertEqual(status, 403, body)
        status, body = self.take(b, ticket, token)
        self.assertEqual(status, 200, body)
        sid = body["value"]["sessionId"]
        self.assertEqual(node.created, [sid])  # the same session, not a new one
        self.assertTrue(self.stored(ticket).startswith(b"$-1"), "taken: gone from Redis")
        status, body = self.take(a, ticket, token)
        self.assertEqual(status, 404, body)
        status, body = call_json("POST", f"{a.url}/session/{sid}/url", {"url": "about:blank"})
        self.assertEqual(status, 200, body)
        self.release(b, sid)
        self.assert_nothing_leaked(b, node)

    def test_a_ticket_opened_at_a_is_taken_at_c_by_a_client_in_another_network(self):
        # The client's namespace reaches only the two front hubs, bound to the host end of the
        # veth pair; the dispatcher, the node and Redis listen on loopback, which inside the
        # namespace is its own. Opening, polling, taking, driving and deleting must all work
        # through the hubs alone.
        with netns.Namespace() as ns:
            [dispatcher] = self.start_cluster(1)
            a, c = [self.start_hub("--hub.state", self.redis.url, "--hub.peer-timeout",
                                   PEER_TIMEOUT, "--server.host", ns.host_ip) for _ in range(2)]
            self.wait_leader([dispatcher, a, c])
            self.assertIs(self.dispatcher_of([dispatcher, a, c]), dispatcher)
            for hub in (a, c):
                self.assertTrue(hub.url.startswith(f"http://{ns.host_ip}:"), hub.url)
            node = self.start_node()
            dispatcher.register(node)
            done = ns.run([PYTHON, "-c", REMOTE_TICKET_CLIENT, a.url, c.url], timeout=60)
            self.assertEqual(done.returncode, 0, done.stderr)
            out = json.loads(done.stdout)
            self.assertEqual(out["open"][0], 201, out)
            self.assertEqual(out["take"][0], 200, out)
            sid = out["take"][1]["value"]["sessionId"]
            self.assertEqual(node.created, [sid])
            self.assertEqual(out["again"][0], 404, out)  # taken once, whichever hub asks
            status, body = out["command"]
            self.assertEqual(status, 200, out)
            self.assertEqual((body["value"]["method"], body["value"]["path"]),
                             ("POST", f"/session/{sid}/url"))
            self.assertEqual(out["delete"][0], 200, out)
            self.assert_nothing_leaked(dispatcher, node)
            self.assertEqual(c.busy_slots(), [])


if __name__ == "__main__":
    unittest.main()
