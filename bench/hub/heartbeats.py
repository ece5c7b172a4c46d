#!/usr/bin/python3
"""Hub CPU spent on node heartbeats: registers NODES nodes with a `gridhub hub` on a free
loopback port and heartbeats each of them every second, as node agents do, then reads the hub's
CPU time from /proc over a window. Prints the share of one core, the CPU per heartbeat and the
hub's RSS, as medians over ROUNDS rounds (a new hub each round).

Usage: bench/hub/heartbeats.py [BUILD_DIR] [--nodes N] [--seconds S] [--rounds R]
The heartbeating clients are this script's threads (keep-alive connections, one per CLIENTS
nodes' worth of agents); their own CPU is not the hub's and is not counted.
"""

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

CLIENTS = 8  # keep-alive connections the heartbeats share (agents each hold one in reality)


def hub_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hub_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def start_hub(gridhub, scratch):
    out = open(os.path.join(scratch, "hub.out"), "w+")
    hub = subprocess.Popen([gridhub, "hub", "--server.host", "127.0.0.1", "--server.port", "0",
                            "--hub.node-timeout", "10s"],
                           stdout=out, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out.seek(0)
        found = re.search(r"listening on http://([0-9.]+):(\d+)", out.read())
        if found:
            return hub, found.group(1), int(found.group(2))
        if hub.poll() is not None:
            break
        time.sleep(0.02)
    hub.kill()
    hub.wait()
    sys.exit("the hub did not start (see its output in " + out.name + ")")


def call(conn, method, path, body):
    conn.request(method, path, body=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status


def register(host, port, nodes):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    for i in range(nodes):
        # A TEST-NET address: a heartbeat node is never contacted by the hub.
        status = call(conn, "POST", "/nodes", {
            "id": f"hb-{i}", "uri": f"http://192.0.2.1:{5000 + i % 1000}",
            "healthCheck": "heartbeat",
            "slots": [{"id": "s", "maxSessions": 1, "stereotype": {"browserName": "chrome"}}]})
        if status != 201:
            sys.exit(f"registering node hb-{i} answered {status}")
    conn.close()


def heartbeat_loop(host, port, ids, stop, counts, index):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    period = 1.0
    next_round = time.monotonic()
    sent = 0
    while not stop.is_set():
        for k, node in enumerate(ids):
            # Spread each client's nodes over the second, as independent agents would be.
            due = next_round + period * k / len(ids)
            pause = due - time.monotonic()
            if pause > 0 and stop.wait(pause):
                break
            if call(conn, "POST", f"/nodes/{node}/heartbeat", {"sessions": []}) not in (200, 204):
                counts[index] = -1
                return
            sent += 1
        next_round += period
        counts[index] = sent
    conn.close()


def one_round(gridhub, nodes, seconds, scratch):
    hub, host, port = start_hub(gridhub, scratch)
    try:
        time.sleep(1)
        idle_start = hub_cpu_seconds(hub.pid)
        time.sleep(2)
        idle_share = (hub_cpu_seconds(hub.pid) - idle_start) / 2
        register(host, port, nodes)
        ids = [f"hb-{i}" for i in range(nodes)]
        stop = threading.Event()
        counts = [0] * CLIENTS
        threads = [threading.Thread(target=heartbeat_loop,
                                    args=(host, port, ids[c::CLIENTS], stop, counts, c))
                   for c in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(3)  # warm-up: every node has heartbeated at least twice
        cpu0, sent0, t0 = hub_cpu_seconds(hub.pid), sum(counts), time.monotonic()
        time.sleep(seconds)
        cpu1, sent1, t1 = hub_cpu_seconds(hub.pid), sum(counts), time.monotonic()
        rss = hub_rss_mib(hub.pid)
        stop.set()
        for t in threads:
            t.join()
        if min(counts) < 0:
            sys.exit("a heartbeat was refused")
        rate = (sent1 - sent0) / (t1 - t0)
        share = (cpu1 - cpu0) / (t1 - t0)
        return {"idle_share": idle_share, "share": share, "rate": rate,
                "us_per_heartbeat": 1e6 * (cpu1 - cpu0) / max(1, sent1 - sent0), "rss": rss}
    finally:
        hub.terminate()
        try:
            hub.wait(timeout=10)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser()
    parser.add_argument("build", nargs="?", default=os.environ.get("GRIDHUB_BUILD_DIR",
                                                                   os.path.join(root, "build")))
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    gridhub = os.path.join(args.build, "app", "gridhub")
    results = []
    with tempfile.TemporaryDirectory(prefix="gridhub-heartbeats-") as scratch:
        for _ in range(args.rounds):
            results.append(one_round(gridhub, args.nodes, args.seconds, scratch))
    median = {key: statistics.median(r[key] for r in results) for key in results[0]}
    print(f"nodes={args.nodes} rounds={args.rounds} window={args.seconds:g}s "
          f"load={os.getloadavg()[0]:.1f}")
    print(f"heartbeats/s          {median['rate']:.0f}")
    print(f"hub CPU, share of one core   {100 * median['share']:.2f}% "
          f"(idle hub: {100 * median['idle_share']:.2f}%)")
    print(f"hub CPU per heartbeat  {median['us_per_heartbeat']:.1f} us")
    print(f"hub RSS with the nodes {median['rss']:.1f} MiB")


if __name__ == "__main__":
    main()
