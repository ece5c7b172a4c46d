"""Several real hubs on one scratch redis-server, for the test_cluster_*.py modules that do not
own test_cluster.py: RedisServer (a redis-server on a free loopback port with its own
directory, stopped by pid) and ClusterTestCase (starts N `gridhub hub` on it, waits for a
dispatcher, names each hub's id from its log)."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from hubtest import HubTestCase, call_json, wait_for

REDIS_SERVER = "/usr/bin/redis-server"
PEER_TIMEOUT = "4s"  # as test_cluster.py, and why
JOINED = re.compile(r"hub (\S+) joined the grid on ")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A scratch redis-server: no persistence, its own directory, stopped by pid."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gridhub-redis-")
        self.port = free_port()
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.ping, 10, "redis-server to answer PING")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def remove(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


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
