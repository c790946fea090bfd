"""The SQL record's tickets projection folds the events exactly as the pure model does.

The event fold is written three times: in Lua, in ``queue_engine.model`` and in ``floor.record.projection``.
``tests/queue_engine/test_model_vs_engine.py`` holds the model to the Lua engine; this test holds the projection
to the model, which closes the loop. It drives the model alone with that test's hall and rules, stores each step's
events through ``store_events`` into a real database (SQLite and PostgreSQL), and after every step demands the same
tickets, field by field, the same ratings and the same event log as the model has. A second machine delivers each
step's events as small batches, each twice, in shuffled order, as racing archivers and redeliveries would.

The SQL record keeps no window state (its ``windows`` table is the configuration, which events do not change), so
windows are compared through the tickets' ``window`` column only.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, cast

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine as SqlEngine

from floor.ratings.store import RatingRow
from floor.record.projection import StreamEvent, store_events
from floor.sql.db import Json, TicketEventRow, TicketRow, to_ms
from queue_engine import errors, policy
from queue_engine.clock import ManualClock
from queue_engine.model import HallModel
from queue_engine.records import Ticket
from queue_engine.stream_ids import StreamKey
from tests.conftest import MONDAY_9AM
from tests.drivers import ModelDriver
from tests.queue_engine.test_model_vs_engine import (
    HALL,
    ISSUED_FOR,
    REASONS,
    SERVICES,
    WINDOWS,
    ModelVsEngine,
    _counting_ids,
    _normal,
)

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

# Ticket columns that hold the model ticket's field of the same name.
SAME = ("day", "number", "service", "status", "tier", "channel", "priority", "window", "outcome", "pinned", "item",
        "green_reason", "holder")
# Time columns (datetimes) -> the model's field (ms since the epoch).
TIMES = {"appointment_at": "appointment_ms", "issued_at": "issued_at", "called_at": "called_at",
         "serving_at": "serving_at", "finished_at": "finished_at"}
# Columns the model's ticket has no field for: worked out from the model's events (see History).
FROM_EVENTS = ("recalls", "transfers", "handling_ms", "last_event_ms", "last_event_seq")
# Model fields the tickets table does not keep, and why.
NOT_KEPT = {
    "person": "no person key in the record, by design (TicketRow's docstring)",
    "queue": "the live line, which only Redis needs",
    "score": "the live line's order, which only Redis needs",
    "rating": "kept in the ratings table, compared on its own",
}
# Every event that changes a ticket: each must turn up in the runs (run_machine).
TICKET_EVENTS = ("ticket.issued", "ticket.called", "ticket.recalled", "ticket.serving", "ticket.finished",
                 "ticket.missed", "ticket.transferred", "ticket.cancelled", "ticket.pinned", "ticket.requeued")
ITEM_DROPPED = "ticket.transferred to another service, dropping its sub-item"
RATED = "ticket.rated"
# Tickets for a sub-item (事项), of services window 1 serves.
ITEM_TICKETS = st.sampled_from([("SOC", "SOC-A"), ("SOC", "SOC-B"), ("HUK", "HUK-X")])
SETTINGS = settings(max_examples=60, stateful_step_count=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def next_key(last: StreamKey, at_ms: int) -> StreamKey:
    """The id Redis gives the next entry: its time, or one more in the last id's ms if that is not earlier."""
    return (at_ms, 0) if at_ms > last[0] else (last[0], last[1] + 1)


@dataclass
class History:
    """What the tickets table keeps beyond the model's ticket, from the model's events, ticket by ticket."""

    transfers: Counter[str] = field(default_factory=Counter)
    handling_ms: dict[str, int | None] = field(default_factory=dict)
    last: dict[str, StreamKey] = field(default_factory=dict)

    @classmethod
    def of(cls, events: list[Json], keys: list[StreamKey]) -> History:
        history = cls()
        for e, key in zip(events, keys, strict=True):
            ticket = e.get("ticket")
            if ticket is None or e["type"] == RATED:  # a rating changes the ratings table, not the ticket's row
                continue
            history.last[ticket] = key
            if e["type"] == "ticket.transferred":
                history.transfers[ticket] += 1
            elif e["type"] == "ticket.finished":
                history.handling_ms[ticket] = e.get("handling_ms")  # none at the day's end
        return history


def expected_row(t: Json, history: History) -> Json:
    """The tickets row the model's ticket stands for, with times as ms."""
    row = {name: t.get(name) for name in SAME} | {column: t.get(name) for column, name in TIMES.items()}
    last_ms, last_seq = history.last[t["id"]]
    return row | {"recalls": t.get("recalls", 0), "transfers": history.transfers[t["id"]],
                  "handling_ms": history.handling_ms.get(t["id"]) if t["status"] == "done" else None,
                  "last_event_ms": last_ms, "last_event_seq": last_seq}


def stored_row(row: Json) -> Json:
    return {name: row[name] for name in (*SAME, *FROM_EVENTS)} | {column: to_ms(row[column]) for column in TIMES}


class ProjectionVsModel(ModelVsEngine):
    """The model-vs-engine machine with the engine swapped for the SQL record: the same hall, rules and strategies.

    Only the model is driven, as the engine is held to it elsewhere; its events stand for the stream's.
    """

    def __init__(self, sql: SqlEngine, seen: Counter[str]) -> None:
        RuleBasedStateMachine.__init__(self)  # not ModelVsEngine's: no Redis, no engine
        self.sql = sql
        self.seen = seen
        self.hall = HALL.model_copy(update={"id": f"prop-{uuid.uuid4().hex[:12]}"})  # a fresh hall per example
        self.loop = asyncio.new_event_loop()
        self.clock = ManualClock(MONDAY_9AM)
        self.model = ModelDriver(HALL, clock=self.clock, new_id=_counting_ids())
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.keys: list[StreamKey] = []  # the stream id of each of the model's events handed to SQL
        self.items: dict[str, str | None] = {}  # each ticket's sub-item as its events last told

    def teardown(self) -> None:
        self.loop.close()

    def both(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The model alone, answering as ModelVsEngine.both does so its rules run unchanged."""
        try:
            value = _normal(self.run(getattr(self.model, name)(*args, **kwargs)))
        except errors.DomainError:
            self.outcomes[(name, "refused")] += 1
            return None
        self.outcomes[(name, "ok" if value is not None else "none")] += 1
        return value

    @rule(roll=st.integers(min_value=0, max_value=7))
    def redis_loses_everything(self, roll: int) -> None:
        """As Engine.load_state does: the day is replayed from its events and the stream gets a marker, which the
        projection must pass over."""
        if roll:
            return
        rebuilt = HallModel.replay(HALL, self.model.model.events)
        marker = {"type": "hall.restored", "at": int(self.clock() * 1000), "events": len(rebuilt.events)}
        rebuilt.apply(marker)
        rebuilt.events.append(marker)
        self.model.model = rebuilt

    # Whole visits, each starting with a walk-in's ticket: random single steps seldom string these together, and
    # their events are the fold's rarer branches (recalls, misses served late, requeues, transfers, pins).
    def walk_in(self, service: str, item: str | None = None, holder: str | None = None) -> str | None:
        issued = self.both("issue", service, item=item, holder=holder)
        return None if issued is None else str(issued[0].id)

    @rule(window=WINDOWS, service=SERVICES, recalls=st.integers(min_value=0, max_value=3),
          then=st.sampled_from(["requeue", "call_ticket", "nothing"]), wait=st.integers(min_value=0, max_value=600))
    def missed_and_back(self, window: str, service: str, recalls: int, then: str, wait: int) -> None:
        """Called, recalled, missed; then the citizen turns up: requeued, or called straight from the misses."""
        if window not in self.model.model.windows:  # removed by a change of the set-up
            return
        if self.model.model.windows[window]["state"] == "closed":
            self.both("open_window", window)
        self.walk_in(service, holder="李*")
        called = self.both("call_next", window)
        if called is None:
            return
        for _ in range(recalls):  # the third is over the hall's recall limit
            self.clock.advance(30)
            self.both("recall", window)
        self.both("no_show", window)
        self.clock.advance(wait)
        if then == "requeue":
            self.both("requeue", called.id)
        elif then == "call_ticket":
            self.both("call_ticket", window, called.id, "回来了")

    @rule(window=WINDOWS, issued_for=ISSUED_FOR, serve=st.booleans(),
          to_service=st.one_of(st.none(), SERVICES), other=WINDOWS, reason=REASONS)
    def handed_on(self, window: str, issued_for: tuple[str, str | None], serve: bool, to_service: str | None,
                  other: str, reason: str) -> None:
        """Called (and perhaps served) at one window, then transferred to another service or window."""
        if not {window, other} <= set(self.model.model.windows):  # one was removed by a change of the set-up
            return
        for w in (window, other):
            if self.model.model.windows[w]["state"] == "closed":
                self.both("open_window", w)
        ticket = self.walk_in(*issued_for)
        # The walk-in itself where the window may call it, so its sub-item meets the transfer; else the next one.
        called = ticket and self.both("call_ticket", window, ticket, "")
        if called is None and self.both("call_next", window) is None:
            return
        if serve:
            self.both("start", window)
        if to_service is None:
            self.both("transfer", window, to_window=other, reason=reason)
        else:
            self.both("transfer", window, to_service=to_service, reason=reason)

    @rule(issued_for=ITEM_TICKETS, to_service=SERVICES, serve=st.booleans())
    def sub_item_handed_on(self, issued_for: tuple[str, str | None], to_service: str, serve: bool) -> None:
        """A ticket for a sub-item called and transferred: to another service, which must drop the sub-item.
        Random steps seldom bring an item ticket, a window that may call it and such a transfer together."""
        if "1" not in self.model.model.windows:
            return
        if self.model.model.windows["1"]["state"] == "closed":
            self.both("open_window", "1")
        ticket = self.walk_in(*issued_for)
        if ticket is None:
            return
        for window in ("1", "2", "4"):  # the first that may call it now
            if self.both("call_ticket", window, ticket, "") is not None:
                break
        else:
            return
        if serve:
            self.both("start", window)
        self.both("transfer", window, to_service=to_service, reason="转办")

    @rule(target=ModelVsEngine.tickets, service=SERVICES, reason=REASONS,
          then=st.sampled_from(["pin", "cancel", "pin_and_cancel"]))
    def waiting_admin(self, service: str, reason: str, then: str) -> str:
        """A manager pins a waiting ticket, or the citizen cancels it."""
        ticket = self.walk_in(service)
        if ticket is None:
            return "no-such-ticket"
        if then.startswith("pin"):
            self.both("pin", ticket, reason)
        if then.endswith("cancel"):
            self.both("cancel", ticket)
        return ticket

    def same_state(self) -> None:
        """Engine-only (Redis keys): left to test_model_vs_engine. Not an invariant here."""

    def replaying_the_events_rebuilds_the_state(self) -> None:
        """Model-only and already checked by test_model_vs_engine. Not an invariant here."""

    # -- the SQL record ---------------------------------------------------------------------
    def new_events(self) -> list[StreamEvent]:
        """The events the model appended since the last step, with stream ids as Redis would give them and
        payloads as the archiver reads them (JSON decoded)."""
        events = []
        for e in self.model.model.events[len(self.keys):]:
            key = next_key(self.keys[-1] if self.keys else (0, 0), e["at"])
            self.keys.append(key)
            self.seen[e["type"]] += 1
            if e["type"] == "ticket.transferred" and e["service"] != e["from_service"] and self.items.get(e["ticket"]):
                self.seen[ITEM_DROPPED] += 1
            elif e["type"] in ("ticket.issued", "ticket.called"):
                self.items[e["ticket"]] = e.get("item")
            events.append(StreamEvent(key, orjson.loads(orjson.dumps(e))))
        return events

    def deliver(self, events: list[StreamEvent]) -> None:
        """One step's events, one batch: what a single archiver reading the stream does."""
        if events:
            store_events(self.sql, self.hall, events)

    @invariant()
    def the_record_agrees_with_the_model(self) -> None:
        """After every step: the step's events stored, then the whole record for this hall against the model."""
        self.deliver(self.new_events())
        model = self.model.model
        hall = self.hall.id
        with self.sql.connect() as conn:
            tickets = {r.id: dict(r._mapping) for r in conn.execute(
                sa.select(TicketRow.__table__).where(TicketRow.hall == hall))}
            ratings = {r.ticket: r for r in conn.execute(sa.select(RatingRow.__table__).where(RatingRow.hall == hall))}
            log = [((r.stream_ms, r.stream_seq), r.type, r.ticket, r.payload) for r in conn.execute(
                sa.select(TicketEventRow.__table__).where(TicketEventRow.hall == hall)
                .order_by(TicketEventRow.stream_ms, TicketEventRow.stream_seq))]

        # Every event once, in stream order, whatever was delivered twice.
        assert log == [(key, e["type"], e.get("ticket"), orjson.loads(orjson.dumps(e)))
                       for key, e in zip(self.keys, model.events, strict=True)]

        assert set(tickets) == set(model.tickets)
        history = History.of(model.events, self.keys)
        for ticket_id, t in model.tickets.items():
            assert stored_row(tickets[ticket_id]) == expected_row(t, history), ticket_id

        # 好差评: a live ticket's rating as the model keeps it; a late one (of a ticket the live day does not hold)
        # as the model remembers it.
        live = {i: t for i, t in model.tickets.items() if "rating" in t}
        late = {ticket for _, ticket in model.late_ratings}
        assert set(ratings) == set(live) | late
        for ticket_id, t in live.items():
            r, rating = ratings[ticket_id], t["rating"]
            assert (r.day, r.number, r.service, r.window, r.score, r.bad, r.source, to_ms(r.rated_at), r.late) == (
                t["day"], t["number"], t["service"], t.get("window"), rating["score"], policy.is_bad(rating["score"]),
                rating["source"], rating["at"], False), ticket_id
        for ticket_id in late:
            r = ratings[ticket_id]
            assert r.late
            assert model.late_ratings.get((r.day, ticket_id)) == to_ms(r.rated_at), ticket_id


class ShuffledDeliveries(ProjectionVsModel):
    """Each step's events arrive twice, cut into small batches two different ways, the batches in shuffled
    order: archivers committing out of stream order, and redeliveries after a crash before XACK."""

    rng: random.Random

    @initialize(rng=st.randoms(use_true_random=False))
    def draw_delivery_order(self, rng: random.Random) -> None:
        self.rng = rng  # invariants run only once every initialize rule has

    def deliver(self, events: list[StreamEvent]) -> None:
        batches = [*self.cut(events), *self.cut(events)]
        self.rng.shuffle(batches)
        for batch in batches:
            store_events(self.sql, self.hall, batch)

    def cut(self, events: list[StreamEvent]) -> list[list[StreamEvent]]:
        """Consecutive runs of one to three events, as XREADGROUP hands them out."""
        batches, i = [], 0
        while i < len(events):
            n = self.rng.randint(1, 3)
            batches.append(events[i:i + n])
            i += n
        return batches


COVERAGE_RUNS = 3  # a rare branch (a requeue needs a no-show first) may take another run of random examples


def run_machine(machine: type[ProjectionVsModel], sql_engine: SqlEngine) -> None:
    """Run the machine; then check every branch of the fold was taken, or its agreement would prove little. Runs
    again, up to COVERAGE_RUNS in all, while some branch was never taken (each run a new random search)."""
    seen: Counter[str] = Counter()
    # Hypothesis only calls what it is given: a factory binding the database does, though typed as a class.
    factory = cast(type[RuleBasedStateMachine], lambda: machine(sql_engine, seen))
    for _ in range(COVERAGE_RUNS):
        run_state_machine_as_test(factory, settings=SETTINGS)
        missing = {*TICKET_EVENTS, ITEM_DROPPED} - set(seen)
        if not missing:
            break
    assert not missing, f"never exercised in {COVERAGE_RUNS} runs: {missing}"


def test_the_comparison_covers_every_column_and_every_model_field() -> None:
    """A field added to either side fails here until the comparison takes it in."""
    assert {c.name for c in TicketRow.__table__.columns} == {"hall", "id", *SAME, *TIMES, *FROM_EVENTS}
    assert {f.name for f in fields(Ticket)} == {"id", "recalls", *SAME, *TIMES.values(), *NOT_KEPT}


@pytest.mark.thorough
def test_the_projection_folds_every_step_as_the_model_does(sql_engine: SqlEngine) -> None:
    run_machine(ProjectionVsModel, sql_engine)


@pytest.mark.thorough
def test_batches_delivered_twice_and_out_of_order_give_the_same_rows(sql_engine: SqlEngine) -> None:
    run_machine(ShuffledDeliveries, sql_engine)
