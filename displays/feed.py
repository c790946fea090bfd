"""The lobby display's side of the server: each event's text as screens receive it (with the words to announce),
the display channel, and the LED strip's lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.responses import PlainTextResponse

from displays.announce import announcement, led_line
from floor.http.feed import Channel
from floor.http.kit import ApiError, Ctx, Endpoints, Param
from queue_engine.config import HallConfig

PRIVATE = ("person", "idempotency_key")  # never leave the server on a socket
CHANNEL = Channel(roles=("display", "manager"))
ENDPOINTS = Endpoints()


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


@ENDPOINTS.add("GET", "/led", roles=("display", "manager"),
          params=(Param("width", "query", "Characters per line (default 12).", {"type": "integer", "enum": [8, 12]}),))
async def led(ctx: Ctx, _: Any) -> PlainTextResponse:
    """Each window's line for an LED strip, fixed width (?width=8 or 12), one line per window."""
    width = ctx.request.query_params.get("width", "12")
    if width not in ("8", "12"):
        raise ApiError(422, "invalid_request", "width must be 8 or 12.", "width 须为 8 或 12。")
    snap = await ctx.hall.engine.snapshot()
    lines = [led_line(w.get("ticket"), w["id"], w["state"], int(width)) for w in snap["windows"]]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; charset=utf-8")
