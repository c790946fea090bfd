"""Request and response bodies of the public API (api.md): names here are the contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, cast

from pydantic import BaseModel, Field

from floor.http.body import RequestBody
from queue_engine.config import HallConfig
from queue_engine.policy import TIER_TRANSFERRED
from queue_engine.records import Ticket

_In = RequestBody  # the name the hall services' bodies know it by


GreenReason = Literal["elderly", "disabled", "pregnant", "military"]  # 高龄、残疾、孕妇、军人


class IssueIn(_In):
    service: str = Field(min_length=1, max_length=8)
    channel: Literal["guide", "kiosk", "appointment", "api"] = "guide"
    priority: Literal["vip", "green"] | None = None
    id_number: str | None = Field(None, max_length=32)
    phone: str | None = Field(None, max_length=32)
    item: str | None = Field(None, min_length=1, max_length=16, description="A sub-item (事项) of the service.")
    green_reason: GreenReason | None = Field(
        None, description="Why the green channel (with priority green; set to elderly for 60+ ID numbers).")
    name: str | None = Field(None, max_length=16, description="The citizen's real name, for an appointment or "
                             "real-name ticket: masked (张*三) before it is kept or shown, never kept whole.")


class ReasonIn(_In):
    reason: str = Field("", max_length=200)


class PauseIn(_In):
    reason: str = Field(min_length=1, max_length=200)


class FinishIn(_In):
    outcome: Literal["done", "consult", "pickup", "other"] = "done"


class TransferIn(_In):
    to_service: str | None = Field(None, max_length=8)
    to_window: str | None = Field(None, max_length=8)
    reason: str = Field("", max_length=200)


class CallTicketIn(_In):
    ticket: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=200)


ServiceCode = Annotated[str, Field(min_length=1, max_length=8)]
ItemCode = Annotated[str, Field(min_length=1, max_length=16)]


class ServicesIn(_In):
    services: list[ServiceCode] = Field(min_length=1, max_length=64)
    primary: list[ServiceCode] = Field(default_factory=list, max_length=64)
    items: list[ItemCode] | None = Field(
        None, max_length=256, description="Sub-item skills: of a service with any of its sub-items listed, the window "
                                          "serves only those. Left out: those the window has of services it keeps.")


class TicketRating(BaseModel):
    score: int  # 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意
    at: datetime
    source: str


class TicketOut(BaseModel):
    id: str
    number: str
    service: str
    service_name: str
    service_name_en: str
    status: Literal["waiting", "called", "serving", "done", "missed", "cancelled"]
    window: str | None
    window_name: str | None
    ahead: int | None
    estimated_wait_s: int | None
    issued_at: datetime
    called_at: datetime | None
    serving_at: datetime | None
    finished_at: datetime | None
    outcome: str | None
    priority: str | None
    channel: str
    recalls: int
    item: str | None = None
    item_name: str | None = None
    item_name_en: str | None = None
    green_reason: GreenReason | None = None
    holder: str | None = Field(None, description="The citizen's name, masked (张*三).")
    rating: TicketRating | None = None
    key: str | None = Field(None, description="The citizen's key to this ticket, only in the answer that issues it "
                            "(to print in its QR code and phone link): it proves the holder when they rate the "
                            "service. Never shown on a screen.")

    @classmethod
    def of(cls, hall: HallConfig, t: Ticket, ahead: int | None = None, estimated_wait_s: int | None = None
           ) -> TicketOut:
        svc = hall.service(t.service)
        window = hall.window(t.window) if t.window else None
        item = svc.item(t.item) if svc and t.item else None
        rating = None
        if t.rating:
            rating = TicketRating(score=t.rating["score"], at=at(hall, t.rating["at"]), source=t.rating["source"])
        return cls(
            id=t.id, number=t.number, service=t.service, service_name=svc.name_zh if svc else t.service,
            service_name_en=svc.name_en if svc else t.service, status=t.status,
            window=t.window, window_name=window.name if window else None, ahead=ahead,
            estimated_wait_s=estimated_wait_s, issued_at=at(hall, t.issued_at), called_at=at(hall, t.called_at),
            serving_at=at(hall, t.serving_at), finished_at=at(hall, t.finished_at), outcome=t.outcome,
            priority=t.priority, channel=t.channel, recalls=t.recalls or 0, item=t.item,
            item_name=item.name_zh if item else t.item, item_name_en=(item.name_en or item.name_zh) if item else t.item,
            green_reason=cast("GreenReason | None", t.green_reason), holder=t.holder, rating=rating,
        )


class TicketReply(BaseModel):
    ticket: TicketOut | None


class WindowOut(BaseModel):
    id: str
    name: str
    state: Literal["closed", "idle", "calling", "serving", "paused"]
    services: list[str]
    primary: list[str]
    items: list[str] = Field(default_factory=list, description="Sub-item skills (only these of their services).")
    reason: str | None = None
    ticket: TicketOut | None = None
    since: datetime | None = None


class ServiceLine(BaseModel):
    code: str
    name: str
    name_en: str
    letter: str
    waiting: int
    longest_wait_s: int
    estimated_wait_s: int
    target_wait_s: int
    able_windows: int


class WindowLine(BaseModel):
    id: str
    name: str
    state: str
    ticket: str | None
    services: list[str]
    primary: list[str]
    items: list[str] = Field(default_factory=list)
    reason: str | None = None
    staff: str | None = None  # the display name of who is signed in at the window (an account's), if anyone


class CallLine(BaseModel):
    number: str
    window: str
    window_name: str
    at: datetime
    holder: str | None = None  # the citizen's masked name, for a real-name ticket


class SnapshotOut(BaseModel):
    hall: str
    name: str
    at: datetime
    services: list[ServiceLine]
    windows: list[WindowLine]
    recent_calls: list[CallLine]
    event_id: str | None


class WaitingLine(BaseModel):
    id: str
    number: str
    service: str
    service_name: str
    service_name_en: str
    priority: str | None
    channel: str
    pinned: str | None
    transferred: bool
    issued_at: datetime
    waited_s: int
    item: str | None = None
    green_reason: str | None = None


class QueueOut(BaseModel):
    tickets: list[WaitingLine]

    @classmethod
    def of(cls, hall: HallConfig, tickets: list[Ticket], now_s: float) -> QueueOut:
        lines = []
        for t in tickets:
            svc = hall.service(t.service)
            lines.append(WaitingLine(
                id=t.id, number=t.number, service=t.service, service_name=svc.name_zh if svc else t.service,
                service_name_en=svc.name_en if svc else t.service, priority=t.priority, channel=t.channel,
                pinned=t.pinned,
                transferred=(t.queue or "").startswith("wq:") or t.tier == TIER_TRANSFERRED,
                issued_at=at(hall, t.issued_at), waited_s=max(0, int(now_s - t.issued_at / 1000)), item=t.item,
                green_reason=t.green_reason))
        return cls(tickets=lines)


class WaitingOut(BaseModel):
    tickets: list[WaitingLine]
    misses: list[TicketOut]


class EndDayOut(BaseModel):
    day: str
    missed: int
    finished: int


def at(hall: HallConfig, ms: int | None) -> datetime | None:
    """A stored ms timestamp as the hall's local time with its offset (api.md: ISO 8601 with offset)."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, hall.zone)
