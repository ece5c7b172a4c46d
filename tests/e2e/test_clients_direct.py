"""The client scripts against bare chromedriver (which speaks W3C at /session like a grid).

Proves the clients and the harness on their own, so a failure of the gridhub tests points at
gridhub, not at the test code.
"""

import unittest

import harness
import session_flow


class ClientsAgainstChromedriverTest(unittest.TestCase):

    def test_js_client_runs_the_whole_flow(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            driver = h.start_chromedriver()
            result = h.run_js("session_flow.js", "--grid", driver.url, "--page", page,
                              "--user-data-dir", h.user_data_dir())
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["title"], harness.TEST_PAGE_TITLE)
            self.assertEqual(result["windowSize"], [800, 600])

    def test_python_client_runs_the_whole_flow(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            driver = h.start_chromedriver()
            result = session_flow.session_flow(driver.url, page, h.user_data_dir())
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["scriptSum"], 42)


if __name__ == "__main__":
    unittest.main()
