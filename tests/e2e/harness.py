"""Harness for gridhub's end-to-end tests: real binary, real chromedriver, real Chromium.

Python standard library only; runs under Debian's /usr/bin/python3 so that the Debian
`python3-selenium` package is importable by the tests that use it.

    with Harness(self) as h:                       # stops everything it started, even on failure
        page = h.serve_test_page()                 # http://127.0.0.1:PORT/ on loopback
        grid = h.start_standalone(slots=2)         # or h.start_hub(...) + h.start_node(...)
        result = h.run_js("session_flow.js", grid.url, page)

Every process is started in its own process group and stopped by pid: SIGTERM to the group,
then SIGKILL to the group and to every descendant recorded while it ran (chromedriver and
Chromium may have moved to groups of their own). Ports come from the kernel (bind to port 0),
and every wait is bounded.
"""

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
JS_CLIENTS = os.path.join(REPO_ROOT, "tests", "clients", "js")
PY_CLIENTS = os.path.join(REPO_ROOT, "tests", "clients", "python")
if PY_CLIENTS not in sys.path:
    sys.path.insert(0, PY_CLIENTS)
# Shared helpers of the integration tests (loopback_http, wsclient); after this folder, so a
# module name both folders have stays this folder's.
INTEGRATION = os.path.join(REPO_ROOT, "tests", "integration")
if INTEGRATION not in sys.path:
    sys.path.append(INTEGRATION)

import loopback_http  # noqa: E402

CHROMIUM = os.environ.get("GRIDHUB_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("GRIDHUB_E2E_CHROMEDRIVER", "/usr/bin/chromedriver")
NODE_JS = shutil.which("node") or "/usr/bin/node"

# Set by run.py from --gridhub (CTest passes $<TARGET_FILE:gridhub>).
GRIDHUB = os.environ.get("GRIDHUB_BIN", "")

# How long a grid may take to come up, and a session to be created (Chromium start included).
START_TIMEOUT = 20.0
SESSION_TIMEOUT = 60.0


def free_port():
    """A loopback port that was free a moment ago (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it returns a truthy value; raises TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - a probe that fails is retried until the deadline
            last_error = e
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}"
                               + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval)


def http_json(method, url, body=None, headers=None, timeout=10.0):
    """One HTTP call; returns (status, parsed JSON or raw text). Never raises on 4xx/5xx."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json; charset=utf-8")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text


# ---------------------------------------------------------------------------------------------
# Processes


def _ppid_map():
    """pid -> parent pid for every process visible in /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        # The command name may contain spaces and parentheses; fields resume after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
    return parents


def children_of(pid):
    """Direct children of pid, found by parent pid (never by name)."""
    return sorted(child for child, parent in _ppid_map().items() if parent == pid)


def _is_spare(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/fd/1")).startswith("spare-")
    except OSError:
        return False  # gone: not a spare either


def descendants_of(pid):
    parents = _ppid_map()
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current:
                found.append(child)
                frontier.append(child)
    return found


def process_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def process_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def is_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


class Process:
    """A child process in its own process group, with stdout+stderr in a log file."""

    def __init__(self, name, argv, log_path, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                      start_new_session=True)
        self.pid = self.popen.pid
        self._seen_descendants = set()

    def remember_descendants(self):
        """Records the current process tree so teardown can reach grandchildren that escaped."""
        if self.popen.poll() is None:
            self._seen_descendants.update(descendants_of(self.pid))

    def running(self):
        return self.popen.poll() is None

    def signal(self, signum):
        if self.popen.poll() is None:
            os.kill(self.pid, signum)

    def wait(self, timeout):
        """Exit code, or raises subprocess.TimeoutExpired."""
        return self.popen.wait(timeout=timeout)

    def stop(self, grace=5.0):
        """SIGTERM to the group, SIGKILL after `grace`; then kills leftover descendants."""
        self.remember_descendants()
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.popen.poll() is None:
            self.popen.wait(timeout=5)
        for pid in self._seen_descendants:
            if is_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self._log.close()

    def log_tail(self, limit=6000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# The test page


TEST_PAGE_TITLE = "gridhub e2e page"

TEST_PAGE = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>gridhub e2e page</title></head>
<body>
  <h1 id="heading">gridhub end-to-end</h1>
  <button id="toggle" type="button"
          onclick="this.textContent = 'clicked ' + (++window.clicks)">not clicked</button>
  <form id="form" onsubmit="event.preventDefault();
      document.getElementById('greeting').textContent =
          'hello ' + document.getElementById('name').value;">
    <input id="name" name="name" type="text" value="">
    <input id="submit" type="submit" value="Greet">
  </form>
  <p id="greeting"></p>
  <script>window.clicks = 0;</script>
</body>
</html>
"""


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - name fixed by http.server
        body = TEST_PAGE.encode() if self.path.split("?")[0] in ("/", "/index.html") else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # keep the test output for failures that matter
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A browser that is killed or quits mid-response (the fault tests do both) is expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class TestPageServer:
    """Serves TEST_PAGE on a kernel-chosen loopback port from a daemon thread."""

    def __init__(self):
        self._server, url = loopback_http.start(_PageHandler, _QuietServer)
        self.url = url + "/"

    def stop(self):
        loopback_http.stop(self._server)


# ---------------------------------------------------------------------------------------------
# Configuration


def chrome_args(user_data_dir):
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={user_data_dir}"
    ]


def chrome_stereotype(label=None):
    stereotype = {
        "browserName": "chrome",
        "platformName": "linux",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [a for a in chrome_args("x") if not a.startswith("--user-data-dir")],
        },
    }
    if label:
        stereotype["gridhub:label"] = label
    return stereotype


def chrome_slot(max_sessions=1, label="chrome"):
    return {
        "label": label,
        "max-sessions": max_sessions,
        "stereotype": chrome_stereotype(),
        "driver": [CHROMEDRIVER],
    }


def write_yaml(path, config):
    """JSON is YAML (1.2 flow style), so the file stays exact without a YAML library."""
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def deep_merge(base, extra):
    out = dict(base)
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------------------------------------
# Grids


class Grid:
    """A running hub (or standalone) endpoint."""

    def __init__(self, process, port, headers=None):
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.headers = headers or {}

    def status(self):
        status, body = http_json("GET", self.url + "/status", timeout=5)
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"GET /status -> {status} {body!r}")
        return body["value"]

    def nodes(self):
        return self.status().get("nodes", [])

    def slots(self):
        return [s for n in self.nodes() for s in n.get("slots", [])]

    def busy_slots(self):
        return [s for s in self.slots() if s.get("session")]

    def wait_ready(self, timeout=START_TIMEOUT, min_slots=1):
        def ready():
            if not self.process.running():
                raise RuntimeError(f"{self.process.name} exited with {self.process.popen.poll()}")
            value = self.status()
            return value.get("ready") and len(self.slots()) >= min_slots

        wait_for(ready, timeout, f"{self.url}/status ready with {min_slots} slot(s)")
        return self

    def wait_free_slots(self, count, timeout):
        wait_for(lambda: len(self.slots()) - len(self.busy_slots()) >= count, timeout,
                 f"{count} free slot(s) on {self.url}")


class Harness:
    """Owns every resource of one test; use as a context manager inside a unittest method.

    On failure the tails of all process logs are printed, so `ctest --output-on-failure`
    shows what the hub, node and drivers said.
    """

    def __init__(self, test=None):
        self.test = test
        self.tmp = tempfile.mkdtemp(prefix="gridhub-e2e-")
        self.processes = []
        self._page = None
        # Records the process trees every 200 ms, so that teardown can reach a driver or browser
        # whose parent (the node) died first and left it orphaned.
        self._tracking = threading.Event()
        self._tracker = threading.Thread(target=self._track, daemon=True)
        self._tracker.start()

    def _track(self):
        while not self._tracking.wait(0.2):
            for p in list(self.processes):
                try:
                    p.remember_descendants()
                except Exception:  # noqa: BLE001 - /proc races with exiting processes
                    pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None or self._test_failed()
        if failed:
            self.dump_logs()
        self.close()
        return False

    def _test_failed(self):
        outcome = getattr(self.test, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None:
            return False
        return any(t is self.test for t, _ in result.failures + result.errors)

    def close(self):
        self._tracking.set()
        self._tracker.join(timeout=5)
        for p in reversed(self.processes):
            try:
                p.stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                print(f"harness: stopping {p.name} failed: {e!r}", file=sys.stderr)
        if self._page:
            self._page.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dump_logs(self):
        for p in self.processes:
            print(f"\n===== log of {p.name} (pid {p.pid}): {' '.join(p.argv)}\n{p.log_tail()}",
                  file=sys.stderr)
        for root, dirs, files in os.walk(self.tmp):
            dirs[:] = [d for d in dirs if not d.startswith("profile-")]  # Chromium's own files
            for name in files:
                if name.endswith(".log") and not any(p.log_path == os.path.join(root, name)
                                                     for p in self.processes):
                    path = os.path.join(root, name)
                    with open(path, "rb") as f:
                        tail = f.read()[-3000:].decode("utf-8", "replace")
                    print(f"\n===== {path}\n{tail}", file=sys.stderr)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def user_data_dir(self):
        return tempfile.mkdtemp(prefix="profile-", dir=self.tmp)

    def serve_test_page(self):
        if not self._page:
            self._page = TestPageServer()
        return self._page.url

    def gridhub_env(self, extra=None):
        """The environment of gridhub processes: TMPDIR points into the test's directory, so
        the node's per-session driver logs land there and are printed on failure."""
        return dict(os.environ, TMPDIR=self.tmp, **(extra or {}))

    def start(self, name, argv, env=None, cwd=None):
        p = Process(name, argv, self.path(f"{name}.log"), env=env, cwd=cwd)
        self.processes.append(p)
        return p

    def _gridhub(self):
        if not GRIDHUB or not os.access(GRIDHUB, os.X_OK):
            raise RuntimeError(f"gridhub binary not found: {GRIDHUB!r} (run.py --gridhub PATH)")
        return GRIDHUB

    # --- chromedriver alone: proves the client scripts before gridhub exists --------------
    def start_chromedriver(self):
        port = free_port()
        p = self.start(f"chromedriver-{port}", [CHROMEDRIVER, f"--port={port}"])
        grid = Grid(p, port)

        def ready():
            status, body = http_json("GET", grid.url + "/status", timeout=2)
            return status == 200 and body["value"]["ready"]

        wait_for(ready, START_TIMEOUT, "chromedriver /status")
        return grid

    # --- gridhub ------------------------------------------------------------------------------
    def start_standalone(self, slots=1, max_sessions=1, config=None, flags=(), name="standalone",
                         wait=True):
        """`gridhub standalone --config F --server.port P` with `slots` chrome slots."""
        port = free_port()
        base = {
            "server": {"host": "127.0.0.1", "port": port},
            "node": {"slots": [chrome_slot(max_sessions) for _ in range(slots)]},
        }
        cfg = self.path(f"{name}.yaml")
        write_yaml(cfg, deep_merge(base, config))
        p = self.start(name, [self._gridhub(), "standalone", "--config", cfg, "--server.port",
                              str(port), *flags], env=self.gridhub_env())
        grid = Grid(p, port)
        return grid.wait_ready(min_slots=slots) if wait else grid

    def start_hub(self, config=None, flags=(), name="hub", port=None):
        """`gridhub hub`; `port` reuses a port (a restart on the address nodes know)."""
        port = port or free_port()
        base = {"server": {"host": "127.0.0.1", "port": port}}
        cfg = self.path(f"{name}.yaml")
        write_yaml(cfg, deep_merge(base, config))
        p = self.start(name, [self._gridhub(), "hub", "--config", cfg, "--server.port",
                              str(port), *flags], env=self.gridhub_env())
        grid = Grid(p, port)
        wait_for(lambda: p.running() and grid.status() is not None, START_TIMEOUT,
                 f"hub {grid.url}/status")
        return grid

    def start_node(self, hub, slots=1, max_sessions=1, config=None, flags=(), name="node",
                   node_id=None, env=None):
        """`gridhub node --config F` registered with `hub`; returns (process, node id, url)."""
        port = free_port()
        node_id = node_id or f"{name}-{port}"
        base = {
            "server": {"host": "127.0.0.1", "port": port},
            "node": {
                "hub": hub.url,
                "id": node_id,
                "uri": f"http://127.0.0.1:{port}",
                "slots": [chrome_slot(max_sessions) for _ in range(slots)],
            },
        }
        cfg = self.path(f"{name}.yaml")
        write_yaml(cfg, deep_merge(base, config))
        p = self.start(name, [self._gridhub(), "node", "--config", cfg, *flags],
                       env=self.gridhub_env(env))
        return Node(p, node_id, port)

    # --- clients ------------------------------------------------------------------------------
    def js_command(self, script, *args):
        if not os.path.isdir(os.path.join(JS_CLIENTS, "node_modules", "selenium-webdriver")):
            raise RuntimeError(f"selenium-webdriver is not installed: run `npm ci` in {JS_CLIENTS}")
        return [NODE_JS, os.path.join(JS_CLIENTS, script), *args]

    def start_js(self, name, script, *args, env=None):
        """A JS client as a background process; read its result with js_result(). `env` adds
        variables (such as SELENIUM_REMOTE_URL) to this process's environment."""
        return self.start(name, self.js_command(script, *args), cwd=JS_CLIENTS,
                          env=dict(os.environ, **env) if env else None)

    def run_js(self, script, *args, timeout=SESSION_TIMEOUT + 30, env=None):
        p = self.start_js(f"js-{len(self.processes)}", script, *args, env=env)
        return self.js_result(p, timeout)

    def js_result(self, p, timeout):
        """The JSON object that a client script prints last, with its exit code as `exitCode`."""
        try:
            code = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.stop()
            raise TimeoutError(f"{p.name} did not finish within {timeout:.0f}s")
        lines = [ln for ln in p.log_tail(200000).splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError(f"{p.name} exited {code} without a result:\n{p.log_tail()}")
        result = json.loads(lines[-1])
        result["exitCode"] = code
        return result


class Node:
    def __init__(self, process, node_id, port):
        self.process = process
        self.id = node_id
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def driver_pids(self):
        """Children of the node process that serve sessions (its driver processes), never
        found by name. The node's spare driver (docs/nodes.md, "Spare drivers": its output
        still goes to logs/spare-N.log) serves none yet and is left out."""
        self.process.remember_descendants()
        return [pid for pid in children_of(self.process.pid) if not _is_spare(pid)]


def wait_node_registered(grid, node_id, slots, timeout=START_TIMEOUT):
    def registered():
        for n in grid.nodes():
            if n.get("id") == node_id and n.get("availability") == "UP":
                return len(n.get("slots", [])) >= slots
        return False

    wait_for(registered, timeout, f"node {node_id} registered UP at {grid.url}")
