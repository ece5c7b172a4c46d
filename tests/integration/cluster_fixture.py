"""Several real hubs on one scratch redis-server (redis_process.RedisServer), for the
test_cluster_*.py modules other than test_cluster.py: ClusterTestCase starts N `gridhub hub` on
it, waits for a dispatcher and names each hub's id from its log."""

import os
import re
import unittest

from hubtest import HubTestCase, call_json, wait_for
from redis_process import REDIS_SERVER, RedisServer

PEER_TIMEOUT = "4s"  # as test_cluster.py, and why
JOINED = re.compile(r"hub (\S+) joined the grid on ")


@unittest.skipUnless(os.path.exists(REDIS_SERVER), "redis-server is not installed")
class ClusterTestCase(HubTestCase):
    def setUp(self):
        super().setUp()
        self.redis = RedisServer()
        self.addCleanup(self.redis.remove)

    def start_cluster(self, n=3, *flags):
        hubs = [self.start_hub("--hub.state", self.redis.url, "--hub.peer-timeout", PEER_TIMEOUT,
                               *flags) for _ in range(n)]
        self.wait_leader(hubs)
        return hubs

    def wait_leader(self, hubs):
        # A hub without a dispatcher answers /status itself, without the grid's "nodes".
        def all_ready():
            return all("nodes" in call_json("GET", h.url + "/status")[1]["value"] for h in hubs)
        wait_for(all_ready, 15, "every hub to be ready (a dispatcher elected)")

    @staticmethod
    def hub_id(hub):
        """The id the hub logged when it joined the grid (cluster.joined)."""
        def logged():
            for line in list(hub.stderr_lines):
                m = JOINED.search(line)
                if m:
                    return m.group(1)
            return None
        return wait_for(logged, 5, "the hub's cluster.joined line")
