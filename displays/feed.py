"""The realtime feed: websockets for lobby displays, window consoles and the dashboard, and the LED text.

Every message is ``{"event_id", "type", "at", ...}``. A client that reconnects with ``since=<id>``
first gets every event after that id, in order, then live ones; ``event_id`` only ever increases, and
heartbeats carry the last id sent so an idle screen knows where it stands.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

import orjson
from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from floor.auth import AuthError
from floor.db import parse_stream_id
from floor.hub import Subscriber
from floor.runtime import Runtime
from floor.web import ApiError, Ctx, authenticate, endpoint
from queue_engine.config import HallConfig

from .announce import announcement, led_line

PRIVATE = ("person", "idempotency_key")  # never leave the server on a socket
CHANNEL_ROLES = {"display": ("display", "manager"), "console": ("staff", "manager"), "dashboard": ("manager",)}
_SINCE = re.compile(r"^\d{1,20}-\d{1,20}$")
# Websocket close codes (4000-4999 are the application's): the client's next move depends on them.
CLOSE_SLOW = 4008  # fell too far behind: reconnect with since=<last event_id>
CLOSE_AUTH = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_BAD_REQUEST = 4400


def render(hall: HallConfig, event_id: str, payload: dict[str, Any]) -> str:
    """The websocket text of one event: public fields, local time, and for calls the words to announce."""
    message = {k: v for k, v in payload.items() if k not in PRIVATE}
    message["event_id"] = event_id
    at_ms: int = payload["at"]
    message["at"] = datetime.fromtimestamp(at_ms / 1000, hall.zone).isoformat(timespec="milliseconds")
    if payload["type"] in ("ticket.called", "ticket.recalled"):
        window = hall.window(str(payload["window"]))
        name = window.name if window else f"{payload['window']}号窗口"
        message["window_name"] = name
        message["announcement"] = announcement(str(payload["number"]), name)
    return orjson.dumps(message).decode()


def _heartbeat(last: str | None, hall: HallConfig) -> str:
    return orjson.dumps({"event_id": last, "type": "heartbeat",
                         "at": datetime.now(hall.zone).isoformat(timespec="milliseconds")}).decode()


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


async def _send_live(ws: WebSocket, sub: Subscriber, last: str | None, hall: HallConfig, heartbeat_s: float) -> None:
    floor = parse_stream_id(last) if last else (0, 0)
    while True:
        get = asyncio.ensure_future(sub.queue.get())
        overflow = asyncio.ensure_future(sub.overflowed.wait())
        done, _ = await asyncio.wait({get, overflow}, timeout=heartbeat_s, return_when=asyncio.FIRST_COMPLETED)
        for task in (get, overflow):
            if task not in done:
                task.cancel()
        if overflow in done:
            await ws.close(code=CLOSE_SLOW, reason="too slow; reconnect with since=<last event_id>")
            return
        if get not in done:
            await ws.send_text(_heartbeat(last, hall))
            continue
        event_id, text = get.result()
        if parse_stream_id(event_id) <= floor:  # already sent from the backlog
            continue
        await ws.send_text(text)
        last = event_id


async def drain_incoming(ws: WebSocket) -> None:
    """Read and drop what clients send (keep-alives, text or binary garbage), so a disconnect is noticed at once."""
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass


async def feed(ws: WebSocket) -> None:
    runtime: Runtime = ws.app.state.runtime
    channel = ws.path_params["channel"]
    since = ws.query_params.get("since")
    try:
        if channel not in CHANNEL_ROLES:
            raise ApiError(404, "unknown_channel", f"No feed {channel!r}; use display, console or dashboard.", "")
        hall = runtime.hall(ws.path_params["hall"])
        window = ws.query_params.get("window")
        if channel == "console" and (window is None or hall.config.window(window) is None):
            raise ApiError(400, "unknown_window", "The console feed needs ?window=<an id of this hall>.", "")
        authenticate(ws, runtime, hall.config.id, CHANNEL_ROLES[channel], window)
        if since is not None and not _SINCE.match(since):
            raise ApiError(400, "bad_since", "since must be an event id like 1795393000000-0.", "")
    except AuthError as exc:
        return await refuse(ws, CLOSE_AUTH if exc.status == 401 else CLOSE_FORBIDDEN, exc.message)
    except ApiError as exc:
        return await refuse(ws, CLOSE_NOT_FOUND if exc.status == 404 else CLOSE_BAD_REQUEST, exc.message)
    sub = runtime.hub.subscribe(hall.config.id)  # before the backlog: nothing can fall between the two
    try:
        await ws.accept()
        last = await _send_backlog(ws, runtime, hall.config.id, since) if since else None
        receiver = asyncio.ensure_future(drain_incoming(ws))
        sender = asyncio.ensure_future(_send_live(ws, sub, last, hall.config, runtime.settings.heartbeat_s))
        _, pending = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-send
    finally:
        runtime.hub.unsubscribe(sub)


ROUTES = [WebSocketRoute("/api/v1/halls/{hall}/ws/{channel}", feed)]


@endpoint("GET", "/led", roles=("display", "manager"))
async def led(ctx: Ctx, _: Any) -> PlainTextResponse:
    """Each window's line for an LED strip, fixed width (?width=8 or 12), one line per window."""
    width = ctx.request.query_params.get("width", "12")
    if width not in ("8", "12"):
        raise ApiError(422, "invalid_request", "width must be 8 or 12.", "width 须为 8 或 12。")
    snap = await ctx.hall.engine.snapshot()
    lines = [led_line(w.get("ticket"), w["id"], w["state"], int(width)) for w in snap["windows"]]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; charset=utf-8")
