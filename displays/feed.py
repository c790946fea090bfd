"""The lobby display's side of the server: what a lobby screen gets of each event (with the words to announce),
the display channel, and the LED strip's lines.

A lobby screen is read by everyone in the hall, so its projection names what it shows and nothing more: numbers,
windows, services and the masked name of whoever is called. Never a ticket id (the phone page's key to a ticket),
a reason staff typed for a pause, transfer or call, who acted, or a citizen's rating.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import PlainTextResponse

from displays.announce import announcement, led_line
from floor.http.feed import Channel, pick, window_name
from floor.http.kit import ApiError, Ctx, Endpoints, Param
from queue_engine.config import HallConfig

CALLS = ("ticket.called", "ticket.recalled")
SHOWN = ("number", "service", "window", "recalls", "day", "services", "primary", "version")
UNSHOWN = ("ticket.rated", "hall.alert")  # a rating is between the citizen and the hall; alerts are the managers'

ENDPOINTS = Endpoints()


def project(hall: HallConfig, payload: dict[str, Any], _: str | None) -> dict[str, Any] | None:
    """What a lobby screen gets of an event; for a call, also the window's name and the words to announce."""
    if payload["type"] in UNSHOWN:
        return None
    message = pick(payload, SHOWN)
    if payload["type"] in CALLS:
        name = window_name(hall, payload["window"])
        message["window_name"] = name
        message["announcement"] = announcement(str(payload["number"]), name)
        message["holder"] = payload.get("holder")  # masked (张*三): the screen shows it beside the number
    return message


CHANNEL = Channel(roles=("display", "manager"), project=project)


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
