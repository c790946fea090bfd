"""Today's figures for the dashboard's charts, from the SQL record."""

from __future__ import annotations

import asyncio
from typing import Any

from floor.http.kit import Ctx, Endpoints
from floor.record.archiver import unrecorded
from floor.reports.today import load_day, summarize

ENDPOINTS = Endpoints()


@ENDPOINTS.add("GET", "/stats/today", roles=("manager",))
async def today(ctx: Ctx, _: Any) -> dict[str, Any]:
    """Today so far: totals, arrivals and waits per half hour, per service and per window. ``unrecorded``
    counts the hall's events the record does not hold yet (read first, so 0 means these figures have them)."""
    hall = ctx.hall.config
    day = hall.business_day(ctx.hall.engine.clock())
    behind = await unrecorded(ctx.hall.engine)
    tickets = await asyncio.to_thread(load_day, ctx.runtime.sql, hall, day)
    return {**summarize(tickets, hall, day), "unrecorded": behind}
