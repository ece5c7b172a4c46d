"""`gridhub hub` and `gridhub node` as separate processes, registered with a shared secret."""

import os
import unittest

import harness
import session_flow

SECRET = "e2e-registration-secret"


class HubAndNodeTest(unittest.TestCase):

    def test_clients_run_through_a_hub_and_a_separate_node(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            hub = h.start_hub({"hub": {"registration-secret": SECRET}})
            node = h.start_node(hub, slots=1,
                                config={"hub": {"registration-secret": SECRET}})
            harness.wait_node_registered(hub, node.id, slots=1)
            hub.wait_ready()
            [registered] = [n for n in hub.nodes() if n["id"] == node.id]
            self.assertEqual(registered["uri"].rstrip("/"), node.url)

            result = session_flow.session_flow(hub.url, page, h.user_data_dir())
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["node"], node.id)

            result = h.run_js("session_flow.js", "--grid", hub.url, "--page", page,
                              "--user-data-dir", h.user_data_dir())
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["node"], node.id)
            hub.wait_free_slots(1, timeout=5)

            # Drivers write to per-session logs under the node's work dir (in TMPDIR), never to
            # the node's own console.
            self.assertNotIn("ChromeDriver was started", node.process.log_tail(10**6))
            own_logs = {p.log_path for p in h.processes}
            driver_logs = []
            for root, _, files in os.walk(h.tmp):
                for name in files:
                    path = os.path.join(root, name)
                    if name.endswith(".log") and path not in own_logs:
                        with open(path, errors="replace") as f:
                            if "Starting ChromeDriver" in f.read():
                                driver_logs.append(path)
            # The node's spare driver (docs/nodes.md, "Spare drivers") logs as spare-N.log
            # until a session takes it.
            sessions = [p for p in driver_logs if os.path.basename(p).startswith("session-")]
            self.assertEqual(len(sessions), 2, "one driver log per session")
            self.assertLessEqual(len(driver_logs) - len(sessions), 1, driver_logs)

    def test_registration_without_the_secret_is_refused(self):
        with harness.Harness(self) as h:
            hub = h.start_hub({"hub": {"registration-secret": SECRET}})
            body = {
                "id": "intruder",
                "uri": f"http://127.0.0.1:{harness.free_port()}",
                "slots": [{"id": "intruder-0", "label": "chrome", "maxSessions": 1,
                           "stereotype": harness.chrome_stereotype()}],
                "sessions": [],
            }
            status, answer = harness.http_json("POST", hub.url + "/nodes", body)
            self.assertEqual(status, 401, answer)
            status, answer = harness.http_json("POST", hub.url + "/nodes", body,
                                               headers={"X-Registration-Secret": "wrong"})
            self.assertEqual(status, 401, answer)
            self.assertEqual([n for n in hub.nodes() if n.get("id") == "intruder"], [])

            # A node agent configured with a wrong secret never shows up.
            node = h.start_node(hub, slots=1, config={"hub": {"registration-secret": "wrong"}})
            with self.assertRaises(TimeoutError):
                harness.wait_node_registered(hub, node.id, slots=1, timeout=3)

    def test_relay_slot_forwards_to_an_existing_chromedriver(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            chromedriver = h.start_chromedriver()
            hub = h.start_hub()
            relay_slot = {
                "label": "chrome",
                "max-sessions": 1,
                "stereotype": harness.chrome_stereotype(),
                "relay": chromedriver.url,
            }
            node = h.start_node(hub, config={"node": {"slots": [relay_slot]}})
            harness.wait_node_registered(hub, node.id, slots=1)
            result = session_flow.session_flow(hub.url, page, h.user_data_dir())
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["node"], node.id)
            # The relay's own process served it: the node started no driver.
            self.assertEqual(node.driver_pids(), [])
            hub.wait_free_slots(1, timeout=5)



class HubDrainTest(unittest.TestCase):
    """`POST /nodes/{id}/drain` at the hub reaches the node agent, which finishes its session,
    deregisters and exits 0 (issue 5, "Drain")."""

    def test_hub_drain_lets_the_session_finish_then_the_node_exits(self):
        admin = {"Authorization": "Bearer e2e-admin"}
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            hub = h.start_hub({"hub": {"admin-token": "e2e-admin"}})
            node = h.start_node(hub, slots=1)
            harness.wait_node_registered(hub, node.id, slots=1)
            driver = session_flow.new_session(hub.url, h.user_data_dir())
            try:
                driver.get(page)
                status, _ = harness.http_json("POST", f"{hub.url}/nodes/{node.id}/drain", {})
                self.assertEqual(status, 401)
                status, answer = harness.http_json("POST", f"{hub.url}/nodes/{node.id}/drain", {},
                                                   headers=admin)
                self.assertEqual(status, 200, answer)
                self.assertEqual(answer["value"]["availability"], "DRAINING")

                self.assertEqual(driver.title, harness.TEST_PAGE_TITLE)
                self.assertTrue(node.process.running())
                driver.quit()
                driver = None
                self.assertEqual(node.process.wait(timeout=20), 0, "drained node's exit code")
                self.assertNotIn(node.id, [n.get("id") for n in hub.nodes()])
            finally:
                if driver is not None:
                    driver.quit()

    def test_hub_drain_of_an_idle_node_retires_it(self):
        with harness.Harness(self) as h:
            hub = h.start_hub({"hub": {"admin-token": "e2e-admin"}})
            node = h.start_node(hub, slots=1)
            harness.wait_node_registered(hub, node.id, slots=1)
            status, answer = harness.http_json("POST", f"{hub.url}/nodes/{node.id}/drain", {},
                                               headers={"Authorization": "Bearer e2e-admin"})
            self.assertEqual(status, 200, answer)
            self.assertEqual(node.process.wait(timeout=20), 0, "drained node's exit code")
            self.assertNotIn(node.id, [n.get("id") for n in hub.nodes()])


if __name__ == "__main__":
    unittest.main()
