"""Live feeds over websockets: ``WS /api/v1/halls/{hall}/ws/{channel}`` for the screens of a hall.

Every message is ``{"event_id", "type", "at", ...}``. A client that reconnects with ``since=<id>``
first gets every event after that id, in order, then live ones; ``event_id`` only ever increases, and
heartbeats carry the last id sent so an idle screen knows where it stands. Which channels exist, and who
may read each, is decided by the rooms that plug them in (``Channel``), through the app factory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from floor.http.auth import AuthError
from floor.http.kit import ApiError, authenticate, hall_of
from floor.realtime.frames import SERVER_SEND, writer_for
from floor.realtime.hub import Event
from floor.realtime.outbox import Outbox
from floor.runtime import Runtime
from queue_engine.config import HallConfig
from queue_engine.stream_ids import parse_stream_id

_SINCE = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")  # not \d, which matches the digits of every script
MAX_ID_PART = 2**64 - 1  # Redis refuses a stream id part beyond 64 bits
# Websocket close codes (4000-4999 are the application's): the client's next move depends on them.
CLOSE_SLOW = 4008  # fell too far behind: reconnect with since=<last event_id>
CLOSE_AUTH = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_BAD_REQUEST = 4400
QUEUE_LIMIT = 2000  # texts a socket may fall behind before it is closed and resumes from the stream instead


@dataclass(frozen=True)
class Channel:
    """A feed a room offers: who may read it, and whether a reader names its window (a window's console)."""

    roles: tuple[str, ...]
    per_window: bool = False


def _heartbeat(last: str | None, zone: tzinfo) -> str:
    return orjson.dumps({"event_id": last, "type": "heartbeat",
                         "at": datetime.now(zone).isoformat(timespec="milliseconds")}).decode()


async def refuse(ws: WebSocket, code: int, message: str) -> None:
    # Accept first so the client can read why; a close before accept reaches it only as an HTTP 403.
    await ws.accept()
    await ws.send_text(orjson.dumps({"type": "error", "message": message}).decode())
    await ws.close(code=code, reason=message[:120])


async def _send_backlog(ws: WebSocket, runtime: Runtime, hall: str, since: str) -> str:
    last = since
    while True:
        page = await runtime.hub.backlog(hall, last)
        for event_id, text in page:
            await ws.send_text(text)
            last = event_id
        if len(page) < 500:
            return last


class ScreenFeed:
    """A display's, console's or dashboard's side of the hub: every event of its hall, then heartbeats when quiet."""

    def __init__(self, hall: HallConfig, outbox: Outbox) -> None:
        self.hall = hall.id
        self.zone = hall.zone
        self.outbox = outbox
        self.last: str | None = None  # the last event id put to the socket, which heartbeats repeat
        self.quiet = True  # nothing put since the last beat
        self.sent_through: tuple[int, int] | None = None  # the backlog's last id, while the hub may still be behind it

    def offer(self, events: Sequence[Event]) -> None:
        if self.sent_through is not None:
            through = self.sent_through
            # The backlog read the stream ahead of the hub: what it sent is not sent again.
            events = [event for event in events if parse_stream_id(event[0]) > through]
            if not events:
                return
            self.sent_through = None
        self.outbox.put_all([(event_id, text) for event_id, text, _ in events])
        self.last = events[-1][0]
        self.quiet = False

    def caught_up(self, sent_through: str | None) -> None:
        """The backlog was sent through ``sent_through`` (None: there was none): go live, never sending an
        event twice, whether it came to the hold or the hub offers it later."""
        self.outbox.release(sent_through)
        if sent_through is None:
            return
        self.sent_through = parse_stream_id(sent_through)
        if self.last is None or parse_stream_id(self.last) < self.sent_through:
            self.last = sent_through  # no live event came while the backlog was read

    def beat(self) -> None:
        if self.quiet and not self.outbox.held:  # a held socket is still getting its backlog
            self.outbox.put(_heartbeat(self.last, self.zone))
        self.quiet = True


async def drain_incoming(ws: WebSocket) -> None:
    """Read and drop what clients send (keep-alives, text or binary garbage) until the socket closes."""
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass


def outbox_for(ws: WebSocket, *, held: bool = False) -> Outbox:
    async def too_slow() -> None:
        await ws.close(code=CLOSE_SLOW, reason="too slow; reconnect with since=<last event_id>")

    return Outbox(ws.send_text, limit=QUEUE_LIMIT, give_up=too_slow, held=held,
                  write_now=writer_for(ws.scope.get(SERVER_SEND)))


def feed_route(channels: Mapping[str, Channel]) -> WebSocketRoute:
    """The one websocket address of every channel the rooms plugged in."""
    names = ", ".join(sorted(channels))

    async def feed(ws: WebSocket) -> None:
        runtime: Runtime = ws.app.state.runtime
        name = ws.path_params["channel"]
        since = ws.query_params.get("since")
        try:
            channel = channels.get(name)
            if channel is None:
                raise ApiError(404, "unknown_channel", f"No feed {name!r}; use one of {names}.", "")
            hall = hall_of(runtime, ws.path_params["hall"])
            window = ws.query_params.get("window")
            if channel.per_window and (window is None or hall.config.window(window) is None):
                raise ApiError(400, "unknown_window", f"The {name} feed needs ?window=<an id of this hall>.", "")
            authenticate(ws, runtime, hall.config.id, channel.roles, window)
            if since is not None and not (_SINCE.match(since) and max(parse_stream_id(since)) <= MAX_ID_PART):
                raise ApiError(400, "bad_since", "since must be an event id like 1795393000000-0.", "")
        except AuthError as exc:
            return await refuse(ws, CLOSE_AUTH if exc.status == 401 else CLOSE_FORBIDDEN, exc.message)
        except ApiError as exc:
            return await refuse(ws, CLOSE_NOT_FOUND if exc.status == 404 else CLOSE_BAD_REQUEST, exc.message)
        # Live events are held from before the backlog is read, so nothing can fall between the two.
        outbox = outbox_for(ws, held=True)
        screen = ScreenFeed(hall.config, outbox)
        runtime.hub.subscribe(screen)
        try:
            await ws.accept()
            screen.caught_up(await _send_backlog(ws, runtime, hall.config.id, since) if since else None)
            await drain_incoming(ws)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away mid-send
        finally:
            runtime.hub.unsubscribe(screen)
            outbox.close()

    return WebSocketRoute("/api/v1/halls/{hall}/ws/{channel}", feed)
