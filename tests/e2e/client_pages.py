"""The pages the socket and file client tests load, served on loopback like harness's test page.

Chromium runs on this host, so loopback is where it finds them, even when the client that
drives it sits in a network namespace. Every page's observable outcome is written into the DOM
(or the console), so a client script can read back what the browser really did:

    /                 harness.TEST_PAGE (title, form, button): Playwright and puppeteer
    /console.html#X   logs "gridhub-console X" on load (BiDi log.entryAdded, LogInspector)
    /mock.html        fetches /api/greeting into #greeting; the server's own answer is
                      REAL_GREETING, so any other text there came from a client's network mock
    /upload.html      <input type=file id=file>; the chosen file's name and text go to
                      #file-name and #file-text (a FileDetector upload read back by the page)
    /download.html    <a id=download> to /files/NAME, served as an attachment
    /files/NAME       the bytes of DOWNLOAD_NAME (random per server, so a stale file cannot pass)
"""

import http.server
import os

import harness
import loopback_http  # from tests/integration, which harness puts on sys.path

REAL_GREETING = "greeting from the page server"
DOWNLOAD_NAME = "gridhub-report.txt"
CONSOLE_PREFIX = "gridhub-console "

CONSOLE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>console page</title></head>
<body><p id="said"></p>
<script>
  const text = 'gridhub-console ' + decodeURIComponent(location.hash.slice(1));
  document.getElementById('said').textContent = text;
  console.log(text);
</script></body></html>
"""

MOCK_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>mock page</title></head>
<body><p id="greeting">waiting</p>
<script>
  fetch('/api/greeting').then((r) => r.text()).then(
      (t) => { document.getElementById('greeting').textContent = t; },
      (e) => { document.getElementById('greeting').textContent = 'fetch failed: ' + e; });
</script></body></html>
"""

UPLOAD_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>upload page</title></head>
<body>
<input id="file" type="file">
<p id="file-name"></p>
<pre id="file-text"></pre>
<script>
  document.getElementById('file').addEventListener('change', (event) => {
    const file = event.target.files[0];
    const reader = new FileReader();
    reader.onload = () => {
      document.getElementById('file-text').textContent = reader.result;
      document.getElementById('file-name').textContent = file.name;  // last: the "done" mark
    };
    reader.readAsText(file);
  });
</script></body></html>
"""

DOWNLOAD_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>download page</title></head>
<body><a id="download" href="/files/{name}" download="{name}">download</a></body></html>
"""


class ClientPages:
    """Serves the pages above on a kernel-chosen loopback port from a daemon thread."""

    def __init__(self):
        self.download_bytes = ("gridhub managed download " + os.urandom(12).hex() + "\n").encode()
        routes = {
            "/": harness.TEST_PAGE,
            "/index.html": harness.TEST_PAGE,
            "/console.html": CONSOLE_PAGE,
            "/mock.html": MOCK_PAGE,
            "/upload.html": UPLOAD_PAGE,
            "/download.html": DOWNLOAD_PAGE.format(name=DOWNLOAD_NAME),
        }
        pages = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - name fixed by http.server
                path = self.path.split("?")[0]
                headers = {"Content-Type": "text/html; charset=utf-8"}
                if path in routes:
                    status, body = 200, routes[path].encode()
                elif path == "/api/greeting":
                    status, body = 200, REAL_GREETING.encode()
                    headers = {"Content-Type": "text/plain; charset=utf-8"}
                elif path == f"/files/{DOWNLOAD_NAME}":
                    status, body = 200, pages.download_bytes
                    headers = {"Content-Type": "application/octet-stream",
                               "Content-Disposition": f'attachment; filename="{DOWNLOAD_NAME}"'}
                else:
                    status, body = 404, b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):
                pass

        self._server, url = loopback_http.start(Handler, harness._QuietServer)
        self.url = url + "/"

    def stop(self):
        loopback_http.stop(self._server)
