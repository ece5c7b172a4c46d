"""Several hubs (hub.state: redis://...) through reloads and starts: a SIGHUP on one hub gives
every hub its runtime settings, as PUT /admin/config does, and its tokens stay its own; a hub
started while Redis is down serves as not ready, naming the store, and joins when it answers.

Real redis-server and real hub processes on free loopback ports, stopped by pid. Skipped when
/usr/bin/redis-server is missing.
"""

import os
import shutil
import signal
import tempfile
import unittest

from hubtest import HubTestCase, call_json, wait_for
from cluster_fixture import PEER_TIMEOUT
from redis_process import REDIS_SERVER, RedisServer


@unittest.skipUnless(os.path.exists(REDIS_SERVER), "redis-server is not installed")
class ClusterReloadTest(HubTestCase):
    def setUp(self):
        super().setUp()
        self.redis = RedisServer()
        self.addCleanup(self.redis.remove)
        self.dir = tempfile.mkdtemp(prefix="gridhub-it-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def config_file(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def cluster_hub(self, *flags):
        return self.start_hub("--hub.state", self.redis.url, "--hub.peer-timeout", PEER_TIMEOUT,
                              *flags)

    def max_per_label(self, hub):
        status, cfg = call_json("GET", f"{hub.url}/admin/config")
        self.assertEqual(status, 200, cfg)
        return cfg["queue"]["max-per-label"]

    def test_sighup_on_one_hub_applies_on_every_hub(self):
        path = self.config_file("a.yaml", "queue:\n  max-per-label: 11\n")
        a = self.cluster_hub("--config", path)
        b = self.cluster_hub()
        c = self.cluster_hub()
        self.assertNotEqual(self.max_per_label(b), 11)  # nothing shared before the reload

        self.config_file("a.yaml", "queue:\n  max-per-label: 4\n")
        a.process.send_signal(signal.SIGHUP)
        # Pub/sub delivers it at once; the bound only keeps a broken build from hanging.
        for hub in (b, c):
            wait_for(lambda hub=hub: self.max_per_label(hub) == 4, 10,
                     "the reloaded max-per-label on another hub")
        self.assertEqual(self.max_per_label(a), 4)

    def test_a_reload_shares_no_token(self):
        path = self.config_file("a.yaml", "hub:\n  admin-token: first-admin\n")
        a = self.cluster_hub("--config", path)
        b = self.cluster_hub()
        self.config_file("a.yaml", "hub:\n  admin-token: second-admin\nqueue:\n  max-per-label: 3\n")
        a.process.send_signal(signal.SIGHUP)
        wait_for(lambda: self.max_per_label(b) == 3, 5, "the reload to reach hub b")
        # b has no admin token of its own: a's new one was not handed to it.
        status, _ = call_json("GET", f"{b.url}/admin/config")
        self.assertEqual(status, 200)
        status, _ = call_json("GET", f"{a.url}/admin/config")
        self.assertEqual(status, 401)
        status, _ = call_json("GET", f"{a.url}/admin/config", None,
                              {"Authorization": "Bearer second-admin"})
        self.assertEqual(status, 200)

    def test_a_hub_started_while_redis_is_down_joins_when_it_answers(self):
        self.redis.stop()
        a = self.cluster_hub()
        status, body = call_json("GET", f"{a.url}/status")
        self.assertEqual(status, 200, body)
        self.assertFalse(body["value"]["ready"], body)
        self.assertIn("state store redis://127.0.0.1:", body["value"]["message"])
        status, body = a.new_session({"browserName": "chrome"}, timeout=10)
        self.assertEqual(status, 500, body)
        self.assertEqual(body["value"]["error"], "session not created")
        self.assertIn("state store", body["value"]["message"])

        self.redis.start()
        # The dispatcher's own /status (with the grid's nodes) once the hub leads again; its
        # "ready" then says whether any node is registered, as on a single hub.
        wait_for(lambda: "nodes" in call_json("GET", f"{a.url}/status")[1]["value"], 15,
                 "the hub to join the grid once Redis answers")
        node = self.start_node()
        a.register(node)
        status, body = a.new_session({"browserName": "chrome"}, timeout=10)
        self.assertEqual(status, 200, body)
        self.assertEqual(call_json("DELETE", f"{a.url}/session/{body['value']['sessionId']}")[0],
                         200)


if __name__ == "__main__":
    unittest.main()
