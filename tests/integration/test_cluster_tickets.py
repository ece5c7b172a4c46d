"""Asynchronous tickets (POST /queue/requests) outlive their dispatcher (docs/scale-out.md): the
dispatcher keeps each open ticket in Redis, so after it is killed with SIGKILL the next one
serves a WAITING ticket in its turn and hands a READY ticket's session over, at any hub, under
the ticket's own id and token.

Real redis-server and real `gridhub hub` processes on free loopback ports, fake nodes, all
stopped by pid. Skipped when /usr/bin/redis-server is missing.
"""

import signal
import unittest

from cluster_fixture import ClusterTestCase
from hubtest import call_json, wait_for

CHROME = {"browserName": "chrome"}
TICKETS_KEY = "{gridhub}:tickets"


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


if __name__ == "__main__":
    unittest.main()
