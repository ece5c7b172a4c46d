"""`gridhub hub` and `gridhub node` as separate processes, registered with a shared secret."""

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


if __name__ == "__main__":
    unittest.main()
