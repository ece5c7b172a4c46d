"""Stopping a gridhub process together with the processes it started.

A node agent runs each driver in a process group of its own (a driver's browser is in that
group too). A test that stops a node with SIGKILL would leave those drivers running with no
parent, so `kill_with_children` first notes the node's direct children by pid (from /proc),
kills the node, then kills each child's process group. Nothing is looked up by name.
"""

import os
import signal
import subprocess


def children_of(pid):
    """The pids whose parent is `pid`, read from /proc/*/stat."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The command name, field 2, is in parentheses and may hold spaces.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry))
    return children


def kill_with_children(process, timeout=10):
    """SIGKILLs a subprocess.Popen and every process group its children lead (or the child)."""
    children = children_of(process.pid) if process.poll() is None else []
    if process.poll() is None:
        process.kill()
    process.wait(timeout=timeout)
    for child in children:
        try:
            if os.getpgid(child) == child:
                os.killpg(child, signal.SIGKILL)
            else:
                os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_gracefully(process, timeout=15, sig=signal.SIGTERM):
    """Sends `sig` (SIGTERM) and waits up to `timeout` seconds; a process still running then is
    killed with its children (kill_with_children), so a stuck one leaves nothing behind."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            pass
    kill_with_children(process)
