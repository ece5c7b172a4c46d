"""Debian's python3-selenium through a grid: a LocalFileDetector upload that the page reads
back, and execute_cdp_cmd (Chromium's `goog/cdp/execute` command, the way Remote sessions run
it). Prints one JSON line and exits 0 only when every step worked:

    /usr/bin/python3 upload_and_cdp.py --grid http://HOST:PORT --page http://127.0.0.1:P/ \
        --file /path/of/a/local/file --user-data-dir DIR

`remotePath` in the result is the path the grid answered the upload with (`/se/file`), so the
test can tell an upload from the client typing its own local path.
"""

import argparse
import json
import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.file_detector import LocalFileDetector
from selenium.webdriver.remote.webelement import WebElement

import session_flow

# The path on the node that each upload was answered with, in order.
UPLOADED = []
_original_upload = WebElement._upload


def _recording_upload(self, filename):
    answer = _original_upload(self, filename)
    UPLOADED.append(answer)
    return answer


WebElement._upload = _recording_upload


def wait_text(driver, element_id, timeout=10.0):
    """The element's text once it is not empty; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        text = driver.find_element(By.ID, element_id).text
        if text or time.monotonic() >= deadline:
            return text
        time.sleep(0.1)


def upload(driver, page, path, result):
    result["step"] = "upload"
    driver.file_detector = LocalFileDetector()
    driver.get(page + "upload.html")
    driver.find_element(By.ID, "file").send_keys(path)
    result["remotePath"] = UPLOADED[-1] if UPLOADED else None
    result["pageFileName"] = wait_text(driver, "file-name")
    result["pageFileText"] = driver.find_element(By.ID, "file-text").text


def cdp_command(driver, page, result):
    result["step"] = "execute_cdp_cmd"
    driver.get(page)
    commands = driver.command_executor._commands
    commands.setdefault("executeCdpCommand", ("POST", "/session/$sessionId/goog/cdp/execute"))
    answer = driver.execute("executeCdpCommand", {
        "cmd": "Runtime.evaluate",
        "params": {"expression": "document.getElementById('heading').textContent",
                   "returnByValue": True},
    })["value"]
    result["cdpEvaluated"] = answer["result"]["value"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", required=True)
    parser.add_argument("--page", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--user-data-dir", required=True)
    args = parser.parse_args()
    result = {"ok": False, "step": "new session"}
    driver = None
    try:
        driver = session_flow.new_session(args.grid, args.user_data_dir)
        result["sessionId"] = driver.session_id
        upload(driver, args.page, args.file, result)
        cdp_command(driver, args.page, result)
        result["step"] = "quit"
        quitting, driver = driver, None
        quitting.quit()
        result["ok"] = True
        result["step"] = "done"
    except Exception as e:  # noqa: BLE001 - reported in the result line
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        if driver:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001
                pass
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
