"""Three `gridhub hub` processes on one real redis-server (hub.state: redis://...) and a real
node agent with chromedriver and headless Chromium: a stock Selenium client (python3-selenium)
makes its session through a hub the node never talked to, and the session is read through a
third one — the route from the store, not the hub that made the session, carries the command.

Skipped when /usr/bin/redis-server is missing. The redis-server is
tests/integration/redis_process.py's (on a free loopback port, stopped by pid).
"""

import os
import unittest

import harness
import session_flow
from redis_process import REDIS_SERVER, RedisServer


@unittest.skipUnless(os.path.exists(REDIS_SERVER), "redis-server is not installed")
class ClusterChromiumTest(unittest.TestCase):

    def test_a_real_session_made_on_one_hub_is_read_on_another(self):
        redis = RedisServer()
        self.addCleanup(redis.remove)
        cluster = {"hub": {"state": redis.url, "peer-timeout": "2s"}}
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            a, b, c = [h.start_hub(cluster, name=f"hub-{n}") for n in "abc"]
            node = h.start_node(a, slots=1)
            # B and C answer /status with the grid (through the dispatcher) once one is elected.
            for hub in (a, b, c):
                harness.wait_node_registered(hub, node.id, slots=1, timeout=30)
            driver = session_flow.new_session(b.url, h.user_data_dir())
            session_id = driver.session_id
            try:
                driver.get(page)
                status, body = harness.http_json("GET", f"{c.url}/session/{session_id}/title")
                self.assertEqual(status, 200, body)
                self.assertEqual(body["value"], harness.TEST_PAGE_TITLE)
                [slot] = c.slots()
                self.assertEqual((slot.get("session") or {}).get("sessionId"), session_id, slot)
                driver.quit()
                driver = None
            finally:
                if driver is not None:
                    try:
                        driver.quit()
                    except Exception:  # noqa: BLE001 - cleanup after a failure
                        pass
            c.wait_free_slots(1, timeout=10)
            a.wait_free_slots(1, timeout=5)
            # Quit through B, forgotten on C too: its cached route went with the session.
            status, body = harness.http_json("GET", f"{c.url}/session/{session_id}/title")
            self.assertEqual(status, 404, body)
            self.assertEqual(body["value"]["error"], "invalid session id", body)


if __name__ == "__main__":
    unittest.main()
