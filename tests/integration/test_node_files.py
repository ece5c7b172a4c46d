"""Black-box tests of the node's file endpoints (DESIGN 4b, docs/files.md): upload
(`POST /session/{id}/se/file`) and managed downloads (`/session/{id}/se/files`), against the real
`gridhub node` / `gridhub standalone` with fake drivers (node-agent/testdata/fake_driver.py, which
echoes the capabilities it was sent, so the download folder is read from the Chromium prefs the
node gave it). Every call goes through a real hub, which proxies these paths like any command.
What is on disk is checked by listing the node's work directory ($TMPDIR/gridhub-node-<id>).
Python standard library only; processes are stopped by pid (test_node.NodeTestCase). One case
runs real chromedriver + Chromium (skipped when not installed): the page reads an uploaded file,
and a served attachment lands in the managed download folder and is fetched.
"""

import base64
import http.server
import io
import os
import struct
import subprocess
import threading
import unittest
import zipfile

from hubtest import call_json, wait_for
from test_node import FAKE_DRIVER, PYTHON, GridhubProcess, NodeTestCase, fake_slot, free_port

DOWNLOADS = {"browserName": "chrome", "se:downloadsEnabled": True}
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def zip_of(*entries, compression=zipfile.ZIP_DEFLATED):
    """base64 of a zip holding `entries`: (name, bytes) or zipfile.ZipInfo with bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def b64(raw):
    # As Python's own binding sends it: encodebytes, with a newline every 76 characters.
    return base64.encodebytes(raw).decode()


def info(name, mode):
    entry = zipfile.ZipInfo(name)
    entry.external_attr = mode << 16
    entry.create_system = 3  # Unix
    return entry


def with_declared_size(raw, size):
    """The one-entry zip `raw` with both uncompressed-size fields rewritten (a lying client)."""
    data = bytearray(raw)
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, size)
    struct.pack_into("<I", data, central + 24, size)
    return bytes(data)


def download_slot(label="chrome-dl"):
    slot = fake_slot(label=label)
    slot["downloads"] = True
    return slot


class FilesTestCase(NodeTestCase):
    def work_dir(self, node_id="n1"):
        return os.path.join(self._tmp.name, f"gridhub-node-{node_id}")

    def tree(self, node_id="n1"):
        """Every path under the node's work dir but the driver logs (they grow by themselves)."""
        root = self.work_dir(node_id)
        out = set()
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.relpath(os.path.join(folder, name), root)
                if not path.startswith("logs"):
                    out.add(path)
        return out

    def session(self, hub, always=None):
        status, body = hub.new_session(always or {"browserName": "chrome"})
        self.assertEqual(status, 200, body)
        return body["value"]["sessionId"], body["value"]["capabilities"]

    def upload(self, url, session, raw=None, body=None):
        return call_json("POST", f"{url}/session/{session}/se/file",
                         body if body is not None else {"file": b64(raw)})


class UploadTest(FilesTestCase):
    def test_upload_lands_on_the_node_and_goes_with_the_session(self):
        hub = self.start_hub()
        self.start_gridhub_node(hub)
        session, _ = self.session(hub)
        status, body = self.upload(hub.url, session, zip_of(("report.txt", b"hello node")))
        self.assertEqual(status, 200, body)
        path = body["value"]
        self.assertTrue(os.path.isabs(path), path)
        self.assertTrue(path.startswith(self.work_dir() + "/"), path)
        self.assertEqual(os.path.basename(path), "report.txt")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"hello node")
        # The same name again: a folder of its own, the first file untouched.
        status, again = self.upload(hub.url, session, zip_of(("report.txt", b"second")))
        self.assertEqual(status, 200, again)
        self.assertNotEqual(again["value"], path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"hello node")
        # Empty and Unicode-named files are fine, stored or deflated.
        for name, data, method in (("empty.bin", b"", zipfile.ZIP_STORED),
                                   ("résumé 日本.pdf", b"%PDF", zipfile.ZIP_DEFLATED)):
            status, body = self.upload(hub.url, session, zip_of((name, data), compression=method))
            self.assertEqual(status, 200, body)
            self.assertEqual(os.path.basename(body["value"]), name)
            with open(body["value"], "rb") as f:
                self.assertEqual(f.read(), data)
        # Under the legacy prefix too.
        status, body = call_json("POST", f"{hub.url}/wd/hub/session/{session}/se/file",
                                 {"file": b64(zip_of(("w.txt", b"w")))})
        self.assertEqual(status, 200, body)
        status, _ = call_json("DELETE", f"{hub.url}/session/{session}")
        self.assertEqual(status, 200)
        wait_for(lambda: not os.path.exists(path), 10, "the upload folder to go")
        self.assertEqual({p for p in self.tree() if p.startswith("session-")}, set())

    def test_every_refusal_is_400_and_leaves_nothing(self):
        hub = self.start_hub()
        self.start_gridhub_node(hub, {"max-upload": "1K"})
        session, _ = self.session(hub)
        before = self.tree()
        two = zip_of(("a.txt", b"1"), ("b.txt", b"2"))
        empty_zip = b"PK\x05\x06" + b"\0" * 18
        bomb = with_declared_size(zip_of(("bomb.bin", b"\0" * 200000)), 10)
        cases = [
            ("not base64", {"file": "this is not base64!"}, "not base64"),
            ("no file", {"name": "x"}, "needs \"file\""),
            ("not a zip", {"file": b64(b"plain text, no zip")}, "not a zip"),
            ("two files", {"file": b64(two)}, "exactly one file; it holds 2"),
            ("zero files", {"file": b64(empty_zip)}, "exactly one file; it holds 0"),
            ("zip slip", {"file": b64(zip_of(("../escape.txt", b"x")))}, "path separator"),
            ("deep slip", {"file": b64(zip_of(("../../../tmp/x", b"x")))}, "path separator"),
            ("absolute", {"file": b64(zip_of(("/etc/gridhub-x", b"x")))}, "absolute path"),
            ("symlink", {"file": b64(zip_of((info("link", 0o120777), b"/etc/passwd")))},
             "symbolic link"),
            ("directory", {"file": b64(zip_of((info("folder/", 0o040755), b"")))}, "directory"),
            ("declared oversize", {"file": b64(zip_of(("big.bin", b"b" * 1025)))},
             "larger than node.max-upload (1 KiB unpacked)"),
            ("actual oversize", {"file": b64(bomb)}, "file upload refused"),
        ]
        for name, body, reason in cases:
            with self.subTest(name):
                status, answer = self.upload(hub.url, session, body=body)
                self.assertEqual(status, 400, answer)
                self.assertEqual(answer["value"]["error"], "invalid argument")
                self.assertIn(reason, answer["value"]["message"])
                self.assertEqual(self.tree(), before, "a refused upload leaves nothing")
        self.assertFalse(os.path.exists("/etc/gridhub-x"))
        # The limit itself is fine.
        status, body = self.upload(hub.url, session, zip_of(("edge.bin", b"e" * 1024)))
        self.assertEqual(status, 200, body)

    def test_folder_goes_when_the_node_ends_the_session(self):
        hub = self.start_hub()
        self.start_gridhub_node(hub, {"session-timeout": "1s"})
        # Idle timeout.
        session, _ = self.session(hub)
        status, body = self.upload(hub.url, session, zip_of(("idle.txt", b"i")))
        self.assertEqual(status, 200, body)
        wait_for(lambda: not os.path.exists(body["value"]), 10, "the idle session's folder to go")
        # The driver dies.
        session, caps = self.session(hub)
        status, body = self.upload(hub.url, session, zip_of(("dead.txt", b"d")))
        self.assertEqual(status, 200, body)
        os.kill(caps["fake:pid"], 9)
        wait_for(lambda: not os.path.exists(body["value"]), 10, "the dead session's folder to go")
        wait_for(lambda: hub.busy_slots() == [], 10, "the slot to come back")
        status, _ = self.upload(hub.url, session, zip_of(("late.txt", b"l")))
        self.assertEqual(status, 404)
        self.assertEqual({p for p in self.tree() if p.startswith("session-")}, set())

    def test_standalone_takes_uploads(self):
        port = free_port()
        config = {"server": {"host": "127.0.0.1", "port": port},
                  "node": {"id": "solo", "slots": [fake_slot()]}}
        grid = GridhubProcess("standalone", config, self._tmp.name,
                              r"^gridhub standalone listening on (http://\S+)$")
        self._gridhubs.append(grid)
        status, body = call_json("POST", f"{grid.url}/session",
                                 {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}})
        self.assertEqual(status, 200, body)
        session = body["value"]["sessionId"]
        status, body = self.upload(grid.url, session, zip_of(("solo.txt", b"standalone")))
        self.assertEqual(status, 200, body)
        with open(body["value"], "rb") as f:
            self.assertEqual(f.read(), b"standalone")
        status, _ = call_json("DELETE", f"{grid.url}/session/{session}")
        self.assertEqual(status, 200)
        wait_for(lambda: not os.path.exists(body["value"]), 10, "the upload to go")


class RelayTest(FilesTestCase):
    def test_a_relay_session_sends_its_file_calls_to_the_relay(self):
        port = free_port()
        relay = subprocess.Popen([PYTHON, FAKE_DRIVER, f"--port={port}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (relay.kill(), relay.wait(timeout=10)))

        def relay_ready():
            self.assertIsNone(relay.poll(), "the relay exited")
            try:
                return call_json("GET", f"http://127.0.0.1:{port}/status")[0] == 200
            except OSError:
                return False

        wait_for(relay_ready, 10, "the relay to listen")
        hub = self.start_hub()
        slot = {"label": "relayed", "relay": f"http://127.0.0.1:{port}",
                "stereotype": {"browserName": "chrome"}}
        self.start_gridhub_node(hub, slots=[slot])
        session, _ = self.session(hub)
        before = self.tree()
        # The fake relay knows no such command: its own answer comes back, the node kept nothing.
        status, body = self.upload(hub.url, session, zip_of(("r.txt", b"r")))
        self.assertEqual(status, 404, body)
        self.assertEqual(body["value"]["error"], "unknown command")
        self.assertIn("/se/file", body["value"]["message"])
        status, body = call_json("GET", f"{hub.url}/session/{session}/se/files")
        self.assertEqual(status, 404, body)
        self.assertIn("/se/files", body["value"]["message"])
        self.assertEqual(self.tree(), before)


class DownloadsTest(FilesTestCase):
    def start_two_slot_node(self, hub):
        # The plain slot first: a request that asks for downloads must still skip it.
        return self.start_gridhub_node(hub, slots=[fake_slot(label="chrome"), download_slot()])

    def download_dir(self, caps):
        prefs = caps["goog:chromeOptions"]["prefs"]
        self.assertEqual(prefs["download.prompt_for_download"], False)
        self.assertEqual(prefs["savefile.default_directory"], prefs["download.default_directory"])
        return prefs["download.default_directory"]

    def test_list_fetch_and_delete_downloads(self):
        hub = self.start_hub()
        self.start_two_slot_node(hub)
        session, caps = self.session(hub, DOWNLOADS)
        self.assertIs(caps.get("se:downloadsEnabled"), True)
        folder = self.download_dir(caps)
        self.assertTrue(folder.startswith(self.work_dir() + "/"), folder)
        self.assertTrue(os.path.isdir(folder))
        files = f"{hub.url}/session/{session}/se/files"
        status, body = call_json("GET", files)
        self.assertEqual((status, body), (200, {"value": {"names": []}}))
        with open(os.path.join(folder, "a.pdf"), "wb") as f:
            f.write(b"%PDF-1.4 fake")
        with open(os.path.join(folder, "b.csv"), "wb") as f:
            f.write(b"x,y\n")
        with open(os.path.join(folder, "c.zip.crdownload"), "wb") as f:
            f.write(b"half")
        status, body = call_json("GET", files)
        self.assertEqual((status, body), (200, {"value": {"names": ["a.pdf", "b.csv"]}}))
        status, body = call_json("POST", files, {"name": "a.pdf"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["value"]["filename"], "a.pdf")
        raw = base64.b64decode(body["value"]["contents"])
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            self.assertEqual(archive.namelist(), ["a.pdf"])
            self.assertEqual(archive.read("a.pdf"), b"%PDF-1.4 fake")
        status, body = call_json("POST", files, {"name": "missing.pdf"})
        self.assertEqual(status, 404, body)
        self.assertIn("missing.pdf", body["value"]["message"])
        for bad in ("../profile", "/etc/passwd", ".."):
            status, body = call_json("POST", files, {"name": bad})
            self.assertEqual(status, 400, (bad, body))
            self.assertEqual(body["value"]["error"], "invalid argument")
        status, body = call_json("DELETE", files)
        self.assertEqual((status, body), (200, {"value": None}))
        self.assertEqual(os.listdir(folder), [])
        status, _ = call_json("DELETE", f"{hub.url}/session/{session}")
        self.assertEqual(status, 200)
        wait_for(lambda: not os.path.exists(folder), 10, "the download folder to go")

    def test_a_session_without_downloads_says_how_to_enable_them(self):
        hub = self.start_hub()
        self.start_gridhub_node(hub)
        session, caps = self.session(hub)
        self.assertNotIn("se:downloadsEnabled", caps)
        self.assertNotIn("prefs", caps["goog:chromeOptions"])
        for method, body in (("GET", None), ("POST", {"name": "a.pdf"}), ("DELETE", None)):
            status, answer = call_json(method, f"{hub.url}/session/{session}/se/files", body)
            self.assertEqual(status, 500, answer)
            self.assertEqual(answer["value"]["error"], "unsupported operation")
            self.assertIn("downloads: true", answer["value"]["message"])
            self.assertIn("se:downloadsEnabled: true", answer["value"]["message"])

    def test_requests_for_downloads_go_only_to_download_slots(self):
        hub = self.start_hub()
        self.start_two_slot_node(hub)
        # Both sessions at once: the plain slot is free the whole time, and still not chosen.
        first, caps1 = self.session(hub, DOWNLOADS)
        self.assertIs(caps1.get("se:downloadsEnabled"), True)
        busy = hub.busy_slots()
        self.assertEqual(len(busy), 1)
        self.assertTrue(busy[0]["id"].endswith("slot-1"), busy)
        # A request that does not ask may use either; with the download slot busy, the plain one.
        second, caps2 = self.session(hub)
        self.assertNotIn("se:downloadsEnabled", caps2)
        # A second download request has no free download slot: it waits rather than take the
        # plain one (X-No-Wait makes it answer at once).
        status, body = hub.new_session(DOWNLOADS, headers={"X-No-Wait": "true"})
        self.assertEqual(status, 500, body)
        for session in (first, second):
            call_json("DELETE", f"{hub.url}/session/{session}")

    def test_no_download_slot_makes_the_request_unsatisfiable(self):
        hub = self.start_hub()
        self.start_gridhub_node(hub)
        status, body = hub.new_session(DOWNLOADS)
        self.assertEqual(status, 500, body)
        self.assertEqual(body["value"]["error"], "session not created")
        self.assertIn("se:downloadsEnabled", body["value"]["message"])
        self.assertEqual(hub.busy_slots(), [])

    def test_a_download_slot_serves_requests_that_do_not_ask(self):
        hub = self.start_hub()
        self.start_gridhub_node(hub, slots=[download_slot()])
        session, caps = self.session(hub)
        # The slot's stereotype carries the capability, so the session has managed downloads.
        self.assertIs(caps.get("se:downloadsEnabled"), True)
        status, body = call_json("GET", f"{hub.url}/session/{session}/se/files")
        self.assertEqual((status, body), (200, {"value": {"names": []}}))
        slots = [s for n in hub.status()["nodes"] for s in n["slots"]]
        self.assertIs(slots[0]["stereotype"]["se:downloadsEnabled"], True)


PAGE = b"""<!doctype html><title>files</title>
<input type=file id=f>
<a id=dl href="/report.csv">download</a>"""
REPORT = b"name,value\ngridhub,42\n"


class Pages(http.server.BaseHTTPRequestHandler):
    """The page with a file input and a link to a served attachment."""

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        body, extra = (REPORT, {"Content-Type": "text/csv",
                                "Content-Disposition": 'attachment; filename="report.csv"'}) \
            if self.path == "/report.csv" else (PAGE, {"Content-Type": "text/html"})
        self.send_response(200)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@unittest.skipUnless(os.path.exists(CHROMEDRIVER) and os.path.exists(CHROMIUM),
                     "needs chromedriver and chromium")
class ChromiumFilesTest(FilesTestCase):
    """Real chromedriver + Chromium through a hub: an uploaded file is what the page reads, and a
    served attachment lands in the managed download folder."""

    def setUp(self):
        super().setUp()
        self.pages = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
        thread = threading.Thread(target=self.pages.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(lambda: (self.pages.shutdown(), self.pages.server_close(), thread.join(5)))
        self.page_url = f"http://127.0.0.1:{self.pages.server_address[1]}/"

    def command(self, url, method, path, body=None):
        status, answer = call_json(method, f"{url}{path}", body, timeout=60)
        self.assertEqual(status, 200, (path, answer))
        return answer["value"]

    def test_real_upload_and_download(self):
        hub = self.start_hub()
        slot = {"label": "chrome", "driver": [CHROMEDRIVER], "downloads": True,
                "stereotype": {"browserName": "chrome",
                               "goog:chromeOptions": {"binary": CHROMIUM,
                                                      "args": ["--headless=new", "--disable-gpu"]}}}
        self.start_gridhub_node(hub, slots=[slot])
        status, body = hub.new_session(DOWNLOADS, timeout=60)
        self.assertEqual(status, 200, body)
        session = f"/session/{body['value']['sessionId']}"
        try:
            self.check_real_files(hub, session, body["value"]["capabilities"])
        finally:
            call_json("DELETE", f"{hub.url}{session}", timeout=60)
        # The browser is gone with its session's folder (profile, uploads, downloads).
        wait_for(lambda: not any(p.startswith("session-") for p in self.tree()), 20,
                 "the session's folder to go")

    def check_real_files(self, hub, session, caps):
        self.assertIs(caps["se:downloadsEnabled"], True)
        self.command(hub.url, "POST", f"{session}/url", {"url": self.page_url})

        path = self.command(hub.url, "POST", f"{session}/se/file",
                            {"file": b64(zip_of(("upload.txt", b"read by the page")))})
        found = self.command(hub.url, "POST", f"{session}/element",
                             {"using": "css selector", "value": "#f"})
        self.command(hub.url, "POST", f"{session}/element/{found[ELEMENT]}/value",
                     {"text": path})
        read = self.command(hub.url, "POST", f"{session}/execute/async", {
            "script": "const done = arguments[0]; const f = document.getElementById('f').files[0];"
                      "f.text().then(t => done([f.name, t]));", "args": []})
        self.assertEqual(read, ["upload.txt", "read by the page"])

        self.command(hub.url, "POST", f"{session}/execute/sync",
                     {"script": "document.getElementById('dl').click()", "args": []})
        wait_for(lambda: self.command(hub.url, "GET", f"{session}/se/files")["names"]
                 == ["report.csv"], 20, "the download to be listed")
        fetched = self.command(hub.url, "POST", f"{session}/se/files", {"name": "report.csv"})
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(fetched["contents"]))) as archive:
            self.assertEqual(archive.read("report.csv"), REPORT)
        self.assertIsNone(self.command(hub.url, "DELETE", f"{session}/se/files"))
        self.assertEqual(self.command(hub.url, "GET", f"{session}/se/files"), {"names": []})


if __name__ == "__main__":
    unittest.main()
