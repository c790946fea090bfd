"""差评 cases: each 差评's closed loop (回访核实 -> 整改 -> 反馈 -> 追评/申诉复核), listed, read and worked by managers.

A case is known by the id of the rated ticket (one rating per ticket, one case per 差评). The archiver opens it
(``floor.ratings.store``); each step here is recorded in SQL with its audit row, in the order ``floor.ratings.cases``
allows; overdue is judged when read.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from floor.audit.store import Actor
from floor.hall.schemas import _In
from floor.http.kit import ApiError, Ctx, Endpoints, Param, actor, query_limit
from floor.identity import redact
from floor.ratings import cases
from floor.ratings.api import (
    LIMIT_PARAM,
    ONE_LINE,
    SINCE_PARAM,
    TICKET_ID,
    UNTIL_PARAM,
    WINDOW_PARAM,
    day_filter,
    flag_filter,
    hall_now,
    text_filter,
)
from floor.ratings.rules import level
from floor.ratings.store import MAX_LIMIT, CaseQuery, CaseRow, NoSuchCase, RatingRow, read_case, read_cases, record_step

ENDPOINTS = Endpoints()

MAX_NOTE = 1000


class StepOut(BaseModel):
    at: datetime
    by: str | None
    note: str | None


class CallbackOut(StepOut):
    reached: bool | None


class FeedbackOut(StepOut):
    satisfied: bool | None


class ReviewOut(StepOut):
    kind: str | None
    score: int | None
    outcome: str | None


class CaseOut(BaseModel):
    id: str  # the rated ticket's id: one case per ticket
    number: str
    day: str
    service: str
    service_name: str
    service_name_en: str
    window: str | None
    window_name: str | None
    score: int
    level: str
    level_en: str
    comment: str | None
    source: str
    status: str  # floor.ratings.cases.STATUSES: awaiting_callback, awaiting_fix, awaiting_feedback, closed, reviewed
    status_text: str
    status_text_en: str
    next_step: str | None  # callback, fix, feedback or review; None once reviewed
    opened_at: datetime
    callback_due: datetime
    fix_due: datetime
    overdue: list[str]  # the steps past their deadline and not done, as of now
    callback: CallbackOut | None
    fix: StepOut | None
    feedback: FeedbackOut | None
    review: ReviewOut | None


class CasesOut(BaseModel):
    cases: list[CaseOut]
    now: datetime  # the moment "overdue" was judged at


class _Note(_In):
    note: str = Field(min_length=1, max_length=MAX_NOTE, pattern=ONE_LINE)


class CallbackIn(_Note):
    """回访核实: what the callback found."""

    reached: bool = Field(description="Whether the citizen was reached.")


class FixIn(_Note):
    """整改: what was changed."""


class FeedbackIn(_Note):
    """反馈: what the citizen was told, and whether satisfied."""

    satisfied: bool


class ReviewIn(_In):
    """追评/申诉复核: the citizen's re-rating, or the outcome of the window's appeal against the 差评."""

    kind: Literal["rerating", "appeal"]
    score: int | None = Field(None, ge=1, le=5, strict=True, description="A re-rating's score (kind rerating).")
    outcome: Literal["upheld", "dismissed"] | None = Field(
        None, description="An appeal's outcome (kind appeal): upheld, the 差评 is set aside; dismissed, it stands.")
    note: str = Field("", max_length=MAX_NOTE, pattern=ONE_LINE)

    @model_validator(mode="after")
    def _fits_kind(self) -> ReviewIn:
        if self.kind == "rerating" and (self.score is None or self.outcome is not None):
            raise ValueError("a re-rating gives a score (1-5) and no outcome")
        if self.kind == "appeal" and (self.outcome is None or self.score is not None):
            raise ValueError("an appeal gives an outcome (upheld or dismissed) and no score")
        return self


# -- cases ------------------------------------------------------------------------------------------------
def _case_out(ctx: Ctx, case: CaseRow, rating: RatingRow, now: datetime) -> CaseOut:
    hall = ctx.hall.config
    zone = hall.zone
    svc = hall.service(case.service)
    window = hall.window(case.window) if case.window else None
    lvl = level(case.score)
    zh, en = cases.STATUS_TEXT[case.status]
    done = case.done()
    callback = fix = feedback = review = None
    if case.callback_at is not None:
        callback = CallbackOut(at=case.callback_at.astimezone(zone), by=case.callback_by, note=case.callback_note,
                               reached=case.callback_reached)
    if case.fix_at is not None:
        fix = StepOut(at=case.fix_at.astimezone(zone), by=case.fix_by, note=case.fix_note)
    if case.feedback_at is not None:
        feedback = FeedbackOut(at=case.feedback_at.astimezone(zone), by=case.feedback_by, note=case.feedback_note,
                               satisfied=case.feedback_satisfied)
    if case.review_at is not None:
        review = ReviewOut(at=case.review_at.astimezone(zone), by=case.review_by, note=case.review_note,
                           kind=case.review_kind, score=case.review_score, outcome=case.review_outcome)
    next_step = cases.FLOW[case.status][0] if case.status in cases.FLOW else None
    return CaseOut(
        id=case.ticket, number=case.number, day=case.day, service=case.service,
        service_name=svc.name_zh if svc else case.service, service_name_en=svc.name_en if svc else case.service,
        window=case.window, window_name=window.name if window else None, score=case.score, level=lvl.zh,
        level_en=lvl.en, comment=rating.comment, source=rating.source, status=case.status,
        status_text=zh, status_text_en=en, next_step=next_step,
        opened_at=case.opened_at.astimezone(zone), callback_due=case.callback_due.astimezone(zone),
        fix_due=case.fix_due.astimezone(zone), overdue=cases.overdue_steps(case.deadlines(), done, now),
        callback=callback, fix=fix, feedback=feedback, review=review)


_STATUS_VALUES = ["open", *cases.STATUSES]


@ENDPOINTS.add("GET", "/cases", roles=("manager",), response=CasesOut, params=(
    LIMIT_PARAM, SINCE_PARAM, UNTIL_PARAM, WINDOW_PARAM,
    Param("status", "query", "open (not closed yet), or one status: " + ", ".join(cases.STATUSES) + ".",
          {"type": "string", "enum": _STATUS_VALUES}),
    Param("overdue", "query", "true: only cases with a step past its deadline; false: only those without.",
          {"type": "boolean"}),
))
async def list_cases(ctx: Ctx, _: Any) -> CasesOut:
    """差评 cases, newest first: ?status= (open or one status), ?overdue=, ?window=, ?since= and ?until= (the rated
    ticket's day), ?limit=. Overdue is judged now: a step past its deadline and not done."""
    status = ctx.request.query_params.get("status")
    if status is not None and status not in _STATUS_VALUES:
        raise ApiError(422, "invalid_request", f"status must be one of: {', '.join(_STATUS_VALUES)}.",
                       f"status 须为以下之一：{'、'.join(_STATUS_VALUES)}。")
    query = CaseQuery(limit=query_limit(ctx.request.query_params.get("limit"), MAX_LIMIT), status=status,
                      overdue=flag_filter(ctx, "overdue"), window=text_filter(ctx, "window"),
                      since=day_filter(ctx, "since"), until=day_filter(ctx, "until"))
    now = hall_now(ctx)
    found = await asyncio.to_thread(read_cases, ctx.runtime.sql, ctx.hall.config.id, query, now)
    return CasesOut(cases=[_case_out(ctx, case, rating, now) for case, rating in found],
                    now=now.astimezone(ctx.hall.config.zone))


def _no_case() -> ApiError:
    # Not echoed: the id comes from the address, like a ticket's.
    return ApiError(404, "unknown_case", "There is no 差评 case for this ticket in this hall; check the case's link.",
                    "本大厅没有该号票的差评件，请核对链接。")


def _case_id(ctx: Ctx) -> str:
    ticket_id = ctx.path("ticket")
    if not TICKET_ID.match(ticket_id):
        raise _no_case()
    return ticket_id


@ENDPOINTS.add("GET", "/cases/{ticket}", roles=("manager",), response=CaseOut)
async def get_case(ctx: Ctx, _: Any) -> CaseOut:
    """One 差评 case, known by the rated ticket's id, with every step recorded so far."""
    found = await asyncio.to_thread(read_case, ctx.runtime.sql, ctx.hall.config.id, _case_id(ctx))
    if found is None:
        raise _no_case()
    return _case_out(ctx, *found, hall_now(ctx))


async def _record(ctx: Ctx, step: str, fields: dict[str, Any]) -> CaseOut:
    assert ctx.principal is not None
    p = ctx.principal
    now = hall_now(ctx)
    who = Actor(role=p.role, token=p.token_id, window=p.window)
    try:
        case, rating = await asyncio.to_thread(record_step, ctx.runtime.sql, ctx.hall.config.id, _case_id(ctx), step,
                                               fields, who, actor(p), now)
    except NoSuchCase:
        raise _no_case() from None
    except cases.StepRefused as exc:
        raise ApiError(409, "case_step_out_of_order", exc.message("en"), exc.message("zh")) from None
    return _case_out(ctx, case, rating, now)


STEP_REFUSAL = ((409, "that step is not the case's next one"),)


@ENDPOINTS.add("POST", "/cases/{ticket}/callback", roles=("manager",), body=CallbackIn, response=CaseOut,
          refusals=STEP_REFUSAL)
async def case_callback(ctx: Ctx, body: CallbackIn) -> CaseOut:
    """Record a case's 回访核实: what the callback found, and whether the citizen was reached."""
    return await _record(ctx, "callback", {"note": redact(body.note), "reached": body.reached})


@ENDPOINTS.add("POST", "/cases/{ticket}/fix", roles=("manager",), body=FixIn, response=CaseOut, refusals=STEP_REFUSAL)
async def case_fix(ctx: Ctx, body: FixIn) -> CaseOut:
    """Record a case's 整改: what was changed."""
    return await _record(ctx, "fix", {"note": redact(body.note)})


@ENDPOINTS.add("POST", "/cases/{ticket}/feedback", roles=("manager",), body=FeedbackIn, response=CaseOut,
          refusals=STEP_REFUSAL)
async def case_feedback(ctx: Ctx, body: FeedbackIn) -> CaseOut:
    """Record a case's 反馈 (what the citizen was told, satisfied or not); this closes the case."""
    return await _record(ctx, "feedback", {"note": redact(body.note), "satisfied": body.satisfied})


@ENDPOINTS.add("POST", "/cases/{ticket}/review", roles=("manager",), body=ReviewIn, response=CaseOut,
          refusals=STEP_REFUSAL)
async def case_review(ctx: Ctx, body: ReviewIn) -> CaseOut:
    """Record a closed case's 追评/申诉复核: the citizen's re-rating, or the outcome of an appeal."""
    return await _record(ctx, "review", {"note": redact(body.note) or None, "kind": body.kind, "score": body.score,
                                         "outcome": body.outcome})
