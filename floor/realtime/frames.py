"""Feed texts written straight to uvicorn's websocket transport, each event framed once for all its sockets.

Through Starlette and uvicorn's ASGI ``send``, a text costs every socket the same work again: the ASGI
message, the checks, the text encoded, a websocket frame built by the websockets library, the pieces joined,
and only then the write. The hub offers one event to every screen of a hall, and a server's frame is not
masked, so those bytes are the same for every socket: here they are built once, and each socket only checks
that it can take them now and writes them (the fan-out scenarios of ``loadtest/`` measure the difference).

Only uvicorn's ``websockets-sansio`` protocol is recognised, and only while its connection is open, its
handshake done, nothing paused and no extension negotiated (hallq's server turns permessage-deflate off).
Otherwise ``writer_for`` gives None, or the writer says False, and the text goes the ordinary ASGI way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

OP_TEXT_FIN = 0x81  # FIN + text: a whole message in one frame (RFC 6455, 5.2)
# What ``write`` reads of uvicorn's protocol and of its websockets connection: checked once per socket, so a
# uvicorn that renamed one of them falls back to the ASGI send instead of failing on every event.
_PROTOCOL_FIELDS = ("transport", "conn", "writable", "handshake_complete", "close_sent", "disconnected",
                    "initial_response")
_CONNECTION_FIELDS = ("state", "extensions")

Write = Callable[[Sequence[str]], bool]
SERVER_SEND = "hallq.server_send"  # the scope key under which HallApp keeps a websocket's send as uvicorn gave it


def text_frame(payload: bytes) -> bytes:
    """An unmasked text frame, as a server sends it."""
    n = len(payload)
    if n < 126:
        head = bytes((OP_TEXT_FIN, n))
    elif n < 1 << 16:
        head = bytes((OP_TEXT_FIN, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((OP_TEXT_FIN, 127)) + n.to_bytes(8, "big")
    return head + payload


class _Frames:
    """The frames of the texts framed lately: the hub hands every socket of a hall the same few text objects,
    one event, or a short run of them read together, and a socket's heartbeat of its own now and then."""

    KEEP = 32

    def __init__(self) -> None:
        self.frames: dict[str, bytes] = {}

    def of(self, text: str) -> bytes:
        frame = self.frames.get(text)  # a str caches its hash: the hall's texts cost a lookup, not an encode
        if frame is None:
            if len(self.frames) >= self.KEEP:
                self.frames.clear()
            frame = self.frames[text] = text_frame(text.encode())
        return frame


_FRAMES = _Frames()


def writer_for(send: Any) -> Write | None:
    """A direct writer for the socket behind an ASGI ``send`` as uvicorn passed it to the app, or None."""
    protocol = getattr(send, "__self__", None)
    if not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    if not all(hasattr(protocol, f) for f in _PROTOCOL_FIELDS):
        return None
    if not all(hasattr(protocol.conn, f) for f in _CONNECTION_FIELDS):
        return None
    p: Any = protocol  # the fields above are uvicorn's own, not part of its typed interface

    def write(texts: Sequence[str]) -> bool:
        """Write ``texts`` now, in one write, if the socket can take them, as uvicorn's send would; False: they
        must go that way."""
        if not (p.handshake_complete and p.writable.is_set() and p.initial_response is None) or p.close_sent \
                or p.disconnected or p.conn.state is not State.OPEN or p.conn.extensions:
            return False
        # One write, one send syscall, however many texts: the syscall is most of a fan-out's cost.
        p.transport.write(_FRAMES.of(texts[0]) if len(texts) == 1 else b"".join(map(_FRAMES.of, texts)))
        return True

    return write
