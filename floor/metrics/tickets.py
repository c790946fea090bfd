"""Tickets issued, called, finished, no-shows and transfers, counted in the archive process as they reach SQL.

Why there and not where the write happens: every worker's hub reads every event, so a count there would be
multiplied by the workers; the worker whose request made the event would count it once, but events are made by many
endpoints (and the end of the day), each of which would need its hook. The archive consumer group hands each event
to one archiver, and a count taken after the commit, of the events SQL did not have yet, is not repeated when a
batch comes round again (a crash between commit and acknowledgement re-delivers it). One archive process per
server, so the counters are summed over the same multiprocess directory as the workers'; several servers in one
consumer group each count the events they archived. A count trails the hall by the record's lag (a fraction of a
second; ``hallq_archive_lag_seconds``), and stops while the archiver is down, to catch up when it comes back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import Counter as CounterMetric

from floor.metrics.families import (
    ARCHIVED,
    TICKETS_CALLED,
    TICKETS_FINISHED,
    TICKETS_ISSUED,
    TICKETS_NO_SHOW,
    TICKETS_TRANSFERRED,
)
from floor.metrics.labels import OTHER, level_label
from floor.record.archiver import SqlWriter
from floor.record.projection import StreamEvent
from queue_engine.config import HallConfig

MOVES = {"ticket.issued": "issued", "ticket.called": "called", "ticket.finished": "finished",
         "ticket.missed": "no_show", "ticket.transferred": "transferred"}
COUNTERS: Mapping[str, CounterMetric] = {"issued": TICKETS_ISSUED, "called": TICKETS_CALLED,
                                         "finished": TICKETS_FINISHED, "no_show": TICKETS_NO_SHOW,
                                         "transferred": TICKETS_TRANSFERRED}
Move = tuple[str, str, str]  # (what happened, hall level, service)


def move_of(payload: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """What an event counts as, and the service it counts for; None: it is not counted."""
    kind = MOVES.get(str(payload.get("type")))
    if kind is None:
        return None
    if kind == "no_show" and payload.get("reason") == "end_of_day":
        return None  # still waiting when the hall closed: missed, but nobody was called and failed to come
    service = payload.get("from_service") if kind == "transferred" else payload.get("service")
    return kind, service if isinstance(service, str) else None


def ticket_moves(hall: HallConfig, events: Sequence[StreamEvent]) -> Counter[Move]:
    """How many of each move these events of ``hall`` are; a service the hall does not know counts as other."""
    codes = {s.code for s in hall.services}
    level = level_label(hall.level)
    moves: Counter[Move] = Counter()
    for event in events:
        found = move_of(event.payload)
        if found is not None:
            kind, service = found
            moves[kind, level, service if service in codes else OTHER] += 1
    return moves


def fresh(events: Sequence[StreamEvent], new: int) -> Sequence[StreamEvent]:
    """The events of a batch SQL did not have, knowing how many there were. A batch is all new or all old but
    after a crash between a commit and its acknowledgement: then its oldest events are the ones committed before,
    since an archiver commits in stream order."""
    return events[len(events) - new:] if new > 0 else ()


def zero_series(hall: HallConfig) -> list[tuple[str, str]]:
    """The (level, service) series of a hall, shown at 0 before their first ticket: a dashboard then draws a flat
    line, not nothing, and a rate() has a start."""
    level = level_label(hall.level)
    return [(level, s.code) for s in hall.services]


class CountingWriter(SqlWriter):
    """The archive process's SQL writer, counting the ticket moves among the events it wrote for the first time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shown: set[tuple[str, str]] = set()

    async def store(self, hall: HallConfig, events: list[StreamEvent]) -> int:
        new = await super().store(hall, events)
        self._show(hall)
        if new:
            ARCHIVED.inc(new)
            for (kind, level, service), n in ticket_moves(hall, fresh(events, new)).items():
                COUNTERS[kind].labels(level, service).inc(n)
        return new

    def _show(self, hall: HallConfig) -> None:
        for series in zero_series(hall):
            if series not in self.shown:
                self.shown.add(series)
                for counter in COUNTERS.values():
                    counter.labels(*series)
