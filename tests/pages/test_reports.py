"""The reports page (统计报表) and the dashboard's reports panel, in Chromium against a real server: the range and
grouping picked, the table, the charts drawn from the report, CSV and Excel downloads, the stars of the month,
satisfaction always beside 好评率 and the five-level distribution, and a refused range shown with the server's
sentence."""

from __future__ import annotations

import csv
import io
import random
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine

from floor.http.auth import make_token
from floor.record.projection import StreamEvent, store_events
from queue_engine.config import load_hall
from queue_engine.policy import TIER_GREEN, TIER_WALK_IN
from tests.pages.conftest import Hall, PagesServer, screenshot
from tests.server.conftest import DEMO_TOML, delete_prefix_sync, start_server, stop_server, write_hall_copy
from tests.server.test_reports import no_show_at_once

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

REPORTS = "/halls/{hall}/reports"
DASHBOARD = "/halls/{hall}/dashboard"
DESK = (1600, 1000)
CHART_TIMEOUT_MS = 20000


ZONE = ZoneInfo("Asia/Shanghai")
HALLS = 12  # more than the tests of this module


@pytest.fixture(scope="module")
def pages_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PagesServer]:
    """This module's server (as tests/pages/conftest.py starts it), its halls marking no-shows at once: the small
    day is played on the real clock (see ``no_show_at_once``)."""
    home = tmp_path_factory.mktemp("reports-pages")
    (home / "halls").mkdir()
    pool = [f"page-{i:02d}" for i in range(HALLS)]
    paths = [no_show_at_once(write_hall_copy(home / "halls", hall)) for hall in pool]
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=paths, hall_ids=tuple(pool), heartbeat_s=1.0)
    try:
        yield PagesServer(server, iter(pool))
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


def today() -> str:
    return datetime.now(ZONE).date().isoformat()


def play_a_small_day(hall: Hall) -> None:
    """At window 1 (S01 signed in): two SOC tickets served, one missed; one TAX ticket served at window 5."""
    staff = make_token(hall.server.secret, hall.id, "staff", "1", staff="S01")

    def at_one(op: str, body: Any = None) -> None:
        reply = hall.http.post(f"/api/v1/halls/{hall.id}/windows/1/{op}", json=body,
                               headers={"Authorization": f"Bearer {staff}"})
        assert reply.status_code == 200, reply.text

    at_one("open")
    hall.open_windows("5")
    for _ in range(3):
        hall.issue("SOC")
    hall.issue("TAX")
    for outcome in ("done", "consult"):
        at_one("call-next")
        at_one("start")
        at_one("finish", {"outcome": outcome})
    at_one("call-next")
    at_one("no-show")
    hall.window_op("5", "call-next")
    hall.window_op("5", "finish", {"outcome": "done"})
    deadline = time.monotonic() + 15
    while hall.call("GET", "/reports")["totals"]["missed"] != 1:  # the archiver trails by a moment
        assert time.monotonic() < deadline, "the archiver did not record the day within 15 s"
        time.sleep(0.1)


def cell(page: Page, key: str, field: str) -> Any:
    return page.locator(f'#report-rows tr[data-key="{key}"] td[data-field="{field}"]')


def drawn(page: Page, chart: str) -> Any:
    """The chart's SVG, drawn in the page from the report (charts.js)."""
    return page.locator(f'#chart-{chart} svg[data-chart="{chart}"]')


def test_reports_show_the_days_figures_charts_and_stars(hall: Hall) -> None:
    play_a_small_day(hall)
    page = hall.open_page(REPORTS, role="manager", size=DESK)
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.locator("#from")).to_have_value(today())
    expect(page.locator("#to")).to_have_value(today())
    expect(cell(page, "SOC", "issued")).to_have_text("3")
    expect(cell(page, "SOC", "served")).to_have_text("2")
    expect(cell(page, "SOC", "missed")).to_have_text("1")
    expect(cell(page, "SOC", "no_show_rate")).to_have_text("33.3%")
    expect(cell(page, "TAX", "served")).to_have_text("1")
    expect(page.locator('#report-total td[data-field="issued"]')).to_have_text("4")
    expect(page.locator('#totals .kpi[data-field="served"] .kpi-value')).to_have_text("3")
    # The charts, drawn from the same figures: tickets per hour, waits per service, the rating distribution.
    expect(drawn(page, "hourly").locator("rect.bar")).not_to_have_count(0)
    issued = drawn(page, "hourly").locator("rect.bar").evaluate_all("bars => bars.map(b => +b.dataset.value)")
    assert sum(issued) == 4
    expect(drawn(page, "waits").locator('rect.bar[data-label="社保医保"]')).to_have_count(2)  # average and p90
    expect(drawn(page, "ratings").locator("rect.bar")).to_have_count(5)
    expect(page.locator("#star-rows tr")).to_have_count(12)
    expect(page.locator('#star-rows tr[data-window="1"] .star-cell')).to_have_text("未评星")
    expect(page.locator("#star-rule")).to_contain_text("9.5")

    # Grouped by staff: S01 served the two SOC tickets and missed the third; window 5's ticket names nobody. The
    # manager reads their own staff's full names.
    page.select_option("#by", "staff")
    expect(page.locator("#report-head")).to_contain_text("工作人员")
    expect(page.locator('#report-rows tr[data-key="S01"] th')).to_have_text("S01 王芳")
    expect(page.locator("#chart-waits-caption")).to_have_text("各工作人员等候时间")
    expect(cell(page, "S01", "issued")).to_have_text("3")
    expect(cell(page, "S01", "served")).to_have_text("2")
    expect(cell(page, "", "served")).to_have_text("1")

    # English: the table's words and the charts (drawn again by the server in English).
    page.click("#lang")
    expect(page.locator("#run")).to_have_text("Show")
    expect(page.locator('#report-head th[data-field="issued"]')).to_have_text("Issued")
    expect(page.locator('#star-rows tr[data-window="1"] .star-cell')).to_have_text("no stars")


def test_satisfaction_is_shown_out_of_10_beside_the_good_rate_and_the_distribution(hall: Hall) -> None:
    """One 非常满意 and one 非常不满意: satisfaction 5.00 of 10, which alone read as a perfect 5; 好评率 50% and one at
    each end of the five levels say what happened, in the table, the totals, the chart, the stars and the dashboard."""
    hall.open_windows("5")
    for score in (5, 1):
        ticket = hall.issue("SOC")
        hall.window_op("5", "call-next")
        hall.window_op("5", "finish", {"outcome": "done"})
        hall.rate(ticket, score)  # with its key, as its QR code does
    deadline = time.monotonic() + 15
    while hall.call("GET", "/reports")["totals"]["rated"] != 2:
        assert time.monotonic() < deadline, "the archiver did not record the ratings within 15 s"
        time.sleep(0.1)
    page = hall.open_page(REPORTS, role="manager", size=DESK)
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    shown = {"satisfaction": "5.00/10", "good_rate": "50.0%", "rating_5": "1（50.0%）", "rating_4": "0（0.0%）",
             "rating_1": "1（50.0%）", "rated": "2", "bad": "1"}
    for field, text in shown.items():
        expect(cell(page, "SOC", field)).to_have_text(text)
        expect(page.locator(f'#report-total td[data-field="{field}"]')).to_have_text(text)
    expect(page.locator('#report-head th[data-field="rating_3"]')).to_have_text("基本满意")
    expect(page.locator('#totals .kpi[data-field="good_rate"] .kpi-value')).to_have_text("50.0%")
    expect(page.locator('#totals .kpi[data-field="satisfaction"] .kpi-value')).to_have_text("5.00/10")
    expect(page.locator("#chart-ratings-caption")).to_have_text("评价分布 · 好评率 50.0% · 满意度 5.00/10")
    bars = drawn(page, "ratings").locator("rect.bar").evaluate_all("bars => bars.map(b => +b.dataset.value)")
    assert bars == [1, 0, 0, 0, 1]
    stars = page.locator('#star-rows tr[data-window="5"]')
    expect(stars.locator('[data-field="satisfaction"]')).to_have_text("5.00/10")
    expect(stars.locator('[data-field="good_rate"]')).to_have_text("50.0%")
    expect(stars.locator('[data-field="ratings"] .level[data-level="1"]')).to_have_text("1（50.0%）")

    dashboard = hall.open_page(DASHBOARD, role="manager", size=(1920, 1080))
    expect(dashboard.locator("#kpi-issued")).to_have_text("2")
    dashboard.locator("#report-panel summary").click()
    expect(dashboard.locator("#report-chart-ratings")).to_have_attribute(
        "alt", "评价分布 · 好评率 50.0% · 满意度 5.00/10", timeout=CHART_TIMEOUT_MS)


def test_reports_download_csv_and_excel_with_the_same_figures(hall: Hall) -> None:
    play_a_small_day(hall)
    page = hall.open_page(REPORTS, role="manager", size=DESK)
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    page.select_option("#by", "window")
    expect(cell(page, "1", "issued")).to_have_text("3")

    with page.expect_download() as got:
        page.click("#download-csv")
    download = got.value
    assert download.suggested_filename == f"hallq-{hall.id}-{today()}-{today()}-window.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    header = rows[0]
    one = dict(zip(header, next(r for r in rows if r[0] == "1"), strict=True))
    assert (one["取号 Issued"], one["办结 Served"], one["过号 Missed"]) == ("3", "2", "1")

    with page.expect_download() as got:
        page.click("#download-xlsx")
    book = load_workbook(io.BytesIO(Path(got.value.path()).read_bytes()))
    summary = [list(r) for r in book["汇总 Summary"].iter_rows(values_only=True)]
    one_row = dict(zip(summary[0], next(r for r in summary if r[0] == "1"), strict=True))
    assert (one_row["取号 Issued"], one_row["办结 Served"], one_row["过号 Missed"]) == (3, 2, 1)


def test_a_range_the_server_refuses_is_shown_with_its_sentence(hall: Hall) -> None:
    page = hall.open_page(REPORTS, role="manager", size=DESK)
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    page.fill("#from", "2026-11-30")
    page.fill("#to", "2026-11-01")
    page.click("#run")
    expect(page.locator("#problem")).to_contain_text("早于开始日期")
    page.fill("#from", "2024-01-01")
    page.fill("#to", "2026-01-01")
    page.click("#run")
    expect(page.locator("#problem")).to_contain_text("最多 366 天")
    page.click('[data-quick="week"]')
    expect(page.locator("#problem")).to_have_text("")
    expect(page.locator("#table-title")).to_contain_text(today())
    hall.forgive_refusals(422)


def test_reports_refuse_a_token_that_is_not_a_managers(hall: Hall) -> None:
    page = hall.open_page(REPORTS, role="guide", size=DESK)
    expect(page.locator(".signin-overlay")).to_be_visible()
    expect(page.locator(".signin-problem")).to_contain_text("导办台")
    page.fill("#signin-token", hall.token("manager"))
    page.click("#signin-submit")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    hall.forgive_refusals(403)  # the guide's token, refused on purpose


def test_the_dashboard_panel_shows_todays_charts_and_leads_to_the_reports_signed_in(hall: Hall) -> None:
    play_a_small_day(hall)
    page = hall.open_page(DASHBOARD, role="manager", size=(1920, 1080))
    expect(page.locator("#kpi-issued")).to_have_text("4")
    panel = page.locator("#report-panel")
    expect(panel.locator(".report-popover")).to_be_hidden()  # closed: the board is not covered
    panel.locator("summary").click()
    expect(panel.locator(".report-popover")).to_be_visible()
    for chart in ("hourly", "waits", "ratings"):
        # Each drawn as an SVG image of the size it is shown at (labels measured in test_charts_readable.py).
        img = page.locator(f"#report-chart-{chart}")
        expect(img).to_have_attribute("data-chart", chart, timeout=CHART_TIMEOUT_MS)
        box = img.bounding_box()
        assert box is not None
        assert img.get_attribute("data-drawn") == f"{int(box['width'])}x{int(box['height'])}"
    link = page.locator("#report-link")
    expect(link).to_have_attribute("href", f"/halls/{hall.id}/reports")
    screenshot(page, "dashboard-report-charts")
    link.click()
    page.wait_for_url(f"**/halls/{hall.id}/reports")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")  # the dashboard's token, no sign-in
    expect(page.locator(".signin-overlay")).to_have_count(0)
    expect(cell(page, "SOC", "issued")).to_have_text("3")


# -- a recorded day, for the screenshot ----------------------------------------------------------------
# Arrivals per half hour of a county hall's day (domain.md), and the services they come for.
SHAPE = {"08:30": 14, "09:00": 20, "09:30": 22, "10:00": 19, "10:30": 18, "11:00": 13, "11:30": 9,
         "14:00": 15, "14:30": 14, "15:00": 13, "15:30": 12, "16:00": 9, "16:30": 7, "17:00": 3}
MIX = ["SOC"] * 5 + ["HUK"] * 3 + ["PROP"] * 3 + ["TAX"] * 2 + ["FUND", "BIZ", "INFO", "INFO", "INFO"]
WINDOWS = {"SOC": "1234", "HUK": "34", "PROP": "89", "TAX": "5", "FUND": "6", "BIZ": "7", "INFO": "12"}
GREEN_REASONS = ("elderly", "elderly", "disabled", "pregnant", "military")


def seed_day(hall: Hall, day: date) -> dict[str, int]:
    """A whole day in the SQL record, written through the archiver's own projection (events in, ticket, rating
    and case rows out), with windows opened by staff S01-S09. Returns the counts to expect."""
    config = load_hall(DEMO_TOML).model_copy(update={"id": hall.id})
    rng = random.Random(8)
    events: list[dict[str, Any]] = []

    def event(at: datetime, kind: str, **fields: Any) -> None:
        events.append({"type": kind, "at": int(at.timestamp() * 1000), **fields})

    opening = datetime.combine(day, datetime.min.time(), tzinfo=ZONE).replace(hour=8, minute=25)
    for w in "123456789":
        event(opening, "window.opened", window=w, by=f"staff:{w}/S0{w}@seed{w}")
    free_at = {w: opening for w in "123456789"}
    counts = {"issued": 0, "served": 0, "missed": 0, "rated": 0}
    for start, arrivals in SHAPE.items():
        begin = opening.replace(hour=int(start[:2]), minute=int(start[3:]))
        for i in sorted(rng.uniform(0, 1799) for _ in range(arrivals)):
            issued = begin + timedelta(seconds=i)
            service = rng.choice(MIX)
            svc = config.service(service)
            assert svc is not None
            ticket, number = f"{day:%Y%m%d}-seed{counts['issued']:04d}", f"{svc.letter}{counts['issued'] + 1:03d}"
            green = rng.random() < 0.05
            counts["issued"] += 1
            event(issued, "ticket.issued", ticket=ticket, number=number, service=service, day=f"{day:%Y%m%d}",
                  tier=TIER_GREEN if green else TIER_WALK_IN, channel="kiosk", priority="green" if green else None,
                  green_reason=rng.choice(GREEN_REASONS) if green else None, by="kiosk@seedk")
            window = min(WINDOWS[service], key=lambda w: free_at[w])
            called = max(issued + timedelta(seconds=rng.uniform(30, 120)), free_at[window])
            by = f"staff:{window}/S0{window}@seed{window}"
            common = {"ticket": ticket, "number": number, "service": service, "window": window, "by": by}
            event(called, "ticket.called", **common)
            if rng.random() < 0.06:
                event(called + timedelta(seconds=90), "ticket.missed", **common)
                counts["missed"] += 1
                free_at[window] = called + timedelta(seconds=90)
                continue
            handling = timedelta(seconds=rng.lognormvariate(6.0, 0.4) * (2.5 if service == "PROP" else 1))
            event(called + timedelta(seconds=40), "ticket.serving", **common)
            finished = called + timedelta(seconds=40) + handling
            event(finished, "ticket.finished", **common, outcome="done",
                  handling_ms=int(handling.total_seconds() * 1000))
            counts["served"] += 1
            free_at[window] = finished
            score = rng.choices((5, 4, 3, 2, 1), weights=(80, 14, 4, 1, 1))[0]
            event(finished + timedelta(seconds=5), "ticket.rated", ticket=ticket, number=number, service=service,
                  window=window, day=f"{day:%Y%m%d}", score=score, bad=score <= 2, source="pad", comment=None,
                  late=False)
            counts["rated"] += 1
    events.sort(key=lambda e: e["at"])
    stream = [StreamEvent((e["at"], i), e) for i, e in enumerate(events)]
    sql = create_engine(f"sqlite:///{hall.server.home / 'hallq.db'}")
    try:
        store_events(sql, config, stream)
    finally:
        sql.dispose()
    return counts


def test_a_recorded_day_reads_as_a_report_with_charts_and_stars(hall: Hall) -> None:
    day = datetime.now(ZONE).date() - timedelta(days=1)
    counts = seed_day(hall, day)
    page = hall.open_page(REPORTS, role="manager", size=(1600, 1000))
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    page.fill("#from", day.isoformat())
    page.fill("#to", day.isoformat())
    page.click("#run")
    expect(page.locator('#report-total td[data-field="issued"]')).to_have_text(str(counts["issued"]))
    expect(page.locator('#report-total td[data-field="served"]')).to_have_text(str(counts["served"]))
    expect(page.locator('#report-total td[data-field="rated"]')).to_have_text(str(counts["rated"]))
    issued = drawn(page, "hourly").locator("rect.bar").evaluate_all("bars => bars.map(b => +b.dataset.value)")
    assert sum(issued) == counts["issued"]
    rated = drawn(page, "ratings").locator("rect.bar").evaluate_all("bars => bars.map(b => +b.dataset.value)")
    assert sum(rated) == counts["rated"]
    page.fill("#month", day.strftime("%Y-%m"))
    page.locator("#month").dispatch_event("change")
    page.locator("#month").blur()
    expect(page.locator('#star-rows tr[data-window="1"] .star-cell')).not_to_have_text("未评星")
    screenshot(page, "reports", full_page=True)
