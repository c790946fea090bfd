"""The reports API against a real server: JSON, CSV parsed back, XLSX opened with openpyxl, PNG charts, the
monthly stars, and refusals of bad ranges with a sentence a person can act on.

The figures themselves are checked by hand in tests/floor/reports/test_rules.py; here a small day is played through
the HTTP API (real clock, so waits are a second or two) and the three formats must agree with each other.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import struct
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from floor.http.auth import make_token
from tests.server.conftest import (
    HallApi,
    SharedServer,
    assert_error,
    delete_prefix_sync,
    has_chinese,
    start_server,
    stop_server,
    write_hall_copy,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HALLS = 80  # more than the tests of this module


def no_show_at_once(path: Path) -> Path:
    """The hall file with a no-show rule that lets staff mark one at once (a hall may ask for a recall and a minute
    first): this module counts what a small day leaves, on the real clock. tests/server/test_same_figures.py plays
    a morning by the demo hall's own rule, on a clock of its own."""
    text = re.sub(r"(?m)^(no_show_after_(?:s|recalls)) = \d+", r"\1 = 0", path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServer]:
    """This module's server (as tests/server/conftest.py starts it), its halls marking no-shows at once."""
    home = tmp_path_factory.mktemp("reports")
    (home / "halls").mkdir()
    pool = [f"pool-{i:02d}" for i in range(HALLS)]
    paths = [no_show_at_once(write_hall_copy(home / "halls", hall)) for hall in pool]
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=paths, hall_ids=tuple(pool))
    try:
        yield SharedServer(server, iter(pool))
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def play_a_small_day(api: HallApi) -> dict[str, str]:
    """Window 1 served by S01: one SOC ticket served, one missed, one left waiting; one HUK ticket waiting."""
    staff = {"Authorization": f"Bearer {make_token(api.server.secret, api.hall, 'staff', '1', staff='S01')}"}

    async def window(op: str, body: Any = None) -> Any:
        reply = await api.client.post(api.path(f"/windows/1/{op}"), headers=staff, json=body)
        assert reply.status_code == 200, reply.text
        return reply.json()

    await window("open")
    served, missed, waiting = (await api.issue("SOC"), await api.issue("SOC"), await api.issue("SOC"))
    await window("call-next")
    await window("start")
    await window("finish", {"outcome": "done"})
    await window("call-next")
    await window("no-show")
    await api.issue("HUK", priority="green")  # after the calls: the green channel would go first
    return {"served": served["id"], "missed": missed["id"], "waiting": waiting["id"]}


async def archived_report(api: HallApi, **params: str) -> dict[str, Any]:
    """GET /reports once the archiver has recorded the day (it trails the events by a fraction of a second)."""
    for _ in range(150):
        data: dict[str, Any] = await api.ok("GET", "/reports", params=params)
        if (data["totals"]["missed"], data["totals"]["issued"]) == (1, 4):  # the last event, the HUK ticket, too
            return data
        await asyncio.sleep(0.1)
    pytest.fail("the archiver did not record the day within 15 s")


@pytest.fixture
async def played(api: HallApi) -> dict[str, str]:
    ids = await play_a_small_day(api)
    await archived_report(api)
    return ids


# -- JSON ------------------------------------------------------------------------------------------
async def test_the_report_of_today_counts_what_was_played(api: HallApi, played: dict[str, str]) -> None:
    data = await api.ok("GET", "/reports")
    assert (data["hall"], data["from"], data["to"], data["by"]) == (
        api.hall, today().isoformat(), today().isoformat(), "service")
    totals = data["totals"]
    assert (totals["issued"], totals["served"], totals["missed"], totals["unfinished"]) == (4, 1, 1, 2)
    assert (totals["no_show_rate"], totals["green_total"], totals["green"]["other"]) == (0.5, 1, 1)
    assert totals["avg_wait_s"] is not None
    assert totals["avg_handling_s"] is not None
    soc = next(r for r in data["rows"] if r["key"] == "SOC")
    assert (soc["name"], soc["issued"], soc["served"], soc["missed"]) == ("社保医保", 3, 1, 1)
    assert data["days"] == [{"day": today().isoformat(), **totals}]
    # Per hour of the day and each service's target: what the pages draw their charts from.
    assert sum(h["issued"] for h in data["hours"]) == 4
    assert data["targets"]["SOC"] == 900


async def test_the_report_groups_by_window_and_by_the_staff_the_token_named(
    api: HallApi, played: dict[str, str]
) -> None:
    by_window = await api.ok("GET", "/reports", params={"by": "window"})
    one = next(r for r in by_window["rows"] if r["key"] == "1")
    assert (one["name"], one["issued"], one["served"], one["missed"]) == ("1号窗口", 2, 1, 1)
    never = next(r for r in by_window["rows"] if r["key"] is None)
    assert never["issued"] == 2
    by_staff = await api.ok("GET", "/reports", params={"by": "staff"})
    s01 = next(r for r in by_staff["rows"] if r["key"] == "S01")
    # The manager's own staff, named in full (citizens' names are masked; no report holds one).
    assert (s01["name"], s01["issued"], s01["served"], s01["missed"]) == ("王芳", 2, 1, 1)


async def test_a_range_in_the_past_is_empty_and_lists_every_day(api: HallApi) -> None:
    data = await api.ok("GET", "/reports", params={"from": "2025-02-27", "to": "2025-03-02"})
    assert [d["day"] for d in data["days"]] == ["2025-02-27", "2025-02-28", "2025-03-01", "2025-03-02"]
    assert data["totals"]["issued"] == 0
    assert data["totals"]["avg_wait_s"] is None


async def test_from_alone_is_one_day_and_to_alone_too(api: HallApi) -> None:
    assert (await api.ok("GET", "/reports", params={"from": "2026-01-05"}))["to"] == "2026-01-05"
    assert (await api.ok("GET", "/reports", params={"to": "2026-01-06"}))["from"] == "2026-01-06"


# -- files -----------------------------------------------------------------------------------------
async def test_csv_carries_a_bilingual_header_a_row_per_service_and_the_total(
    api: HallApi, played: dict[str, str]
) -> None:
    reply = await api.request("GET", "/reports.csv", params={"by": "service"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    name = f"hallq-{api.hall}-{today()}-{today()}-service.csv"
    assert reply.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert reply.content.startswith("\ufeff".encode())  # Excel reads UTF-8 Chinese only with the mark
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[:4] == ["业务代码 Service code", "业务 Service", "取号 Issued", "办结 Served"]
    assert all(has_chinese(title) and any(c.isascii() and c.isalpha() for c in title) for title in header)
    data = await api.ok("GET", "/reports")
    assert [r[0] for r in body] == [r["key"] for r in data["rows"]]
    soc = dict(zip(header, body[0], strict=True))
    assert (soc["业务 Service"], soc["取号 Issued"], soc["过号 Missed"], soc["过号率 No-show rate"]) == (
        "社保医保", "3", "1", "0.5")
    assert soc["满意度 Satisfaction (10/8/6/3/0)"] == ""  # nothing to average: an empty cell
    assert (total[0], total[header.index("取号 Issued")]) == ("合计 Total", "4")


async def test_xlsx_opens_with_a_summary_and_a_daily_sheet(api: HallApi, played: dict[str, str]) -> None:
    reply = await api.request("GET", "/reports.xlsx", params={"by": "window"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert reply.headers["content-disposition"].endswith('-window.xlsx"')
    book = load_workbook(io.BytesIO(reply.content))
    assert book.sheetnames == ["汇总 Summary", "每日 Daily"]
    summary = [list(r) for r in book["汇总 Summary"].iter_rows(values_only=True)]
    header = summary[0]
    assert header[:3] == ["窗口 Window", "窗口名称 Window name", "取号 Issued"]
    one = dict(zip(header, summary[1], strict=True))
    assert (one["窗口 Window"], one["取号 Issued"], one["办结 Served"], one["过号率 No-show rate"]) == ("1", 2, 1, 0.5)
    assert book["汇总 Summary"].cell(row=2, column=header.index("过号率 No-show rate") + 1).number_format == "0.0%"
    assert summary[-1][:3] == ["合计 Total", None, 4]
    daily = [list(r) for r in book["每日 Daily"].iter_rows(values_only=True)]
    assert daily[0][:2] == ["日期 Day", "取号 Issued"]
    assert daily[1][:2] == [today().isoformat(), 4]


# -- satisfaction, never alone ---------------------------------------------------------------------
OLD_COLUMNS = [  # the export's columns before issue 22, which must stay where they were
    "取号 Issued", "办结 Served", "过号 Missed", "取消 Cancelled", "未办结 Unfinished", "平均等候(秒) Avg wait (s)",
    "90%等候(秒) P90 wait (s)", "平均办理(秒) Avg handling (s)", "90%办理(秒) P90 handling (s)", "过号率 No-show rate",
    "超时件 Over target", "绿色通道 Green channel", "绿色通道·高龄 Elderly", "绿色通道·残疾 Disabled",
    "绿色通道·孕妇 Pregnant", "绿色通道·军人 Military", "绿色通道·其他 Other", "预约 Appointments",
    "预约未到 Appointment no-shows", "评价数 Rated", "评价·非常满意 Very satisfied", "评价·满意 Satisfied",
    "评价·基本满意 Fairly satisfied", "评价·不满意 Dissatisfied", "评价·非常不满意 Very dissatisfied",
    "满意度 Satisfaction (10/8/6/3/0)", "差评 Bad ratings", "差评件未办结 Open cases", "差评件已办结 Closed cases",
    "差评件超期 Overdue cases"]


async def rated_at_window_5(api: HallApi, *scores: int) -> None:
    """A ticket served at window 5 and rated (with its key, as its QR code does) for each score."""
    await api.open("5")
    for score in scores:
        ticket = await api.issue("SOC")
        await api.window_op("5", "call-next")
        await api.window_op("5", "finish", {"outcome": "done"})
        await api.ok("POST", f"/tickets/{ticket['id']}/rating", 201, role=None, headers=api.keyed(ticket["id"]),
                     json={"score": score})
    for _ in range(150):
        if (await api.ok("GET", "/reports"))["totals"]["rated"] == len(scores):
            return
        await asyncio.sleep(0.1)
    pytest.fail("the archiver did not record the ratings within 15 s")


async def test_one_very_satisfied_and_one_very_dissatisfied_show_a_good_rate_of_half_everywhere(
    api: HallApi,
) -> None:
    await rated_at_window_5(api, 5, 1)
    data = await api.ok("GET", "/reports", params={"by": "window"})
    five = next(r for r in data["rows"] if r["key"] == "5")
    for figures in (data["totals"], five):
        # 5.00 of 10 points; beside it, what happened: half of the ratings good, one at each end.
        assert (figures["satisfaction"], figures["good_rate"], figures["good"], figures["bad"]) == (5.0, 0.5, 1, 1)
        assert figures["ratings"] == {"5": 1, "4": 0, "3": 0, "2": 0, "1": 1}
        assert figures["rating_shares"] == {"5": 0.5, "4": 0.0, "3": 0.0, "2": 0.0, "1": 0.5}
    stars = await api.ok("GET", "/reports/stars")
    window = next(w for w in stars["windows"] if w["window"] == "5")
    assert (window["satisfaction"], window["good_rate"], window["ratings"]["1"]) == (5.0, 0.5, 1)

    reply = await api.request("GET", "/reports.csv", params={"by": "window"})
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[2:2 + len(OLD_COLUMNS)] == OLD_COLUMNS  # the old columns, where they were
    line = dict(zip(header, next(r for r in rows if r[0] == "5"), strict=True))
    assert (line["满意度 Satisfaction (10/8/6/3/0)"], line["好评率 Good-rating rate"], line["好评 Good ratings"]) == (
        "5.0", "0.5", "1")
    assert (line["评价占比·非常满意 Very satisfied"], line["评价占比·非常不满意 Very dissatisfied"],
            line["评价占比·满意 Satisfied"]) == ("0.5", "0.5", "0.0")

    book = load_workbook(io.BytesIO((await api.request("GET", "/reports.xlsx", params={"by": "window"})).content))
    summary = book["汇总 Summary"]
    titles = [c.value for c in summary[1]]
    total_row = summary.max_row
    rate = summary.cell(row=total_row, column=titles.index("好评率 Good-rating rate") + 1)
    assert (rate.value, rate.number_format) == (0.5, "0.0%")


# -- charts ----------------------------------------------------------------------------------------
def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("chart", ["hourly", "waits", "ratings"])
async def test_each_chart_is_a_png_of_800_by_400(api: HallApi, played: dict[str, str], chart: str) -> None:
    for lang in ("zh-CN", "en"):
        reply = await api.request("GET", f"/reports/charts/{chart}.png", headers={"Accept-Language": lang})
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "image/png"
        assert png_size(reply.content) == (800, 400)
        assert len(reply.content) > 5000  # drawn, not blank


async def test_an_unknown_chart_is_refused_with_the_charts_there_are(api: HallApi) -> None:
    error = assert_error(await api.request("GET", "/reports/charts/pie.png", headers={"Accept-Language": "en"}),
                         404, "unknown_chart")
    assert "hourly, waits, ratings" in error["message"]


# -- stars -----------------------------------------------------------------------------------------
async def test_stars_of_a_month_list_every_window_with_the_rule(api: HallApi) -> None:
    data = await api.ok("GET", "/reports/stars", params={"month": "2026-02"})
    assert data["month"] == "2026-02"
    assert [w["window"] for w in data["windows"]] == [str(i) for i in range(1, 13)]
    assert all(w["stars"] is None and w["rated"] == 0 for w in data["windows"])  # nothing rated that month
    assert "9.5" in data["rule"]["zh"]
    assert "9.5" in data["rule"]["en"]
    assert (await api.ok("GET", "/reports/stars"))["month"] == today().strftime("%Y-%m")


# -- refusals --------------------------------------------------------------------------------------
BAD_RANGES = [
    ({"from": "2026-13-01"}, "from", "YYYY-MM-DD"),
    ({"from": "20261123"}, "from", "YYYY-MM-DD"),
    ({"to": "next week"}, "to", "YYYY-MM-DD"),
    ({"from": ""}, "from", "YYYY-MM-DD"),
    ({"from": "1999-12-31"}, "from", "2000-01-01"),
    ({"from": "2026-11-30", "to": "2026-11-01"}, "to", "before from"),
    ({"from": "2025-01-01", "to": "2026-01-02"}, "to", "at most 366 days"),
]


@pytest.mark.parametrize(("params", "field", "words"), BAD_RANGES)
@pytest.mark.parametrize("path", ["/reports", "/reports.csv", "/reports.xlsx", "/reports/charts/waits.png"])
async def test_bad_ranges_are_refused_with_a_sentence(
    api: HallApi, path: str, params: dict[str, str], field: str, words: str
) -> None:
    english = assert_error(await api.request("GET", path, params=params, headers={"Accept-Language": "en"}),
                           422, "invalid_request")
    assert words in english["message"], english
    assert english["fields"][0]["field"] == field
    chinese = assert_error(await api.request("GET", path, params=params), 422, "invalid_request")
    assert has_chinese(chinese["message"])


@pytest.mark.parametrize("path", ["/reports", "/reports.csv", "/reports.xlsx"])
async def test_an_unknown_grouping_is_refused_with_the_ones_there_are(api: HallApi, path: str) -> None:
    for by in ("month", ""):
        error = assert_error(await api.request("GET", path, params={"by": by}, headers={"Accept-Language": "en"}),
                             422, "invalid_request")
        assert "service, window or staff" in error["message"]


async def test_a_whole_year_with_a_leap_day_is_a_report(api: HallApi) -> None:
    data = await api.ok("GET", "/reports", params={"from": "2028-01-01", "to": "2028-12-31"})
    assert len(data["days"]) == 366


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-01", "1999-12", "2026-00", ""])
async def test_a_bad_month_is_refused_with_a_sentence(api: HallApi, month: str) -> None:
    error = assert_error(await api.request("GET", "/reports/stars", params={"month": month},
                                           headers={"Accept-Language": "en"}), 422, "invalid_request")
    assert "YYYY-MM" in error["message"]


async def test_only_managers_and_admins_read_reports(api: HallApi) -> None:
    assert (await api.request("GET", "/reports", role="admin")).status_code == 200
    for role in ("guide", "kiosk", "display"):
        assert_error(await api.request("GET", "/reports.csv", role=role), 403, "wrong_role")
    assert_error(await api.request("GET", "/reports/charts/hourly.png", role="staff", window="1"), 403, "wrong_role")
    assert_error(await api.request("GET", "/reports", role=None), 401, "no_token")
