"""Ticket moves are counted in the archive process, once per event, however often a batch reaches SQL."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine

from floor.metrics.families import OWN
from floor.metrics.tickets import CountingWriter, fresh, move_of, ticket_moves
from floor.record.archiver import stream_event
from floor.record.projection import StreamEvent
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from tests.floor.conftest import busy_morning, fast_archiver

KINDS = {"issued": "hallq_tickets_issued_total", "called": "hallq_tickets_called_total",
         "finished": "hallq_tickets_finished_total", "no_show": "hallq_tickets_no_show_total",
         "transferred": "hallq_tickets_transferred_total"}


def counted() -> Counter[tuple[str, str, str]]:
    """Every ticket counter of this process, by (kind, level, service)."""
    found: Counter[tuple[str, str, str]] = Counter()
    for family in OWN.collect():
        for sample in family.samples:
            for kind, name in KINDS.items():
                if sample.name == name:
                    found[kind, sample.labels["level"], sample.labels["service"]] += int(sample.value)
    return found


def event(n: int, **payload: Any) -> StreamEvent:
    return StreamEvent((1_800_000_000_000 + n, 0), {"at": 0, **payload})


@pytest.mark.parametrize(("payload", "move"), [
    ({"type": "ticket.issued", "service": "SOC"}, ("issued", "SOC")),
    ({"type": "ticket.called", "service": "SOC", "window": "1"}, ("called", "SOC")),
    ({"type": "ticket.recalled", "service": "SOC"}, None),  # the same call again
    ({"type": "ticket.finished", "service": "HUK", "outcome": "done"}, ("finished", "HUK")),
    ({"type": "ticket.missed", "service": "SOC", "window": "2"}, ("no_show", "SOC")),
    ({"type": "ticket.missed", "service": "SOC", "reason": "end_of_day"}, None),  # left at closing: no no-show
    ({"type": "ticket.transferred", "service": "TAX", "from_service": "SOC"}, ("transferred", "SOC")),
    ({"type": "window.opened", "window": "1"}, None),
])
def test_what_each_event_counts_as(payload: dict[str, Any], move: tuple[str, str] | None) -> None:
    assert move_of(payload) == move


def test_moves_are_labelled_by_hall_level_and_a_service_the_hall_knows(demo_hall: HallConfig) -> None:
    events = [event(1, type="ticket.issued", service="SOC", ticket="20261123-aaaaaaaaaaaa"),
              event(2, type="ticket.issued", service="SOC"), event(3, type="ticket.called", service="SOC"),
              event(4, type="ticket.issued", service="20261123-ffffffffffff")]  # never a label of its own
    assert ticket_moves(demo_hall, events) == {("issued", "county_centre", "SOC"): 2,
                                               ("called", "county_centre", "SOC"): 1,
                                               ("issued", "county_centre", "other"): 1}


def test_a_batch_partly_in_sql_already_counts_its_newest_events() -> None:
    events = [event(n, type="ticket.issued", service="SOC") for n in range(5)]
    assert list(fresh(events, 5)) == events
    assert list(fresh(events, 2)) == events[3:]
    assert list(fresh(events, 0)) == []


async def test_an_archived_morning_is_counted_once_even_when_its_batches_come_again(
        engine: Engine, clock: ManualClock, sql_engine: SqlEngine) -> None:
    await busy_morning(engine, clock)
    events = [stream_event(e.id, e.data) for e in await engine.events()]
    expected = ticket_moves(engine.hall, events)
    by_kind = Counter(kind for kind, _, _ in expected.elements())
    assert by_kind == {"issued": 8, "called": 7, "finished": 2, "no_show": 1, "transferred": 2}

    before = counted()
    writer = CountingWriter(sql_engine)
    await fast_archiver(engine, sql_engine, writer=writer).drain()
    assert counted() - before == expected

    # The same events delivered again (a crash between commit and acknowledgement): SQL has them, nothing counts.
    assert await writer.store(engine.hall, events) == 0
    assert counted() - before == expected
    # Every service of the hall is shown from the start, at 0 if nothing happened to it.
    assert {s.code for s in engine.hall.services} <= {service for _, level, service in counted()
                                                       if level == "county_centre"}
