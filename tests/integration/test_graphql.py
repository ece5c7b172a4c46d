"""POST /graphql through the real hub: the KEDA selenium-grid scaler's query and errors."""

import json
import unittest

from hubtest import AsyncRequest, HubTestCase, call_json

KEDA_QUERY = ("{ grid { sessionCount, maxSession, totalSlots }, nodesInfo { nodes { id, status, "
              "sessionCount, maxSession, slotCount, stereotypes, sessions { id, capabilities, "
              "slot { id, stereotype } } } }, sessionsInfo { sessionQueueRequests } }")


class GraphqlTest(HubTestCase):
    def test_answers_the_keda_query_in_seleniums_shapes(self):
        hub = self.start_hub()
        node = self.start_node()
        hub.register(node, node_id="n1", slots=[
            {"id": "c", "maxSessions": 2, "stereotype": {"browserName": "chrome"}}])
        for _ in range(2):
            self.assertEqual(hub.new_session({"browserName": "chrome"})[0], 200)
        waiter = AsyncRequest(hub.new_session,
                              {"browserName": "chrome", "acceptInsecureCerts": True})
        hub.wait_queue_length(1)
        status, body = call_json("POST", hub.url + "/graphql", {"query": KEDA_QUERY})
        self.assertEqual(status, 200, body)
        data = body["data"]
        self.assertEqual(data["grid"], {"sessionCount": 2, "maxSession": 2, "totalSlots": 2})
        [n] = data["nodesInfo"]["nodes"]
        self.assertEqual((n["id"], n["status"], n["sessionCount"], n["maxSession"]),
                         ("n1", "UP", 2, 2))
        stereotypes = json.loads(n["stereotypes"])
        self.assertEqual(stereotypes, [{"slots": 2, "stereotype": {"browserName": "chrome"}}])
        self.assertEqual(len(n["sessions"]), 2)
        session = n["sessions"][0]
        self.assertEqual(json.loads(session["capabilities"])["browserName"], "chrome")
        self.assertEqual(json.loads(session["slot"]["stereotype"])["browserName"], "chrome")
        [queued] = data["sessionsInfo"]["sessionQueueRequests"]
        self.assertEqual(json.loads(queued),
                         {"browserName": "chrome", "acceptInsecureCerts": True})
        hub.stop()
        self.assertEqual(waiter.result()[0], 500)

    def test_other_queries_get_graphql_errors(self):
        hub = self.start_hub()
        for query in ("{ nope }", "{ grid { sessionCount ", "mutation { x }", "{ grid }",
                      "{ grid { sessionCount { deeper } } }"):
            status, body = call_json("POST", hub.url + "/graphql", {"query": query})
            self.assertEqual(status, 200, (query, body))
            self.assertIn("errors", body, query)
            self.assertNotIn("data", body, query)
        status, body = call_json("POST", hub.url + "/graphql", b"not json")
        self.assertEqual(status, 400)
        self.assertIn("errors", body)
        # Still serving.
        status, body = call_json("POST", hub.url + "/graphql",
                                 {"query": "query Q { grid { nodeCount } }"})
        self.assertEqual(body, {"data": {"grid": {"nodeCount": 0}}})


if __name__ == "__main__":
    unittest.main()
