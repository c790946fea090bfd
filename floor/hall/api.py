"""The hall as a whole: snapshot, configuration, window skills, end of the business day."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from floor.accounts import holders
from floor.accounts import store as accounts
from floor.catalog.search_terms import search_terms
from floor.hall.schemas import (
    CallLine,
    EndDayOut,
    QueueOut,
    ServiceLine,
    ServicesIn,
    SnapshotOut,
    TicketOut,
    WindowLine,
    WindowOut,
    at,
)
from floor.http.auth import ALL_ROLES
from floor.http.kit import Ctx, Endpoints, Param, query_limit
from queue_engine.no_show import notice as no_show_notice
from queue_engine.records import WindowState

ENDPOINTS = Endpoints()

MAX_QUEUE_LIMIT = 500
IN_PUBLIC_VIEW = ("display", "kiosk", "pad")  # screens citizens read: no reason staff typed for a pause


@ENDPOINTS.add("GET", "/snapshot", roles=("manager", "display", "guide", "kiosk", "staff", "pad"),
               response=SnapshotOut)
async def snapshot(ctx: Ctx, _: Any) -> SnapshotOut:
    """Waiting per service, every window's state, the latest calls, and the event id to follow from. A screen in
    the citizens' view (display, kiosk, pad token) is not told why a window paused."""
    hall = ctx.hall.config
    public = ctx.principal is not None and ctx.principal.role in IN_PUBLIC_VIEW
    snap = await ctx.hall.engine.snapshot()
    held = await holders.read(ctx.hall.engine.redis, ctx.hall.engine.keys.holders)
    services = []
    for line in snap["services"]:
        svc = hall.service(line["code"])
        assert svc is not None
        services.append(ServiceLine(name=svc.name_zh, name_en=svc.name_en, letter=svc.letter,
                                    target_wait_s=svc.target_wait_s, **line))
    names = {w.id: w.name for w in hall.windows}
    windows = [WindowLine(id=w["id"], name=names[w["id"]], state=w["state"], ticket=w.get("ticket"),
                          services=w["services"], primary=w["primary"], items=w.get("items", []),
                          reason=None if public else w.get("reason"),
                          staff=held[w["id"]].name if w["id"] in held else None)
               for w in snap["windows"]]
    calls = [CallLine(number=c["number"], window=c["window"], window_name=names[c["window"]],
                      at=at(hall, c["at"]), holder=c.get("holder")) for c in snap["recent_calls"]]
    return SnapshotOut(hall=hall.id, name=hall.name, at=at(hall, int(time.time() * 1000)), services=services,
                       windows=windows, recent_calls=calls, event_id=snap["event_id"])


@ENDPOINTS.add("GET", "/config", roles=ALL_ROLES)
async def config(ctx: Ctx, _: Any) -> dict[str, Any]:
    """The hall's services (with pinyin to search them by), windows and opening hours, for pages to label
    what they show; and ``no_show_notice``, the no-show sentence of the hall's rule (zh and en) that every page
    shows as it is."""
    data = ctx.hall.config.model_dump(mode="json")
    data["version"] = ctx.hall.engine.config_version  # of the set-up: a page told of a newer one reads again
    data["no_show_notice"] = no_show_notice(ctx.hall.config.policy)
    if ctx.principal is None or ctx.principal.role not in ("manager", "admin"):
        data.pop("notifications", None)  # where the hall's messages and ratings go is the managers' business
    for service in data["services"]:
        service.update(search_terms(service["name_zh"]))
    return data


@ENDPOINTS.add("GET", "/whoami", roles=(*ALL_ROLES, "admin"))
async def whoami(ctx: Ctx, _: Any) -> dict[str, Any]:
    """Who the token speaks for: a page signs in with it and shows the hall, role and window."""
    assert ctx.principal is not None
    hall = ctx.hall.config
    window = hall.window(ctx.principal.window) if ctx.principal.window else None
    p = ctx.principal
    person = await asyncio.to_thread(accounts.find, ctx.runtime.sql, p.staff) if p.kind == "session" and p.staff \
        else None
    return {"hall": hall.id, "hall_name": hall.name, "role": p.role,
            "window": window.id if window else None, "window_name": window.name if window else None,
            "kind": p.kind or "token", "username": person.username if person else None,
            "display_name": person.display_name if person else None}


QUEUE_PARAMS = (
    Param("service", "query", "Only this service's line (its code, e.g. SOC).", {"type": "string", "maxLength": 8}),
    Param("limit", "query", "At most this many tickets (default 100).",
          {"type": "integer", "minimum": 1, "maximum": MAX_QUEUE_LIMIT}),
)


@ENDPOINTS.add("GET", "/queue", roles=("manager", "guide"), response=QueueOut, params=QUEUE_PARAMS)
async def queue(ctx: Ctx, _: Any) -> QueueOut:
    """Waiting tickets in calling order: the whole hall's, or one service's (?service=CODE); ?limit= up to 500."""
    params = ctx.request.query_params
    limit = query_limit(params.get("limit"), MAX_QUEUE_LIMIT)
    tickets = await ctx.hall.engine.waiting(service=params.get("service") or None, limit=limit)
    return QueueOut.of(ctx.hall.config, tickets, ctx.hall.engine.clock())


@ENDPOINTS.add("POST", "/windows/{w}/services", roles=("manager",), body=ServicesIn, response=WindowOut)
async def set_services(ctx: Ctx, body: ServicesIn) -> WindowOut:
    """Change what a window serves, calls first, and which sub-items only (move staff to where the queue is)."""

    state = await ctx.hall.engine.set_services(ctx.path("w"), body.services, body.primary, body.items)
    return await window_out(ctx, ctx.path("w"), state)


@ENDPOINTS.add("POST", "/end-day", roles=("manager",), response=EndDayOut)
async def end_day(ctx: Ctx, _: Any) -> EndDayOut:
    """Close today's business day: tickets still waiting become missed, every window closes."""
    return EndDayOut(**await ctx.hall.engine.end_day())


async def window_out(ctx: Ctx, window_id: str, state: WindowState) -> WindowOut:
    hall = ctx.hall.config
    window = hall.window(window_id)
    assert window is not None
    ticket = None
    if state.ticket:
        ticket = TicketOut.of(hall, (await ctx.hall.engine.ticket(state.ticket)).ticket)
    return WindowOut(id=window_id, name=window.name, state=state.state,
                     services=state.services, primary=state.primary, items=state.items, reason=state.reason,
                     ticket=ticket,
                     since=at(hall, state.since))
