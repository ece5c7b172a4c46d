"""A hub that dies and comes back: the node registers again, reporting its live session, and
the client's session goes on through the new hub."""

import signal
import unittest

import harness
import session_flow


class HubRestartTest(unittest.TestCase):

    def test_live_session_survives_a_hub_restart(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            hub = h.start_hub()
            node = h.start_node(hub, slots=1)
            harness.wait_node_registered(hub, node.id, slots=1)
            driver = session_flow.new_session(hub.url, h.user_data_dir())
            try:
                driver.get(page)
                session_id = driver.session_id

                hub.process.signal(signal.SIGKILL)
                hub.process.wait(timeout=10)
                restarted = h.start_hub(name="hub-restarted", port=hub.port)
                harness.wait_node_registered(restarted, node.id, slots=1, timeout=30)
                [slot] = restarted.slots()
                self.assertEqual((slot.get("session") or {}).get("sessionId"), session_id, slot)

                # Same URL, new hub process: the session's commands still reach its node.
                self.assertEqual(driver.title, harness.TEST_PAGE_TITLE)
                driver.find_element("id", "toggle").click()
                self.assertEqual(driver.execute_script("return window.clicks;"), 1)
                driver.quit()
                driver = None
                restarted.wait_free_slots(1, timeout=5)
            finally:
                if driver is not None:
                    try:
                        driver.quit()
                    except Exception:  # noqa: BLE001 - cleanup after a failure
                        pass
            result = session_flow.session_flow(restarted.url, page, h.user_data_dir(),
                                               steps="minimal")
            self.assertTrue(result["ok"], result)


if __name__ == "__main__":
    unittest.main()
