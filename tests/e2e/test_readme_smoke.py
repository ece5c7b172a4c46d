"""The README's first command: `gridhub standalone` with no config finds Chromium and serves a
stock selenium-webdriver script that asks for plain `chrome` with no options."""

import os
import unittest

import harness


class ReadmeSmokeTest(unittest.TestCase):

    def test_standalone_without_config_detects_chromium_and_serves_a_plain_script(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            port = harness.free_port()
            # No --config: detection from PATH, the port only moved off 4444 for the test.
            env = h.gridhub_env({"PATH": "/usr/bin:/bin"})
            p = h.start("standalone", [h._gridhub(), "standalone", "--server.port", str(port)],
                        env=env, cwd=h.tmp)
            grid = harness.Grid(p, port).wait_ready()
            stereotypes = [s.get("stereotype", {}) for s in grid.slots()]
            self.assertTrue(stereotypes)
            self.assertTrue(all(s.get("browserName") == "chrome" for s in stereotypes),
                            stereotypes)
            capacity = sum(n.get("maxSessions", 0) for n in grid.nodes())
            self.assertEqual(capacity, os.cpu_count(), "one session per CPU core")

            banner = p.log_tail().lower()
            self.assertIn(str(port), banner, "the URL to use is printed")
            self.assertIn("chromedriver", banner, "what was detected is printed")

            # As the README says: http://localhost:<port>, not a literal address.
            result = h.run_js("session_flow.js", "--grid", f"http://localhost:{port}", "--page",
                              page, "--plain")
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["title"], harness.TEST_PAGE_TITLE)
            self.assertEqual(result["windowSize"], [800, 600])
            grid.wait_free_slots(len(stereotypes), timeout=5)


if __name__ == "__main__":
    unittest.main()
