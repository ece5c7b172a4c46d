"""The operator's console (/ui, DESIGN 4c) in a real headless Chromium.

The hub under test has fake W3C nodes (tests/integration's hubtest.FakeNode, registered over
HTTP), so sessions, waiters and refusals are made in milliseconds by plain HTTP calls. The
browser that shows the console is a real Chromium session through a gridhub standalone,
driven by Debian's python3-selenium: what the page shows is read from its DOM while the test
changes the grid, and every browser console message is collected (none is allowed).

Screenshots at 1280x800 and 390x844 land in $GRIDHUB_ARTIFACTS, else in the build folder
(tests/e2e/console-artifacts beside this module's CTest working directory), and are decoded
here and checked not to be blank.
"""

import os
import struct
import threading
import time
import unittest
import uuid
import zlib

import harness  # first: it puts tests/integration and tests/clients/python on sys.path
import hubtest

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

# DESIGN 4c: the console keeps current within 2 s without a reload.
FRESH = 2.0
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def artifacts_dir():
    path = os.environ.get("GRIDHUB_ARTIFACTS") or os.path.join(os.getcwd(), "console-artifacts")
    os.makedirs(path, exist_ok=True)
    return path


# --- PNG decoding (standard library only) -----------------------------------------------------


def decode_png(data):
    """(width, height, rows of RGB(A) tuples) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    channels = 4 if color == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        previous = line
    return width, height, rows, channels


def png_ink(data):
    """(width, height, distinct colours, share of pixels unlike the most common colour)."""
    width, height, rows, channels = decode_png(data)
    counts = {}
    for line in rows[::2]:
        for x in range(0, width * channels, channels * 2):
            key = bytes(line[x:x + 3])
            counts[key] = counts.get(key, 0) + 1
    total = sum(counts.values())
    background = max(counts.values())
    return width, height, len(counts), (total - background) / total


# --- WCAG AA contrast, measured in the page ---------------------------------------------------

# Every visible element with text of its own: its colour against the background it is drawn on
# (translucent layers blended down to the first opaque one), at least 4.5:1, or 3:1 for large
# text (24 px, or 18.66 px bold). Disabled controls are exempt, as WCAG says.
CONTRAST_JS = r"""
const parse = (s) => {
  const m = /rgba?\(([^)]+)\)/.exec(s);
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const luminance = (c) => {
  const f = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
const background = (el) => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let base = layers.length && layers[layers.length - 1][3] >= 1 ? layers.pop() : [255, 255, 255];
  for (const c of layers.reverse()) base = [0, 1, 2].map((i) => base[i] * (1 - c[3]) + c[i] * c[3]);
  return base;
};
const low = [];
for (const el of document.querySelectorAll('body *')) {
  if (el.closest('svg, .visually-hidden, button:disabled, [hidden]')) continue;
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const style = getComputedStyle(el);
  if (!own || !el.getClientRects().length || style.visibility === 'hidden') continue;
  const a = luminance(parse(style.color)) + 0.05, b = luminance(background(el)) + 0.05;
  const ratio = Math.max(a, b) / Math.min(a, b);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  const text = el.textContent.trim().slice(0, 40);
  if (ratio < (large ? 3 : 4.5)) low.push(`${text}: ${ratio.toFixed(2)}`);
}
return low;
"""


# --- the page, as the browser sees it ---------------------------------------------------------


class ConsolePage:
    """One Chromium session (through a gridhub standalone) showing a hub's console."""

    def __init__(self, h, test):
        self.test = test
        browser_grid = h.start_standalone(slots=1, name="browser-standalone")
        from session_flow import chrome_options  # tests/clients/python
        options = chrome_options(h.user_data_dir())
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        from selenium import webdriver
        self.driver = webdriver.Remote(command_executor=browser_grid.url, options=options)
        # Chromium's DevTools commands through the grid (Selenium's ChromiumRemoteConnection
        # route), for exact viewport sizes and the colour scheme.
        self.driver.command_executor._commands["executeCdpCommand"] = (
            "POST", "/session/$sessionId/goog/cdp/execute")
        self.console = []

    def quit(self):
        try:
            self.driver.quit()
        except Exception:  # noqa: BLE001 - the standalone is stopped anyway
            pass

    def cdp(self, cmd, params):
        return self.driver.execute("executeCdpCommand", {"cmd": cmd, "params": params})["value"]

    def viewport(self, width, height, mobile=False, scheme="light"):
        self.cdp("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": mobile})
        self.cdp("Emulation.setEmulatedMedia",
                 {"features": [{"name": "prefers-color-scheme", "value": scheme}]})

    def open(self, url):
        self.driver.get(url)

    def press(self, key):
        """One key ("Tab", "Enter", "Escape") to whatever has the focus."""
        ActionChains(self.driver).send_keys(getattr(Keys, key.upper())).perform()

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def collect_console(self):
        """Every browser console entry so far (errors, failed loads, CSP reports, warnings)."""
        self.console += self.driver.get_log("browser")
        return self.console

    def wait(self, script, what, timeout=FRESH, *args):
        """Polls a JS predicate; returns (value, seconds it took)."""
        start = time.monotonic()
        value = harness.wait_for(lambda: self.js(script, *args), timeout, what, interval=0.05)
        return value, time.monotonic() - start

    def text(self):
        return self.js("return document.body.innerText")

    def screenshot(self, name):
        data = self.driver.get_screenshot_as_png()
        path = os.path.join(artifacts_dir(), name)
        with open(path, "wb") as f:
            f.write(data)
        return data, path

    def enter_token(self, token):
        form = self.driver.find_element(By.ID, "token-form")
        if not form.is_displayed():
            self.driver.find_element(By.ID, "token-toggle").click()
        field = self.driver.find_element(By.ID, "token-input")
        field.clear()
        field.send_keys(token, Keys.ENTER)

    def forget_token(self):
        if not self.driver.find_element(By.ID, "token-form").is_displayed():
            self.driver.find_element(By.ID, "token-toggle").click()
        self.driver.find_element(By.ID, "token-forget").click()

    def confirm(self):
        self.wait("return document.getElementById('confirm').open", "the confirm dialog")
        self.driver.find_element(By.ID, "confirm-ok").click()


# --- the grid -----------------------------------------------------------------------------------


def register(grid, node, node_id, label, max_sessions=1):
    body = {"id": node_id, "uri": node.url,
            "slots": [{"id": "s0", "label": label, "maxSessions": max_sessions,
                       "stereotype": {"browserName": label}}]}
    status, reply = harness.http_json("POST", grid.url + "/nodes", body)
    if status != 201:
        raise AssertionError(f"registration of {node_id} refused: {status} {reply}")


def new_session(grid, browser, run_id=None, headers=None, timeout=30):
    always = {"browserName": browser}
    if run_id:
        always["gridhub:runId"] = run_id
    return harness.http_json("POST", grid.url + "/session",
                             {"capabilities": {"alwaysMatch": always}}, headers, timeout)


def state(grid, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, body = harness.http_json("GET", grid.url + "/ui/api/state", headers=headers)
    assert status == 200, (status, body)
    return body


class Waiter:
    """A POST /session that waits in the queue, on a thread; result() joins it."""

    def __init__(self, grid, browser, run_id):
        self.answer = None
        self.thread = threading.Thread(
            target=lambda: setattr(self, "answer", new_session(grid, browser, run_id, timeout=60)),
            daemon=True)
        self.thread.start()

    def result(self, timeout=10):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the waiting request did not finish"
        return self.answer


def queue_ids(grid, label):
    status, body = harness.http_json("GET", grid.url + "/queue")
    assert status == 200, (status, body)
    return [w["id"] for w in body["value"] if w["label"] == label]


class ConsoleTest(unittest.TestCase):

    def setUp(self):
        self.fakes = []

    def tearDown(self):
        for fake in self.fakes:
            fake.stop()

    def fake_node(self):
        fake = hubtest.FakeNode()
        self.fakes.append(fake)
        return fake

    def assert_console_clean(self, page):
        entries = page.collect_console()
        self.assertEqual([e for e in entries if e.get("level") in ("SEVERE", "WARNING")], [],
                         "the browser console must stay free of errors and warnings")

    def assert_contrast(self, page):
        for scheme in ("light", "dark"):
            page.viewport(1280, 800, scheme=scheme)
            self.assertEqual(page.js(CONTRAST_JS), [], f"text below WCAG AA contrast ({scheme})")
        page.viewport(1280, 800)

    def assert_not_blank(self, data, width, height):
        w, h, colours, ink = png_ink(data)
        self.assertEqual((w, h), (width, height))
        self.assertGreater(colours, 20, "a screenshot with this few colours is blank")
        self.assertGreater(ink, 0.03, "almost every pixel has the background colour")

    def test_operator_console(self):
        admin = "adm-" + uuid.uuid4().hex
        with harness.Harness(self) as h:
            grid = h.start_hub(config={
                "hub": {"admin-token": admin, "node-timeout": "600s"},
                "queue": {"registration-grace": "0s"},
            })
            chrome, firefox = self.fake_node(), self.fake_node()
            register(grid, chrome, "fake-chrome", "chrome")
            register(grid, firefox, "fake-firefox", "firefox")
            page = ConsolePage(h, self)
            try:
                page.viewport(1280, 800)
                page.open(grid.url + "/ui/")
                self.check_read_only(grid, page)
                session_id = self.check_session_appears(grid, page)
                waiter = self.check_waiter(grid, page)
                self.check_refusals(grid, page)
                self.check_chart(page)
                self.check_hostile_text(page)
                self.take_screenshots(page, "console")
                self.assert_contrast(page)
                self.assert_console_clean(page)
                self.check_admin(grid, page, admin, waiter)
                self.assert_contrast(page)
                self.check_session_disappears(grid, page, session_id)
                self.assert_console_clean(page)
            finally:
                page.quit()

    # --- read-only -----------------------------------------------------------------------------

    def check_read_only(self, grid, page):
        page.wait("return document.getElementById('readiness').dataset.state === 'ready'",
                  "the readiness line saying ready", timeout=10)
        self.assertIn("Ready", page.js("return document.getElementById('readiness-line')"
                                       ".textContent"))
        self.assertEqual(page.js("return document.getElementById('readiness-line')"
                                 ".getAttribute('aria-live')"), "polite")
        page.wait("return document.querySelectorAll('.node').length === 2", "both nodes")
        self.assertEqual(page.js("return document.getElementById('access-badge').textContent"),
                         "read-only")
        controls = page.js("return document.querySelectorAll("
                           "'[data-action], .cap-form, #queue-actions button').length")
        self.assertEqual(controls, 0, "a viewer without the admin token gets no controls")
        # ...and the calls themselves are refused without the admin token.
        for method, path, body in (("POST", "/nodes/fake-chrome/drain", None),
                                   ("DELETE", "/queue", None),
                                   ("DELETE", "/queue/1", None),
                                   ("PUT", "/admin/config",
                                    {"queue": {"concurrency-caps": {"chrome": 1}}})):
            status, reply = harness.http_json(method, grid.url + path, body)
            self.assertEqual(status, 401, (method, path, reply))
        self.assertEqual(grid.status()["nodes"][0]["availability"], "UP")

    # --- sessions, waiters, refusals -----------------------------------------------------------

    def check_session_appears(self, grid, page):
        status, body = new_session(grid, "chrome", run_id=HOSTILE)
        self.assertEqual(status, 200, body)
        session_id = body["value"]["sessionId"]
        _, took = page.wait("return document.querySelector(`tr.session[data-session=\"${"
                            "arguments[0]}\"]`) !== null", "the new session's row", FRESH,
                            session_id)
        self.assertLess(took, FRESH)
        row = page.js("return document.querySelector(`tr.session[data-session=\"${arguments[0]}"
                      "\"]`).innerText", session_id)
        self.assertIn("chrome", row)
        self.assertIn(HOSTILE, row, "the run id is shown as text, unchanged")
        return session_id

    def check_waiter(self, grid, page):
        waiter = Waiter(grid, "chrome", "run-waiting")
        harness.wait_for(lambda: queue_ids(grid, "chrome"), 5, "the waiter in GET /queue")
        (label, position, meta), took = page.wait(
            "const w = document.querySelector('.queue-group .waiter');"
            "return w && [w.closest('.queue-group').querySelector('.group-label').textContent,"
            "             w.querySelector('.position').textContent,"
            "             w.querySelector('.waiter-meta').textContent];",
            "the waiter in the page's queue")
        self.assertEqual((label, position), ("chrome", "#1"))
        self.assertIn("run-waiting", meta)
        self.assertLess(took, FRESH)
        waiting = page.js("return document.querySelector('#labels-body tr[data-key$=\":chrome\"] "
                          "[data-field=queue]').textContent")
        self.assertEqual(waiting, "1")
        return waiter

    def check_refusals(self, grid, page):
        status, body = new_session(grid, "chrome", headers={"X-No-Wait": "true"})
        self.assertEqual(status, 500, body)
        status, body = new_session(grid, "safari")
        self.assertEqual(status, 500, body)
        for reason in ("no_wait", "unsatisfiable"):
            detail, _ = page.wait(
                "const e = [...document.querySelectorAll('.event[data-kind=refused]')]"
                "  .find((e) => e.textContent.includes(arguments[0]));"
                "return e && e.querySelector('.event-detail').textContent;",
                f"a refused event with reason {reason}", FRESH, reason)
            self.assertTrue(detail.startswith(reason), detail)
        chip = page.wait("const c = document.querySelector('#labels-body [data-reason=no_wait]');"
                         "return c && c.textContent;", "the no_wait refusal count")[0]
        self.assertEqual(chip, "no wait 1")

    def check_chart(self, page):
        # One sample at start and one every 5 s: two points are there within about 5 s.
        points, _ = page.wait(
            "const p = document.querySelector('.chart svg.plot');"
            "return p && Number(p.dataset.points) >= 2 && p.querySelector('.busy-line')"
            "  .getAttribute('points').split(' ').length;", "two chart points", 15)
        self.assertGreaterEqual(points, 2)
        labels = page.js("return [...document.querySelectorAll('.chart-label')]"
                         ".map((e) => e.textContent)")
        self.assertIn("chrome", labels)

    def check_hostile_text(self, page):
        self.assertEqual(page.js("return document.querySelectorAll('img').length"), 0)
        self.assertEqual(page.js("return document.querySelectorAll('script:not([src])').length"),
                         0)
        self.assertIsNone(page.js("return window.__pwned ?? null"))

    def take_screenshots(self, page, prefix, dark=True):
        for width, height, mobile, name in ((1280, 800, False, "desktop"),
                                            (390, 844, True, "phone")):
            page.viewport(width, height, mobile)
            page.wait("return window.innerWidth === arguments[0]", f"a {width} px wide viewport",
                      5, width)
            overflow = page.js("return document.documentElement.scrollWidth"
                               " - document.documentElement.clientWidth")
            self.assertEqual(overflow, 0, f"the page scrolls sideways at {width} px")
            data, path = page.screenshot(f"{prefix}-{name}.png")
            print(f"screenshot: {path}")
            self.assert_not_blank(data, width, height)
        if dark:  # a page that can switch the colour scheme (Chromium through CDP)
            page.viewport(1280, 800, scheme="dark")
            page.screenshot(f"{prefix}-desktop-dark.png")
        page.viewport(1280, 800)

    # --- admin -----------------------------------------------------------------------------------

    def check_admin(self, grid, page, admin, waiter):
        page.enter_token(admin)
        page.wait("return document.getElementById('access-badge').textContent === 'admin'",
                  "the admin badge")
        page.wait("return document.querySelectorAll('[data-action=drain]').length === 2"
                  " && document.querySelector('[data-action=clear]') !== null"
                  " && document.querySelector('[data-action=cancel]') !== null",
                  "the admin controls")
        unnamed = page.js("return [...document.querySelectorAll('button, input')]"
                          ".filter((e) => e.offsetParent !== null)"
                          ".filter((e) => e.tagName === 'INPUT' ? e.labels.length === 0"
                          "  : !(e.getAttribute('aria-label') || e.textContent.trim()))"
                          ".map((e) => e.outerHTML)")
        self.assertEqual(unnamed, [], "every visible control has a label or a name")
        self.check_keyboard(grid, page)
        auth = {"Authorization": f"Bearer {admin}"}

        # Change chrome's cap to 3 through the row's form.
        form = page.driver.find_element(By.CSS_SELECTOR, "#labels-body form[data-label=chrome]")
        field = form.find_element(By.TAG_NAME, "input")
        self.assertIn("chrome", page.js("return arguments[0].labels[0].textContent", field))
        field.send_keys("3")
        form.find_element(By.TAG_NAME, "button").click()

        def cap():
            status, body = harness.http_json("GET", grid.url + "/admin/config", headers=auth)
            settings = body.get("value", body) if isinstance(body, dict) else {}
            return settings.get("queue", {}).get("concurrency-caps", {}).get("chrome") == 3
        harness.wait_for(cap, 5, "chrome's cap at 3 in GET /admin/config")
        page.wait("return document.querySelector('#labels-body tr[data-key$=\":chrome\"] "
                  "[data-field=running]').textContent === '1 / 3'", "the cap in the page")
        self.assertEqual([l["cap"] for l in state(grid, admin)["labels"]
                          if l["label"] == "chrome"], [3])

        # Cancel the waiter: its client is told so.
        page.driver.find_element(By.CSS_SELECTOR, "[data-action=cancel]").click()
        page.confirm()
        status, body = waiter.result()
        self.assertEqual(status, 500, body)
        self.assertIn("cancelled by an operator", body["value"]["message"])
        page.wait("return document.querySelectorAll('.waiter').length === 0", "an empty queue")

        # A refused action is shown: this waiter is cancelled by someone else while the
        # operator's confirm dialog is open, so the page's DELETE finds no such waiter (404).
        gone = Waiter(grid, "chrome", "run-gone")
        page.wait("return document.querySelectorAll('.waiter').length === 1", "the next waiter")
        page.driver.find_element(By.CSS_SELECTOR, "[data-action=cancel]").click()
        page.wait("return document.getElementById('confirm').open", "the confirm dialog")
        waiter_id = queue_ids(grid, "chrome")[0]
        status, _ = harness.http_json("DELETE", f"{grid.url}/queue/{waiter_id}", headers=auth)
        self.assertEqual(status, 204)
        self.assertEqual(gone.result()[0], 500)
        page.confirm()
        alert, _ = page.wait("const a = document.getElementById('alert');"
                             "return !a.hidden && a.textContent", "the error shown")
        self.assertIn(f"Cancelling waiter {waiter_id} failed", alert)
        self.assertIn("404", alert)
        # The browser logs the refused call; that one entry is expected, nothing else.
        logged = page.driver.get_log("browser")
        self.assertEqual(len(logged), 1, logged)
        self.assertIn(f"/queue/{waiter_id}", logged[0]["message"])
        page.driver.find_element(By.ID, "alert-close").click()

        # Clear the queue: a second waiter fails with the administrator's message.
        second = Waiter(grid, "chrome", "run-cleared")
        page.wait("return document.querySelectorAll('.waiter').length === 1", "the next waiter")
        page.driver.find_element(By.CSS_SELECTOR, "[data-action=clear]").click()
        page.confirm()
        status, body = second.result()
        self.assertEqual(status, 500, body)
        self.assertIn("cleared", body["value"]["message"])

        # Drain the chrome node (it has a session, so it stays, DRAINING, until that ends).
        page.driver.find_element(By.CSS_SELECTOR, "[data-action=drain][data-node=fake-chrome]"
                                 ).click()
        page.confirm()
        harness.wait_for(lambda: [n["availability"] for n in grid.nodes()
                                  if n["id"] == "fake-chrome"] == ["DRAINING"], 5,
                         "fake-chrome DRAINING in /status")
        page.wait("return document.querySelector('.node[data-availability=DRAINING] .node-id')"
                  "?.textContent === 'fake-chrome'", "the node under Draining")
        self.assertFalse(page.js("return document.getElementById('alert').hidden === false"),
                         page.js("return document.getElementById('alert-text').textContent"))

    def check_keyboard(self, grid, page):
        """Tab reaches a Drain button with a visible focus ring; Enter opens the confirm dialog
        with the focus on Cancel; Escape backs out and nothing is drained."""
        page.js("document.activeElement.blur(); window.scrollTo(0, 0)")
        for _ in range(100):
            page.press("Tab")
            if page.js("return document.activeElement.dataset.action === 'drain'"):
                break
        else:
            self.fail("Tab never reached a Drain button")
        style, width = page.js("const s = getComputedStyle(document.activeElement);"
                               "return [s.outlineStyle, parseFloat(s.outlineWidth)]")
        self.assertNotEqual(style, "none", "the focused button shows a focus ring")
        self.assertGreaterEqual(width, 2)
        page.press("Enter")
        page.wait("return document.getElementById('confirm').open", "the confirm dialog")
        self.assertEqual(page.js("return document.activeElement.id"), "confirm-cancel")
        page.press("Escape")
        page.wait("return !document.getElementById('confirm').open", "the dialog closed")
        self.assertEqual({n["availability"] for n in grid.nodes()}, {"UP"})

    def check_session_disappears(self, grid, page, session_id):
        status, body = harness.http_json("DELETE", f"{grid.url}/session/{session_id}")
        self.assertEqual(status, 200, body)
        _, took = page.wait("return document.querySelector(`tr.session[data-session=\"${"
                            "arguments[0]}\"]`) === null", "the ended session's row gone",
                            FRESH, session_id)
        self.assertLess(took, FRESH)

    # --- client token --------------------------------------------------------------------------

    def test_client_token_shows_readiness_only(self):
        client = "cli-" + uuid.uuid4().hex
        with harness.Harness(self) as h:
            grid = h.start_hub(config={"hub": {"client-token": client, "node-timeout": "600s"}})
            fake = self.fake_node()
            register(grid, fake, "fake-secret-node", "chrome")
            self.assertTrue(state(grid).get("redacted"))
            self.assertNotIn("nodes", state(grid))
            page = ConsolePage(h, self)
            try:
                page.viewport(1280, 800)
                page.open(grid.url + "/ui/")
                page.wait("return document.getElementById('readiness').dataset.state === 'ready'",
                          "readiness", timeout=10)
                page.wait("return !document.getElementById('locked').hidden", "the token prompt")
                self.assertTrue(page.js("return document.getElementById('grid-data').hidden"))
                self.assertTrue(page.js("return document.getElementById('token-input')"
                                        ".offsetParent !== null"), "the token field is shown")
                self.assertNotIn("fake-secret-node", page.js("return document.body.textContent"))
                data, _ = page.screenshot("console-locked.png")
                self.assert_not_blank(data, 1280, 800)

                page.enter_token(client)
                page.wait("return document.body.innerText.includes('fake-secret-node')",
                          "the grid after the token", timeout=FRESH + 1)
                self.assertTrue(page.js("return document.getElementById('locked').hidden"))

                page.forget_token()
                page.wait("return !document.getElementById('locked').hidden"
                          " && document.getElementById('grid-data').hidden",
                          "the prompt again after forgetting the token")
                self.assertIsNone(page.js("return sessionStorage.getItem("
                                          "'gridhub.console.token')"))
                self.assert_console_clean(page)
            finally:
                page.quit()


if __name__ == "__main__":
    unittest.main()
