"""Stock Selenium clients on another host: a network namespace drives real Chromium through
`gridhub standalone`.

Inside the namespace the client cannot reach the machine's loopback, where chromedriver and
the node agent listen, so every command must travel through the hub's proxy path (routing on
the normalised path, header filtering, the node's access rules). Needs root and `ip netns`;
skipped with the reason otherwise.
"""

import json
import os
import sys
import unittest

import harness

sys.path.insert(0, os.path.join(harness.REPO_ROOT, "tests", "integration"))
import netns  # noqa: E402

SESSION_FLOW_PY = os.path.join(harness.PY_CLIENTS, "session_flow.py")


def last_json_line(text):
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError(f"client printed no result:\n{text[-4000:]}")
    return json.loads(lines[-1])


class RemoteClientsTest(unittest.TestCase):

    def run_remote(self, ns, argv, **kwargs):
        done = ns.run(argv, timeout=harness.SESSION_TIMEOUT + 60, **kwargs)
        result = last_json_line(done.stdout)
        self.assertEqual(done.returncode, 0, done.stdout[-4000:] + done.stderr[-4000:])
        return result

    def test_python_and_js_clients_work_from_another_host(self):
        with netns.Namespace() as ns, harness.Harness(self) as h:
            page = h.serve_test_page()  # loaded by Chromium, which runs on this host
            grid = h.start_standalone(slots=1, config={"server": {"host": "0.0.0.0"}})
            remote = f"http://{ns.host_ip}:{grid.port}"
            # The namespace really cannot reach this host's loopback.
            probe = ns.run(["/usr/bin/python3", "-c",
                            "import socket,sys; s=socket.socket(); s.settimeout(2);"
                            f"sys.exit(s.connect_ex(('127.0.0.1', {grid.port})) == 0)"])
            self.assertEqual(probe.returncode, 0, "the namespace reached the host's loopback")

            result = self.run_remote(ns, ["/usr/bin/python3", SESSION_FLOW_PY, "--grid", remote,
                                          "--page", page, "--user-data-dir", h.user_data_dir()])
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["scriptSum"], 42)
            self.assertTrue(result["node"], "capabilities lack se:gridhubNode")
            grid.wait_free_slots(1, timeout=5)

            result = self.run_remote(ns, h.js_command("session_flow.js", "--grid", remote,
                                                      "--page", page, "--user-data-dir",
                                                      h.user_data_dir()),
                                     cwd=harness.JS_CLIENTS)
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["title"], harness.TEST_PAGE_TITLE)
            grid.wait_free_slots(1, timeout=5)


if __name__ == "__main__":
    unittest.main()
