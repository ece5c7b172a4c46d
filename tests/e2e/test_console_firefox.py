"""The operator's console (/ui, DESIGN 4c) in a real headless Firefox ESR.

DESIGN 4c says the console works in current Chromium and Firefox; test_console proves it in
Chromium, this module in Firefox. Debian ships no geckodriver, so Firefox is driven over
WebDriver BiDi by npm puppeteer-core (tests/clients/js/console_firefox.mjs, a small
page-driving server this test calls one HTTP request at a time). The grid side is
test_console's: a real `gridhub hub` with fake W3C nodes, and the same checks of what the page
shows, borrowed from test_console.ConsoleTest. Every console message, page error, failed request
and HTTP answer >= 400 the page sees is collected; none is allowed.

Screenshots at 1280x800 and 390x844 (console-firefox-*.png) land where test_console's do and
are checked not to be blank. Skipped when /usr/bin/firefox-esr is missing.
"""

import base64
import json
import os
import signal
import tempfile
import unittest
import uuid

import harness  # first: it puts tests/integration and tests/clients/python on sys.path
import test_console

FIREFOX = os.environ.get("GRIDHUB_E2E_FIREFOX", "/usr/bin/firefox-esr")
START_TIMEOUT = 60.0
# test_console's checks, borrowed by FirefoxConsoleTest; not kept under a module-level name, or
# unittest would find ConsoleTest here and run its Chromium tests too.
Checks = test_console.ConsoleTest


class FirefoxPage:
    """Headless Firefox showing a hub's console; the same interface as test_console's
    ConsolePage (js, wait, viewport, open, screenshot) for the checks both tests share."""

    def __init__(self, h):
        self.h = h
        # Firefox's profile and HOME, inside the harness's folder; the script removes it on quit
        # and the harness removes its whole folder after that.
        self.profile_dir = tempfile.mkdtemp(prefix="firefox-", dir=h.tmp)
        self.process = h.start_js("console-firefox", "console_firefox.mjs",
                                  "--profile-dir", self.profile_dir, "--firefox", FIREFOX)
        ready = harness.wait_for(self._ready_line, START_TIMEOUT, "Firefox and its driver up")
        if ready == "exited":
            raise AssertionError(f"console_firefox.mjs exited:\n{self.process.log_tail()}")
        self.url = f"http://127.0.0.1:{ready['port']}/"
        self.firefox_pid = ready["firefoxPid"]
        self.version = ready["version"]

    def _ready_line(self):
        """The script's ready line, "exited" if it ended without one, else None (not yet)."""
        for line in self.process.log_tail(20000).splitlines():
            if line.startswith('{"ready"'):
                return json.loads(line)
        return None if self.process.running() else "exited"

    def call(self, op, timeout=30, **params):
        status, body = harness.http_json("POST", self.url, dict(params, op=op), timeout=timeout)
        if status != 200 or not isinstance(body, dict) or "error" in body:
            raise AssertionError(f"Firefox {op} failed: {status} {body}")
        return body["value"]

    def quit(self):
        """Closes Firefox and waits for the script; the harness then stops what is left (the
        script's process group and every descendant it saw), and the Firefox group here."""
        try:
            self.call("quit", timeout=15)
            self.process.wait(15)
        except Exception:  # noqa: BLE001 - stopped below and by the harness anyway
            pass
        self.process.stop()
        if self.firefox_pid and harness.is_alive(self.firefox_pid):
            try:
                os.killpg(self.firefox_pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def open(self, url):
        self.call("goto", url=url)

    def js(self, script, *args):
        return self.call("eval", script=script, args=list(args))

    def wait(self, script, what, timeout=test_console.FRESH, *args):
        return test_console.ConsolePage.wait(self, script, what, timeout, *args)

    def viewport(self, width, height, mobile=False):
        self.call("viewport", width=width, height=height, mobile=mobile)

    def screenshot(self, name):
        data = base64.b64decode(self.call("screenshot"))
        path = os.path.join(test_console.artifacts_dir(), name)
        with open(path, "wb") as f:
            f.write(data)
        return data, path

    def press(self, key):
        self.call("press", key=key)

    def click(self, selector):
        self.call("click", selector=selector)

    def displayed(self, element_id):
        return self.js("return document.getElementById(arguments[0]).offsetParent !== null",
                       element_id)

    def enter_token(self, token):
        if not self.displayed("token-form"):
            self.click("#token-toggle")
        self.js("document.getElementById('token-input').value = ''")
        self.call("type", selector="#token-input", text=token)
        self.call("press", key="Enter")

    def forget_token(self):
        if not self.displayed("token-form"):
            self.click("#token-toggle")
        self.click("#token-forget")

    def events(self):
        return self.call("events")


@unittest.skipUnless(os.access(FIREFOX, os.X_OK),
                     f"{FIREFOX} is missing (scripts/install-deps.sh installs firefox-esr)")
class FirefoxConsoleTest(unittest.TestCase):
    setUp = Checks.setUp
    tearDown = Checks.tearDown
    fake_node = Checks.fake_node
    assert_not_blank = Checks.assert_not_blank
    check_read_only = Checks.check_read_only
    check_session_appears = Checks.check_session_appears
    check_waiter = Checks.check_waiter
    check_refusals = Checks.check_refusals
    check_chart = Checks.check_chart
    check_hostile_text = Checks.check_hostile_text
    check_session_disappears = Checks.check_session_disappears
    check_keyboard = Checks.check_keyboard

    def take_screenshots(self, page):
        # puppeteer cannot switch Firefox's colour scheme: light only.
        test_console.ConsoleTest.take_screenshots(self, page, "console-firefox", dark=False)

    def assert_browser_clean(self, page):
        seen = page.events()
        noisy = [m for m in seen["console"] if m["type"] in ("error", "warn", "warning")]
        self.assertEqual(noisy, [], "the browser console must stay free of errors and warnings")
        self.assertEqual(seen["pageErrors"], [], "uncaught errors in the page")
        self.assertEqual(seen["failedRequests"], [], "requests of the page that failed")
        self.assertEqual(seen["badResponses"], [], "requests of the page answered >= 400")

    def test_operator_console_in_firefox(self):
        admin = "adm-" + uuid.uuid4().hex
        with harness.Harness(self) as h:
            grid = h.start_hub(config={
                "hub": {"admin-token": admin, "node-timeout": "600s"},
                "queue": {"registration-grace": "0s"},
            })
            test_console.register(grid, self.fake_node(), "fake-chrome", "chrome")
            test_console.register(grid, self.fake_node(), "fake-firefox", "firefox")
            page = FirefoxPage(h)
            try:
                print(f"browser: {page.version}")
                self.assertTrue(page.version.startswith("firefox/"), page.version)
                page.viewport(1280, 800)
                page.open(grid.url + "/ui/")
                self.check_read_only(grid, page)  # also: no admin controls without the token
                session_id = self.check_session_appears(grid, page)
                waiter = self.check_waiter(grid, page)
                self.check_refusals(grid, page)
                self.check_chart(page)
                self.check_hostile_text(page)
                self.take_screenshots(page)
                self.assertEqual(page.js(test_console.CONTRAST_JS), [],
                                 "text below WCAG AA contrast")
                self.assert_browser_clean(page)
                self.check_admin(grid, page, admin, waiter)
                self.check_session_disappears(grid, page, session_id)
                self.assert_browser_clean(page)
            finally:
                page.quit()
        self.assertFalse(os.path.exists(page.profile_dir), "the Firefox profile is left behind")
        self.assertFalse(harness.is_alive(page.firefox_pid), "Firefox is still running")

    def check_admin(self, grid, page, admin, waiter):
        """The admin token shows the controls; the keyboard path; the cap form sets a cap;
        Confirm in the dialog cancels a waiter; forgetting the token takes the controls away."""
        page.enter_token(admin)
        page.wait("return document.getElementById('access-badge').textContent === 'admin'",
                  "the admin badge")
        page.wait("return document.querySelectorAll('[data-action=drain]').length === 2"
                  " && document.querySelector('[data-action=clear]') !== null"
                  " && document.querySelector('[data-action=cancel]') !== null",
                  "the admin controls")

        self.check_keyboard(grid, page)

        # Chrome's cap to 3 through the row's form (a number field).
        form = "#labels-body form[data-label=chrome]"
        page.call("type", selector=f"{form} input", text="3")
        page.click(f"{form} button")
        auth = {"Authorization": f"Bearer {admin}"}

        def cap():
            status, body = harness.http_json("GET", grid.url + "/admin/config", headers=auth)
            settings = body.get("value", body) if isinstance(body, dict) else {}
            return settings.get("queue", {}).get("concurrency-caps", {}).get("chrome") == 3
        harness.wait_for(cap, 5, "chrome's cap at 3 in GET /admin/config")
        page.wait("return document.querySelector('#labels-body tr[data-key$=\":chrome\"] "
                  "[data-field=running]').textContent === '1 / 3'", "the cap in the page")

        page.click("[data-action=cancel]")
        page.wait("return document.getElementById('confirm').open", "the confirm dialog")
        page.click("#confirm-ok")
        status, body = waiter.result()
        self.assertEqual(status, 500, body)
        self.assertIn("cancelled by an operator", body["value"]["message"])
        page.wait("return document.querySelectorAll('.waiter').length === 0", "an empty queue")
        self.assertTrue(page.js("return document.getElementById('alert').hidden"),
                        page.js("return document.getElementById('alert').textContent"))

        page.forget_token()
        page.wait("return document.getElementById('access-badge').textContent === 'read-only'"
                  " && document.querySelectorAll("
                  "'[data-action], .cap-form, #queue-actions button').length === 0",
                  "the controls gone without the token")


del Checks

if __name__ == "__main__":
    unittest.main()
