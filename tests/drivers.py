"""The pure model behind the engine's async API, so one test can run against both."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from queue_engine.checks import check_issue
from queue_engine.config import HallConfig
from queue_engine.engine import Clock, IdMaker, random_ticket_id
from queue_engine.model import HallModel
from queue_engine.records import Event, Issued, Json, Rating, Ticket, TicketStatus, WindowState


class ModelDriver:
    def __init__(self, hall: HallConfig, *, clock: Clock, new_id: IdMaker = random_ticket_id) -> None:
        self.hall = hall
        self.model = HallModel(hall)
        self.clock = clock
        self.new_id = new_id

    def _now(self) -> int:
        return int(self.clock() * 1000)

    def _day(self) -> str:
        return self.hall.business_day(self.clock())

    async def setup(self) -> None:
        return None

    async def issue(
        self, service: str, *, channel: str = "guide", priority: str | None = None, person: str | None = None,
        appointment_ms: int | None = None, idempotency_key: str | None = None, item: str | None = None,
        green_reason: str | None = None, holder: str | None = None,
    ) -> Issued:
        # As the engine does: the configuration's checks come before a ticket id is drawn.
        check_issue(self.hall, service, channel, priority, item=item, green_reason=green_reason, holder=holder)
        day = self._day()
        result = self.model.issue(
            self._now(), day=day, ticket_id=self.new_id(day), service=service, channel=channel, priority=priority,
            person=person, appointment_ms=appointment_ms, idempotency_key=idempotency_key,
            early=self.hall.accepts_early_tickets(self.clock()), item=item, green_reason=green_reason, holder=holder,
        )
        return Issued.from_json(result)

    async def ticket(self, ticket_id: str) -> TicketStatus:
        t = self.model._ticket(ticket_id)
        if t["status"] != "waiting":
            return TicketStatus(Ticket.from_json(t))
        ahead, wait_s = self.model.estimate(t)
        return TicketStatus(Ticket.from_json(t), ahead, wait_s)

    async def cancel(self, ticket_id: str) -> Ticket:
        return Ticket.from_json(dict(self.model.cancel(self._now(), ticket_id)))

    async def pin(self, ticket_id: str, reason: str) -> Ticket:
        return Ticket.from_json(dict(self.model.pin(self._now(), ticket_id, reason)))

    async def requeue(self, ticket_id: str) -> Ticket:
        return Ticket.from_json(dict(self.model.requeue(self._now(), ticket_id, day=self._day())))

    async def call_next(self, window: str) -> Ticket | None:
        t = self.model.call_next(self._now(), window)
        return None if t is None else Ticket.from_json(dict(t))

    async def call_ticket(self, window: str, ticket_id: str, reason: str) -> Ticket:
        return Ticket.from_json(dict(self.model.call_ticket(self._now(), window, ticket_id, reason)))

    async def recall(self, window: str) -> Ticket:
        return Ticket.from_json(dict(self.model.recall(self._now(), window)))

    async def start(self, window: str) -> Ticket:
        return Ticket.from_json(dict(self.model.start(self._now(), window)))

    async def finish(self, window: str, outcome: str = "done") -> Ticket:
        return Ticket.from_json(dict(self.model.finish(self._now(), window, outcome)))

    async def no_show(self, window: str) -> Ticket:
        return Ticket.from_json(dict(self.model.no_show(self._now(), window)))

    async def transfer(
        self, window: str, *, to_service: str | None = None, to_window: str | None = None, reason: str = ""
    ) -> Ticket:
        t = self.model.transfer(self._now(), window, to_service=to_service, to_window=to_window, reason=reason)
        return Ticket.from_json(dict(t))

    async def open_window(self, window: str) -> WindowState:
        return WindowState.from_json(dict(self.model.open_window(self._now(), window)))

    async def close_window(self, window: str) -> WindowState:
        return WindowState.from_json(dict(self.model.close_window(self._now(), window)))

    async def pause(self, window: str, reason: str) -> WindowState:
        return WindowState.from_json(dict(self.model.pause(self._now(), window, reason)))

    async def resume(self, window: str) -> WindowState:
        return WindowState.from_json(dict(self.model.resume(self._now(), window)))

    async def set_services(self, window: str, services: Sequence[str], primary: Sequence[str] = (),
                           items: Sequence[str] | None = None) -> WindowState:
        return WindowState.from_json(dict(self.model.set_services(self._now(), window, services, primary, items)))

    async def reconfigure(self, new: HallConfig, from_version: int, changes: Sequence[Json] = ()) -> int:
        self.model.reconfigure(self._now(), new, from_version, changes)
        self.hall = new
        return from_version + 1

    async def rate(self, ticket_id: str, score: int, source: str, comment: str | None = None) -> Rating:
        return Rating.from_json(self.model.rate(self._now(), ticket_id, score, source, comment, today=self._day()))

    async def rate_archived(
        self, ticket_id: str, *, number: str, service: str, window: str | None, day: str, score: int, source: str,
        comment: str | None = None,
    ) -> Rating:
        return Rating.from_json(self.model.rate_archived(
            self._now(), ticket_id, number=number, service=service, window=window, day=day, score=score,
            source=source, comment=comment, today=self._day()))

    async def window(self, window: str) -> WindowState:
        return WindowState.from_json(dict(self.model._window(window)))

    async def end_day(self, day: str | None = None) -> Json:
        return self.model.end_day(self._now(), day or self._day())

    async def snapshot(self) -> Json:
        snap: dict[str, Any] = self.model.snapshot(self._now())
        snap["event_id"] = f"{len(self.model.events)}-0" if self.model.events else None
        return snap

    async def events(self, since: str = "0-0", count: int = 1000) -> list[Event]:
        start = int(since.split("-")[0])
        chosen = self.model.events[start:start + count]
        return [Event(f"{start + i + 1}-0", e["type"], e["at"], e) for i, e in enumerate(chosen)]


async def called_id(impl: Any, window: str) -> str | None:
    """Call next at the window and hand the window back at once, so it can call again."""
    t = await impl.call_next(window)
    if t is None:
        return None
    await impl.finish(window)
    return str(t.id)
