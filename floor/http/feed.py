"""Live feeds over websockets: ``WS /api/v1/halls/{hall}/ws/{channel}`` for the screens of a hall.

Every message is ``{"event_id", "type", "at", ...}``. A client that reconnects with ``since=<id>``
first gets every event after that id, in order, then live ones; ``event_id`` only ever increases, and
heartbeats carry the last id sent so an idle screen knows where it stands. Which channels exist, who may read
each and what each reader gets of an event is decided by the rooms that plug them in (``Channel``), through the
app factory: a channel's projection names the fields its reader may see, so a field added to an event tomorrow
reaches no screen until a channel names it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from floor.http.auth import AuthError
from floor.http.kit import ApiError, authenticate, hall_of
from floor.realtime.frames import SERVER_SEND, writer_for
from floor.realtime.hub import Event, Render
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


# What a reader of a channel gets of one event (the stream's payload), or None: nothing. ``window`` is the reader's
# window on a per-window channel.
Project = Callable[[HallConfig, dict[str, Any], str | None], dict[str, Any] | None]
PRIVATE = ("person", "idempotency_key")  # never leave the server, whoever reads


@dataclass(frozen=True)
class Channel:
    """A feed a room offers: who may read it, whether a reader names its window (a window's console), and what its
    readers get of each event. A channel without roles has an address of its own (the phone's, keyed by ticket)."""

    roles: tuple[str, ...]
    project: Project
    per_window: bool = False

    def view(self, name: str, window: str | None) -> str:
        """The hub's name for what one reader sees: one rendering per event serves every reader of a view."""
        return f"{name}:{window}" if self.per_window else name


def pick(payload: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of an event that it has."""
    return {name: payload[name] for name in fields if name in payload}


def all_but_private(_: HallConfig, payload: dict[str, Any], __: str | None) -> dict[str, Any]:
    """Everything an event says but what never leaves the server: the managers' view. A new set-up is announced
    by its version and what changed; the page reads the set-up itself (GET /config) when it needs it."""
    return {k: v for k, v in payload.items() if k not in PRIVATE and k != "config"}


def window_name(hall: HallConfig, window: object) -> str:
    found = hall.window(str(window))
    return found.name if found else f"{window}号窗口"


def frame(hall: HallConfig, event_id: str, message: dict[str, Any]) -> str:
    """The websocket text of a projection: its event id, and its time in the hall's zone."""
    at_ms: int = message["at"]
    message["event_id"] = event_id
    message["at"] = datetime.fromtimestamp(at_ms / 1000, hall.zone).isoformat(timespec="milliseconds")
    return orjson.dumps(message).decode()


def render_for(config_of: Callable[[str], HallConfig], channels: Mapping[str, Channel]) -> Render:
    """The hub's rendering: an event's text for a view, by the projection of the view's channel, in the set-up the
    hall runs on (``config_of`` its id)."""

    def render(hall_id: str, view: str, event_id: str, payload: dict[str, Any]) -> str | None:
        name, _, window = view.partition(":")
        hall = config_of(hall_id)
        message = channels[name].project(hall, payload, window or None)
        if message is None:
            return None
        message.setdefault("type", payload["type"])
        message.setdefault("at", payload["at"])
        return frame(hall, event_id, message)

    return render


def _heartbeat(last: str | None, zone: tzinfo) -> str:
    return orjson.dumps({"event_id": last, "type": "heartbeat",
                         "at": datetime.now(zone).isoformat(timespec="milliseconds")}).decode()


async def refuse(ws: WebSocket, code: int, message: str) -> None:
    # Accept first so the client can read why; a close before accept reaches it only as an HTTP 403.
    await ws.accept()
    await ws.send_text(orjson.dumps({"type": "error", "message": message}).decode())
    await ws.close(code=code, reason=message[:120])


async def _send_backlog(ws: WebSocket, runtime: Runtime, hall: str, view: str, since: str) -> str:
    last = since
    while True:
        page = await runtime.hub.backlog(hall, view, last)
        for event_id, text in page:
            if text is not None:
                await ws.send_text(text)
            last = event_id
        if len(page) < 500:
            return last


class ScreenFeed:
    """A display's, console's or dashboard's side of the hub: its view of every event of its hall, then heartbeats
    when quiet."""

    def __init__(self, hall: HallConfig, view: str, outbox: Outbox) -> None:
        self.hall = hall.id
        self.view = view
        self.zone = hall.zone
        self.outbox = outbox
        self.last: str | None = None  # the last event id offered to the socket, which heartbeats repeat
        self.quiet = True  # nothing put since the last beat
        self.sent_through: tuple[int, int] | None = None  # the backlog's last id, while the hub may still be behind it

    def offer(self, events: Sequence[Event]) -> None:
        if self.sent_through is not None:
            through = self.sent_through
            # The backlog read the stream ahead of the hub: what it sent is not sent again.
            events = [event for event in events if parse_stream_id(event.id) > through]
            if not events:
                return
            self.sent_through = None
        texts = [(event.id, text) for event in events if (text := event.text(self.view)) is not None]
        # Where the reader stands is the last event it was offered, sent or not: a heartbeat carries it, so a quiet
        # view (a pad, a console) that reconnects resumes from here, not from its last sent event long ago.
        self.last = events[-1].id
        if texts:
            self.outbox.put_all(texts)
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
    names = ", ".join(sorted(name for name, channel in channels.items() if channel.roles))

    async def feed(ws: WebSocket) -> None:
        runtime: Runtime = ws.app.state.runtime
        name = ws.path_params["channel"]
        since = ws.query_params.get("since")
        try:
            channel = channels.get(name)
            if channel is None or not channel.roles:
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
        screen = ScreenFeed(hall.config, channel.view(name, window), outbox)
        runtime.hub.subscribe(screen)
        try:
            await ws.accept()
            screen.caught_up(await _send_backlog(ws, runtime, hall.config.id, screen.view, since) if since else None)
            await drain_incoming(ws)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away mid-send
        finally:
            runtime.hub.unsubscribe(screen)
            outbox.close()

    return WebSocketRoute("/api/v1/halls/{hall}/ws/{channel}", feed)
