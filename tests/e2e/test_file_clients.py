"""Real clients upload files and fetch managed downloads through `gridhub standalone` (issue 11,
DESIGN 4b), each from loopback and from a network namespace (see client_cases.py).

Uploads: Debian's python3-selenium (LocalFileDetector), ruby-selenium-webdriver
(`file_detector`) and npm selenium-webdriver (remote.FileDetector) put a local file into an
`<input type=file>`; the page reads it back. Client and node share this machine's file system,
so a client that quietly types its own local path instead of uploading would still "work": the
tests therefore also require that the grid answered the upload with a path of its own, that the
file is there while the session lives, and gone once it ended. Python's execute_cdp_cmd rides
along. Managed downloads: a slot with `downloads: true` serves a session asking for
`se:downloadsEnabled`; the page downloads a file, selenium-webdriver lists, fetches (bytes
compared) and deletes it; the same session fires a session event, counted in /metrics.
"""

import base64
import os
import unittest

import client_cases
import client_pages
import harness
from client_cases import LOOPBACK, NAMESPACE


class UploadChecks:
    def assert_uploaded(self, result, local_path, text):
        self.assert_ok(result)
        remote = result.get("remotePath")
        self.assertIsInstance(remote, str, f"the upload was not answered with a path: {result}")
        self.assertNotEqual(remote, local_path,
                            "the client typed its local path: the grid did not take the upload")
        self.assertTrue(os.path.isabs(remote), remote)
        self.assertEqual(os.path.basename(remote), os.path.basename(local_path))
        self.assertEqual(result["pageFileName"], os.path.basename(local_path), result)
        self.assertEqual(result["pageFileText"], text, result)
        # The session has ended (the client quit): its upload folder goes with it.
        harness.wait_for(lambda: not os.path.exists(remote), 10,
                         f"the uploaded {remote} to be removed with its session")

    def unique_text(self, who):
        return f"uploaded by {who} {os.urandom(8).hex()}"


class PythonAndRubyChecks(UploadChecks):
    def check_python(self, where):
        text = self.unique_text("python")
        path = self.local_file("python-upload.txt", text)
        result = self.run_python(where, "upload_and_cdp.py", "--grid", self.grid_url(where),
                                 "--page", self.pages.url, "--file", path, "--user-data-dir",
                                 self.user_data_dir())
        self.assert_uploaded(result, path, text)
        self.assertEqual(result["cdpEvaluated"], "gridhub end-to-end", result)

    def check_ruby(self, where):
        text = self.unique_text("ruby")
        path = self.local_file("ruby-upload.txt", text)
        result = self.run_ruby(where, "upload.rb", "--grid", self.grid_url(where), "--page",
                               self.pages.url, "--file", path, "--user-data-dir",
                               self.user_data_dir())
        self.assert_uploaded(result, path, text)


class FileUploadClientsTest(PythonAndRubyChecks, client_cases.SharedGridTest):
    """Python and Ruby uploads (and Python's execute_cdp_cmd) on a plain standalone."""

    def test_python_loopback(self):
        self.check_python(LOOPBACK)

    def test_python_from_namespace(self):
        self.check_python(NAMESPACE)

    def test_ruby_loopback(self):
        self.check_ruby(LOOPBACK)

    def test_ruby_from_namespace(self):
        self.check_ruby(NAMESPACE)


class HubNodeFileUploadTest(PythonAndRubyChecks, client_cases.SharedGridTest):
    """The same uploads through a hub to a separate node agent, which keeps the file."""

    @classmethod
    def start_grid(cls, h):
        return cls.start_hub_and_node(h)

    def test_python_from_namespace(self):
        self.check_python(NAMESPACE)

    def test_ruby_from_namespace(self):
        self.check_ruby(NAMESPACE)


class ManagedDownloadClientsTest(UploadChecks, client_cases.SharedGridTest):
    """selenium-webdriver: upload, then a managed download, on a slot with `downloads: true`."""

    EVENT = "test:passed"

    @classmethod
    def start_grid(cls, h):
        slot = dict(harness.chrome_slot(), downloads=True)
        slot["stereotype"] = dict(slot["stereotype"], **{"se:downloadsEnabled": True})
        config = {"server": {"host": "0.0.0.0"}, "node": {"slots": [slot]}}
        return h.start_standalone(slots=cls.SLOTS, config=config)

    def events_counted(self):
        status, text = harness.http_json("GET", self.grid.url + "/metrics")
        self.assertEqual(status, 200, text)
        total = 0.0
        for line in str(text).splitlines():
            if line.startswith("gridhub_session_events_total{") and f'"{self.EVENT}"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def check_selenium_webdriver(self, where):
        text = self.unique_text("selenium-webdriver")
        path = self.local_file("js-upload.txt", text)
        out = os.path.join(self.h.tmp, f"downloaded-{where}")
        events_before = self.events_counted()
        result = self.run_js(where, "selenium_files.js", "--grid", self.grid_url(where), "--page",
                             self.pages.url, "--file", path, "--download-name",
                             client_pages.DOWNLOAD_NAME, "--out", out, "--event", self.EVENT,
                             "--user-data-dir", self.user_data_dir())
        self.assert_uploaded(result, path, text)
        self.assertIs(result["downloadsEnabled"], True, result)
        self.assertIn(client_pages.DOWNLOAD_NAME, result["downloadable"], result)
        self.assertEqual(base64.b64decode(result["downloadedBase64"]), self.pages.download_bytes)
        self.assertEqual(result["afterDelete"], [], result)
        self.assertIsNone(result["event"], result)
        harness.wait_for(lambda: self.events_counted() >= events_before + 1, 5,
                         f"gridhub_session_events_total{{event={self.EVENT}}} to count the event")
        self.assertEqual(result["quit"], "ok", result)

    def test_selenium_webdriver_loopback(self):
        self.check_selenium_webdriver(LOOPBACK)

    def test_selenium_webdriver_from_namespace(self):
        self.check_selenium_webdriver(NAMESPACE)


if __name__ == "__main__":
    unittest.main()
