"""好差评: a citizen rates a finished ticket (the pad beside the window, the phone by QR code); the pad asks what
to prompt for; managers read the ratings. Each 差评's closed loop is ``floor.ratings.cases_api``.

A rating comes from the citizen who was served, proven one of two ways, and its ``source`` says which: the
ticket's key (``floor.http.auth.ticket_key``: in the QR code printed on the ticket and the phone link, never on a
screen or feed) sent as ``X-Ticket-Key`` ("qr"), or the window's rating pad, a device paired to that window by a
pad token, rating the ticket the window finished last, within minutes ("pad"). The ticket id alone, which windows
and managers see, proves nothing. The engine takes one rating per ticket. A ticket still in the live day is
rated by ``Engine.rate``; one only the SQL record holds (a late rating after Redis let it go) is checked against
the record here and rated by ``Engine.rate_archived``. Either way the ``ticket.rated`` event is what the
dashboard's alert, the archiver's ``ratings`` and ``cases`` rows and the provincial webhook are made from.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from floor.hall.schemas import _In
from floor.http.auth import AuthError, check_ticket_key
from floor.http.kit import ApiError, Ctx, Endpoints, Param, authenticate, header, query_limit
from floor.identity import redact
from floor.ratings.rules import MAX_COMMENT, SCORES, level, pad_may_rate, rateable_until, too_late
from floor.ratings.store import (
    MAX_LIMIT,
    RatingQuery,
    RatingRow,
    last_unrated_at_window,
    read_rating,
    read_ratings,
    read_ticket,
)
from floor.sql.db import TicketRow, from_ms
from queue_engine import errors
from queue_engine.errors import DomainError
from queue_engine.records import Rating, Ticket

ENDPOINTS = Endpoints()

TICKET_ID = re.compile(r"^[A-Za-z0-9-]{1,40}$")  # ticket ids are "<day>-<hex>"; anything else names none
MAX_FILTER = 16
# No control characters, line breaks included (the house rule for every text the record keeps), said in the
# document too so clients know before they send.
ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f]*$"
PAD_ROLES = ("pad", "staff", "manager")  # the pad itself, and its window's staff and managers, may ask what it asks
KEY_HEADER = "X-Ticket-Key"
_KEY_HEADER_RAW = KEY_HEADER.lower().encode()  # as ASGI names it
KEY_PARAM = Param(KEY_HEADER, "header", "The ticket's key, from its QR code or phone link (the part after #key=). "
                  "Or rate from the window's pad: Authorization: Bearer <pad token of that window>.",
                  {"type": "string", "maxLength": 64})


# -- bodies and answers ----------------------------------------------------------------------------
class RatingIn(_In):
    score: int = Field(ge=1, le=5, strict=True,
                       description="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意 (2 and 1 are 差评).")
    source: Literal["pad", "qr"] | None = Field(
        None, description="Ignored: the server records how the rating was proven (qr: the ticket's key; pad: the "
                          "window's pad token).")
    comment: str | None = Field(None, max_length=MAX_COMMENT, pattern=ONE_LINE,
                                description="What the citizen adds, one line.")


class RatingOut(BaseModel):
    ticket: str
    number: str
    day: str
    service: str
    service_name: str
    service_name_en: str
    window: str | None
    score: int
    level: str
    level_en: str
    points: int  # as provinces score it: 10/8/6/3/0
    bad: bool  # 差评
    source: str
    late: bool
    comment: str | None
    rated_at: datetime


class RatingBrief(BaseModel):
    score: int
    level: str
    level_en: str
    rated_at: datetime | None


class RatingStateOut(BaseModel):
    """What the phone page needs to offer a rating, or say it was given."""

    ticket: str
    number: str
    status: str
    rated: bool
    rateable: bool  # finished, not rated, within the rating period
    rateable_until: datetime | None
    rating: RatingBrief | None


class PadTicket(BaseModel):
    id: str
    number: str
    service: str
    service_name: str
    service_name_en: str
    window: str
    finished_at: datetime
    finished_s_ago: int  # by the server's clock, so a pad with a wrong clock still judges how recent it is


class PadOut(BaseModel):
    ticket: PadTicket | None


class LevelCount(BaseModel):
    score: int
    level: str
    level_en: str
    count: int


class RatingsOut(BaseModel):
    ratings: list[RatingOut]
    levels: list[LevelCount]  # every level, best first, counted over everything the filters match
    total: int
    bad: int


# -- rating a ticket ---------------------------------------------------------------------------------
def _ticket_id(ctx: Ctx) -> str:
    ticket_id = ctx.path("ticket")
    if not TICKET_ID.match(ticket_id):
        raise errors.UnknownTicket(ticket=ticket_id)  # its message never repeats the id
    return ticket_id


def hall_now(ctx: Ctx) -> datetime:
    return datetime.fromtimestamp(ctx.hall.engine.clock(), UTC)


def _period(seconds: int) -> tuple[str, str]:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} days", f"{seconds // 86400} 天"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours", f"{seconds // 3600} 小时"
    return f"{seconds // 60} minutes", f"{seconds // 60} 分钟"


def _rating_closed(ctx: Ctx, number: str) -> ApiError:
    en, zh = _period(ctx.hall.config.ratings.late_s)
    return ApiError(410, "rating_closed",
                    f"Ticket {number} was finished more than {en} ago, so it can no longer be rated; for a complaint, "
                    "please contact the hall.",
                    f"{number}号办结已超过 {zh}，评价期已过，不能再评价；如需反映问题，请联系大厅。")


def _rating_out(ctx: Ctx, r: Rating) -> RatingOut:
    hall = ctx.hall.config
    svc = hall.service(r.service)
    lvl = level(r.score)
    rated_at = from_ms(r.at)
    assert rated_at is not None
    return RatingOut(ticket=r.ticket, number=r.number, day=r.day, service=r.service,
                     service_name=svc.name_zh if svc else r.service, service_name_en=svc.name_en if svc else r.service,
                     window=r.window, score=r.score, level=lvl.zh, level_en=lvl.en, points=lvl.points, bad=r.bad,
                     source=r.source, late=r.late, comment=r.comment, rated_at=rated_at.astimezone(hall.zone))


async def _live_ticket(ctx: Ctx, ticket_id: str) -> Ticket | None:
    """The ticket as the live day holds it, or None if Redis no longer has it."""
    try:
        return (await ctx.hall.engine.ticket(ticket_id)).ticket
    except DomainError as exc:
        if exc.code != "unknown_ticket":
            raise
        return None


def _has_key(ctx: Ctx, ticket_id: str) -> None:
    """Refuse unless the request carries the ticket's own key."""
    key = header(ctx.request, _KEY_HEADER_RAW)
    check_ticket_key(ctx.runtime.settings.secret, ctx.hall.config.id, ticket_id, key)


async def _rater(ctx: Ctx, ticket_id: str, t: Ticket | None) -> str:
    """How the rater proves they were served: "pad" or "qr"; the refusal otherwise."""
    if header(ctx.request, b"authorization") is None:
        _has_key(ctx, ticket_id)
        return "qr"
    pad = authenticate(ctx.request, ctx.runtime, ctx.hall.config.id, ("pad",))
    window = await ctx.hall.engine.window(str(pad.window))
    if t is None or not pad_may_rate(str(pad.window), window.done, ticket_id, t.window, t.finished_at,
                                     int(ctx.hall.engine.clock() * 1000)):
        raise AuthError(403, "not_this_pad", f"The pad of window {pad.window} may rate only the ticket that window "
                        "finished last, within minutes; the citizen can still rate with the ticket's QR code.",
                        f"{pad.window}号窗口的评价器只能评价本窗口刚办结的号票；市民仍可扫描号票二维码评价。")
    return "pad"


@ENDPOINTS.add("POST", "/tickets/{ticket}/rating", roles=(), body=RatingIn, response=RatingOut, status=201,
          params=(KEY_PARAM,), refusals=((401, "neither the ticket's key nor a pad token came"),
                                         (403, "the key is not this ticket's, or the pad not its window's"),
                                         (410, "the ticket was finished too long ago to be rated")))
async def rate_ticket(ctx: Ctx, body: RatingIn) -> RatingOut:
    """Rate a finished ticket (好差评), once: with the ticket's key (``X-Ticket-Key``, from its QR code or phone
    link), or from the window's rating pad (its pad token) for the ticket that window finished last."""
    ticket_id = _ticket_id(ctx)
    comment = redact(body.comment) if body.comment else None  # a number typed into a comment is not kept
    engine = ctx.hall.engine
    t = await _live_ticket(ctx, ticket_id)
    # An unknown ticket is a 404 whoever asks: GET /tickets/{id} tells as much to anyone.
    row = await _archived_for_rating(ctx, ticket_id) if t is None else None
    source = await _rater(ctx, ticket_id, t)
    try:
        if row is None:
            return _rating_out(ctx, await engine.rate(ticket_id, body.score, source, comment))
        return _rating_out(ctx, await engine.rate_archived(
            ticket_id, number=row.number, service=row.service, window=row.window, day=row.day, score=body.score,
            source=source, comment=comment))
    except DomainError as exc:
        if exc.code == "rating_closed":  # the engine's own check of the period: the same answer as ours
            raise _rating_closed(ctx, str(exc.details.get("number", ""))) from None
        raise


async def _archived_for_rating(ctx: Ctx, ticket_id: str) -> TicketRow:
    """The record's row of a ticket Redis no longer has, if it may still be rated; the refusal otherwise."""
    hall, sql = ctx.hall.config, ctx.runtime.sql
    row = await asyncio.to_thread(read_ticket, sql, hall.id, ticket_id)
    if row is None:
        raise errors.UnknownTicket(ticket=ticket_id)
    if row.status != "done" or row.finished_at is None:
        raise errors.NotFinished(number=row.number, status=row.status)
    if too_late(hall, row.day, row.finished_at, hall_now(ctx)):
        raise _rating_closed(ctx, row.number)
    if await asyncio.to_thread(read_rating, sql, hall.id, ticket_id) is not None:
        raise errors.AlreadyRated(number=row.number)
    return row


@ENDPOINTS.add("GET", "/tickets/{ticket}/rating", roles=(), response=RatingStateOut, params=(KEY_PARAM,),
               refusals=((401, "the ticket's key did not come"), (403, "the key is not this ticket's")))
async def ticket_rating(ctx: Ctx, _: Any) -> RatingStateOut:
    """Whether a ticket may be rated now, or how it was rated (for the phone page), to its holder: with the
    ticket's key (``X-Ticket-Key``)."""
    ticket_id = _ticket_id(ctx)
    hall, sql = ctx.hall.config, ctx.runtime.sql
    now = hall_now(ctx)
    stored = await asyncio.to_thread(read_rating, sql, hall.id, ticket_id)
    t = await _live_ticket(ctx, ticket_id)
    if t is not None:
        number, status, day, finished = t.number, t.status, t.day, from_ms(t.finished_at)
        given = t.rating
        brief = (RatingBrief(score=int(given["score"]), level=level(int(given["score"])).zh,
                             level_en=level(int(given["score"])).en,
                             rated_at=_local(ctx, from_ms(given.get("at")))) if given else None)
    else:
        row = await asyncio.to_thread(read_ticket, sql, hall.id, ticket_id)
        if row is None:
            raise errors.UnknownTicket(ticket=ticket_id)
        number, status, day, finished, brief = row.number, row.status, row.day, row.finished_at, None
    _has_key(ctx, ticket_id)  # after the lookup: an unknown ticket is a 404 whoever asks
    if brief is None and stored is not None:
        brief = RatingBrief(score=stored.score, level=level(stored.score).zh, level_en=level(stored.score).en,
                            rated_at=_local(ctx, stored.rated_at))
    until = rateable_until(hall, day, finished) if status == "done" and finished is not None else None
    rateable = brief is None and until is not None and now < until
    return RatingStateOut(ticket=ticket_id, number=number, status=status, rated=brief is not None, rateable=rateable,
                          rateable_until=_local(ctx, until), rating=brief)


def _local(ctx: Ctx, at: datetime | None) -> datetime | None:
    return None if at is None else at.astimezone(ctx.hall.config.zone)


# -- the pad ----------------------------------------------------------------------------------------
@ENDPOINTS.add("GET", "/windows/{w}/rating-pad", roles=PAD_ROLES, response=PadOut)
async def rating_pad(ctx: Ctx, _: Any) -> PadOut:
    """The window's most recent finished ticket of today that is not rated yet (or null): what its pad may prompt
    for when it starts or reconnects. Live, the pad follows ticket.finished on its own feed (``ws/pad``)."""
    hall = ctx.hall.config
    window = ctx.path("w")
    if hall.window(window) is None:
        raise errors.UnknownWindow(window=window)
    now_s = ctx.hall.engine.clock()
    row = await asyncio.to_thread(last_unrated_at_window, ctx.runtime.sql, hall.id, window, hall.business_day(now_s))
    if row is None or row.finished_at is None:
        return PadOut(ticket=None)
    live = await _live_ticket(ctx, row.id)
    if live is not None and live.rating:  # rated a moment ago: the record has not caught up yet
        return PadOut(ticket=None)
    svc = hall.service(row.service)
    return PadOut(ticket=PadTicket(
        id=row.id, number=row.number, service=row.service, service_name=svc.name_zh if svc else row.service,
        service_name_en=svc.name_en if svc else row.service, window=window,
        finished_at=row.finished_at.astimezone(hall.zone),
        finished_s_ago=max(0, int(now_s - row.finished_at.timestamp()))))


# -- filters ------------------------------------------------------------------------------------------
_DAY = {"type": "string", "format": "date"}
LIMIT_PARAM = Param("limit", "query", f"At most this many, newest first (default 100, up to {MAX_LIMIT}).",
               {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT})
SINCE_PARAM = Param("since", "query", "Only tickets of this business day or later (YYYY-MM-DD).", _DAY)
UNTIL_PARAM = Param("until", "query", "Only tickets of this business day or earlier (YYYY-MM-DD).", _DAY)
WINDOW_PARAM = Param("window", "query", "Only this window's.", {"type": "string", "maxLength": MAX_FILTER})


def day_filter(ctx: Ctx, name: str) -> str | None:
    raw = ctx.request.query_params.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw).strftime("%Y%m%d")
    except ValueError:
        raise ApiError(422, "invalid_request", f"{name} must be a day like 2026-11-23.",
                       f"{name} 须为日期，例如 2026-11-23。") from None


def text_filter(ctx: Ctx, name: str) -> str | None:
    value = ctx.request.query_params.get(name) or None
    # Control characters match no window or service, and PostgreSQL refuses a NUL outright.
    if value is not None and (len(value) > MAX_FILTER or not value.isprintable()):
        raise ApiError(422, "invalid_request", f"{name} must be at most {MAX_FILTER} printable characters.",
                       f"{name} 须为不超过 {MAX_FILTER} 个可打印字符。")
    return value


def flag_filter(ctx: Ctx, name: str) -> bool | None:
    raw = ctx.request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ApiError(422, "invalid_request", f"{name} must be true or false.", f"{name} 须为 true 或 false。")


# -- ratings --------------------------------------------------------------------------------------------
@ENDPOINTS.add("GET", "/ratings", roles=("manager",), response=RatingsOut, params=(
    LIMIT_PARAM, SINCE_PARAM, UNTIL_PARAM, WINDOW_PARAM,
    Param("service", "query", "Only this service's (its code).", {"type": "string", "maxLength": 8}),
    Param("bad", "query", "true: only 差评; false: none of them.", {"type": "boolean"}),
))
async def list_ratings(ctx: Ctx, _: Any) -> RatingsOut:
    """Ratings, newest first, with how many of each level match: ?since= and ?until= (days), ?window=, ?service=,
    ?bad=, ?limit=. Written by the archiver, so the last second or so may not be there yet."""
    hall = ctx.hall.config
    query = RatingQuery(limit=query_limit(ctx.request.query_params.get("limit"), MAX_LIMIT),
                        since=day_filter(ctx, "since"), until=day_filter(ctx, "until"),
                        window=text_filter(ctx, "window"), service=text_filter(ctx, "service"),
                        bad=flag_filter(ctx, "bad"))
    rows, counts = await asyncio.to_thread(read_ratings, ctx.runtime.sql, hall.id, query)
    levels = [LevelCount(score=s, level=level(s).zh, level_en=level(s).en, count=counts.get(s, 0)) for s in SCORES]
    return RatingsOut(ratings=[_stored_rating(ctx, row) for row in rows], levels=levels, total=sum(counts.values()),
                      bad=sum(n for s, n in counts.items() if level(s).bad))


def _stored_rating(ctx: Ctx, row: RatingRow) -> RatingOut:
    hall = ctx.hall.config
    svc = hall.service(row.service)
    lvl = level(row.score)
    return RatingOut(ticket=row.ticket, number=row.number, day=row.day, service=row.service,
                     service_name=svc.name_zh if svc else row.service,
                     service_name_en=svc.name_en if svc else row.service, window=row.window, score=row.score,
                     level=lvl.zh, level_en=lvl.en, points=lvl.points, bad=row.bad, source=row.source, late=row.late,
                     comment=row.comment, rated_at=row.rated_at.astimezone(hall.zone))
