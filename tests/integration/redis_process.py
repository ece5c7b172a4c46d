"""A scratch `redis-server` for the tests of several hubs (hub.state: redis://...).

Python standard library only. The server listens on a free loopback port with no persistence
and a directory of its own; it is stopped by pid, never by name.

    redis = RedisServer()                  # started, answers PING
    hub = start_hub("--hub.state", redis.url)
    redis.command("FLUSHALL")              # raw reply bytes
    redis.leader_url()                     # the dispatcher hub's URL, or None
    redis.remove()                         # stopped and its directory deleted
"""

import shutil
import socket
import subprocess
import tempfile

from hubtest import wait_for

REDIS_SERVER = "/usr/bin/redis-server"
LEADER_KEY = "{gridhub}:leader"  # cluster/cluster_keys.h: value "<hub id> <hub url>"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A scratch redis-server: no persistence, its own directory, stopped by pid."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gridhub-redis-")
        self.port = free_port()
        self.process = None
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.ping, 10, "redis-server to answer PING")

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *words):
        payload = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(payload.encode())
            return s.recv(4096)

    def leader_url(self):
        """The URL in the dispatcher lease, or None while no hub holds it."""
        reply = self.command("GET", LEADER_KEY)
        if not reply.startswith(b"$") or reply.startswith(b"$-1"):
            return None
        value = reply.split(b"\r\n")[1].decode()
        return value.split(" ", 1)[1] if " " in value else None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
