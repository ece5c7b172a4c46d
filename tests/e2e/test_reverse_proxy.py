"""gridhub behind a real reverse proxy (Debian's nginx) with `hub.trust-forwarded: true`: the
URLs of the new-session answer name the proxy, and BiDi and CDP work through it (issue 11,
DESIGN 4a).

`gridhub standalone` listens on loopback only; nginx (nginx_proxy.py) listens on loopback and
on the namespace's veth end, and forwards with the upgrade headers and `X-Forwarded-*`, but
with `Host: 127.0.0.1:{hub port}`, so a hub that built its URLs from `Host` would name an
address the proxy's clients cannot use. Clients from loopback and from the namespace: the raw
`ws` probe (one BiDi and one CDP command) at `/` and under the `/grid/` prefix
(`X-Forwarded-Prefix`), and WebdriverIO 9 with its defaults.
"""

import unittest

import client_cases
import nginx_proxy
from client_cases import LOOPBACK, NAMESPACE
from test_websocket_clients import SocketClientChecks


class ReverseProxyTest(SocketClientChecks, client_cases.SharedGridTest):

    @classmethod
    def start_grid(cls, h):
        grid = h.start_standalone(slots=cls.SLOTS, config={
            "server": {"host": "127.0.0.1"},
            "hub": {"trust-forwarded": True},
        })
        ns = cls.class_namespace()
        listen = ["127.0.0.1"] + ([ns.host_ip] if ns else [])
        cls.proxy = nginx_proxy.start(h, upstream_port=grid.port, listen=listen)
        return grid

    # The clients' grid is the proxy.
    def grid_netloc(self, where):
        return f"{self.host(where)}:{self.proxy.port}"

    def grid_url(self, where):
        return f"http://{self.grid_netloc(where)}"

    def test_bidi_and_cdp_through_the_proxy_loopback(self):
        self.check_raw_probe(LOOPBACK)

    def test_bidi_and_cdp_through_the_proxy_from_namespace(self):
        self.check_raw_probe(NAMESPACE)

    def test_bidi_and_cdp_under_a_path_prefix_loopback(self):
        self.check_raw_probe(LOOPBACK, prefix="/grid")

    def test_bidi_and_cdp_under_a_path_prefix_from_namespace(self):
        self.check_raw_probe(NAMESPACE, prefix="/grid")

    def test_webdriverio_through_the_proxy_from_namespace(self):
        self.check_webdriverio(NAMESPACE)


if __name__ == "__main__":
    unittest.main()
