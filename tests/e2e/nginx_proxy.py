"""Debian's nginx as a reverse proxy in front of a hub, run as a child process of the test.

    proxy = nginx_proxy.start(h, upstream_port=grid.port, listen=["127.0.0.1", ns.host_ip])
    proxy.port                                      # the same port on every listen address

A temporary config (`daemon off`, its own pid, log and temp paths under the harness's folder)
proxies `/` to the hub as is and `/grid/` to the hub's `/` with `X-Forwarded-Prefix: /grid`,
passes the WebSocket upgrade headers, and sets `X-Forwarded-Host` / `X-Forwarded-Proto`
(nginx's own `Host` towards the hub is the upstream address, 127.0.0.1:HUB, which is exactly
what the answers must not name). The process is stopped by pid with the harness's processes.
"""

import os

import harness

NGINX = "/usr/sbin/nginx"

CONFIG = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
  access_log {dir}/nginx-access.log;
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  client_max_body_size 64m;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
{listen}
    proxy_http_version 1.1;
    proxy_read_timeout 120s;
    proxy_send_timeout 120s;
    # A location with a proxy_set_header of its own inherits none from the server level, so
    # each location spells out all of them.
    location /grid/ {{
      proxy_pass http://127.0.0.1:{upstream}/;
{headers}
      proxy_set_header X-Forwarded-Prefix /grid;
    }}
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
{headers}
    }}
  }}
}}
"""


HEADERS = """      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;"""


class Proxy:
    def __init__(self, process, port):
        self.process = process
        self.port = port


def start(h, upstream_port, listen):
    """nginx on a free port of every address in `listen`, proxying to 127.0.0.1:upstream_port."""
    if not os.access(NGINX, os.X_OK):
        raise AssertionError(f"{NGINX} is missing: scripts/install-deps.sh installs nginx")
    port = harness.free_port()
    folder = os.path.join(h.tmp, "nginx")
    os.makedirs(folder, exist_ok=True)
    config_path = os.path.join(folder, "nginx.conf")
    with open(config_path, "w") as f:
        f.write(CONFIG.format(dir=folder, upstream=upstream_port, headers=HEADERS,
                              listen="\n".join(f"    listen {a}:{port};" for a in listen)))
    process = h.start("nginx", [NGINX, "-p", folder, "-c", config_path, "-e",
                                os.path.join(folder, "nginx-error.log")])

    def answering():
        if not process.running():
            raise RuntimeError(f"nginx exited with {process.popen.poll()}: {process.log_tail()}")
        status, _ = harness.http_json("GET", f"http://127.0.0.1:{port}/status", timeout=2)
        return status == 200

    harness.wait_for(answering, harness.START_TIMEOUT, f"nginx on port {port} to proxy /status")
    return Proxy(process, port)
