#!/usr/bin/env python3
"""GET /status while N long-poll POST /session waiters are held (issue 14's scale target).

    bench/hub/held_waiters.py build/app/gridhub [N=10000]

Starts the real hub on a free loopback port with no node (the registration grace keeps the
requests waiting), opens N connections that each send POST /session and wait, then times 50
GET /status on fresh connections; prints the medians and the hub's RSS, and stops the hub by
pid. Needs an open-files limit above N (`ulimit -n`). Run by hand (docs/benchmarks.md).
"""
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
port = free_port()
hub = subprocess.Popen([sys.argv[1], "hub", "--host", "127.0.0.1", "--port", str(port),
    "--server.max-connections", "12000", "--queue.max-per-label", "20000", "--queue.max-per-run", "20000",
    "--queue.registration-grace", "1h", "--queue.timeout", "10m"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
def status():
    t = time.perf_counter()
    with urllib.request.urlopen(base + "/status", timeout=10) as r: body = json.load(r)
    return time.perf_counter() - t, body
socks = []
try:
    for _ in range(100):
        try: status(); break
        except Exception: time.sleep(0.05)
    idle = sorted(status()[0] for _ in range(20))
    body = json.dumps({"capabilities": {"alwaysMatch": {"browserName": "chrome"}}}).encode()
    req = (f"POST /session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port)); s.sendall(req); socks.append(s)
    deadline = time.time() + 120
    while time.time() < deadline:
        _, b = status()
        if b["value"]["queueSize"] >= n: break
        time.sleep(0.2)
    print("queueSize", b["value"]["queueSize"])
    held = sorted(status()[0] for _ in range(50))
    rss = int([l for l in open(f"/proc/{hub.pid}/status") if l.startswith("VmRSS")][0].split()[1]) // 1024
    print(f"idle /status median {statistics.median(idle)*1e3:.2f} ms; with {n} held waiters: median {statistics.median(held)*1e3:.2f} ms, max {held[-1]*1e3:.2f} ms; hub RSS {rss} MiB")
finally:
    hub.terminate()
    hub.wait(timeout=20)
    for s in socks:
        s.close()
