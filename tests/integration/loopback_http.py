"""An HTTP server on a kernel-chosen 127.0.0.1 port, serving from a daemon thread: what every
fake node and page server of the integration and e2e tests runs on.

    server, url = loopback_http.start(Handler)    # url: "http://127.0.0.1:PORT"
    ...
    loopback_http.stop(server)
"""

import http.server
import threading


def start(handler, server_class=http.server.ThreadingHTTPServer):
    """Starts `server_class` (request threads are daemons) with `handler`; (server, url)."""
    server = server_class(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def stop(server):
    """Stops serving and closes the listening socket (requests in flight are not waited for)."""
    server.shutdown()
    server.server_close()
