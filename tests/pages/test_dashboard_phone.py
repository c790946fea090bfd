"""The manager dashboard (管理看板) and the citizen's phone page (/t/{ticket}), in Chromium against a real server.

Most tests use the ``hall`` fixture's demo copies. Over-target alerts need a wait longer than the target
without waiting fifteen minutes, so a second server (``tight``, one per module) serves demo copies whose
targets are seconds long.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from floor.ratings.store import CaseRow, RatingRow
from floor.sql.db import TicketRow
from queue_engine.policy import TIER_WALK_IN
from tests.pages.conftest import Hall, screenshot
from tests.server.conftest import (
    NO_SHOW_AT_ONCE,
    LiveServer,
    delete_prefix_sync,
    start_server,
    stop_server,
    write_hall_copy,
)

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)
HALL_POLICY = NO_SHOW_AT_ONCE  # the module's halls mark a no-show at once (tests/server/conftest.py)

DASHBOARD = "/halls/{hall}/dashboard"
FULL_HD = (1920, 1080)
PHONE = (390, 844)
ZONE = ZoneInfo("Asia/Shanghai")
TIGHT_HALLS = {"tight-alert": ("SOC", 1), "tight-shot": ("INFO", 5)}  # hall -> (service, target_wait_s)


# -- helpers ---------------------------------------------------------------------------------------
def with_target(directory: Path, hall_id: str, service: str, target_s: int) -> Path:
    """A demo copy where one service's target wait is ``target_s`` seconds."""
    path = write_hall_copy(directory, hall_id)
    text = path.read_text(encoding="utf-8")
    block = text.index(f'code = "{service}"')
    tail, n = re.subn(r"target_wait_s = \d+", f"target_wait_s = {target_s}", text[block:], count=1)
    assert n == 1
    path.write_text(text[:block] + tail, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("tight")
    halls_dir = home / "halls"
    halls_dir.mkdir()
    paths = [with_target(halls_dir, h, svc, target) for h, (svc, target) in TIGHT_HALLS.items()]
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=paths, hall_ids=tuple(TIGHT_HALLS), heartbeat_s=1.0)
    try:
        yield server
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


@pytest.fixture
def tight_hall(tight_server: LiveServer, browser: Browser) -> Iterator[Callable[[str], Hall]]:
    """``tight_hall("tight-alert")``: a Hall of the tight server; fails the test on any JS error, like ``hall``."""
    made: list[Hall] = []

    def make(hall_id: str) -> Hall:
        h = Hall(tight_server, hall_id, browser)
        made.append(h)
        return h

    yield make
    for context in browser.contexts:
        context.close()
    for h in made:
        h.http.close()
        assert not h.errors, "errors in the page:\n" + "\n".join(h.errors)


def half_hour(iso: str) -> str:
    """The chart bin ("10:30") an ISO time (hall-local) falls in."""
    return f"{iso[11:13]}:{'00' if int(iso[14:16]) < 30 else '30'}"


def service_cell(page: Page, service: str, field: str) -> Locator:
    return page.locator(f'#service-rows tr[data-service="{service}"] td[data-field="{field}"]')


def window_tile(page: Page, window: str) -> Locator:
    return page.locator(f'#windows .win[data-window="{window}"]')


def serve(hall: Hall, window: str) -> dict[str, Any]:
    """Call, start and finish the next ticket at a window; returns the ticket served."""
    ticket: dict[str, Any] = hall.window_op(window, "call-next")["ticket"]
    hall.window_op(window, "start")
    hall.window_op(window, "finish", {"outcome": "done"})
    return ticket


def seed_morning(server: LiveServer, hall_id: str) -> int:
    """Screenshot dressing: today's record gets the served tickets of the half hours before this one, shaped
    like a county hall's day (domain.md), so the charts show a day rather than one bar. Only the SQL record
    (what /stats/today reads) is touched; the live queue in Redis is not. Returns how many rows were added."""
    now = datetime.now(ZONE)
    day = now.strftime("%Y%m%d")
    shape = {"08:30": 14, "09:00": 20, "09:30": 22, "10:00": 19, "10:30": 18, "11:00": 13, "11:30": 9,
             "14:00": 15, "14:30": 14, "15:00": 13, "15:30": 12, "16:00": 9, "16:30": 7, "17:00": 3}
    services = ["SOC"] * 5 + ["HUK"] * 3 + ["PROP"] * 3 + ["TAX"] * 2 + ["FUND", "BIZ", "INFO", "INFO", "INFO"]
    rng = random.Random(7)
    rows: list[TicketRow] = []
    for start, count in shape.items():
        begin = now.replace(hour=int(start[:2]), minute=int(start[3:]), second=0, microsecond=0)
        if begin + timedelta(minutes=30) > now:
            continue
        for i in range(count):
            issued = begin + timedelta(seconds=rng.uniform(0, 1799))
            wait = timedelta(seconds=rng.uniform(120, 300 + 60 * count))
            handling = timedelta(seconds=rng.uniform(180, 900))
            window = str(rng.randint(1, 9))
            rows.append(TicketRow(
                hall=hall_id, id=f"seed-{start.replace(':', '')}-{i:03d}", day=day, number=f"Z{len(rows):03d}",
                service=rng.choice(services), status="done", tier=TIER_WALK_IN, channel="guide",
                priority="green" if rng.random() < 0.04 else None, appointment_at=None, window=window,
                issued_at=issued, called_at=issued + wait, serving_at=issued + wait + timedelta(seconds=40),
                finished_at=issued + wait + handling, outcome="done", handling_ms=int(handling.total_seconds() * 1000),
                recalls=0, transfers=0, pinned=None, last_event_ms=int(issued.timestamp() * 1000), last_event_seq=0))
    engine = create_engine(f"sqlite:///{server.home / 'hallq.db'}")
    try:
        with Session(engine) as session:
            session.add_all(rows)
            session.commit()
    finally:
        engine.dispose()
    return len(rows)


# -- dashboard -------------------------------------------------------------------------------------
def test_dashboard_follows_queues_windows_and_charts_live(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page(DASHBOARD, role="manager", size=FULL_HD)
    expect(service_cell(page, "SOC", "waiting")).to_have_text("0")
    expect(window_tile(page, "1")).to_have_attribute("data-state", "idle")
    expect(window_tile(page, "2")).to_have_attribute("data-state", "closed")
    expect(page.locator("#link")).to_have_attribute("data-status", "live")

    tickets = [hall.issue("SOC"), hall.issue("SOC"), hall.issue("SOC"), hall.issue("TAX")]
    expect(service_cell(page, "SOC", "waiting")).to_have_text("3")
    expect(service_cell(page, "TAX", "waiting")).to_have_text("1")
    expect(page.locator("#kpi-waiting")).to_have_text("4")
    expect(page.locator("#kpi-issued")).to_have_text("4")  # from the SQL record, a moment behind

    hall.open_windows("2")
    expect(window_tile(page, "2")).to_have_attribute("data-state", "idle")
    hall.window_op("2", "pause", {"reason": "系统故障"})
    expect(window_tile(page, "2")).to_have_attribute("data-state", "paused")
    expect(window_tile(page, "2")).to_contain_text("暂停原因：系统故障")
    expect(window_tile(page, "2")).to_contain_text("暂停服务")

    called = hall.window_op("1", "call-next")["ticket"]
    assert called["number"] == "A001"
    expect(window_tile(page, "1")).to_have_attribute("data-state", "calling")
    expect(window_tile(page, "1").locator('[data-field="ticket"]')).to_have_text("A001")
    expect(service_cell(page, "SOC", "waiting")).to_have_text("2")

    # Arrivals: a bar for the half hour the tickets were issued in, every other half hour empty.
    stats = hall.call("GET", "/stats/today")
    bins = {b["start"] for b in stats["half_hours"]}
    arrivals: dict[str, int] = {}
    for t in tickets:
        arrivals[half_hour(t["issued_at"])] = arrivals.get(half_hour(t["issued_at"]), 0) + 1
    chart = page.locator('#chart-arrivals svg[data-chart="arrivals"]')
    expect(chart).to_have_attribute("data-bars", str(len(bins)))
    for start, count in arrivals.items():
        bar = chart.locator(f'rect.bar[data-label="{start}"]')
        expect(bar).to_have_attribute("data-value", str(count))
        assert float(bar.get_attribute("height") or 0) > 0
    drawn = chart.locator("rect.bar").evaluate_all("bars => bars.map(b => [b.dataset.label, +b.dataset.value])")
    assert {label for label, value in drawn if value} == set(arrivals)
    # Average wait: a point for the half hour A001 was called in.
    expect(page.locator(f'#chart-wait circle.point[data-label="{half_hour(called["called_at"])}"]')).to_have_count(1)

    # The language switch redraws what the page drew itself, charts included.
    page.click("#lang")
    expect(page.locator(".services-card h2")).to_have_text("Queues by service")
    expect(window_tile(page, "2")).to_contain_text("Paused")
    expect(page.locator("#chart-arrivals svg")).to_contain_text("Tickets")


def test_dashboard_refuses_other_roles_and_says_why(hall: Hall) -> None:
    page = hall.open_page(DASHBOARD, role="guide", size=FULL_HD)
    expect(page.locator(".signin-overlay")).to_be_visible()
    expect(page.locator(".signin-problem")).to_contain_text("管理员")
    expect(page.locator(".signin-problem")).to_contain_text("导办台")
    # A manager's token pasted into the panel is accepted and the board fills in.
    page.fill("#signin-token", hall.token("manager"))
    page.click("#signin-submit")
    expect(page.locator(".signin-overlay")).to_have_count(0)
    config = hall.call("GET", "/config")
    expect(page.locator("#service-rows tr")).to_have_count(len(config["services"]))
    expect(page.locator("#windows .win")).to_have_count(len(config["windows"]))


def test_dashboard_alerts_once_per_crossing_until_acknowledged(tight_hall: Callable[[str], Hall]) -> None:
    hall = tight_hall("tight-alert")  # SOC's target wait is 1 s
    hall.open_windows("1")
    page = hall.open_page(DASHBOARD, role="manager", size=FULL_HD)
    expect(page.locator("#alerts")).to_be_hidden()
    hall.issue("SOC")
    alerts = page.locator("#alert-list li")
    expect(alerts).to_have_count(1, timeout=10000)  # past 1 s, seen by the 5 s snapshot refresh
    first = alerts.first
    expect(first).to_have_attribute("data-service", "SOC")
    expect(first).to_contain_text("社保医保")
    expect(first).to_contain_text("已超过目标 1秒")  # a duration, never "0:01"
    expect(first).to_contain_text("首次发现")
    expect(service_cell(page, "SOC", "longest")).to_have_css("color", "rgb(192, 38, 45)")
    expect(service_cell(page, "SOC", "longest")).to_have_text(re.compile(r"^\d{1,2}秒$|^\d{1,2}分\d{1,2}秒$"))
    assert "(1)" in page.title()

    # Later refreshes (timer and events) update it but never add a second row for the same crossing.
    hall.issue("HUK")
    page.wait_for_timeout(5500)
    expect(alerts).to_have_count(1)

    # Nobody waiting any more: the crossing ends, the row stays (marked) until someone acknowledges it.
    hall.window_op("1", "call-next")
    expect(first).to_have_class(re.compile(r"\bended\b"))
    expect(first).to_contain_text("已回落")

    # A new crossing is a new alert, newest on top.
    hall.issue("SOC")
    expect(alerts).to_have_count(2, timeout=10000)
    expect(alerts.first).not_to_have_class(re.compile(r"\bended\b"))
    alerts.nth(1).get_by_role("button", name="知道了").click()
    expect(alerts).to_have_count(1)
    expect(alerts.first).not_to_have_class(re.compile(r"\bended\b"))


def test_dashboard_pins_a_ticket_to_the_front(hall: Hall) -> None:
    hall.open_windows("1")
    issued = [hall.issue("SOC") for _ in range(3)] + [hall.issue("HUK")]
    page = hall.open_page(DASHBOARD, role="manager", size=FULL_HD)
    expect(page.locator("#queue-service")).to_have_value("SOC")  # the busiest line first
    rows = page.locator("#queue-rows tr")
    expect(rows).to_have_count(3)
    expect(rows.locator("td.number")).to_have_text(["A001", "A002", "A003"])

    rows.nth(2).get_by_role("button", name="置顶").click()
    dialog = page.locator("#pin-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#pin-title")).to_have_text("置顶 A003")
    dialog.locator("#pin-submit").click()
    expect(dialog.locator("#pin-problem")).to_have_text("请填写置顶原因。")
    assert hall.call("GET", "/queue?service=SOC")["tickets"][0]["number"] == "A001"  # nothing sent yet

    dialog.get_by_role("button", name="身体不适").click()
    expect(dialog.locator("#pin-reason")).to_have_value("身体不适")
    dialog.locator("#pin-submit").click()
    expect(dialog).to_be_hidden()
    expect(rows.locator("td.number")).to_have_text(["A003", "A001", "A002"])
    expect(rows.first).to_contain_text("已置顶")
    expect(rows.first.get_by_role("button", name="置顶")).to_have_count(0)

    line = hall.call("GET", "/queue?service=SOC")["tickets"]
    assert [t["id"] for t in line] == [issued[2]["id"], issued[0]["id"], issued[1]["id"]]
    assert line[0]["pinned"] == "身体不适"
    # And the next call takes it.
    assert hall.window_op("1", "call-next")["ticket"]["number"] == "A003"
    expect(rows.locator("td.number")).to_have_text(["A001", "A002"])

    page.select_option("#queue-service", "HUK")
    expect(rows.locator("td.number")).to_have_text(["B001"])


def test_dashboard_screenshot(tight_hall: Callable[[str], Hall]) -> None:
    hall = tight_hall("tight-shot")  # 咨询取件's target is 5 s, so its queue shows an alert
    hall.open_windows("1", "2", "3", "4", "5", "6", "7", "8", "9", "12")
    hall.issue("INFO")
    mix = ["SOC"] * 8 + ["HUK"] * 5 + ["PROP"] * 5 + ["TAX"] * 4 + ["FUND"] * 3 + ["BIZ"] * 2 + ["INFO"] * 3
    random.Random(3).shuffle(mix)
    for i, service in enumerate(mix):
        hall.issue(service, priority="green" if i == 4 else None)
    for w in ("1", "2", "3", "5", "8", "9"):
        serve(hall, w)
    for w in ("1", "2", "3", "4", "5", "8", "9"):
        hall.window_op(w, "call-next")
    for w in ("1", "2", "8"):
        hall.window_op(w, "start")
    hall.window_op("6", "pause", {"reason": "临时离岗"})
    seed_morning(hall.server, hall.id)
    page = hall.open_page(DASHBOARD, role="manager", size=FULL_HD)
    expect(page.locator('#alert-list li[data-service="INFO"]')).to_be_visible(timeout=30000)
    expect(page.locator("#kpi-served")).not_to_have_text("—")
    expect(page.locator('#chart-arrivals rect.bar[data-value="0"]')).not_to_have_count(0)
    page.wait_for_timeout(300)
    screenshot(page, "dashboard")


def test_dashboard_fits_a_1366_screen(hall: Hall) -> None:
    hall.open_windows("1", "2")
    hall.issue("SOC")
    page = hall.open_page(DASHBOARD, role="manager", size=(1366, 768), lang="en")
    expect(service_cell(page, "SOC", "waiting")).to_have_text("1")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366, "nothing may stick out sideways"
    expect(page.locator("#kpis")).to_contain_text("Issued today")


# -- phone page ------------------------------------------------------------------------------------
def open_phone(hall: Hall, ticket_id: str, *, key: str | None = None, init_script: str | None = None) -> Page:
    """The phone page as a citizen opens it (no token), 390x844 at device scale 2; JS errors fail the test. With
    ``key``, as the ticket's QR code opens it (``/t/{id}#key=...``), so it may rate the ticket."""
    context = hall.browser.new_context(viewport={"width": PHONE[0], "height": PHONE[1]}, device_scale_factor=2,
                                       locale="zh-CN", timezone_id="Asia/Shanghai", is_mobile=True, has_touch=True)
    # Records vibrations instead of shaking nothing (headless Chromium has no motor).
    context.add_init_script("window.__vibrations = []; "
                            "navigator.vibrate = (p) => { window.__vibrations.push(p); return true; };")
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.on("pageerror", lambda exc: hall.errors.append(f"phone: {exc}"))
    page.on("console", lambda msg: hall.errors.append(f"phone: console.error: {msg.text}")
            if msg.type == "error" else None)
    page.goto(f"{hall.base_url}/t/{ticket_id}" + (f"#key={key}" if key else ""))
    return page


def test_phone_follows_its_ticket_until_done(hall: Hall) -> None:
    hall.open_windows("1", "5")
    first, second, mine = hall.issue("SOC"), hall.issue("SOC"), hall.issue("SOC")
    page = open_phone(hall, mine["id"])
    expect(page.locator("#number")).to_have_text("A003")
    expect(page.locator("#service")).to_have_text("社保医保")
    expect(page.locator("#ahead")).to_have_text("2")
    expect(page.locator("#issued")).to_have_text(mine["issued_at"][11:16])
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    expect(page.locator("#turn")).to_be_hidden()
    page.locator("main").tap()  # a citizen's first touch: from now on the browser lets the page vibrate

    assert serve(hall, "1")["id"] == first["id"]
    expect(page.locator("#ahead")).to_have_text("1")
    expect(page.locator("#last-call")).to_have_text("A001")
    expect(page.locator("#last-call-window")).to_have_text("1号窗口")
    assert "前面 1 人" in page.title()
    screenshot(page, "phone-waiting")

    assert hall.window_op("5", "call-next")["ticket"]["id"] == second["id"]
    expect(page.locator("#ahead")).to_have_text("0")
    expect(page.locator("#wait")).to_have_text("即将叫号")  # first in line, and window 1 is free (it finished A001)
    expect(page.locator("#last-call")).to_have_text("A002")

    turn = page.locator("#turn")
    called_at = time.monotonic()
    assert hall.window_op("1", "call-next")["ticket"]["id"] == mine["id"]
    expect(turn).to_contain_text("轮到您了", timeout=1000)
    expect(turn).to_contain_text("请到 1号窗口", timeout=1000)
    assert time.monotonic() - called_at < 1.5
    expect(page).to_have_title(re.compile("轮到您了"))
    assert page.evaluate("window.__vibrations.length") == 1
    expect(page.locator("#fact-ahead")).to_be_hidden()
    screenshot(page, "phone-called")

    hall.window_op("1", "recall")
    expect(turn).to_contain_text("第 2 次呼叫")
    assert page.evaluate("window.__vibrations.length") == 2

    hall.window_op("1", "start")
    expect(turn).to_contain_text("正在办理")
    hall.window_op("1", "finish", {"outcome": "done"})
    expect(turn).to_contain_text("办理完成，感谢您的耐心")
    expect(page.locator("#status")).to_have_text("已办结")

    page.click("#lang")
    expect(turn).to_contain_text("All done, thank you for your patience")
    expect(page.locator("#status")).to_have_text("Done")
    expect(page.locator("#service")).to_have_text("Social security")


def test_phone_shows_missed_and_cancelled(hall: Hall) -> None:
    hall.open_windows("1")
    missed, cancelled = hall.issue("SOC"), hall.issue("SOC")
    missed_page = open_phone(hall, missed["id"])
    cancelled_page = open_phone(hall, cancelled["id"])
    expect(missed_page.locator("#ahead")).to_have_text("0")
    hall.window_op("1", "call-next")
    expect(missed_page.locator("#turn")).to_contain_text("轮到您了")
    hall.window_op("1", "no-show")
    expect(missed_page.locator("#turn")).to_contain_text("您已过号")  # then the rule: test_no_show_texts.py
    hall.call("POST", f"/tickets/{cancelled['id']}/cancel", role="guide")
    expect(cancelled_page.locator("#turn")).to_contain_text("号票已取消")


def test_phone_polls_when_the_websocket_is_unavailable(hall: Hall) -> None:
    hall.open_windows("1")
    mine = hall.issue("SOC")
    # A network that lets plain HTTP through but no websocket: every socket fails as it opens.
    no_websocket = """
      window.WebSocket = class {
        constructor() { setTimeout(() => this.onclose && this.onclose({ code: 1006, reason: "" }), 20); }
        send() {} close() {}
      };
    """
    page = open_phone(hall, mine["id"], init_script=no_websocket)
    expect(page.locator("#ahead")).to_have_text("0")
    expect(page.locator("#link")).to_contain_text("每 10 秒自动刷新")
    hall.window_op("1", "call-next")
    expect(page.locator("#turn")).to_contain_text("请到 1号窗口", timeout=12000)


def test_phone_unknown_ticket_gets_the_friendly_404(hall: Hall) -> None:
    page = hall.browser.new_context(viewport={"width": PHONE[0], "height": PHONE[1]}).new_page()
    reply = page.goto(f"{hall.base_url}/t/20250101-000000000000")
    assert reply is not None
    assert reply.status == 404
    expect(page.locator("h1")).to_have_text("号票不存在")
    expect(page.locator("main")).to_contain_text("导办台")


# -- 好差评: the dashboard's 差评 alert and cases panel, the phone's rating -----------------------------
ALERT_WITHIN_MS = 1000  # issue 8: a 差评 raises an alert on the manager dashboard within a second


def served_ticket(hall: Hall, window: str) -> dict[str, Any]:
    """A SOC ticket issued and served to the end at ``window``; the ticket as issued (with its key)."""
    issued: dict[str, Any] = hall.issue("SOC")
    assert serve(hall, window)["id"] == issued["id"]
    return issued


def overdue_case_in_record(server: LiveServer, hall_id: str, ticket_id: str, days_ago: int) -> None:
    """A 差评 and its case put straight into the record, rated ``days_ago`` days ago: past both deadlines."""
    rated_at = datetime.now(ZONE) - timedelta(days=days_ago)
    day = rated_at.strftime("%Y%m%d")
    engine = create_engine(f"sqlite:///{server.home / 'hallq.db'}")
    try:
        with Session(engine) as session:
            session.add(RatingRow(hall=hall_id, ticket=ticket_id, day=day, number="A901", service="SOC", window="2",
                                  score=1, bad=True, source="qr", comment=None, late=False, rated_at=rated_at,
                                  stream_ms=1, stream_seq=0))
            session.flush()
            session.add(CaseRow(hall=hall_id, ticket=ticket_id, day=day, number="A901", service="SOC", window="2",
                                score=1, status="awaiting_callback", opened_at=rated_at,
                                callback_due=rated_at + timedelta(days=1), fix_due=rated_at + timedelta(days=5)))
            session.commit()
    finally:
        engine.dispose()


def test_a_bad_rating_alerts_the_dashboard_within_a_second(hall: Hall) -> None:
    hall.open_windows("5")
    good, bad, worse = served_ticket(hall, "5"), served_ticket(hall, "5"), served_ticket(hall, "5")
    page = hall.open_page(DASHBOARD, role="manager", size=FULL_HD)
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    expect(page.locator("#cases-empty")).to_be_visible()

    hall.rate(good, 4)  # not a 差评: no alert
    delays = []
    # One by the ticket's QR code, the other (the ticket window 5 finished last) from the window's pad.
    for ticket, score, pad in ((bad, 2, None), (worse, 1, "5")):
        sent_ms = time.time() * 1000
        hall.rate(ticket, score, pad=pad, comment="等了很久" if score == 1 else None)
        banner = page.locator(f'#bad-list li[data-ticket="{ticket["id"]}"]')
        expect(banner).to_be_visible(timeout=ALERT_WITHIN_MS)
        expect(banner).not_to_have_attribute("data-shown-at", "")
        delays.append(float(banner.get_attribute("data-shown-at") or "inf") - sent_ms)
    assert max(delays) < ALERT_WITHIN_MS, f"差评 reached the dashboard after {delays} ms"

    banners = page.locator("#bad-list li")
    expect(banners).to_have_count(2)  # the good rating raised none; the newest is on top
    top = banners.first
    for text in ("差评", worse["number"], "5号窗口", "非常不满意", "等了很久"):
        expect(top).to_contain_text(text)
    expect(banners.nth(1)).to_contain_text("不满意")
    assert page.locator("#bad-ratings").evaluate("e => getComputedStyle(e.querySelector('li')).backgroundColor") == (
        "rgb(192, 38, 45)")

    # The archiver opens a case for each; the panel lists them, with the way to the cases page.
    rows = page.locator("#case-rows tr")
    expect(rows).to_have_count(2, timeout=5000)
    expect(page.locator(f'#case-rows tr[data-case="{worse["id"]}"]')).to_contain_text("待回访核实")
    expect(page.locator("#cases-count")).to_have_text("2 件未办结")
    assert "cases#token=" in (page.locator("#cases-link").get_attribute("href") or "")
    screenshot(page, "dashboard-bad-rating")

    with page.context.expect_page() as opened:
        top.get_by_role("link", name="处理").click()
    case_page = opened.value
    expect(case_page.locator("#d-title")).to_contain_text(worse["number"])
    expect(case_page.locator("#sf-title")).to_have_text("登记回访核实")
    case_page.close()

    top.get_by_role("button", name="知道了").click()
    expect(banners).to_have_count(1)
    expect(banners.first).to_have_attribute("data-ticket", bad["id"])


def test_the_dashboard_marks_overdue_cases(hall: Hall) -> None:
    overdue_case_in_record(hall.server, hall.id, f"{datetime.now(ZONE):%Y%m%d}-00000000abcd", days_ago=8)
    hall.open_windows("5")
    fresh = served_ticket(hall, "5")
    hall.rate(fresh, 2, pad="5")  # the ticket window 5 finished last, from its pad
    page = hall.open_page(DASHBOARD, role="manager", size=FULL_HD)
    rows = page.locator("#case-rows tr")
    expect(rows).to_have_count(2, timeout=5000)
    expect(rows.first).to_have_class("overdue")  # overdue first, in red
    expect(rows.first).to_contain_text("A901")
    expect(rows.first).to_contain_text("超期")
    expect(rows.nth(1)).not_to_have_class("overdue")
    expect(page.locator("#cases-overdue")).to_have_text("1 件超期")


def test_phone_rates_its_ticket_once_it_is_done(hall: Hall) -> None:
    hall.open_windows("1")
    mine = hall.issue("SOC")
    page = open_phone(hall, mine["id"], key=mine["key"])  # as the ticket's QR code opens it
    expect(page.locator("#number")).to_have_text("A001")
    expect(page.locator("#rate")).to_be_hidden()
    serve(hall, "1")
    form = page.locator("#rate")
    expect(form).to_be_visible()
    expect(page.locator("#rate-keyless")).to_be_hidden()
    expect(form.locator("h2")).to_have_text("请为本次服务评价")
    expect(page.locator("#rate-more")).to_be_hidden()
    form.locator('button[data-score="4"]').tap()
    expect(form.locator('button[data-score="4"]')).to_have_attribute("aria-checked", "true")
    page.fill("#rate-comment", "窗口服务\n很耐心")
    screenshot(page, "phone-rate")
    page.click("#rate-submit")
    expect(page.locator("#rated")).to_be_visible()
    expect(page.locator("#rated-level")).to_have_text("满意")
    expect(form).to_be_hidden()
    state = hall.rating_state(mine)
    assert (state["rated"], state["rating"]["score"]) == (True, 4)
    stored = [r for r in hall.call("GET", "/ratings")["ratings"] if r["ticket"] == mine["id"]]
    deadline = time.monotonic() + 10
    while not stored and time.monotonic() < deadline:
        time.sleep(0.1)
        stored = [r for r in hall.call("GET", "/ratings")["ratings"] if r["ticket"] == mine["id"]]
    assert [(r["source"], r["comment"]) for r in stored] == [("qr", "窗口服务 很耐心")]

    page.reload()  # once rated, always "already rated": never a second form
    expect(page.locator("#rated")).to_be_visible()
    expect(page.locator("#rate")).to_be_hidden()
    page.goto(f"{hall.base_url}/t/{mine['id']}")  # the bare address on the same phone: the key was kept
    expect(page.locator("#rated")).to_be_visible()
    expect(page.locator("#rate-keyless")).to_be_hidden()
    page.click("#lang")
    expect(page.locator("#rated-level")).to_have_text("Satisfied")


def test_phone_says_already_rated_when_the_pad_was_used(hall: Hall) -> None:
    hall.open_windows("1")
    mine = hall.issue("SOC")
    page = open_phone(hall, mine["id"], key=mine["key"])
    serve(hall, "1")
    expect(page.locator("#rate")).to_be_visible()
    hall.rate(mine, 5, pad="1")  # the citizen tapped the pad beside the window instead
    page.locator('#rate button[data-score="1"]').tap()
    page.click("#rate-submit")
    expect(page.locator("#rated")).to_be_visible()
    expect(page.locator("#rated-level")).to_have_text("非常满意")
    hall.forgive_refusals(409)  # the refused second rating, logged by Chromium as any 4xx is


def test_phone_without_the_key_only_says_where_to_rate_and_with_it_rates(hall: Hall) -> None:
    hall.open_windows("1")
    mine = hall.issue("SOC")
    page = open_phone(hall, mine["id"])  # the address typed from the ticket id: no #key=
    expect(page.locator("#number")).to_have_text("A001")
    serve(hall, "1")
    expect(page.locator("#rate-keyless")).to_be_visible()
    expect(page.locator("#rate-keyless")).to_contain_text("评价请扫描号票上的二维码")
    page.wait_for_timeout(500)  # time for a form that should not come
    expect(page.locator("#rate")).to_be_hidden()
    expect(page.locator("#rate-levels button")).to_have_count(5)  # drawn, but never shown
    expect(page.locator("#rated")).to_be_hidden()
    # The id alone proves nothing to the server either, and another ticket's key does not fit this one.
    url = f"/api/v1/halls/{hall.id}/tickets/{mine['id']}/rating"
    assert hall.http.get(url).status_code == 401
    assert hall.http.post(url, json={"score": 1, "source": "qr"}).status_code == 401
    other = hall.issue("SOC")
    assert hall.http.post(url, json={"score": 1}, headers={"X-Ticket-Key": other["key"]}).status_code == 403
    assert hall.rating_state(mine)["rated"] is False

    keyed = open_phone(hall, mine["id"], key=mine["key"])  # the ticket's QR code, scanned
    expect(keyed.locator("#rate")).to_be_visible()
    expect(keyed.locator("#rate-keyless")).to_be_hidden()
    keyed.locator('#rate button[data-score="5"]').tap()
    keyed.click("#rate-submit")
    expect(keyed.locator("#rated")).to_be_visible()
    expect(keyed.locator("#rated")).to_contain_text("您已评价")
    expect(keyed.locator("#rated-level")).to_have_text("非常满意")
    state = hall.rating_state(mine)
    assert (state["rated"], state["rating"]["score"]) == (True, 5)
