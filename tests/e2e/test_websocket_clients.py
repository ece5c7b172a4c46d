"""Real clients drive real Chromium through gridhub over BiDi and CDP WebSockets (issue 11).

Each case runs from loopback and from a network namespace (see client_cases.py): WebdriverIO 9
with its defaults (BiDi console event, `browser.mock`, `getPuppeteer()`), selenium-webdriver
(LogInspector, createCDPConnection, also with SELENIUM_REMOTE_URL), Playwright launching over
SELENIUM_REMOTE_URL, and puppeteer-core on `se:cdp`; against `gridhub standalone`, and the
socket-heavy WebdriverIO case also through a hub with a separate node. Every case checks that
the URLs of the new-session answer name the grid's address as the client dialled it (never the
driver's 127.0.0.1 port) and that the client did not fall back to classic WebDriver.
"""

import subprocess
import unittest

import client_cases
import client_pages
import harness
from client_cases import LOOPBACK, NAMESPACE


class SocketClientChecks:
    """The client cases, for any SharedGridTest whose grid the clients reach at grid_url()."""

    def check_webdriverio(self, where):
        counts = self.upgrade_counts()
        result = self.run_js(where, "wdio_sockets.mjs", "--grid", self.grid_url(where),
                             "--page", self.pages.url, "--user-data-dir",
                             self.user_data_dir())
        self.assert_ok(result)
        self.assertTrue(result["isBidi"], result)
        self.assert_names_grid(result["webSocketUrl"], where, result["sessionId"], "bidi")
        self.assertTrue(result["logText"].startswith(client_pages.CONSOLE_PREFIX + "wdio-"), result)
        self.assertTrue(result["mockedText"].startswith("mocked greeting "), result)
        self.assertGreaterEqual(result["mockCalls"], 1, result)
        # getPuppeteer() connects to se:cdp when the answer has it, else to the debugger
        # address (past the grid): it must have been se:cdp, naming the grid.
        self.assert_names_grid(result["cdp"], where, result["sessionId"], "cdp")
        self.assertEqual(result["puppeteerEndpoint"], result["cdp"], result)
        self.assertEqual(result["puppeteerHeading"], "gridhub end-to-end", result)
        self.assertEqual(result["quit"], "ok", result)
        self.assert_through_hub(counts, "bidi", "cdp")

    def check_selenium_webdriver(self, where, remote_url_env):
        env = {"SELENIUM_REMOTE_URL": self.grid_url(where)} if remote_url_env else None
        counts = self.upgrade_counts()
        result = self.run_js(where, "selenium_sockets.js", "--grid", self.grid_url(where),
                             "--page", self.pages.url, "--user-data-dir",
                             self.user_data_dir(), env=env)
        self.assert_ok(result)
        session = result["sessionId"]
        self.assert_names_grid(result["webSocketUrl"], where, session, "bidi")
        self.assertTrue(result["logText"].startswith(client_pages.CONSOLE_PREFIX + "selenium-"),
                        result)
        self.assert_names_grid(result["cdp"], where, session, "cdp")
        self.assertTrue(result["cdpVersion"], "se:cdpVersion is missing")
        self.assertEqual(result["cdpVersion"].split(".")[0], chromium_major())
        # With SELENIUM_REMOTE_URL the client builds ws://{its host}/session/{id}/se/cdp itself.
        self.assert_names_grid(result["cdpDialled"], where, session, "cdp")
        self.assertEqual(result["cdpEvaluated"], "gridhub end-to-end", result)
        self.assertEqual(result["quit"], "ok", result)
        self.assert_through_hub(counts, "bidi", "cdp")

    def check_raw_probe(self, where, prefix=""):
        """One BiDi and one CDP command with the bare `ws` package, on the URLs the grid gave
        for a session created under `prefix` (e.g. the legacy /wd/hub, which the URLs keep)."""
        counts = self.upgrade_counts()
        result = self.run_js(where, "raw_sockets.js", "--grid",
                             self.grid_url(where) + prefix, "--mode", "probe",
                             "--user-data-dir", self.user_data_dir())
        self.assert_ok(result)
        session = result["sessionId"]
        self.assert_names_grid(result["webSocketUrl"], where, session, "bidi", prefix=prefix)
        self.assert_names_grid(result["cdp"], where, session, "cdp", prefix=prefix)
        self.assertIsInstance(result["bidiContexts"], int, result)
        self.assertGreaterEqual(result["bidiContexts"], 1, result)
        self.assertIn("Chrome", result["cdpProduct"], result)
        self.assertEqual(result["quit"], 200, result)
        self.assert_through_hub(counts, "bidi", "cdp")

    def check_playwright(self, where):
        counts = self.upgrade_counts()
        result = self.run_js(where, "playwright_launch.js", "--page", self.pages.url,
                             env={"SELENIUM_REMOTE_URL": self.grid_url(where)})
        self.assert_ok(result)
        self.assertTrue(result["seleniumV4"], f"Playwright found no se:cdp: {result['launchLog']}")
        self.assertIsNotNone(result["endpoint"], result)
        scheme, netloc, path = client_cases.parse_ws(result["endpoint"])
        self.assertEqual(netloc, self.grid_netloc(where), result["launchLog"])
        self.assertTrue(path.endswith("/se/cdp"), result["endpoint"])
        self.assertEqual(result["greeting"], "hello playwright", result)
        self.assertEqual(result["title"], harness.TEST_PAGE_TITLE, result)
        self.assert_through_hub(counts, "cdp")

    def check_puppeteer(self, where, devtools=False):
        counts = self.upgrade_counts()
        result = self.run_js(where, "puppeteer_connect.js", "--grid", self.grid_url(where),
                             "--page", self.pages.url, "--user-data-dir",
                             self.user_data_dir(), *(["--devtools"] if devtools else []))
        self.assert_ok(result)
        self.assert_names_grid(result["cdp"], where, result["sessionId"], "cdp")
        if devtools:
            self.assertEqual(result["endpoint"],
                             f"ws://{self.grid_netloc(where)}/devtools/{result['sessionId']}")
        self.assertIn(chromium_major(), result["browserVersion"], result)
        self.assertEqual(result["title"], harness.TEST_PAGE_TITLE, result)
        self.assertEqual(result["quit"], 200, result)
        self.assert_through_hub(counts, "cdp")


_CHROMIUM_MAJOR = []


def chromium_major():
    """The installed Chromium's major version, as se:cdpVersion must start with."""
    if not _CHROMIUM_MAJOR:
        out = subprocess.run([harness.CHROMIUM, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
        _CHROMIUM_MAJOR.append(next(w for w in out.split() if w[:1].isdigit()).split(".")[0])
    return _CHROMIUM_MAJOR[0]


class StandaloneSocketClientsTest(SocketClientChecks, client_cases.SharedGridTest):
    """Every socket client against one `gridhub standalone`."""

    def test_webdriverio_loopback(self):
        self.check_webdriverio(LOOPBACK)

    def test_webdriverio_from_namespace(self):
        self.check_webdriverio(NAMESPACE)

    def test_selenium_webdriver_loopback(self):
        self.check_selenium_webdriver(LOOPBACK, remote_url_env=False)

    def test_selenium_webdriver_from_namespace(self):
        self.check_selenium_webdriver(NAMESPACE, remote_url_env=False)

    def test_selenium_webdriver_remote_url_env_loopback(self):
        self.check_selenium_webdriver(LOOPBACK, remote_url_env=True)

    def test_selenium_webdriver_remote_url_env_from_namespace(self):
        self.check_selenium_webdriver(NAMESPACE, remote_url_env=True)

    def test_raw_sockets_under_wd_hub_loopback(self):
        self.check_raw_probe(LOOPBACK, prefix="/wd/hub")

    def test_raw_sockets_under_wd_hub_from_namespace(self):
        self.check_raw_probe(NAMESPACE, prefix="/wd/hub")


class StandaloneCdpClientsTest(SocketClientChecks, client_cases.SharedGridTest):
    """Playwright and puppeteer-core (on `se:cdp` and on Selenoid's `/devtools/{id}`), CDP
    only, against one `gridhub standalone`."""

    def test_playwright_loopback(self):
        self.check_playwright(LOOPBACK)

    def test_playwright_from_namespace(self):
        self.check_playwright(NAMESPACE)

    def test_puppeteer_loopback(self):
        self.check_puppeteer(LOOPBACK)

    def test_puppeteer_from_namespace(self):
        self.check_puppeteer(NAMESPACE)

    def test_puppeteer_on_devtools_path_loopback(self):
        self.check_puppeteer(LOOPBACK, devtools=True)

    def test_puppeteer_on_devtools_path_from_namespace(self):
        self.check_puppeteer(NAMESPACE, devtools=True)


class HubNodeSocketClientsTest(SocketClientChecks, client_cases.SharedGridTest):
    """WebdriverIO and Playwright through `gridhub hub` (on 0.0.0.0) and a separate node agent
    (on loopback): the hub tunnels to the node, the node to chromedriver and Chromium."""

    @classmethod
    def start_grid(cls, h):
        return cls.start_hub_and_node(h)

    def test_webdriverio_loopback(self):
        self.check_webdriverio(LOOPBACK)

    def test_webdriverio_from_namespace(self):
        self.check_webdriverio(NAMESPACE)

    def test_playwright_from_namespace(self):
        self.check_playwright(NAMESPACE)


if __name__ == "__main__":
    unittest.main()
