#!/usr/bin/python3
"""The cost of a proxied BiDi message: `session.status` round trips over WebDriver BiDi, straight
to chromedriver's own webSocketUrl vs through `gridhub standalone` (hub /session/{id}/se/bidi →
node agent → chromedriver), with real Chromium. Never a test.

    bench/websocket/bidi_bench.py --gridhub build/app/gridhub [--messages 2000] [--runs 3]

Starts chromedriver alone and a standalone on free ports, creates one session on each with
`webSocketUrl: true`, warms up, then alternates runs of `--messages` back-to-back
`session.status` commands (one in flight) on each socket, and prints the median and p99 of each
run and the median of the runs' medians. Every process it starts is stopped by its pid.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
from wsclient import WebSocket  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(method, url, body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read() or b"null")


def wait_ready(url, limit=60):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if http_json("GET", url + "/status", timeout=2)["value"]["ready"]:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(url + " did not become ready")


def new_session(url, profile):
    caps = {"browserName": "chrome", "webSocketUrl": True,
            "goog:chromeOptions": {"binary": CHROMIUM,
                                   "args": CHROME_ARGS + ["--user-data-dir=" + profile]}}
    value = http_json("POST", url + "/session",
                      {"capabilities": {"alwaysMatch": caps}}, timeout=120)["value"]
    return value["sessionId"], value["capabilities"]["webSocketUrl"]


def run(ws, messages, first_id):
    """Round trips of `messages` session.status commands, one at a time, in microseconds."""
    times = []
    for i in range(messages):
        started = time.perf_counter()
        ws.send_text(json.dumps({"id": first_id + i, "method": "session.status", "params": {}}))
        while True:  # events could be interleaved; only our answer ends the round trip
            _, payload = ws.recv()
            if json.loads(payload).get("id") == first_id + i:
                break
        times.append((time.perf_counter() - started) * 1e6)
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gridhub", required=True)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bidi-bench-")
    processes = []
    try:
        driver_port, grid_port = free_port(), free_port()
        log = open(os.path.join(tmp, "processes.log"), "w")
        processes.append(subprocess.Popen([CHROMEDRIVER, f"--port={driver_port}"],
                                          stdout=log, stderr=log))
        config = os.path.join(tmp, "standalone.yaml")
        with open(config, "w") as f:
            json.dump({"server": {"host": "127.0.0.1", "port": grid_port},
                       "node": {"slots": [{"label": "chrome", "max-sessions": 1,
                                           "stereotype": {"browserName": "chrome",
                                                          "platformName": "linux"},
                                           "driver": [CHROMEDRIVER]}]}}, f)
        processes.append(subprocess.Popen([args.gridhub, "standalone", "--config", config],
                                          stdout=log, stderr=log,
                                          env=dict(os.environ, TMPDIR=tmp)))
        driver_url, grid_url = f"http://127.0.0.1:{driver_port}", f"http://127.0.0.1:{grid_port}"
        wait_ready(driver_url)
        wait_ready(grid_url)
        sockets = {}
        for name, url in (("chromedriver", driver_url), ("gridhub", grid_url)):
            session, ws_url = new_session(url, tempfile.mkdtemp(prefix="profile-", dir=tmp))
            print(f"{name}: session {session}, webSocketUrl {ws_url}")
            sockets[name] = (url, session, WebSocket.connect(ws_url))
        next_id = 1
        for name, (_, _, ws) in sockets.items():  # warm-up
            run(ws, 200, next_id)
            next_id += 200
        medians = {name: [] for name in sockets}
        for r in range(args.runs):
            for name, (_, _, ws) in sockets.items():
                times = sorted(run(ws, args.messages, next_id))
                next_id += args.messages
                p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
                medians[name].append(p50)
                print(f"run {r + 1} {name:12s} median {p50:8.1f} us  p99 {p99:8.1f} us")
        straight = statistics.median(medians["chromedriver"])
        through = statistics.median(medians["gridhub"])
        print(f"median of medians: chromedriver {straight:.1f} us, through gridhub "
              f"{through:.1f} us, added {through - straight:.1f} us, ratio {through / straight:.2f}")
        for name, (url, session, ws) in sockets.items():
            ws.close()
            http_json("DELETE", f"{url}/session/{session}")
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
