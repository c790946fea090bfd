"""The notifier: turns each hall's events into webhooks for the SMS/WeChat gateway and the provincial 好差评 system.

It reads the hall's event stream through a consumer group of its own ("notifier", beside the archiver's), with the
archiver's machinery: a batch's deliveries are recorded in SQL (``floor.notify.webhooks``) before the batch is
acknowledged, so a crash in between re-reads the batch and records nothing twice (a delivery's id comes from what
caused it). Sending is ``WebhookSender``'s job, woken as soon as a batch is recorded.

What it makes, for a hall whose ``[notifications]`` name the addresses:

- ``ticket.called``: every call and recall of a ticket that has a phone kept (``floor.notify.contacts``), to
  ``notify_url``: ``{hall, ticket, number, window, window_name, announcement, at, recall}`` and the phone;
- ``ticket.ahead``: once per ticket with a phone, when at most ``ahead`` tickets are ahead of it in its line:
  ``{hall, ticket, number, service, ahead, estimated_wait_s}`` and the phone. After every event that moves a
  line, the heads of the hall's lines are read from Redis (the engine's keys); the once-only mark is a
  hall-tagged Redis set that ends with the day, and the delivery id (one per ticket) makes it once in SQL too;
- ``ticket.rated``: every rating, to ``ratings_url``: ``{hall, ticket, number, service, window, score, level, bad,
  source, comment, late, rated_at}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine as SqlEngine

from floor.cancellation import raise_if_cancelled
from floor.clock import FileClock
from floor.notify.contacts import Contacts, sealer_for, seconds_left_today
from floor.notify.webhooks import NewDelivery, RetryPolicy, WebhookSender, in_thread, record
from floor.ratings.rules import level
from floor.record.archiver import Archiver
from floor.record.projection import StreamEvent
from floor.redis_shards import open_shards
from floor.settings import Settings
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.errors import UnknownTicket

log = logging.getLogger("hallq.notifier")

GROUP = "notifier"
CALLS = ("ticket.called", "ticket.recalled")
# Events after which a ticket may have moved up its line (or joined one near its head).
LINE_MOVES = frozenset({"ticket.issued", "ticket.called", "ticket.cancelled", "ticket.transferred", "ticket.missed",
                        "ticket.requeued", "ticket.pinned", "hall.restored"})
# A call read later than this (the notifier was down) is not texted: the person has been served or missed by then,
# and a late "please go to window 5" would send them to someone else's turn.
CALL_FRESH_S = 600
# The phone is kept just after the issue (floor.tickets.api), so the notifier may read a ticket.issued before its
# phone is there: the heads of the lines are read again this long after a batch with an issue in it.
LATE_CONTACT_S = 1.0


def local_time(hall: HallConfig, at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, hall.zone).isoformat(timespec="seconds")

# The words a call is announced with ("请A023号到5号窗口"): the lobby display's, handed in by the app factory so
# the SMS says what the hall says.
CallWords = Callable[[str, str], str]

class Notifier(Archiver):
    """One hall's notifier: an archiver of the same stream whose "store" is recording deliveries."""

    def __init__(self, engine: Engine, sql_engine: SqlEngine, contacts: Contacts, *, call_words: CallWords,
                 sender: WebhookSender | None = None, **options: Any) -> None:
        options.setdefault("group", GROUP)
        super().__init__(engine, sql_engine, **options)
        self.sql = sql_engine
        self.contacts = contacts
        self.call_words = call_words
        self.sender = sender
        self.recorded = 0  # deliveries recorded, for tests and a health check
        self._issued = asyncio.Event()  # a batch had an issue in it: see LATE_CONTACT_S

    async def run(self) -> None:
        """Notify until cancelled (then call ``close``)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(super().run())
            group.create_task(self._late_contacts())

    async def _late_contacts(self) -> None:
        """Read the heads of the lines again shortly after each issue, for the phone kept just after it. Safe beside
        the batches: an "N ahead" delivery's id is the ticket's, so a ticket found by both is recorded once."""
        settings = self.engine.hall.notifications
        while True:
            raise_if_cancelled()
            await self._issued.wait()
            await asyncio.sleep(LATE_CONTACT_S)
            self._issued.clear()
            if not settings.notify_url or settings.ahead <= 0:
                continue
            try:
                await self._record([], await self._ahead(settings.notify_url, settings.ahead))
            except Exception as exc:  # Redis or SQL down: the next line move reads the heads again
                log.warning("notifier of %s could not read the lines again: %s: %s", self.engine.hall.id,
                            type(exc).__name__, exc)

    async def _store(self, events: list[StreamEvent]) -> None:
        made, ahead = await self.deliveries(events)
        await self._record(made, ahead)
        if any(e.type == "ticket.issued" for e in events):
            self._issued.set()

    async def _record(self, made: list[NewDelivery], ahead: list[NewDelivery]) -> None:
        deliveries = made + ahead
        if deliveries:
            # The record's times are the sender's, the wall clock's (the hall's clock is a test's in server tests).
            self.recorded += await in_thread(record, self.sql, deliveries, time.time())
        if ahead:  # after the record: a crash in between only means the heads are read again
            key = self.engine.keys.notified_ahead
            async with self.engine.redis.pipeline(transaction=True) as pipe:
                pipe.sadd(key, *(d.cause for d in ahead))
                pipe.expire(key, seconds_left_today(self.engine.hall, self.engine.clock()))
                await pipe.execute()
        if deliveries and self.sender is not None:
            self.sender.wake()

    async def deliveries(self, events: Sequence[StreamEvent]) -> tuple[list[NewDelivery], list[NewDelivery]]:
        """The deliveries a batch makes: calls and ratings, and "N ahead" notifications."""
        for event in events:
            self.engine.follow(event.payload)
        settings = self.engine.hall.notifications
        made: list[NewDelivery] = []
        if settings.notify_url:
            made += await self._calls(settings.notify_url, events)
        if settings.ratings_url:
            made += [self._rating(settings.ratings_url, e) for e in events if e.type == "ticket.rated"]
        ahead: list[NewDelivery] = []
        if settings.notify_url and settings.ahead > 0 and any(e.type in LINE_MOVES for e in events):
            ahead = await self._ahead(settings.notify_url, settings.ahead)
        return made, ahead

    async def _calls(self, url: str, events: Sequence[StreamEvent]) -> list[NewDelivery]:
        now_ms = int(self.engine.clock() * 1000)
        calls = [e for e in events if e.type in CALLS and now_ms - int(e.payload["at"]) <= CALL_FRESH_S * 1000]
        with_phone = await self.contacts.having(list({str(e.payload["ticket"]) for e in calls}))
        hall = self.engine.hall
        made = []
        for e in calls:
            p = e.payload
            ticket = str(p["ticket"])
            if ticket not in with_phone:
                continue
            window = hall.window(str(p["window"]))
            window_name = window.name if window else f"{p['window']}号窗口"
            payload = {"hall": hall.id, "ticket": ticket, "number": p["number"], "window": p["window"],
                       "window_name": window_name, "announcement": self.call_words(str(p["number"]), window_name),
                       "at": local_time(hall, int(p["at"])), "recall": e.type == "ticket.recalled"}
            made.append(NewDelivery(hall.id, "ticket.called", e.id, url, payload, ticket, personal=True))
        return made

    def _rating(self, url: str, e: StreamEvent) -> NewDelivery:
        p, hall = e.payload, self.engine.hall
        score = int(p["score"])
        payload = {"hall": hall.id, "ticket": p["ticket"], "number": p["number"], "service": p["service"],
                   "window": p.get("window"), "score": score, "level": level(score).zh, "bad": bool(p["bad"]),
                   "source": p["source"], "comment": p.get("comment"), "late": bool(p.get("late")),
                   "rated_at": local_time(hall, int(p["at"]))}
        return NewDelivery(hall.id, "ticket.rated", e.id, url, payload, str(p["ticket"]))

    async def _ahead(self, url: str, limit: int) -> list[NewDelivery]:
        """Tickets with a phone, not told yet, that have at most ``limit`` ahead in their line (a service's, or a
        window's for tickets transferred to one): the first ``limit + 1`` of each line, read from Redis."""
        engine, hall = self.engine, self.engine.hall
        lines = [engine.keys.queue(s.code) for s in hall.services] + [engine.keys.window_queue(w.id)
                                                                       for w in hall.windows]
        async with engine.redis.pipeline(transaction=False) as pipe:
            for line in lines:
                pipe.zrange(line, 0, limit)
            heads: list[list[bytes]] = await pipe.execute()
        near = list(dict.fromkeys(tid.decode() for head in heads for tid in head))
        have = await self.contacts.having(near)
        with_phone = [t for t in near if t in have]
        if not with_phone:
            return []
        told = await engine.redis.smismember(engine.keys.notified_ahead, with_phone)
        made = []
        for ticket in (t for t, was in zip(with_phone, told, strict=True) if not was):
            try:
                status = await engine.ticket(ticket)
            except UnknownTicket:
                continue
            if status.ticket.status != "waiting" or status.ahead is None or status.ahead > limit:
                continue  # moved on since the heads were read
            t = status.ticket
            payload = {"hall": hall.id, "ticket": t.id, "number": t.number, "service": t.service,
                       "ahead": status.ahead, "estimated_wait_s": status.estimated_wait_s}
            made.append(NewDelivery(hall.id, "ticket.ahead", t.id, url, payload, t.id, personal=True))
        return made


async def run_notifications(settings: Settings, halls: Mapping[str, HallConfig], sql: SqlEngine,
                            call_words: CallWords) -> None:
    """The notifiers of every hall that sends notifications or ratings, and the one sender of every hall's
    webhooks, until cancelled. Run by the archive process (``floor.archive_process``)."""
    # A client of its own: each notifier blocks a connection in XREADGROUP, beside the archivers' pool.
    redis = open_shards(settings, max_connections=len(halls) + 8)
    await redis.start()
    sealer = sealer_for(settings.secret)
    clock = FileClock(settings.clock_file) if settings.clock_file else time.time  # the web workers' clock
    engines = {h: Engine(redis, cfg, prefix=settings.key_prefix, clock=clock) for h, cfg in halls.items()}
    for engine in engines.values():
        with contextlib.suppress(Exception):  # Redis away: each notifier follows the stream once it is back
            await engine.catch_up()
    contacts = {h: Contacts(e, sealer) for h, e in engines.items()}

    async def phone_of(hall: str, ticket: str) -> str | None:
        return await contacts[hall].phone(ticket) if hall in contacts else None

    sender = WebhookSender(sql, settings.webhook_key, policy=RetryPolicy.from_settings(settings), phone_of=phone_of)
    notifiers = [Notifier(e, sql, contacts[h], call_words=call_words, sender=sender) for h, e in engines.items()
                 if e.hall.notifications.notify_url or e.hall.notifications.ratings_url]
    tasks = [asyncio.create_task(sender.run(), name="webhook-sender")]
    tasks += [asyncio.create_task(n.run(), name=f"notifier-{n.engine.hall.id}") for n in notifiers]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for notifier in notifiers:
            await notifier.close()
        with contextlib.suppress(Exception):
            await sender.close()
        await redis.aclose()
