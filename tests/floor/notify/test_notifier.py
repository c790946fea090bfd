"""The notifier turns a hall's events into webhooks: "called" for each call of a ticket with a phone, "N ahead" once
per ticket as its line moves, every rating to the 好差评 system; a restart sends nothing twice and loses nothing.
Real Redis (the engine), real SQL (SQLite and PostgreSQL), a real HTTP receiver."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session

from displays.announce import announcement
from floor.notify.contacts import Contacts, Sealer, seconds_left_today
from floor.notify.notifier import CALL_FRESH_S, Notifier
from floor.notify.webhooks import EVENT_HEADER, RetryPolicy, WebhookDeliveryRow, WebhookSender, verify
from floor.record.projection import StreamEvent
from floor.sql.db import sync_config
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig, Notifications
from queue_engine.engine import Engine
from tests.floor.conftest import eventually
from tests.floor.notify.test_webhooks import Received, Receiver

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

SECRET = b"notifier-test-secret"
KEY = b"gateway-key"
PHONES = [f"1390000{i:04d}" for i in range(20)]


@pytest.fixture
def receiver() -> Any:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def hall(demo_hall: HallConfig, receiver: Receiver) -> HallConfig:
    notifications = Notifications(ahead=3, notify_url=receiver.url + "/notify", ratings_url=receiver.url + "/ratings")
    return demo_hall.model_copy(update={"notifications": notifications})


@pytest.fixture
async def engine(redis: Redis, hall: HallConfig, clock: ManualClock, key_prefix: str,
                 sql_engine: SqlEngine) -> Engine:
    e = Engine(redis, hall, prefix=key_prefix, clock=clock)
    await e.setup()
    sync_config(sql_engine, hall)
    return e


@pytest.fixture
def contacts(engine: Engine) -> Contacts:
    return Contacts(engine, Sealer(SECRET))


class Floor:
    """The notifier and the sender of one hall, running; and the hall's engine to act on it."""

    def __init__(self, engine: Engine, sql_engine: SqlEngine, contacts: Contacts, receiver: Receiver,
                 clock: ManualClock) -> None:
        self.engine, self.sql, self.contacts, self.receiver, self.clock = engine, sql_engine, contacts, receiver, clock
        self.tasks: list[asyncio.Task[None]] = []
        self.notifiers: list[Notifier] = []

        async def phone_of(hall: str, ticket: str) -> str | None:
            return await contacts.phone(ticket)

        policy = RetryPolicy(attempts=5, backoff_s=0.05, cap_s=0.5, timeout_s=2.0)
        self.sender = WebhookSender(sql_engine, KEY, policy=policy, phone_of=phone_of, poll_s=0.02,
                                    rng=random.Random(3))

    def notifier(self, cls: type[Notifier] = Notifier) -> Notifier:
        n = cls(self.engine, self.sql, self.contacts, call_words=announcement, sender=self.sender, block_ms=50,
                backoff_s=(0.01, 0.05),
                claim_idle_ms=0)
        self.notifiers.append(n)
        self.tasks.append(asyncio.create_task(n.run()))
        return n

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.sender.close()

    async def issue(self, service: str = "SOC", phone: str | None = None) -> str:
        self.clock.advance(1)  # a second apart: tickets issued at the same millisecond wait in no set order
        ticket = (await self.engine.issue(service)).ticket.id
        if phone:
            await self.contacts.keep(ticket, phone, self.engine.clock())
        return ticket

    async def caught_up(self) -> None:
        """Every event so far handled by the notifiers and every delivery sent."""
        last = (await self.engine.events())[-1].id

        async def read() -> bool:
            groups = await self.engine.redis.xinfo_groups(self.engine.keys.events)
            group = next((g for g in groups if g["name"] in (b"notifier", "notifier")), None)
            if group is None:
                return False
            last_read = group["last-delivered-id"]
            last_read = last_read.decode() if isinstance(last_read, bytes) else last_read
            return bool(last_read == last and group["pending"] == 0)

        def sent() -> bool:
            with Session(self.sql) as s:
                return not s.scalar(sa.select(sa.func.count()).select_from(WebhookDeliveryRow)
                                    .where(WebhookDeliveryRow.status == "pending"))

        await eventually(read)
        await eventually(sent)

    def got(self, kind: str) -> list[Received]:
        return [r for r in self.receiver.requests if r.headers[EVENT_HEADER.lower()] == kind]


@pytest.fixture
async def floor(engine: Engine, sql_engine: SqlEngine, contacts: Contacts, receiver: Receiver, clock: ManualClock
                ) -> AsyncIterator[Floor]:
    f = Floor(engine, sql_engine, contacts, receiver, clock)
    f.tasks.append(asyncio.create_task(f.sender.run()))
    try:
        yield f
    finally:
        await f.stop()


# -- called -------------------------------------------------------------------------------------------------
async def test_each_call_and_recall_of_a_ticket_with_a_phone_is_sent_signed_and_no_other(
    floor: Floor, clock: ManualClock,
) -> None:
    floor.notifier()
    await floor.engine.open_window("5")
    with_phone = await floor.issue(phone=PHONES[0])
    await floor.issue()  # no phone: never told anything
    await floor.engine.call_next("5")
    clock.advance(30)
    await floor.engine.recall("5")
    await floor.engine.finish("5", "done")
    await floor.engine.call_next("5")
    await floor.caught_up()

    calls = sorted(floor.got("ticket.called"), key=lambda c: c.json["at"])  # sent concurrently: in any order
    assert [c.json["recall"] for c in calls] == [False, True]
    for call in calls:
        assert verify(KEY, call.headers, call.body)
        assert call.path == "/notify"
        body = call.json
        assert body == {"hall": "demo", "ticket": with_phone, "number": "A001", "window": "5", "window_name": "5号窗口",
                        "announcement": "请A001号到5号窗口", "at": body["at"], "recall": body["recall"],
                        "phone": PHONES[0]}
    assert calls[0].json["at"] == "2026-11-23T09:00:02+08:00"
    assert calls[1].json["at"] == "2026-11-23T09:00:32+08:00"
    assert len({c.headers["x-hallq-delivery"] for c in calls}) == 2, "a recall is a delivery of its own"


async def test_a_call_read_too_late_is_not_texted(floor: Floor, clock: ManualClock) -> None:
    await floor.engine.open_window("5")
    await floor.issue(phone=PHONES[0])
    await floor.engine.call_next("5")
    clock.advance(CALL_FRESH_S + 1)  # the notifier was down all that time
    floor.notifier()
    await floor.caught_up()
    assert floor.got("ticket.called") == []


# -- N ahead ------------------------------------------------------------------------------------------------
async def test_n_ahead_is_sent_once_per_ticket_as_the_line_moves(floor: Floor, clock: ManualClock) -> None:
    await floor.engine.open_window("1")
    tickets = [await floor.issue(phone=None if i == 1 else PHONES[i]) for i in range(8)]
    floor.notifier()
    await floor.caught_up()
    # 0..3 ahead at issue: told at once (the second has no phone, so is never told, but counts as ahead).
    assert {(r.json["ticket"], r.json["ahead"]) for r in floor.got("ticket.ahead")} == {
        (tickets[0], 0), (tickets[2], 2), (tickets[3], 3)}
    for called in range(1, 5):
        clock.advance(60)
        await floor.engine.call_next("1")
        await floor.engine.finish("1", "done")
        await floor.caught_up()
        told = floor.got("ticket.ahead")
        assert told[-1].json["ticket"] == tickets[called + 3]
        assert told[-1].json["ahead"] == 3
    told = floor.got("ticket.ahead")
    assert sorted(r.json["ticket"] for r in told) == sorted(t for i, t in enumerate(tickets) if i != 1), "once each"
    first = told[-1].json
    assert first == {"hall": "demo", "ticket": tickets[7], "number": "A008", "service": "SOC", "ahead": 3,
                     "estimated_wait_s": first["estimated_wait_s"], "phone": PHONES[7]}
    assert isinstance(first["estimated_wait_s"], int)
    assert first["estimated_wait_s"] > 0
    assert await floor.engine.redis.sismember(floor.engine.keys.notified_ahead, tickets[7])
    ttl = await floor.engine.redis.ttl(floor.engine.keys.notified_ahead)
    assert 0 < ttl <= seconds_left_today(floor.engine.hall, clock()), "the once-only marks end with the day"


async def test_a_phone_kept_just_after_its_issue_was_read_is_still_told_without_another_event(
    floor: Floor,
) -> None:
    floor.notifier()
    await floor.engine.open_window("1")
    ticket = await floor.issue()
    await floor.caught_up()  # the notifier has read the issue, and the phone is not there yet
    events = len(await floor.engine.events())
    await floor.contacts.keep(ticket, PHONES[0], floor.clock())
    await eventually(lambda: len(floor.got("ticket.ahead")) == 1)
    assert floor.got("ticket.ahead")[0].json["ticket"] == ticket
    assert len(await floor.engine.events()) == events, "nothing else happened in the hall meanwhile"


async def test_a_ticket_transferred_near_the_head_of_another_line_is_told_there(floor: Floor) -> None:
    for window in ("1", "5"):
        await floor.engine.open_window(window)
    for _ in range(5):
        await floor.issue("SOC")
    to_service, to_window = await floor.issue("SOC", phone=PHONES[0]), await floor.issue("SOC", phone=PHONES[1])
    for _ in range(3):
        await floor.issue("TAX")
    floor.notifier()
    await floor.caught_up()
    assert floor.got("ticket.ahead") == [], "five and six ahead in the SOC line"
    # Served out of turn at window 1, then sent on: to the TAX line (transferred tickets go before walk-ins) and to
    # window 5's own line. Each is now first where it waits.
    for ticket, target in ((to_service, {"to_service": "TAX"}), (to_window, {"to_window": "5"})):
        await floor.engine.call_ticket("1", ticket, "陪同")
        await floor.engine.start("1")
        await floor.engine.transfer("1", reason="另办", **target)
    await floor.caught_up()
    told = {r.json["ticket"]: r.json for r in floor.got("ticket.ahead")}
    assert set(told) == {to_service, to_window}
    assert (told[to_service]["service"], told[to_service]["ahead"]) == ("TAX", 0)
    assert told[to_window]["ahead"] == 0


# -- ratings ------------------------------------------------------------------------------------------------
async def test_every_rating_is_forwarded_to_the_ratings_address(floor: Floor) -> None:
    floor.notifier()
    await floor.engine.open_window("5")
    rated = []
    for score, comment in ((1, "等太久"), (5, None)):
        ticket = await floor.issue()
        await floor.engine.call_next("5")
        await floor.engine.start("5")
        await floor.engine.finish("5", "done")
        await floor.engine.rate(ticket, score, "pad", comment)
        rated.append(ticket)
    await floor.caught_up()
    got = sorted(floor.got("ticket.rated"), key=lambda r: r.json["score"])  # sent concurrently: in any order
    assert [r.path for r in got] == ["/ratings", "/ratings"]
    assert all(verify(KEY, r.headers, r.body) for r in got)
    bad, good = got[0].json, got[1].json
    assert bad == {"hall": "demo", "ticket": rated[0], "number": "A001", "service": "SOC", "window": "5", "score": 1,
                   "level": "非常不满意", "bad": True, "source": "pad", "comment": "等太久", "late": False,
                   "rated_at": "2026-11-23T09:00:01+08:00"}
    assert (good["score"], good["level"], good["bad"], good["comment"]) == (5, "非常满意", False, None)
    assert "phone" not in bad


# -- restarts -----------------------------------------------------------------------------------------------
class Crash(BaseException):
    """The process dies here (a BaseException, so no retry loop catches it)."""


class DiesAfterRecording(Notifier):
    """Records its first batch's deliveries, then dies before acknowledging the batch."""

    async def _store(self, events: list[StreamEvent]) -> None:
        await super()._store(events)
        raise Crash


async def test_a_restarted_notifier_sends_nothing_twice_and_loses_nothing(floor: Floor, clock: ManualClock) -> None:
    await floor.engine.open_window("5")
    calls = 6
    tickets = [await floor.issue(phone=PHONES[i]) for i in range(calls)]
    for _ in range(3):
        clock.advance(20)
        await floor.engine.call_next("5")
        await floor.engine.finish("5", "done")
    first = floor.notifier(DiesAfterRecording)
    with pytest.raises(BaseExceptionGroup) as died:
        await floor.tasks[-1]
    assert died.value.subgroup(Crash) is not None
    assert first.recorded > 0
    pending = await floor.engine.redis.xpending(floor.engine.keys.events, "notifier")
    assert pending["pending"] > 0, "it died holding the batch it had recorded"
    # More happens while no notifier runs, then a new one starts (another process: another consumer).
    for _ in range(3):
        clock.advance(20)
        await floor.engine.call_next("5")
        await floor.engine.finish("5", "done")
    floor.notifier()
    await floor.caught_up()
    await asyncio.sleep(0.2)  # anything sent twice would have arrived by now
    called = floor.got("ticket.called")
    assert sorted(c.json["ticket"] for c in called) == sorted(tickets), "every call told, once"
    ahead = floor.got("ticket.ahead")
    # The first three had been called before any notifier read the line; the others were told once each.
    assert sorted(a.json["ticket"] for a in ahead) == sorted(tickets[3:])
    deliveries = [r.headers["x-hallq-delivery"] for r in floor.receiver.requests]
    assert len(deliveries) == len(set(deliveries))


# -- the phone, sealed --------------------------------------------------------------------------------------
async def test_a_phone_is_kept_sealed_bound_to_its_ticket_until_the_end_of_the_day(
    engine: Engine, contacts: Contacts, clock: ManualClock,
) -> None:
    await engine.open_window("1")
    first, second = (await engine.issue("SOC")).ticket.id, (await engine.issue("SOC")).ticket.id
    await contacts.keep(first, PHONES[0], clock())
    key = engine.keys.contacts
    sealed = await engine.redis.hget(key, first)
    assert sealed is not None
    assert PHONES[0].encode() not in sealed
    assert PHONES[0][-4:].encode() not in sealed
    assert await contacts.phone(first) == PHONES[0]
    assert await contacts.having([first, second]) == {first}
    # Moved onto another ticket, or opened with another server's secret, a seal opens nothing.
    await engine.redis.hset(key, second, sealed)
    assert await contacts.phone(second) is None
    assert await Contacts(engine, Sealer(b"another secret")).phone(first) is None
    # 09:00 in Shanghai: kept for the 15 hours left of the day, not a second longer.
    assert 15 * 3600 - 5 <= await engine.redis.ttl(key) <= 15 * 3600 + 1
    assert seconds_left_today(engine.hall, time.time()) <= 24 * 3600 + 1
