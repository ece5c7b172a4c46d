"""More clients than slots: every client gets a session in turn, none fails."""

import threading
import unittest

import harness

HOLD_MS = 3000
CLIENTS = 4
SLOTS = 2


def max_overlap(intervals):
    """Most intervals open at one instant; an interval ending at t does not overlap one at t."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


class QueueingTest(unittest.TestCase):

    def test_four_js_clients_share_two_slots(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            grid = h.start_standalone(slots=SLOTS)

            # Watch the grid while the clients run: never more busy slots than exist, and the
            # queue holds the two that wait.
            observed = {"max_busy": 0, "max_waiting": 0, "labels": set(), "errors": []}
            stop = threading.Event()

            def watch():
                while not stop.wait(0.1):
                    try:
                        observed["max_busy"] = max(observed["max_busy"], len(grid.busy_slots()))
                        status, body = harness.http_json("GET", grid.url + "/queue", timeout=5)
                        if status != 200:
                            raise RuntimeError(f"GET /queue -> {status} {body!r}")
                        waiters = body["value"]
                        observed["labels"].update(w["label"] for w in waiters)
                        observed["max_waiting"] = max(observed["max_waiting"], len(waiters))
                    except Exception as e:  # noqa: BLE001 - reported below
                        observed["errors"].append(repr(e))

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                clients = [
                    h.start_js(f"js-client-{i}", "session_flow.js", "--grid", grid.url, "--page",
                               page, "--steps", "minimal", "--hold-ms", str(HOLD_MS),
                               "--user-data-dir", h.user_data_dir()) for i in range(CLIENTS)
                ]
                results = [h.js_result(c, timeout=90) for c in clients]
            finally:
                stop.set()
                watcher.join(timeout=5)

            for r in results:
                self.assertTrue(r["ok"], r)
            self.assertEqual(len({r["sessionId"] for r in results}), CLIENTS)

            # Each [createdAt, quitAt] lies inside its session's life on the grid, so no more
            # than SLOTS of them may overlap: the later two were created only after one of the
            # first two had quit. (No absolute timings: CI machines are slow and shared.)
            intervals = [(r["createdAt"], r["quitAt"]) for r in results]
            self.assertEqual(max_overlap(intervals), SLOTS, intervals)
            created = sorted(r["createdAt"] for r in results)
            first_quit = min(r["quitAt"] for r in results)
            self.assertLess(created[SLOTS - 1], first_quit, intervals)
            self.assertGreaterEqual(created[SLOTS], first_quit, intervals)

            self.assertLessEqual(observed["max_busy"], SLOTS, observed)
            self.assertEqual(observed["max_busy"], SLOTS, observed)
            self.assertEqual(observed["max_waiting"], CLIENTS - SLOTS, observed)
            self.assertEqual(observed["labels"], {"chrome"}, observed)
            self.assertEqual(observed["errors"], [])
            grid.wait_free_slots(SLOTS, timeout=5)


if __name__ == "__main__":
    unittest.main()
