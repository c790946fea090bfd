"""The hall as a whole: snapshot, configuration, window skills, end of the business day."""

from __future__ import annotations

import time
from typing import Any

from ..web import Ctx, endpoint
from .schemas import (
    CallLine,
    EndDayOut,
    ServiceLine,
    ServicesIn,
    SnapshotOut,
    WindowLine,
    WindowOut,
    at,
)

ALL_ROLES = ("guide", "kiosk", "staff", "manager", "display")


@endpoint("GET", "/snapshot", roles=("manager", "display", "guide", "kiosk", "staff"), response=SnapshotOut)
async def snapshot(ctx: Ctx, _: Any) -> SnapshotOut:
    """Waiting per service, every window's state, the latest calls, and the event id to follow from."""
    hall = ctx.hall.config
    snap = await ctx.hall.engine.snapshot()
    services = []
    for line in snap["services"]:
        svc = hall.service(line["code"])
        assert svc is not None
        services.append(ServiceLine(name=svc.name_zh, name_en=svc.name_en, letter=svc.letter,
                                    target_wait_s=svc.target_wait_s, **line))
    names = {w.id: w.name for w in hall.windows}
    windows = [WindowLine(id=w["id"], name=names[w["id"]], state=w["state"], ticket=w.get("ticket"),
                          services=w["services"], primary=w["primary"], reason=w.get("reason"))
               for w in snap["windows"]]
    calls = [CallLine(number=c["number"], window=c["window"], window_name=names[c["window"]],
                      at=at(hall, c["at"])) for c in snap["recent_calls"]]
    return SnapshotOut(hall=hall.id, name=hall.name, at=at(hall, int(time.time() * 1000)), services=services,
                       windows=windows, recent_calls=calls, event_id=snap["event_id"])


@endpoint("GET", "/config", roles=ALL_ROLES)
async def config(ctx: Ctx, _: Any) -> dict[str, Any]:
    """The hall's services, windows and opening hours, for pages to label what they show."""
    return ctx.hall.config.model_dump(mode="json")


@endpoint("POST", "/windows/{w}/services", roles=("manager",), body=ServicesIn, response=WindowOut)
async def set_services(ctx: Ctx, body: ServicesIn) -> WindowOut:
    """Change what a window serves and calls first (move staff to where the queue is)."""
    from staff_console.api import window_out

    state = await ctx.hall.engine.set_services(ctx.path("w"), body.services, body.primary)
    return await window_out(ctx, ctx.path("w"), state)


@endpoint("POST", "/end-day", roles=("manager",), response=EndDayOut)
async def end_day(ctx: Ctx, _: Any) -> EndDayOut:
    """Close today's business day: tickets still waiting become missed, every window closes."""
    return EndDayOut(**await ctx.hall.engine.end_day())
