"""Stock Selenium clients drive real headless Chromium through `gridhub standalone`."""

import unittest

import harness
import session_flow


class StandaloneClientsTest(unittest.TestCase):

    def test_js_client_runs_the_whole_flow_and_frees_the_slot(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            grid = h.start_standalone(slots=1)
            result = h.run_js("session_flow.js", "--grid", grid.url, "--page", page,
                              "--user-data-dir", h.user_data_dir())
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["title"], harness.TEST_PAGE_TITLE)
            self.assertEqual(result["windowSize"], [800, 600])
            self.assertGreater(result["screenshotBytes"], 100)
            self.assertTrue(result["node"], "capabilities lack se:gridhubNode")
            # quit answered, so the slot must be free again (bounded: the hub may publish its
            # /status snapshot a moment later).
            grid.wait_free_slots(1, timeout=5)
            self.assertEqual(grid.busy_slots(), [])

    def test_python_client_runs_the_whole_flow(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            grid = h.start_standalone(slots=1)
            result = session_flow.session_flow(grid.url, page, h.user_data_dir())
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["scriptSum"], 42)
            self.assertEqual(result["windowSize"], [800, 600])
            self.assertTrue(result["node"], "capabilities lack se:gridhubNode")
            grid.wait_free_slots(1, timeout=5)

    def test_python_client_works_under_legacy_wd_hub_prefix(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            grid = h.start_standalone(slots=1)
            result = session_flow.session_flow(grid.url + "/wd/hub", page, h.user_data_dir(),
                                               steps="minimal")
            self.assertTrue(result["ok"], result)
            grid.wait_free_slots(1, timeout=5)


if __name__ == "__main__":
    unittest.main()
