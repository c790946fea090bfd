"""Reading a server's websocket frames cheaply, for thousands of screens in one Locust process.

websocket-client's ``recv()`` costs about 50 µs of Python per message (three socket reads per frame, a
frame object, checks); with 3,000 screens each receiving every call, the load generator would measure its
own queue, not the server. The screens therefore let websocket-client do the handshake and then read the
socket themselves: one ``recv`` takes whatever frames have arrived and this parser splits them.

Server frames are never masked (RFC 6455 5.1). Pings must be answered, or the server closes the socket
(uvicorn pings every 20 s); the answer is masked like every client frame.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


@dataclass(slots=True)
class Frame:
    opcode: int
    payload: bytes


@dataclass
class FrameReader:
    """Feed it bytes as they come; it returns the complete frames (fragments joined into one message)."""

    buffer: bytearray = field(default_factory=bytearray)
    _fragments: list[bytes] = field(default_factory=list)
    _fragment_op: int = 0

    def feed(self, data: bytes) -> list[Frame]:
        # Fast path, nearly every read of a screen: exactly one unmasked, final text frame under 64 KiB.
        if not self.buffer and len(data) >= 4 and data[0] == 0x81:
            n = data[1]
            if n < 126 and len(data) == 2 + n:
                return [Frame(OP_TEXT, data[2:])]
            if n == 126 and len(data) == 4 + ((data[2] << 8) | data[3]):
                return [Frame(OP_TEXT, data[4:])]
        buf = self.buffer
        buf += data
        frames: list[Frame] = []
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if end - pos < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, pos + 2)
                head = 10
            if b1 & 0x80:  # a masked server frame breaks the protocol; keep the key to unmask anyway
                head += 4
            if end - pos < head + length:
                break
            payload = bytes(buf[pos + head:pos + head + length])
            if b1 & 0x80:
                key = buf[pos + head - 4:pos + head]
                payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
            pos += head + length
            self._collect(b0, payload, frames)
        if pos:
            del buf[:pos]
        return frames

    def _collect(self, b0: int, payload: bytes, frames: list[Frame]) -> None:
        fin, opcode = b0 & 0x80, b0 & 0x0F
        if opcode >= OP_CLOSE:  # control frames are never fragmented and may come between fragments
            frames.append(Frame(opcode, payload))
        elif opcode == OP_CONT:
            self._fragments.append(payload)
            if fin:
                frames.append(Frame(self._fragment_op, b"".join(self._fragments)))
                self._fragments = []
        elif fin:
            frames.append(Frame(opcode, payload))
        else:
            self._fragment_op, self._fragments = opcode, [payload]


def client_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A masked frame from the client (pong, close): every client frame must be masked."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + struct.pack("!H", n)
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + struct.pack("!Q", n)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))
