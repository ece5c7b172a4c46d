"""A node under stress with real drivers: a killed chromedriver, idle sessions, SIGTERM drain."""

import os
import signal
import subprocess
import threading
import time
import unittest

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.remote_connection import RemoteConnection

import harness
import session_flow


def start_grid(h, node_config=None, slots=1, hub_config=None, name="node"):
    hub = h.start_hub(hub_config)
    node = h.start_node(hub, slots=slots, config=node_config, name=name)
    harness.wait_node_registered(hub, node.id, slots=slots)
    return hub, node


def node_entry(hub, node_id):
    return next((n for n in hub.nodes() if n.get("id") == node_id), None)


class SessionInThread:
    """A webdriver.Remote created on a thread, for a request that is expected to wait."""

    def __init__(self, grid_url, user_data_dir):
        self.driver = None
        self.error = None
        self._thread = threading.Thread(target=self._run, args=(grid_url, user_data_dir),
                                        daemon=True)
        self._thread.start()

    def _run(self, grid_url, user_data_dir):
        try:
            self.driver = session_flow.new_session(grid_url, user_data_dir)
        except Exception as e:  # noqa: BLE001 - inspected by the test
            self.error = e

    def done(self):
        return not self._thread.is_alive()

    def join(self, timeout):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("new session did not finish")
        return self.driver


class NodeFaultsTest(unittest.TestCase):

    def tearDown(self):
        RemoteConnection.reset_timeout()

    def quit_quietly(self, driver):
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001 - the session may already be gone
                pass

    def test_killed_chromedriver_ends_its_session_and_frees_the_slot(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            hub, node = start_grid(h, slots=1)
            self.assertEqual(node.driver_pids(), [])

            driver = session_flow.new_session(hub.url, h.user_data_dir())
            try:
                driver.get(page)
                self.assertEqual(driver.title, harness.TEST_PAGE_TITLE)
                children = node.driver_pids()
                self.assertEqual(len(children), 1,
                                 [(p, harness.process_cmdline(p)) for p in children])
                [chromedriver] = children
                os.kill(chromedriver, signal.SIGKILL)
                harness.wait_for(lambda: not harness.is_alive(chromedriver), 10,
                                 "killed chromedriver to be reaped")

                RemoteConnection.set_timeout(30)
                with self.assertRaises(WebDriverException):
                    driver.title  # noqa: B018 - the command itself is what is tested
                hub.wait_free_slots(1, timeout=10)
            finally:
                self.quit_quietly(driver)

            self.assertTrue(node.process.running(), "the node died with its driver")
            result = session_flow.session_flow(hub.url, page, h.user_data_dir(), steps="minimal")
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["node"], node.id)

    def test_idle_session_is_deleted_and_its_slot_freed(self):
        timeout_s = 3
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            hub, node = start_grid(h, slots=1,
                                   node_config={"node": {"session-timeout": f"{timeout_s}s"}})
            driver = session_flow.new_session(hub.url, h.user_data_dir())
            try:
                # A session in use never idles out, however long it lives.
                driver.get(page)
                for _ in range(5):
                    time.sleep(1)
                    self.assertEqual(driver.title, harness.TEST_PAGE_TITLE)
                self.assertEqual(len(hub.busy_slots()), 1)

                idle_since = time.monotonic()
                hub.wait_free_slots(1, timeout=timeout_s + 10)
                self.assertGreaterEqual(time.monotonic() - idle_since, timeout_s - 0.5)
                harness.wait_for(lambda: node.driver_pids() == [], 10,
                                 "the idle session's driver to be stopped")
                RemoteConnection.set_timeout(30)
                with self.assertRaises(WebDriverException):
                    driver.title  # noqa: B018
            finally:
                self.quit_quietly(driver)

            result = session_flow.session_flow(hub.url, page, h.user_data_dir(), steps="minimal")
            self.assertTrue(result["ok"], result)

    def test_sigterm_drains_running_session_and_new_requests_go_elsewhere(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            # `pack` would prefer the busier node A while it has room; only draining stops that.
            hub, node_a = start_grid(h, slots=2, name="node-a",
                                     hub_config={"hub": {"slot-selection": "pack"}},
                                     node_config={"node": {"drain-timeout": "60s"}})
            first = session_flow.new_session(hub.url, h.user_data_dir())
            second = third = None
            try:
                first.get(page)
                self.assertEqual(first.capabilities.get("se:gridhubNode"), node_a.id)
                node_b = h.start_node(hub, slots=1, name="node-b")
                harness.wait_node_registered(hub, node_b.id, slots=1)

                node_a.process.signal(signal.SIGTERM)
                harness.wait_for(
                    lambda: (node_entry(hub, node_a.id) or {}).get("availability") == "DRAINING",
                    10, "node A to be DRAINING after SIGTERM")

                second = session_flow.new_session(hub.url, h.user_data_dir())
                self.assertEqual(second.capabilities.get("se:gridhubNode"), node_b.id)

                # A draining, B full: the next request waits rather than fail or land on A.
                waiting = SessionInThread(hub.url, h.user_data_dir())
                time.sleep(2)
                self.assertFalse(waiting.done(), waiting.error or waiting.driver)
                status, queue = harness.http_json("GET", hub.url + "/queue")
                self.assertEqual((status, len(queue["value"])), (200, 1), queue)

                # The running session on A still works, then finishes; A then leaves, exit 0.
                self.assertEqual(first.title, harness.TEST_PAGE_TITLE)
                first.quit()
                first = None
                self.assertEqual(node_a.process.wait(timeout=20), 0, "drained node's exit code")
                harness.wait_for(lambda: node_entry(hub, node_a.id) is None, 10,
                                 "node A to deregister from the hub")
                self.assertFalse(waiting.done(), waiting.error or waiting.driver)

                second.quit()
                second = None
                third = waiting.join(timeout=60)
                self.assertIsNone(waiting.error)
                self.assertEqual(third.capabilities.get("se:gridhubNode"), node_b.id)
                third.get(page)
                self.assertEqual(third.title, harness.TEST_PAGE_TITLE)
            finally:
                for d in (first, second, third):
                    self.quit_quietly(d)

    def test_drain_after_sessions_retires_the_node_after_its_quota(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            hub, node = start_grid(h, slots=1, node_config={"node": {"drain-after-sessions": 1}})
            driver = session_flow.new_session(hub.url, h.user_data_dir())
            try:
                driver.get(page)
                harness.wait_for(
                    lambda: (node_entry(hub, node.id) or {}).get("availability") == "DRAINING",
                    10, "node to be DRAINING once its one session started")
                self.assertEqual(driver.title, harness.TEST_PAGE_TITLE)
                driver.quit()
                driver = None
                self.assertEqual(node.process.wait(timeout=20), 0, "retired node's exit code")
                harness.wait_for(lambda: node_entry(hub, node.id) is None, 10,
                                 "retired node to deregister")
            finally:
                self.quit_quietly(driver)

    def test_sigterm_drain_ends_sessions_that_outlive_the_drain_timeout(self):
        with harness.Harness(self) as h:
            page = h.serve_test_page()
            hub, node = start_grid(h, slots=1, node_config={"node": {"drain-timeout": "3s"}})
            driver = session_flow.new_session(hub.url, h.user_data_dir())
            try:
                driver.get(page)
                drivers = node.driver_pids()
                self.assertEqual(len(drivers), 1, drivers)
                started = time.monotonic()
                node.process.signal(signal.SIGTERM)
                try:
                    code = node.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.fail("node did not exit within 20 s of SIGTERM with drain-timeout 3s")
                self.assertEqual(code, 0)
                self.assertGreaterEqual(time.monotonic() - started, 2.5)
                RemoteConnection.set_timeout(30)
                with self.assertRaises(WebDriverException):
                    driver.title  # noqa: B018
            finally:
                self.quit_quietly(driver)
            # The node ended the session's driver before leaving (reaped or orphaned, not alive).
            harness.wait_for(lambda: not harness.is_alive(drivers[0]), 5,
                             "the drained node's chromedriver to be gone")


if __name__ == "__main__":
    unittest.main()
