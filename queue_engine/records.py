"""What the engine hands back: tickets, windows, snapshots and events, as plain frozen records."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

Json = dict[str, Any]


def _list(value: Any) -> list[Any]:
    # cjson in Redis encodes an empty Lua table as {}, so an empty list can come back as a dict.
    return list(value) if value else []


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    day: str
    number: str
    service: str
    status: str
    tier: int
    channel: str
    issued_at: int  # ms since the epoch, like every time below
    priority: str | None = None
    person: str | None = None
    appointment_ms: int | None = None
    queue: str | None = None
    score: int | None = None
    window: str | None = None
    called_at: int | None = None
    serving_at: int | None = None
    finished_at: int | None = None
    recalls: int | None = None
    outcome: str | None = None
    pinned: str | None = None
    item: str | None = None  # the sub-item (事项) of its service the citizen comes for
    green_reason: str | None = None  # why it has the green channel: elderly | disabled | pregnant | military
    holder: str | None = None  # the citizen's name, masked (张*三), for appointment and real-name tickets
    rating: Json | None = None  # {"score", "at", "source"} once the citizen has rated it

    @classmethod
    def from_json(cls, data: Json) -> Ticket:
        values: dict[str, Any] = {name: data.get(name) for name in _TICKET_FIELDS}
        if values["score"] is not None:
            values["score"] = int(values["score"])
        return cls(**values)


_TICKET_FIELDS = tuple(f.name for f in fields(Ticket))  # read once: fields() walks the class on every call


@dataclass(frozen=True, slots=True)
class Issued:
    ticket: Ticket
    replay: bool  # True when an Idempotency-Key returned a ticket issued before
    ahead: int | None = None
    estimated_wait_s: int | None = None
    event_id: str | None = None

    @classmethod
    def from_json(cls, data: Json, event_id: str | None = None) -> Issued:
        return cls(Ticket.from_json(data["ticket"]), bool(data["replay"]), data.get("ahead"),
                   data.get("estimated_wait_s"), event_id)


@dataclass(frozen=True, slots=True)
class TicketStatus:
    ticket: Ticket
    ahead: int | None = None
    estimated_wait_s: int | None = None


@dataclass(frozen=True, slots=True)
class WindowState:
    state: str  # closed | idle | calling | serving | paused
    services: list[str]
    primary: list[str]
    misses: list[str] = field(default_factory=list)
    ticket: str | None = None
    reason: str | None = None
    since: int | None = None
    items: list[str] = field(default_factory=list)  # sub-item skills (policy rule 6)
    done: str | None = None  # the ticket it finished last: the only one its rating pad may ask about

    @classmethod
    def from_json(cls, data: Json) -> WindowState:
        return cls(state=data["state"], services=_list(data["services"]), primary=_list(data.get("primary")),
                   misses=_list(data.get("misses")), ticket=data.get("ticket"), reason=data.get("reason"),
                   since=data.get("since"), items=_list(data.get("items")), done=data.get("done"))


@dataclass(frozen=True, slots=True)
class Rating:
    """A rating (好差评) as its ``ticket.rated`` event tells it."""

    ticket: str
    number: str
    service: str
    day: str
    score: int
    bad: bool  # 差评: 不满意 or 非常不满意
    source: str  # pad | qr | phone | guide
    late: bool  # the ticket was no longer in the live day (Engine.rate_archived)
    at: int
    window: str | None = None
    comment: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> Rating:
        return cls(ticket=data["ticket"], number=data["number"], service=data["service"], day=data["day"],
                   score=data["score"], bad=bool(data["bad"]), source=data["source"], late=bool(data["late"]),
                   at=data["at"], window=data.get("window"), comment=data.get("comment"))


_EVENT_LISTS = ("services", "primary", "items")  # the list-valued fields events carry


@dataclass(frozen=True, slots=True)
class Event:
    id: str  # the stream id: strictly increasing, the resume point of every client
    type: str
    at: int
    data: Json

    @classmethod
    def from_stream(cls, event_id: bytes | str, payload: Json) -> Event:
        eid = event_id.decode() if isinstance(event_id, bytes) else event_id
        for name in _EVENT_LISTS:
            if name in payload:
                payload[name] = _list(payload[name])
        return cls(eid, payload["type"], payload["at"], payload)


def normalize_snapshot(data: Json) -> Json:
    """Give empty lists back their shape (see ``_list``)."""
    for w in data["windows"]:
        w["services"], w["primary"], w["items"] = _list(w["services"]), _list(w.get("primary")), _list(w.get("items"))
    data["recent_calls"] = _list(data.get("recent_calls"))
    return data
