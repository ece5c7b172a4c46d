"""A stock Selenium (Debian python3-selenium) client: one Chromium session through a grid.

Used by the e2e tests as a library (`new_session`, `run_flow`) and runnable on its own:

    /usr/bin/python3 session_flow.py --grid http://127.0.0.1:4444 --page http://127.0.0.1:8000/

which prints one JSON line with what it saw and exits 0 only when every step worked.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("GRIDHUB_E2E_CHROMIUM", "/usr/bin/chromium")
PAGE_TITLE = "gridhub e2e page"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chrome_options(user_data_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={user_data_dir}"):
        options.add_argument(arg)
    return options


def new_session(grid_url, user_data_dir, http_timeout=120):
    """webdriver.Remote against the grid; http_timeout bounds every HTTP call of the client."""
    RemoteConnection.set_timeout(http_timeout)
    return webdriver.Remote(command_executor=grid_url, options=chrome_options(user_data_dir))


def _expect(what, actual, expected):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def run_flow(driver, page_url, result):
    """The common commands; fills `result` as it goes and raises on the first failure."""
    result["step"] = "navigate"
    driver.get(page_url)
    result["title"] = driver.title
    _expect("title", driver.title, PAGE_TITLE)

    result["step"] = "find and click"
    button = driver.find_element(By.ID, "toggle")
    _expect("button text before click", button.text, "not clicked")
    button.click()
    _expect("button text after click", button.text, "clicked 1")

    result["step"] = "type and submit"
    field = driver.find_element(By.CSS_SELECTOR, 'input[name="name"]')
    field.send_keys("gridhub")
    _expect("typed value", field.get_attribute("value"), "gridhub")
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 5).until(
        expected_conditions.text_to_be_present_in_element((By.ID, "greeting"), "hello gridhub"))

    result["step"] = "execute script"
    result["scriptSum"] = driver.execute_script("return arguments[0] + arguments[1];", 40, 2)
    _expect("script result", result["scriptSum"], 42)
    _expect("clicks seen by script", driver.execute_script("return window.clicks;"), 1)

    result["step"] = "screenshot"
    png = driver.get_screenshot_as_png()
    result["screenshotBytes"] = len(png)
    if len(png) < 100 or not png.startswith(PNG_SIGNATURE):
        raise AssertionError(f"screenshot is not a PNG ({len(png)} bytes)")

    result["step"] = "cookies"
    driver.add_cookie({"name": "gridhub", "value": "e2e-python"})
    cookie = driver.get_cookie("gridhub")
    _expect("cookie value", cookie and cookie["value"], "e2e-python")
    driver.delete_cookie("gridhub")
    if any(c["name"] == "gridhub" for c in driver.get_cookies()):
        raise AssertionError("cookie survived delete_cookie")

    result["step"] = "window size"
    driver.set_window_size(800, 600)
    size = driver.get_window_size()
    result["windowSize"] = [size["width"], size["height"]]
    _expect("window size", result["windowSize"], [800, 600])


def session_flow(grid_url, page_url, user_data_dir=None, steps="all"):
    """Opens a session, runs the flow, quits; returns a dict with `ok` and what was seen."""
    own_profile = user_data_dir is None
    user_data_dir = user_data_dir or tempfile.mkdtemp(prefix="gridhub-py-")
    result = {"ok": False, "step": "new session", "startedAt": time.time()}
    driver = None
    try:
        driver = new_session(grid_url, user_data_dir)
        result["sessionId"] = driver.session_id
        result["node"] = driver.capabilities.get("se:gridhubNode")
        if steps == "all":
            run_flow(driver, page_url, result)
        else:
            driver.get(page_url)
            result["title"] = driver.title
            _expect("title", driver.title, PAGE_TITLE)
        result["step"] = "quit"
        result["quitAt"] = time.time()
        quitting, driver = driver, None
        quitting.quit()
        result["ok"] = True
        result["step"] = "done"
    except Exception as e:  # noqa: BLE001 - the result reports any failure of the client
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001 - best effort after a failure
                pass
        if own_profile:
            shutil.rmtree(user_data_dir, ignore_errors=True)
    result["finishedAt"] = time.time()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", required=True)
    parser.add_argument("--page", required=True)
    parser.add_argument("--user-data-dir")
    parser.add_argument("--steps", choices=["all", "minimal"], default="all")
    args = parser.parse_args()
    result = session_flow(args.grid, args.page, args.user_data_dir, args.steps)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
