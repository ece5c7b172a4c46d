"""A private network namespace joined to this host by a veth pair, for "remote caller" tests.

A process inside the namespace reaches the host only through the veth link, so the host sees
it coming from `ns.peer_ip`, not from loopback. Needs root and `ip netns`; without them the
context manager raises unittest.SkipTest with the reason. Python standard library only.

    with netns.Namespace() as ns:                  # skips the test cleanly if unavailable
        hub = self.start_hub("--server.host", ns.host_ip)
        out = ns.run(["/usr/bin/python3", "-c", script])   # CompletedProcess, text
        proc = ns.popen([...])                      # stopped by pid on exit

Each namespace gets a unique name and a random private /30 (10.X.Y.0/30: host side .1,
namespace side .2), so tests running in parallel do not clash. Everything it made — processes
started with popen(), the namespace and the veth pair — is removed on exit, also when the test
fails; a half-made setup is undone before SkipTest or the error is raised.
"""

import ipaddress
import os
import random
import shutil
import subprocess
import unittest
import uuid

IP = shutil.which("ip") or "/usr/sbin/ip"


def _ip(*args, check=True):
    return subprocess.run([IP, *args], capture_output=True, text=True, timeout=15, check=check)


def _free_network():
    """A random 10.X.Y.0/30 that overlaps no route of this host."""
    taken = []
    routes = _ip("-4", "route", "show", "table", "all", check=False).stdout.split("\n")
    for line in routes:
        word = line.split(" ", 1)[0]
        if word and word[0].isdigit():
            try:
                taken.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                pass
    for _ in range(100):
        candidate = ipaddress.ip_network(
            f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.0/30")
        if not any(candidate.overlaps(net) for net in taken):
            return candidate
    raise AssertionError("no free 10.X.Y.0/30 for a test namespace")


def unavailable_reason():
    """Why namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not os.path.exists(IP):
        return "the ip command (iproute2) is not installed"
    try:
        listed = _ip("netns", "list", check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"ip netns is unavailable: {e}"
    if listed.returncode != 0:
        return f"ip netns is unavailable: {listed.stderr.strip()}"
    return None


class Namespace:
    """Context manager: a namespace with a veth link to the host (see the module docstring)."""

    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.name = f"gh-it-{tag}"
        self._host_if = f"gh{tag}h"   # interface names are limited to 15 characters
        self._ns_if = f"gh{tag}n"
        self.host_ip = None  # set on entry
        self.peer_ip = None
        self._procs = []
        self._made_ns = False
        self._made_link = False

    def __enter__(self):
        reason = unavailable_reason()
        if reason:
            raise unittest.SkipTest(reason)
        network = _free_network()
        self.host_ip, self.peer_ip = str(network[1]), str(network[2])
        try:
            self._setup()
        except subprocess.CalledProcessError as e:
            self._teardown()
            detail = (e.stderr or "").strip()
            if "Operation not permitted" in detail or "Permission denied" in detail:
                raise unittest.SkipTest(f"cannot create a network namespace: {detail}") from e
            raise AssertionError(f"network namespace setup failed: {e.cmd}: {detail}") from e
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, *exc):
        self._teardown()
        return False

    def _setup(self):
        _ip("netns", "add", self.name)
        self._made_ns = True
        _ip("link", "add", self._host_if, "type", "veth", "peer", "name", self._ns_if)
        self._made_link = True
        _ip("link", "set", self._ns_if, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/30", "dev", self._host_if)
        _ip("link", "set", self._host_if, "up")
        _ip("-n", self.name, "addr", "add", f"{self.peer_ip}/30", "dev", self._ns_if)
        _ip("-n", self.name, "link", "set", self._ns_if, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")

    def _teardown(self):
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._procs = []
        # Deleting the namespace also deletes the veth end inside it, and with it the pair;
        # the host end is deleted explicitly in case it never moved into the namespace.
        if self._made_link:
            _ip("link", "del", self._host_if, check=False)
            self._made_link = False
        if self._made_ns:
            _ip("netns", "del", self.name, check=False)
            self._made_ns = False

    def _argv(self, argv):
        return [IP, "netns", "exec", self.name, *argv]

    def run(self, argv, timeout=30, **kwargs):
        """Runs argv inside the namespace to completion: a CompletedProcess (text mode)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self._argv(argv), timeout=timeout, **kwargs)

    def popen(self, argv, **kwargs):
        """Starts argv inside the namespace; the process is killed (by pid) on exit."""
        proc = subprocess.Popen(self._argv(argv), **kwargs)
        self._procs.append(proc)
        return proc
