"""Summaries made ahead: the archive process summarises each settled hall-day soon after its close, so the first
region report of a month reads summaries instead of every ticket (about 30 s for 200 halls; see
loadtest/results/region-reports.md) while a county manager waits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Engine as SqlEngine

from floor.regions.summaries import HallNow, region_sums
from floor.reports.rules import DateRange
from queue_engine.engine import Engine

log = logging.getLogger("hallq.archiver")
EVERY_S = 15 * 60  # a day closed in the evening is summarised within a quarter of an hour after it settles
DAYS = 31  # a month's report, whichever month a manager asks for first


def warm(sql: SqlEngine, halls: Sequence[HallNow]) -> int:
    """Summarise the settled days of the last ``DAYS`` of every hall not summarised yet; how many were made."""
    if not halls:
        return 0
    yesterday = min(h.today for h in halls) - timedelta(days=1)
    _, sources = region_sums(sql, halls, DateRange(yesterday - timedelta(days=DAYS - 1), yesterday))
    return sources.made + sources.refreshed


async def keep_warm(sql: SqlEngine, engines: Sequence[Engine], every_s: float = EVERY_S) -> None:
    """``warm`` now and every ``every_s`` until cancelled; a record outage waits for the next turn."""
    while True:
        try:
            halls = [HallNow(e.hall, e.hall.local(e.clock())) for e in engines]  # each on its set-up of now
            made = await asyncio.to_thread(warm, sql, halls)
            if made:
                log.info("report summaries: %d hall-days summarised ahead of the reports", made)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the record away: the reports count live meanwhile, the next turn catches up
            log.warning("report summaries: not made this turn: %s", str(exc).splitlines()[0] if str(exc) else exc)
        await asyncio.sleep(every_s)
