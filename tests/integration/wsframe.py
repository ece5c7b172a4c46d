"""RFC 6455 frames for the fake WebSocket servers (standard library only).

Used by the fake node in test_websockets.py (and its raw client) and by
node-agent/testdata/fake_driver.py, which puts this folder on sys.path:

    key = headers["Sec-WebSocket-Key"]      # answer 101 with Sec-WebSocket-Accept: accept_key(key)
    fin, opcode, payload = read_frame(rfile)            # None at EOF; unmasked
    wfile.write(frame(opcode, payload, fin))            # a server's frame (unmasked)
    sock.sendall(frame(0x1, b"hi", mask=True))          # a client's frame

wsclient.py is the full client (reassembly, pings) the tests drive sockets with.
"""

import base64
import hashlib
import os
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key):
    """The Sec-WebSocket-Accept answering Sec-WebSocket-Key `key`."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def read_exact(stream, n):
    """`n` bytes from a file (read) or a socket (recv); None when it ends first."""
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data)) if hasattr(stream, "read") else stream.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(stream):
    """(fin, opcode, payload) of the next frame, unmasked; None at EOF."""
    head = read_exact(stream, 2)
    if head is None:
        return None
    fin, opcode = head[0] & 0x80, head[0] & 0x0F
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", read_exact(stream, 2) or b"\0\0")[0]
    elif length == 127:
        length = struct.unpack("!Q", read_exact(stream, 8) or b"\0" * 8)[0]
    mask = read_exact(stream, 4) if head[1] & 0x80 else b"\0\0\0\0"
    payload = read_exact(stream, length) if length else b""
    if mask is None or payload is None:
        return None
    return bool(fin), opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def frame(opcode, payload, fin=True, mask=False):
    """One frame; a server's is never masked, a client's always is (`mask`)."""
    first = (0x80 if fin else 0) | opcode
    bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, bit | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, bit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
