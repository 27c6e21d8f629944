"""Server side of RFC 6455 WebSocket framing, enough for the Kubernetes exec channel protocols."""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import BinaryIO

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL_CLOSURE, PROTOCOL_ERROR = 1000, 1002


def accept_key(client_key: str) -> str:
    """The Sec-WebSocket-Accept value proving the server read the client's key."""
    return base64.b64encode(hashlib.sha1((client_key.strip() + _GUID).encode("ascii")).digest()).decode()


def handshake(client_key: str, protocol: str | None) -> bytes:
    """The complete `101 Switching Protocols` response for an upgrade request."""
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept_key(client_key)}"]
    if protocol:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class ConnectionClosed(Exception):
    """The peer closed the connection (with or without a close frame)."""


class WebSocket:
    """One server-side connection over a socket's buffered reader and writer."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO) -> None:
        self._reader, self._writer = reader, writer
        self.closed = False

    def send(self, payload: bytes, opcode: int = BINARY) -> None:
        """One unfragmented frame; server frames are never masked."""
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        self._writer.write(header + payload)
        self._writer.flush()

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            try:
                self.send(struct.pack("!H", code) + reason.encode("utf-8"), CLOSE)
            except OSError:
                pass

    def receive(self) -> tuple[int, bytes]:
        """The next data message as (TEXT or BINARY, payload), answering pings on the way.

        Raises ConnectionClosed when the peer closes; its close frame is answered first.
        """
        opcode, parts = None, []
        while True:
            fin, frame_opcode, payload = self._read_frame()
            if frame_opcode == PING:
                self.send(payload, PONG)
            elif frame_opcode == PONG:
                continue
            elif frame_opcode == CLOSE:
                self.close()
                raise ConnectionClosed()
            else:
                if frame_opcode != CONTINUATION:
                    opcode = frame_opcode
                parts.append(payload)
                if fin:
                    return opcode if opcode is not None else BINARY, b"".join(parts)

    def _read_frame(self) -> tuple[bool, int, bytes]:
        first, second = self._read_exact(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exact(8))
        if not second & 0x80:
            # RFC 6455 §5.1: a server must close the connection on an unmasked client frame.
            self.close(PROTOCOL_ERROR, "client frames must be masked")
            raise ConnectionClosed()
        mask = self._read_exact(4)
        data = self._read_exact(length)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return bool(first & 0x80), first & 0x0F, payload

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self._reader.read(n - len(data))
            if not chunk:
                self.closed = True
                raise ConnectionClosed()
            data += chunk
        return data
