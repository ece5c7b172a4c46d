"""A minimal RFC 6455 WebSocket client for the integration tests (Python standard library only).

    ws = WebSocket.connect("ws://127.0.0.1:5555/session/S/se/bidi",
                           headers={"X-Registration-Secret": "s3cret"})
    ws.send_text('{"id": 1, "method": "session.status", "params": {}}')
    opcode, payload = ws.recv()
    ws.close()

`connect` raises HandshakeRefused (with the HTTP status and body) when the answer is not 101.
Client frames are masked; messages of any size; fragments are reassembled by recv(); pings are
answered. Every read is bounded by the socket timeout.
"""

import base64
import hashlib
import os
import socket
import struct
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeRefused(Exception):
    def __init__(self, status, head, body):
        super().__init__(f"upgrade refused: HTTP {status}: {body[:300]!r}")
        self.status = status
        self.head = head
        self.body = body


class Closed(Exception):
    """The peer ended the connection (EOF) or sent a close frame (`code`, None at EOF)."""

    def __init__(self, code=None):
        super().__init__(f"closed (code {code})")
        self.code = code


class WebSocket:
    def __init__(self, sock, leftover):
        self.sock = sock
        self.buffer = leftover

    @classmethod
    def connect(cls, url, headers=None, timeout=15.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError("only ws:// URLs: " + url)
        port = parts.port or 80
        sock = socket.create_connection((parts.hostname, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        host = parts.netloc
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                sock.close()
                raise HandshakeRefused(0, data.decode(errors="replace"), b"")
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        head_text = head.decode(errors="replace")
        status = int(head_text.split(" ", 2)[1])
        if status != 101:
            length = 0
            for line in head_text.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            try:
                while len(rest) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
            except OSError:
                pass
            sock.close()
            raise HandshakeRefused(status, head_text, rest)
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if f"sec-websocket-accept: {expected.lower()}" not in head_text.lower():
            sock.close()
            raise HandshakeRefused(status, head_text, b"wrong Sec-WebSocket-Accept")
        return cls(sock, rest)

    def send(self, opcode, payload, fin=True):
        if isinstance(payload, str):
            payload = payload.encode()
        first = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", first, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", first, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", first, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self.send(TEXT, text)

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise Closed()
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv_frame(self):
        """(fin, opcode, payload) of the next frame."""
        b1, b2 = self._read(2)
        n = b2 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        mask = self._read(4) if b2 & 0x80 else None
        payload = self._read(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(b1 & 0x80), b1 & 0x0F, payload

    def recv(self):
        """(opcode, payload) of the next message; raises Closed on a close frame or EOF."""
        opcode, parts = None, []
        while True:
            fin, op, payload = self.recv_frame()
            if op == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed(code)
            if op == PING:
                self.send(PONG, payload)
                continue
            if op == PONG:
                continue
            if opcode is None:
                opcode = op
            parts.append(payload)
            if fin:
                return opcode, b"".join(parts)

    def recv_text(self):
        opcode, payload = self.recv()
        assert opcode == TEXT, opcode
        return payload.decode()

    def wait_closed(self, timeout):
        """True when the peer ends the connection within `timeout` seconds (messages skipped)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                self.recv()
        except Closed:
            return True
        except (socket.timeout, TimeoutError):
            return False
        except OSError:  # reset
            return True

    def close(self):
        """Sends a close frame (when the connection is still there) and closes. Idempotent."""
        if self.sock.fileno() < 0:
            return
        try:
            self.send(CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
