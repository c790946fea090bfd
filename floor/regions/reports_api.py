"""A region's roll-up reports: ``GET /api/v1/regions/{region}/reports`` (JSON), ``/reports.csv`` and
``/reports.xlsx``, for the managers who answer for the region. The figures of every hall below the region added up
per hall, per level of hall or per service (``floor.regions.rollup`` says how each adds up, and why the p90s are
left out), read from the per-day summaries (``floor.regions.summaries``: what is stored, what is always live)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from floor.http.kit import ApiError, Endpoints, Param, RegionCtx
from floor.regions.rollup import REGION_GROUPINGS, RegionGrouping, report
from floor.regions.summaries import HallNow, region_sums
from floor.reports.api import RANGE_PARAMS, attachment, range_from
from floor.reports.export import FIGURE_COLUMNS, TOTAL, Cell, Column, csv_file, xlsx_file

ENDPOINTS = Endpoints()
ROLES = ("manager",)  # and admin, above managers


# -- bodies ------------------------------------------------------------------------------------------
class RegionFigures(BaseModel):
    issued: int
    served: int
    missed: int = Field(description="过号, as a hall's report counts it.")
    cancelled: int
    unfinished: int = Field(description="Still waiting, called or being served when the report was made.")
    avg_wait_s: int | None = Field(description="The sum of every wait (issued -> first called) over `waited`: "
                                               "weighted by tickets, never an average of averages.")
    waited: int = Field(description="Tickets called at least once: the weight of avg_wait_s.")
    avg_handling_s: int | None = Field(description="The sum of handling times over `handled`.")
    handled: int = Field(description="Served tickets with a handling time: the weight of avg_handling_s.")
    no_show_rate: float | None = Field(description="missed / (served + missed), of the summed counts.")
    over_target: int = Field(description="超时件: called tickets that waited past their service's target.")
    green: dict[str, int] = Field(description="Green-channel tickets by reason.")
    green_total: int
    appointments: int = Field(description="Tickets from checked-in bookings.")
    appointment_no_shows: int = Field(description="Bookings never checked in.")
    ratings: dict[str, int] = Field(description="Rated tickets per score, 5 (非常满意) to 1 (非常不满意).")
    rating_shares: dict[str, float | None] = Field(description="Each score's share of the rated tickets, 0..1.")
    rated: int
    good: int = Field(description="好评: ratings that are not 差评.")
    good_rate: float | None = Field(description="好评率: good / rated, of the summed counts.")
    satisfaction: float | None = Field(description="Average of 10/8/6/3/0 points over every rating, out of 10.")
    bad: int = Field(description="差评: ratings of 2 and 1.")
    cases: dict[str, int] = Field(description="差评 cases: open, closed, overdue, as of now.")


class RegionRow(RegionFigures):
    key: str | None = Field(description="Hall id, hall level or service code; null for halls of no level.")
    name: str
    name_en: str
    halls: int | None = Field(None, description="Halls in the group (by hall or level).")


class RegionDay(RegionFigures):
    day: date


class Sources(BaseModel):
    summarised: int = Field(description="Hall-days read from their stored summaries.")
    made: int = Field(description="Of them, summarised for this report.")
    refreshed: int = Field(description="Of them, summarised again (a late rating, a changed target).")
    live: int = Field(description="Hall-days counted from the tickets themselves: today, and days not closed.")


class RegionReportOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    region: str
    name: str
    from_: date = Field(alias="from")
    to: date
    by: RegionGrouping
    halls: list[str] = Field(description="The halls below the region the report adds up.")
    rows: list[RegionRow]
    totals: RegionFigures = Field(description="Every hall of the region: the sum of the rows.")
    days: list[RegionDay] = Field(description="Each day's totals over every hall.")
    sources: Sources


# -- parameters ----------------------------------------------------------------------------------
REGION_PARAMS = (*RANGE_PARAMS, Param("by", "query", "Group by hall (default), level of hall or service.",
                                      {"type": "string", "enum": list(REGION_GROUPINGS)}))


def grouping(ctx: RegionCtx) -> RegionGrouping:
    raw = ctx.request.query_params.get("by", "hall")
    for by in REGION_GROUPINGS:
        if raw == by:
            return by
    en = "by must be hall, level or service."
    raise ApiError(422, "invalid_request", en, "by 须为 hall（大厅）、level（层级）或 service（业务）。",
                   fields=[{"field": "by", "problem": en}])


def _halls(ctx: RegionCtx) -> list[HallNow]:
    return [HallNow(h.config, h.config.local(h.engine.clock())) for h in ctx.halls]


async def report_data(ctx: RegionCtx) -> dict[str, Any]:
    """The region's report: parameters checked first, the counting in a worker thread (a cold month of a county
    reads every ticket once)."""
    halls = _halls(ctx)
    rng = range_from(ctx.request.query_params, halls[0].today if halls else date.today())
    by = grouping(ctx)
    sql = ctx.runtime.sql
    configs = [h.config for h in halls]
    region = {"region": ctx.region.id, "name": ctx.region.name}

    def count() -> dict[str, Any]:
        sums, sources = region_sums(sql, halls, rng)
        return report(region, configs, rng, by, sums) | {"sources": vars(sources)}

    return await asyncio.to_thread(count)


# -- files ---------------------------------------------------------------------------------------------
GROUP_TEXT = {"hall": ("大厅编号 Hall id", "大厅 Hall"), "level": ("层级 Level", "层级名称 Level name"),
              "service": ("业务代码 Service code", "业务 Service")}
# The hall report's columns, in its order, but the p90s, which do not add up.
COLUMNS: list[Column] = [c for c in FIGURE_COLUMNS if not c[0].startswith("90%")]


def summary_table(data: dict[str, Any]) -> list[list[Cell]]:
    key_title, name_title = GROUP_TEXT[data["by"]]
    table: list[list[Cell]] = [[key_title, name_title, *(title for title, _ in COLUMNS)]]
    for row in data["rows"]:
        table.append([row["key"] or "", row["name"], *(get(row) for _, get in COLUMNS)])
    table.append([TOTAL, "", *(get(data["totals"]) for _, get in COLUMNS)])
    return table


def daily_table(data: dict[str, Any]) -> list[list[Cell]]:
    table: list[list[Cell]] = [["日期 Day", *(title for title, _ in COLUMNS)]]
    table += [[day["day"], *(get(day) for _, get in COLUMNS)] for day in data["days"]]
    return table


def filename(data: dict[str, Any], extension: str) -> str:
    """hallq-region-<region>-<from>-<to>-<by>.<ext>: ids and dates are ASCII, safe in any header."""
    return f"hallq-region-{data['region']}-{data['from']}-{data['to']}-{data['by']}.{extension}"


def to_csv(data: dict[str, Any]) -> bytes:
    return csv_file(summary_table(data))


def to_xlsx(data: dict[str, Any], title: str) -> bytes:
    return xlsx_file(summary_table(data), daily_table(data), title)


# -- endpoints -----------------------------------------------------------------------------------------
@ENDPOINTS.add("GET", "/reports", roles=ROLES, response=RegionReportOut, params=REGION_PARAMS, scope="region")
async def region_reports(ctx: RegionCtx, _: Any) -> RegionReportOut:
    """Figures of ?from= to ?to= (YYYY-MM-DD, at most 366 days) of every hall below the region, per
    ?by=hall|level|service, with totals and each day's totals: the hall report's figures added up (averages
    weighted by tickets, rates from the summed counts); no p90, which does not add up."""
    return RegionReportOut.model_validate(await report_data(ctx))


@ENDPOINTS.add("GET", "/reports.csv", roles=ROLES, params=REGION_PARAMS, scope="region")
async def region_reports_csv(ctx: RegionCtx, _: Any) -> Response:
    """The region's report of GET /reports as CSV (UTF-8 with BOM, a header row in Chinese and English, a total
    row)."""
    data = await report_data(ctx)
    return attachment(to_csv(data), "text/csv; charset=utf-8", filename(data, "csv"))


@ENDPOINTS.add("GET", "/reports.xlsx", roles=ROLES, params=REGION_PARAMS, scope="region")
async def region_reports_xlsx(ctx: RegionCtx, _: Any) -> Response:
    """The region's report of GET /reports as an Excel workbook: the groups and a total row, and each day."""
    data = await report_data(ctx)
    body = await asyncio.to_thread(to_xlsx, data, f"{ctx.region.name} {data['from']} - {data['to']}")
    return attachment(body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      filename(data, "xlsx"))
