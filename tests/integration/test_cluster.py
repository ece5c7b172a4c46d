"""Several real hubs on one real Redis (hub.state: redis://...): one queue with one hub's
rules, sessions and tickets usable from any hub, settings shared, and the faults of
docs/scale-out.md (a hub killed, Redis stopped and started, Redis flushed).

Every process (redis-server, three `gridhub hub`, fake nodes) is started by the test on free
loopback ports and stopped by pid. Skipped when /usr/bin/redis-server is missing; the case of a
client in another network (netns.py) is skipped, with the reason, without root or `ip netns`.
"""

import http.client
import json
import os
import signal
import threading
import time
import unittest

import netns
from hubtest import AsyncRequest, FakeNode, HubTestCase, call_json, wait_for
from redis_process import REDIS_SERVER, RedisServer

# Short, so that fail-overs are quick; not shorter, because a hub gives each Redis command a
# twentieth of it (200 ms here) and a loaded test machine must not make a Redis look down.
PEER_TIMEOUT = "4s"
PEER_TIMEOUT_S = 4.0
CHROME = {"browserName": "chrome"}
PYTHON = "/usr/bin/python3"

# Runs inside a network namespace: makes a session through one hub (argv[1]), sends a command
# and deletes it through another (argv[2]); prints {"create"|"command"|"delete": [status, body]}.
# No proxy from the environment: the client must reach the hubs itself.
REMOTE_SESSION_CLIENT = r"""
import json, sys, urllib.error, urllib.request
create_via, drive_via = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with opener.open(request, timeout=20) as response:
            return [response.status, json.loads(response.read() or b"null")]
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode("utf-8", "replace")]
out = {"create": call("POST", create_via + "/session",
                      {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}})}
if out["create"][0] == 200:
    sid = out["create"][1]["value"]["sessionId"]
    out["command"] = call("POST", f"{drive_via}/session/{sid}/url", {"url": "about:blank"})
    out["delete"] = call("DELETE", f"{drive_via}/session/{sid}")
print(json.dumps(out))
"""


class ConcurrencyNode(FakeNode):
    """A fake node that records the highest number of live sessions it saw per label."""

    def __init__(self, create_delay=0.05):
        super().__init__()
        self.create_delay = create_delay
        self.highest = {}

    def note(self):
        with self.lock:
            live = len([s for s in self.created if s not in self.deleted])
            self.highest["all"] = max(self.highest.get("all", 0), live)


@unittest.skipUnless(os.path.exists(REDIS_SERVER), "redis-server is not installed")
class ClusterTest(HubTestCase):
    def setUp(self):
        super().setUp()
        self.redis = RedisServer()
        self.addCleanup(self.redis.remove)

    def start_cluster(self, n=3, *flags):
        return [self.start_hub("--hub.state", self.redis.url, "--hub.peer-timeout", PEER_TIMEOUT,
                               *flags) for _ in range(n)]

    def occupy(self, hub, always):
        status, body = hub.new_session(always, timeout=10)
        self.assertEqual(status, 200, body)
        return body["value"]["sessionId"]

    def release(self, hub, sid):
        status, body = call_json("DELETE", f"{hub.url}/session/{sid}")
        self.assertEqual(status, 200, body)

    def wait_leader(self, hubs):
        # A hub without a dispatcher answers /status itself, without the grid's "nodes".
        def one_ready():
            return all("nodes" in call_json("GET", h.url + "/status")[1]["value"] for h in hubs)
        wait_for(one_ready, 15, "every hub to be ready (a dispatcher elected)")

    def dispatcher_of(self, hubs):
        """The hub of `hubs` that holds the dispatcher lease (waits for one to hold it)."""
        def holder():
            url = self.redis.leader_url()
            return next((h for h in hubs if h.url == url), None)
        return wait_for(holder, 15, "a hub of the test to hold the dispatcher lease")

    # --- one queue, one hub's rules ------------------------------------------------------
    def served_order(self, entry, submit_via):
        """Occupies the one slot, queues the requests through `submit_via` hubs in turn, frees
        the slot once per request and returns the names in the order they were served."""
        node = self.start_node()
        entry.register(node, slots=[{"id": "s", "label": "a:x",
                                     "stereotype": {"browserName": "chrome"}}])
        sid = self.occupy(entry, {"browserName": "chrome", "gridhub:label": "a:x"})
        plan = (("A1", "a"), ("B1", "a:x"), ("A2", "a"), ("A3", "a"), ("B2", "a:x"))
        waiters = []
        for i, (name, label) in enumerate(plan):
            hub = submit_via[i % len(submit_via)]
            req = AsyncRequest(hub.new_session, {"browserName": "chrome", "gridhub:label": label,
                                                 "se:name": name}, timeout=30)
            waiters.append((name, req, hub))
            entry.wait_queue_length(len(waiters))
        order = []
        for _ in plan:
            self.release(entry, sid)

            def served():
                for name, req, _ in waiters:
                    if req.done() and name not in order:
                        return name
                return None

            name = wait_for(served, 10, "the next waiter to be served")
            order.append(name)
            status, body = dict((n, r) for n, r, _ in waiters)[name].result()
            self.assertEqual(status, 200, body)
            sid = body["value"]["sessionId"]
        self.release(entry, sid)
        return order

    def test_service_order_across_hubs_is_one_hubs_order(self):
        single = self.start_hub()
        expected = self.served_order(single, [single])
        hubs = self.start_cluster()
        self.wait_leader(hubs)
        self.assertEqual(self.served_order(hubs[0], hubs), expected)

    def test_caps_hold_across_hubs_under_load(self):
        hubs = self.start_cluster(3, "--queue.concurrency-caps", "chrome=2")
        self.wait_leader(hubs)
        node = ConcurrencyNode()
        self._nodes.append(node)
        hubs[0].register(node, slots=[{"id": "s", "maxSessions": 6, "label": "chrome",
                                       "stereotype": {"browserName": "chrome"}}])
        errors = []

        def client(i):
            hub = hubs[i % 3]
            for _ in range(4):
                status, body = hub.new_session({"browserName": "chrome"}, timeout=30)
                if status != 200:
                    errors.append((status, body))
                    return
                node.note()
                other = hubs[(i + 1) % 3]
                if call_json("DELETE", f"{other.url}/session/{body['value']['sessionId']}")[0] != 200:
                    errors.append(("delete", body))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertLessEqual(node.highest["all"], 2)
        self.assertEqual(node.live_sessions(), [])
        wait_for(lambda: all(not h.busy_slots() for h in hubs), 5, "every slot free")

    def test_queue_full_is_exact_across_hubs(self):
        hubs = self.start_cluster(3, "--queue.max-per-label", "3")
        self.wait_leader(hubs)
        node = self.start_node()
        hubs[0].register(node)
        sid = self.occupy(hubs[0], {"browserName": "chrome"})
        waiters = []
        for i in range(3):
            waiters.append(AsyncRequest(hubs[i].new_session, {"browserName": "chrome"},
                                        timeout=30))
            hubs[(i + 1) % 3].wait_queue_length(i + 1)
        for hub in hubs:
            status, body = hub.new_session({"browserName": "chrome"})
            self.assertEqual(status, 500, body)
            self.assertIn("queue full", body["value"]["message"])
        self.release(hubs[2], sid)
        for req in waiters:
            status, body = req.result(30)
            self.assertEqual(status, 200, body)
            self.release(hubs[1], body["value"]["sessionId"])

    # --- any hub for any call --------------------------------------------------------------
    def test_session_ticket_and_settings_work_from_any_hub(self):
        a, b, c = self.start_cluster()
        self.wait_leader([a, b, c])
        node = self.start_node()
        a.register(node)
        sid = self.occupy(a, {"browserName": "chrome"})
        status, body = call_json("POST", f"{b.url}/session/{sid}/url", {"url": "about:blank"})
        self.assertEqual(status, 200, body)
        self.assertIn((("POST", f"/session/{sid}/url")), [(m, p) for m, p, _ in node.commands])
        self.release(c, sid)
        self.assertEqual(node.live_sessions(), [])

        status, ticket = call_json("POST", f"{a.url}/queue/requests",
                                   {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}})
        self.assertEqual(status, 201, ticket)
        token = {"X-Queue-Token": ticket["token"]}

        def taken():
            status, answer = call_json("POST", f"{c.url}/queue/requests/{ticket['id']}/take",
                                       None, token)
            return answer if status == 200 else None

        answer = wait_for(taken, 10, "the ticket to be taken at another hub")
        self.release(b, answer["value"]["sessionId"])

        status, body = call_json("PUT", f"{b.url}/admin/config",
                                 {"queue": {"max-per-label": 7}})
        self.assertEqual(status, 200, body)

        def applied_on_a():
            status, cfg = call_json("GET", f"{a.url}/admin/config")
            return status == 200 and cfg["queue"]["max-per-label"] == 7

        wait_for(applied_on_a, 1.0, "the setting changed on B to apply on A")

    def test_a_client_in_another_network_needs_no_route_but_the_hubs(self):
        # The client runs in a namespace of its own and reaches only the two front hubs bound
        # to the host end of the veth pair: the dispatcher and the node listen on loopback,
        # which is the namespace's own there. A hub that handed the client a node address or
        # sent it elsewhere than through itself would make the client fail.
        with netns.Namespace() as ns:
            [dispatcher] = self.start_cluster(1)
            self.wait_leader([dispatcher])
            a, b = [self.start_hub("--hub.state", self.redis.url, "--hub.peer-timeout",
                                   PEER_TIMEOUT, "--server.host", ns.host_ip) for _ in range(2)]
            self.wait_leader([dispatcher, a, b])
            self.assertIs(self.dispatcher_of([dispatcher, a, b]), dispatcher)
            self.assertTrue(a.url.startswith(f"http://{ns.host_ip}:"), a.url)
            node = self.start_node()
            dispatcher.register(node)
            done = ns.run([PYTHON, "-c", REMOTE_SESSION_CLIENT, a.url, b.url], timeout=60)
            self.assertEqual(done.returncode, 0, done.stderr)
            out = json.loads(done.stdout)
            status, body = out["create"]
            self.assertEqual(status, 200, out)
            sid = body["value"]["sessionId"]
            self.assertEqual(node.created, [sid])
            status, body = out["command"]
            self.assertEqual(status, 200, out)
            self.assertEqual((body["value"]["method"], body["value"]["path"]),
                             ("POST", f"/session/{sid}/url"))
            self.assertEqual(out["delete"][0], 200, out)
            self.assertEqual(node.live_sessions(), [])
            wait_for(lambda: not a.busy_slots(), 5, "the slot to be free on every hub")
            self.assertEqual(b.busy_slots(), [])

    # --- faults ----------------------------------------------------------------------------
    def test_a_killed_hub_leaks_nothing_and_its_sessions_live_on(self):
        hubs = self.start_cluster()
        self.wait_leader(hubs)
        node = self.start_node()
        hubs[1].register(node, slots=[{"id": "s", "maxSessions": 2,
                                       "stereotype": {"browserName": "chrome"}}])
        for victim_index in (0, 1, 2):
            victim = hubs[victim_index]
            if victim.process.poll() is not None:
                continue
            sid = self.occupy(victim, {"browserName": "chrome"})
            victim.crash_ok = True
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(10)
            alive = [h for h in hubs if h.process.poll() is None]
            if not alive:
                break
            status, body = call_json("GET", f"{alive[0].url}/session/{sid}/url")
            self.assertEqual(status, 200, body)
            self.release(alive[0], sid)
            status, body = alive[-1].new_session({"browserName": "chrome"}, timeout=30)
            self.assertEqual(status, 200, body)
            self.release(alive[0], body["value"]["sessionId"])
            break
        self.assertEqual(node.live_sessions(), [])

    def kill_one_under_load(self, choose_victim):
        """Three slots busy (two with sessions the victim made), four clients waiting on each
        hub; the victim gets SIGKILL. Its waiters must leave the queue within hub.peer-timeout,
        every other waiter must be served, its sessions must stay usable, no slot may leak."""
        hubs = self.start_cluster()
        self.wait_leader(hubs)
        victim = choose_victim(hubs, self.dispatcher_of(hubs))
        survivors = [h for h in hubs if h is not victim]
        node = self.start_node()
        survivors[0].register(node, slots=[{"id": f"s{i}", "stereotype": CHROME}
                                           for i in range(3)])
        made_by_victim = [self.occupy(victim, CHROME) for _ in range(2)]
        made_elsewhere = self.occupy(survivors[0], CHROME)
        outcomes = {}
        lock = threading.Lock()

        def client(i, hub, drive_via):
            try:
                status, body = hub.new_session(CHROME, timeout=60)
            except (OSError, http.client.HTTPException):
                outcome = "lost"  # its hub was killed under it
            else:
                outcome = (status, body)
                if status == 200:
                    sid = body["value"]["sessionId"]
                    drove = call_json("GET", f"{drive_via.url}/session/{sid}/url")[0]
                    ended = call_json("DELETE", f"{drive_via.url}/session/{sid}")[0]
                    outcome = "served" if (drove, ended) == (200, 200) else (drove, ended)
            with lock:
                outcomes[i] = (hub, outcome)

        threads = []
        for i in range(12):
            hub = hubs[i % 3]
            drive_via = survivors[0] if hub is survivors[1] else survivors[1]
            threads.append(threading.Thread(target=client, args=(i, hub, drive_via)))
            threads[-1].start()
        survivors[0].wait_queue_length(12, timeout=10)

        victim.crash_ok = True
        victim.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        victim.process.wait(10)

        def only_survivors_wait():
            try:
                status, body = call_json("GET", survivors[1].url + "/queue", timeout=1)
            except (OSError, http.client.HTTPException):
                return False
            return status == 200 and len(body["value"]) == 8

        wait_for(only_survivors_wait, PEER_TIMEOUT_S + 1, "the killed hub's waiters to leave")
        self.assertLessEqual(time.monotonic() - killed_at, PEER_TIMEOUT_S,
                             "the killed hub's waiters left the queue after hub.peer-timeout")

        for sid in made_by_victim:
            status, body = call_json("GET", f"{survivors[1].url}/session/{sid}/url")
            self.assertEqual(status, 200, body)
            self.release(survivors[0], sid)
        self.release(survivors[1], made_elsewhere)
        for t in threads:
            t.join(60)
        self.assertEqual(len(outcomes), 12, "a client did not finish")
        for hub, outcome in outcomes.values():
            self.assertEqual(outcome, "lost" if hub is victim else "served")

        def all_free():
            status = survivors[1].status()
            return len(status["nodes"][0]["slots"]) == 3 and not survivors[1].busy_slots()

        wait_for(all_free, 5, "every slot to be free")
        self.assertEqual(survivors[0].queue(), [])
        self.assertEqual(node.live_sessions(), [])

    def test_sigkill_of_the_dispatcher_under_load(self):
        self.kill_one_under_load(lambda hubs, dispatcher: dispatcher)

    def test_sigkill_of_a_front_hub_under_load(self):
        self.kill_one_under_load(
            lambda hubs, dispatcher: next(h for h in hubs if h is not dispatcher))

    def test_a_front_hub_lost_without_a_word_loses_its_waiters(self):
        # SIGSTOP: the hub's connections stay open, as when its machine is lost; only its
        # presence key lapsing tells the dispatcher. The key lapses hub.peer-timeout after the
        # hub last refreshed it and the dispatcher looks every half of that: 1.5 x at most.
        hubs = self.start_cluster()
        self.wait_leader(hubs)
        dispatcher = self.dispatcher_of(hubs)
        lost, other = [h for h in hubs if h is not dispatcher]
        node = self.start_node()
        dispatcher.register(node)
        sid = self.occupy(other, CHROME)
        stranded = [AsyncRequest(lost.new_session, CHROME, timeout=60) for _ in range(2)]
        dispatcher.wait_queue_length(2)
        served = AsyncRequest(other.new_session, CHROME, timeout=60)
        dispatcher.wait_queue_length(3)
        lost.process.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            wait_for(lambda: len(dispatcher.queue()) == 1, PEER_TIMEOUT_S * 2,
                     "the stopped hub's waiters to leave the queue")
            self.assertLessEqual(time.monotonic() - stopped_at, PEER_TIMEOUT_S * 1.5 + 0.5)
            # The slot goes to the other hub's waiter, queued after the lost ones.
            self.release(other, sid)
            status, body = served.result(30)
            self.assertEqual(status, 200, body)
            self.release(other, body["value"]["sessionId"])
        finally:
            lost.process.send_signal(signal.SIGCONT)
        # Resumed, the hub relays what the dispatcher answered: the reason, not a hang.
        for req in stranded:
            status, body = req.result(30)
            self.assertEqual(status, 500, body)
            self.assertEqual(body["value"]["error"], "session not created", body)
            self.assertIn("hub.peer-timeout", body["value"]["message"])
        wait_for(lambda: not dispatcher.busy_slots(), 5, "every slot to be free")
        self.assertEqual(node.live_sessions(), [])

    def test_redis_stopped_and_started(self):
        a, b = self.start_cluster(2)
        self.wait_leader([a, b])
        node = self.start_node()
        node_id = a.register(node)
        sid = self.occupy(a, {"browserName": "chrome"})
        self.redis.stop()

        def not_ready():
            status, body = call_json("GET", f"{b.url}/status")
            return not body["value"]["ready"] and "redis" in body["value"]["message"].lower()

        wait_for(not_ready, 15, "/status to say not ready because of Redis")
        status, body = b.new_session({"browserName": "chrome"}, timeout=10)
        self.assertEqual(status, 500, body)
        self.assertEqual(body["value"]["error"], "session not created")
        self.assertIn("redis", body["value"]["message"].lower())
        status, body = call_json("GET", f"{b.url}/session/{sid}/url")
        self.assertEqual(status, 200, body)

        self.redis.start()
        self.wait_leader([a, b])
        # The node's next heartbeat, as its agent sends it. A dispatcher that stepped down while
        # Redis was away and was elected again over the empty store no longer knows the node
        # (404): the agent registers again with its live session, as after a hub restart.
        status, body = call_json("POST", f"{b.url}/nodes/{node_id}/heartbeat", {"sessions": [sid]})
        if status == 404:
            b.register(node, node_id=node_id, sessions=[sid])
        else:
            self.assertEqual(status, 204, body)
        self.release(b, sid)
        status, body = b.new_session({"browserName": "chrome"}, timeout=30)
        self.assertEqual(status, 200, body)
        self.release(a, body["value"]["sessionId"])

    def test_flushall_is_survived(self):
        a, b = self.start_cluster(2)
        self.wait_leader([a, b])
        node = self.start_node()
        a.register(node, slots=[{"id": "s", "maxSessions": 2,
                                 "stereotype": {"browserName": "chrome"}}])
        sid = self.occupy(a, {"browserName": "chrome"})
        self.assertIn(b"OK", self.redis.command("FLUSHALL"))
        self.wait_leader([a, b])
        status, body = call_json("GET", f"{b.url}/session/{sid}/url")
        self.assertEqual(status, 200, body)
        status, body = b.new_session({"browserName": "chrome"}, timeout=30)
        self.assertEqual(status, 200, body)
        self.release(a, body["value"]["sessionId"])
        self.release(b, sid)
        self.assertEqual(node.live_sessions(), [])


if __name__ == "__main__":
    unittest.main()
