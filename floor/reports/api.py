"""Reports for managers: a date range's figures grouped by service, window or staff, as JSON, CSV or XLSX, PNG
charts, and the monthly stars of the windows. Read from the SQL record (``floor.reports.facts``), counted by
``floor.reports.rules`` (its docstring says how each figure is counted and the star rule)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import QueryParams
from starlette.responses import Response

from floor.http.kit import ApiError, Ctx, Endpoints, Param
from floor.reports.attendance import AttendanceOut, attendance
from floor.reports.facts import load_facts
from floor.reports.rules import CHARTS, GROUPINGS, MAX_DAYS, DateRange, Facts, Grouping, report, stars
from queue_engine.config import HallConfig

ENDPOINTS = Endpoints()

_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MONTH = re.compile(r"^[0-9]{4}-[0-9]{2}$")
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)  # beyond them a date is a typo, not a report
ROLES = ("manager",)  # and admin, who is above managers
T = TypeVar("T")


# -- bodies ------------------------------------------------------------------------------------------
class Figures(BaseModel):
    issued: int
    served: int
    missed: int = Field(description="过号: tickets marked no-show and not called back, requeued or served since; "
                                    "a window's console and the dashboard count them alike.")
    cancelled: int
    unfinished: int = Field(description="Still waiting, called or being served when the report was made.")
    avg_wait_s: int | None = Field(description="Issued -> first called, average, seconds.")
    p90_wait_s: int | None = Field(description="Nearest-rank 90th percentile of the waits, seconds.")
    avg_handling_s: int | None = Field(description="Serving -> finished, average, seconds.")
    p90_handling_s: int | None
    no_show_rate: float | None = Field(description="missed / (served + missed).")
    over_target: int = Field(description="超时件: called tickets that waited past their service's target.")
    green: dict[str, int] = Field(description="Green-channel tickets by reason.")
    green_total: int
    appointments: int = Field(description="Tickets from checked-in bookings.")
    appointment_no_shows: int | None = Field(description="Bookings never checked in (per service only).")
    ratings: dict[str, int] = Field(description="Rated tickets per score, 5 (非常满意) to 1 (非常不满意).")
    rating_shares: dict[str, float | None] = Field(
        description="Each score's share of the rated tickets, 0..1 (the five-level distribution); null without any.")
    rated: int
    good: int = Field(description="好评: ratings that are not 差评 (非常满意, 满意, 基本满意).")
    good_rate: float | None = Field(description="好评率: good / rated, 0..1; null without a rating.")
    satisfaction: float | None = Field(description="Average of 10/8/6/3/0 points per rating, out of 10.")
    bad: int = Field(description="差评: ratings of 2 and 1.")
    cases: dict[str, int] = Field(description="差评 cases: open, closed, overdue.")


class ReportRow(Figures):
    key: str | None = Field(description="Service code, window id or staff id; null for tickets without one.")
    name: str
    name_en: str


class DayRow(Figures):
    day: date


class HourRow(BaseModel):
    hour: str = Field(description="HH:00, local time.")
    issued: int = Field(description="Tickets issued in this hour of the day, over every day of the range.")
    avg_wait_s: int | None


class ReportOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    hall: str
    from_: date = Field(alias="from")
    to: date
    by: Grouping
    rows: list[ReportRow]
    totals: Figures
    days: list[DayRow]
    hours: list[HourRow] = Field(description="Tickets and average wait per hour of the day, by issue time.")
    targets: dict[str, int] = Field(description="Each service's target wait, seconds.")


class StarLine(BaseModel):
    window: str
    name: str
    rated: int
    ratings: dict[str, int] = Field(description="Ratings per score, 5 (非常满意) to 1 (非常不满意).")
    rating_shares: dict[str, float | None]
    good_rate: float | None = Field(description="好评率: share of ratings that are not 差评.")
    satisfaction: float | None = Field(description="Average of 10/8/6/3/0 points, out of 10.")
    bad: int
    open_cases: int
    overdue_cases: int
    stars: int | None = Field(description="1 to 5; null without a rating in the month.")


class StarsOut(BaseModel):
    hall: str
    month: str
    rule: dict[str, str] = Field(description="The star rule, in zh and en.")
    windows: list[StarLine]


# -- query parameters --------------------------------------------------------------------------------
_DATE = {"type": "string", "format": "date"}
RANGE_PARAMS = (
    Param("from", "query", "First day, YYYY-MM-DD (default: today, or `to`).", _DATE),
    Param("to", "query", f"Last day, inclusive (default: `from`); at most {MAX_DAYS} days in all.", _DATE),
)
REPORT_PARAMS = (*RANGE_PARAMS, Param("by", "query", "Group by service (default), window or staff.",
                                      {"type": "string", "enum": list(GROUPINGS)}))
STARS_PARAMS = (Param("month", "query", "The month, YYYY-MM (default: this month).",
                      {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}),)


def _invalid(en: str, zh: str, field: str) -> ApiError:
    return ApiError(422, "invalid_request", en, zh, fields=[{"field": field, "problem": en}])


def _day(params: QueryParams, name: str) -> date | None:
    raw = params.get(name)
    if raw is None:  # absent; an empty one is refused like any other that is not a day
        return None
    try:
        if not _DAY.match(raw):
            raise ValueError(raw)
        value = date.fromisoformat(raw)
    except ValueError:
        raise _invalid(f"{name} must be a day written YYYY-MM-DD, like 2026-11-23.",
                       f"{name} 须为日期，格式 YYYY-MM-DD，例如 2026-11-23。", name) from None
    if not EARLIEST <= value <= LATEST:
        raise _invalid(f"{name} must be a day from {EARLIEST} to {LATEST}.",
                       f"{name} 须为 {EARLIEST} 至 {LATEST} 之间的日期。", name)
    return value


def today(ctx: Ctx) -> date:
    hall = ctx.hall.config
    return hall.local(ctx.hall.engine.clock()).date()


def date_range(ctx: Ctx) -> DateRange:
    """?from=&to= as a range: either alone is a single day, neither is today; refused past MAX_DAYS days."""
    params = ctx.request.query_params
    first, last = _day(params, "from"), _day(params, "to")
    first = first or last or today(ctx)
    last = last or first
    if last < first:
        raise _invalid(f"to ({last}) is before from ({first}); give the earlier day as from.",
                       f"结束日期 to（{last}）早于开始日期 from（{first}），请把较早的日期填在 from。", "to")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise _invalid(f"A report covers at most {MAX_DAYS} days; this range has {days}. Ask for shorter ranges.",
                       f"一次报表最多 {MAX_DAYS} 天，所选范围有 {days} 天，请缩短日期范围。", "to")
    return DateRange(first, last)


def range_from(params: QueryParams, default: date) -> DateRange:
    """``date_range``'s rule for a report of more than one hall (a region's): ?from=&to= with ``default`` for
    today, refused alike."""
    first, last = _day(params, "from"), _day(params, "to")
    first = first or last or default
    last = last or first
    if last < first:
        raise _invalid(f"to ({last}) is before from ({first}); give the earlier day as from.",
                       f"结束日期 to（{last}）早于开始日期 from（{first}），请把较早的日期填在 from。", "to")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise _invalid(f"A report covers at most {MAX_DAYS} days; this range has {days}. Ask for shorter ranges.",
                       f"一次报表最多 {MAX_DAYS} 天，所选范围有 {days} 天，请缩短日期范围。", "to")
    return DateRange(first, last)


def grouping(ctx: Ctx) -> Grouping:
    raw = ctx.request.query_params.get("by", "service")
    for by in GROUPINGS:
        if raw == by:
            return by
    raise _invalid("by must be service, window or staff.", "by 须为 service（业务）、window（窗口）或 staff（人员）。",
                   "by")


async def counted(ctx: Ctx, rng: DateRange, count: Callable[[Facts], T]) -> T:
    """Read the range's facts and count them, both in a worker thread: a year of a busy hall is seconds of work
    the event loop must not wait for."""
    hall, sql = ctx.hall.config, ctx.runtime.sql
    now = hall.local(ctx.hall.engine.clock())
    return await asyncio.to_thread(lambda: count(load_facts(sql, hall, rng, now)))


async def report_data(ctx: Ctx) -> dict[str, Any]:
    rng, by = date_range(ctx), grouping(ctx)
    hall = ctx.hall.config
    return await counted(ctx, rng, lambda facts: report(hall, rng, by, facts))


def attachment(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


# -- endpoints -----------------------------------------------------------------------------------------
@ENDPOINTS.add("GET", "/reports", roles=ROLES, response=ReportOut, params=REPORT_PARAMS)
async def reports(ctx: Ctx, _: Any) -> ReportOut:
    """Figures of ?from= to ?to= (YYYY-MM-DD, at most 366 days) per ?by=service|window|staff, with totals and
    each day's totals: tickets, waits and handling (average, p90), no-shows, 超时件, green channel, appointments,
    ratings, satisfaction and 差评 cases."""
    return ReportOut.model_validate(await report_data(ctx))


@ENDPOINTS.add("GET", "/reports.csv", roles=ROLES, params=REPORT_PARAMS)
async def reports_csv(ctx: Ctx, _: Any) -> Response:
    """The report of GET /reports as CSV (UTF-8 with BOM, a header row in Chinese and English, a total row)."""
    from floor.reports.export import filename, to_csv

    data = await report_data(ctx)
    return attachment(to_csv(data), "text/csv; charset=utf-8", filename(data, "csv"))


@ENDPOINTS.add("GET", "/reports.xlsx", roles=ROLES, params=REPORT_PARAMS)
async def reports_xlsx(ctx: Ctx, _: Any) -> Response:
    """The report of GET /reports as an Excel workbook: the groups and a total row, and a sheet of each day."""
    from floor.reports.export import filename, to_xlsx

    data = await report_data(ctx)
    title = f"{ctx.hall.config.name} {data['from']} - {data['to']}"
    body = await asyncio.to_thread(to_xlsx, data, title)
    return attachment(body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      filename(data, "xlsx"))


@ENDPOINTS.add("GET", "/reports/stars", roles=ROLES, response=StarsOut, params=STARS_PARAMS)
async def report_stars(ctx: Ctx, _: Any) -> StarsOut:
    """Each window's stars for ?month=YYYY-MM, from its satisfaction score and its 差评 cases (the rule is in
    the answer)."""
    raw = ctx.request.query_params.get("month")
    if raw is not None:
        year, month = (int(part) for part in raw.split("-")) if _MONTH.match(raw) else (0, 0)
        if not (1 <= month <= 12 and EARLIEST.year <= year <= LATEST.year):
            raise _invalid("month must be a month written YYYY-MM, like 2026-11.",
                           "month 须为月份，格式 YYYY-MM，例如 2026-11。", "month")
    else:
        year, month = today(ctx).year, today(ctx).month
    rng = DateRange.month(year, month)
    hall = ctx.hall.config
    return StarsOut.model_validate(await counted(ctx, rng, lambda facts: stars(hall, rng, facts)))


CHART_PARAMS = (*RANGE_PARAMS, Param("chart", "path", "The chart: hourly, waits or ratings.",
                                     {"type": "string", "enum": list(CHARTS)}))


@ENDPOINTS.add("GET", "/reports/charts/{chart}.png", roles=ROLES, params=CHART_PARAMS)
async def report_chart(ctx: Ctx, _: Any) -> Response:
    """A chart of ?from= to ?to= as PNG: hourly (tickets and average wait per hour of the day), waits (average
    and p90 wait per service against its target), ratings (the rating distribution)."""
    chart = ctx.path("chart")
    if chart not in CHARTS:
        raise ApiError(404, "unknown_chart", f"There is no chart {chart[:40]!r}; the charts are "
                       f"{', '.join(CHARTS)}.", f"没有图表 {chart[:40]!r}，可用图表：{'、'.join(CHARTS)}。")
    rng, hall, lang = date_range(ctx), ctx.hall.config, ctx.lang
    png = await counted(ctx, rng, lambda facts: _draw(hall, rng, facts, chart, lang))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def _draw(hall: HallConfig, rng: DateRange, facts: Facts, chart: str, lang: str) -> bytes:
    # matplotlib is imported here, in the worker thread, the first time a chart is asked for: half a second the
    # event loop does not wait for, and a server that never draws a chart never loads it.
    from floor.reports.charts import render

    return render(chart, report(hall, rng, "service", facts), lang)


ATTENDANCE_PARAMS = (Param("day", "query", "The day, YYYY-MM-DD (default: today).", _DATE),)


@ENDPOINTS.add("GET", "/attendance", roles=ROLES, response=AttendanceOut, params=ATTENDANCE_PARAMS)
async def attendance_of_day(ctx: Ctx, _: Any) -> AttendanceOut:
    """考勤 of ?day=: each person who signed in, when they signed in and out, the windows they sat at and for how long,
    and every pause with its reason (离岗, 午休 ...) and length."""
    day = _day(ctx.request.query_params, "day") or today(ctx)
    return await asyncio.to_thread(attendance, ctx.runtime.sql, ctx.hall.config, day, datetime.now(UTC))
