"""A window's work: open, call next, recall, start, finish, no-show, transfer, pause. Staff of that window
or a manager; a staff token of window 3 cannot act for window 5."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from floor.accounts import stand_in
from floor.hall.api import window_out
from floor.hall.schemas import (
    CallTicketIn,
    FinishIn,
    PauseIn,
    QueueOut,
    TicketOut,
    TicketReply,
    TransferIn,
    WaitingOut,
    WindowOut,
    _In,
)
from floor.http.kit import Ctx, Endpoints
from floor.reports.today import figures, load_day
from queue_engine.errors import NotForThisWindow, UnknownWindow
from queue_engine.records import Ticket

ENDPOINTS = Endpoints()

STAFF = ("staff", "manager")


def _reply(ctx: Ctx, ticket: Ticket | None) -> TicketReply:
    return TicketReply(ticket=TicketOut.of(ctx.hall.config, ticket) if ticket else None)


@ENDPOINTS.add("GET", "/windows/{w}", roles=STAFF, response=WindowOut)
async def get_window(ctx: Ctx, _: Any) -> WindowOut:
    """The window's state and current ticket."""
    return await window_out(ctx, ctx.path("w"), await ctx.hall.engine.window(ctx.path("w")))


@ENDPOINTS.add("GET", "/windows/{w}/waiting", roles=STAFF, response=WaitingOut)
async def waiting(ctx: Ctx, _: Any) -> WaitingOut:
    """What this window could call, in the order call-next would take it, and its latest no-shows it may
    still serve directly."""
    engine = ctx.hall.engine
    window = ctx.path("w")
    state = await engine.window(window)
    tickets = await engine.waiting(window=window, limit=100)
    misses = [TicketOut.of(ctx.hall.config, (await engine.ticket(tid)).ticket) for tid in state.misses]
    return WaitingOut(tickets=QueueOut.of(ctx.hall.config, tickets, engine.clock()).tickets,
                      misses=[m for m in misses if m.status == "missed"])


@ENDPOINTS.add("GET", "/windows/{w}/today", roles=STAFF)
async def window_today(ctx: Ctx, _: Any) -> dict[str, Any]:
    """This window's own counts today (served, outcomes, no-shows, average wait and handling), from the record."""
    hall = ctx.hall.config
    if hall.window(ctx.path("w")) is None:  # the record would answer zeros for a window that does not exist
        raise UnknownWindow(window=ctx.path("w"))
    day = hall.business_day(ctx.hall.engine.clock())
    tickets = await asyncio.to_thread(load_day, ctx.runtime.sql, hall, day, ctx.path("w"))
    return {"window": ctx.path("w"), "day": day, **figures(tickets)}


@ENDPOINTS.add("POST", "/windows/{w}/open", roles=STAFF, response=WindowOut)
async def open_window(ctx: Ctx, _: Any) -> WindowOut:
    """Open the window for service."""
    return await window_out(ctx, ctx.path("w"), await ctx.hall.engine.open_window(ctx.path("w")))


@ENDPOINTS.add("POST", "/windows/{w}/close", roles=STAFF, response=WindowOut)
async def close_window(ctx: Ctx, _: Any) -> WindowOut:
    """Close the window."""
    return await window_out(ctx, ctx.path("w"), await ctx.hall.engine.close_window(ctx.path("w")))


@ENDPOINTS.add("POST", "/windows/{w}/pause", roles=STAFF, body=PauseIn, response=WindowOut)
async def pause(ctx: Ctx, body: PauseIn) -> WindowOut:
    """Pause service (暂停服务) with a reason; 离岗 (the staff member leaves the post) hands the window's services to
    its B post (AB岗), or alerts the managers when nobody open can serve one."""
    state = await ctx.hall.engine.pause(ctx.path("w"), body.reason)
    if stand_in.is_away(body.reason):
        await stand_in.away(ctx.hall, ctx.path("w"))
    return await window_out(ctx, ctx.path("w"), state)


@ENDPOINTS.add("POST", "/windows/{w}/resume", roles=STAFF, response=WindowOut)
async def resume(ctx: Ctx, _: Any) -> WindowOut:
    """Resume service after a pause; a B post that stood in for the window gives back what it took up."""
    state = await ctx.hall.engine.resume(ctx.path("w"))
    await stand_in.back(ctx.hall, ctx.path("w"))
    return await window_out(ctx, ctx.path("w"), state)


@ENDPOINTS.add("POST", "/windows/{w}/call-next", roles=STAFF, response=TicketReply)
async def call_next(ctx: Ctx, _: Any) -> TicketReply:
    """Call the next ticket by the calling policy; ticket is null when nothing waits for this window."""
    return _reply(ctx, await ctx.hall.engine.call_next(ctx.path("w")))


@ENDPOINTS.add("POST", "/windows/{w}/call", roles=STAFF, body=CallTicketIn, response=TicketReply)
async def call_ticket(ctx: Ctx, body: CallTicketIn) -> TicketReply:
    """Call a chosen waiting ticket out of order (with a reason), or one of this window's latest no-shows."""
    return _reply(ctx, await ctx.hall.engine.call_ticket(ctx.path("w"), body.ticket, body.reason))


@ENDPOINTS.add("POST", "/windows/{w}/recall", roles=STAFF, response=TicketReply)
async def recall(ctx: Ctx, _: Any) -> TicketReply:
    """Announce the called ticket again."""
    return _reply(ctx, await ctx.hall.engine.recall(ctx.path("w")))


@ENDPOINTS.add("POST", "/windows/{w}/start", roles=STAFF, response=TicketReply)
async def start(ctx: Ctx, _: Any) -> TicketReply:
    """The citizen has arrived: service starts."""
    return _reply(ctx, await ctx.hall.engine.start(ctx.path("w")))


@ENDPOINTS.add("POST", "/windows/{w}/finish", roles=STAFF, body=FinishIn, response=TicketReply)
async def finish(ctx: Ctx, body: FinishIn) -> TicketReply:
    """Finish the current ticket with its outcome."""
    return _reply(ctx, await ctx.hall.engine.finish(ctx.path("w"), body.outcome))


@ENDPOINTS.add("POST", "/windows/{w}/no-show", roles=STAFF, response=TicketReply,
               refusals=((409, "too early by the hall's no-show rule (no_show_too_early, with recalls_left and "
                               "wait_s): recall the ticket, or wait"),))
async def no_show(ctx: Ctx, _: Any) -> TicketReply:
    """The called citizen did not come (过号), once the hall's rule allows: so many recalls, so long after the call."""
    return _reply(ctx, await ctx.hall.engine.no_show(ctx.path("w")))


class RequeueIn(_In):  # the bodies' common checks: no unknown field, no control character
    ticket: str = Field(min_length=1, max_length=64, description="One of this window's latest no-shows.")


@ENDPOINTS.add("POST", "/windows/{w}/requeue", roles=STAFF, body=RequeueIn, response=TicketReply,
               refusals=((409, "the hall's rule does not put late arrivals back in line"),))
async def requeue_missed(ctx: Ctx, body: RequeueIn) -> TicketReply:
    """Put one of this window's latest no-shows, come back late, back in line where the hall's rule says
    (returning = requeue)."""
    engine = ctx.hall.engine
    window = ctx.path("w")
    if body.ticket not in (await engine.window(window)).misses:  # another window's, or long ago: not this one's
        raise NotForThisWindow(window=window, number=(await engine.ticket(body.ticket)).ticket.number)
    await engine.requeue(body.ticket)
    back = await engine.ticket(body.ticket)  # with its place in line, which staff tell the citizen
    return TicketReply(ticket=TicketOut.of(ctx.hall.config, back.ticket, back.ahead, back.estimated_wait_s))


@ENDPOINTS.add("POST", "/windows/{w}/transfer", roles=STAFF, body=TransferIn, response=TicketReply)
async def transfer(ctx: Ctx, body: TransferIn) -> TicketReply:
    """Transfer the current ticket to another service or window (转窗), keeping its number."""
    ticket = await ctx.hall.engine.transfer(ctx.path("w"), to_service=body.to_service, to_window=body.to_window,
                                            reason=body.reason)
    return _reply(ctx, ticket)
