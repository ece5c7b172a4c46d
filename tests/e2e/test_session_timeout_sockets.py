"""A session busy only over BiDi is not idle; one with no traffic is (issue 11, DESIGN 4a).

`gridhub standalone` with `node.session-timeout: 3s`. The busy client sends BiDi commands for
6 s over the hub's socket and no HTTP at all, then a classic command must still find its
session. The idle client opens the socket and stays silent: the node ends the session after the
timeout, the hub closes the socket, and a classic command then gets `invalid session id`. Both
from loopback and from a network namespace (client_cases.py), with the raw `ws` package so no
client library can fall back to HTTP.
"""

import unittest

import client_cases
from client_cases import LOOPBACK, NAMESPACE

TIMEOUT_S = 3
BUSY_MS = 6000


class BidiActivityTest(client_cases.SharedGridTest):
    GRID_CONFIG = {"node": {"session-timeout": f"{TIMEOUT_S}s"}}

    def check_busy(self, where):
        counts = self.upgrade_counts()
        result = self.run_js(where, "raw_sockets.js", "--grid", self.grid_url(where),
                             "--mode", "busy", "--busy-ms", str(BUSY_MS), "--user-data-dir",
                             self.user_data_dir())
        self.assert_ok(result)
        self.assert_names_grid(result["webSocketUrl"], where, result["sessionId"], "bidi")
        # One command every 300 ms or so for 6 s, every one answered.
        self.assertGreaterEqual(result["bidiAnswers"], 10, result)
        self.assertEqual(result["classicStatus"], 200,
                         f"the session busy over BiDi for {BUSY_MS} ms was ended as idle: {result}")
        self.assertEqual(result["quit"], 200, result)
        self.assert_through_hub(counts, "bidi")

    def check_idle(self, where):
        counts = self.upgrade_counts()
        result = self.run_js(where, "raw_sockets.js", "--grid", self.grid_url(where),
                             "--mode", "idle", "--idle-wait-ms", str((TIMEOUT_S + 10) * 1000),
                             "--user-data-dir", self.user_data_dir())
        self.assert_ok(result)
        self.assert_names_grid(result["webSocketUrl"], where, result["sessionId"], "bidi")
        # The idle clock started with the new session, a moment before the socket opened.
        self.assertGreaterEqual(result["closedAfterMs"], (TIMEOUT_S - 2) * 1000, result)
        self.assertEqual(result["classicStatus"], 404, result)
        self.assertEqual(result["classicError"], "invalid session id", result)
        self.assert_through_hub(counts, "bidi")
        self.grid.wait_free_slots(self.SLOTS, timeout=10)  # the ended session's slot is free

    def test_busy_over_bidi_outlives_the_timeout_loopback(self):
        self.check_busy(LOOPBACK)

    def test_busy_over_bidi_outlives_the_timeout_from_namespace(self):
        self.check_busy(NAMESPACE)

    def test_silent_session_is_ended_and_its_socket_closed_loopback(self):
        self.check_idle(LOOPBACK)

    def test_silent_session_is_ended_and_its_socket_closed_from_namespace(self):
        self.check_idle(NAMESPACE)


if __name__ == "__main__":
    unittest.main()
