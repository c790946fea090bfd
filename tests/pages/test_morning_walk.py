"""A morning in a hall, walked through the pages only, as its people do, in Chromium against a real server.

Two window staff open their windows from their consoles. The guide finds 社保 and 户籍 by typing their Chinese
names and issues A001 and B001; a citizen at the kiosk finds 社保 on the A-Z keys and takes A002. Window 1 calls A001
and serves it; window 3 calls B001, recalls it and, when the hall's rule allows (one recall, 2 s after the call),
marks it 过号; window 1 calls A002, which the citizen meant for 税务, and transfers it; window 3 calls and serves it.
Each citizen rates on the phone page their ticket's QR code opens: A001 非常满意, A002 非常不满意, which reaches the
manager's dashboard at once. Then every screen is read and held to the morning and to every other screen: the two
consoles' own counts, the dashboard's, the report of the day by window with its totals and its 好评率, the dashboard's
chart of today's ratings, and the lobby display's last call.

The API is used only to find what a person reads off paper (the printed ticket's QR code) and never to act.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.pages.conftest import Hall, spoken
from tests.pages.test_dashboard_phone import open_phone
from tests.pages.test_guide_kiosk import printed, record_printing
from tests.pages.test_search import kiosk_finds, tap

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

# The hall's no-show rule for this morning: one recall and 2 s after the call; a no-show who returns queues again.
HALL_POLICY = {"no_show_after_recalls": "1", "no_show_after_s": "2", "returning": '"requeue"'}
LATE = 15_000  # ms: figures from the SQL record are a moment behind the floor


def phone_of(printing_page: Page, count: int = 1) -> tuple[str, str]:
    """(ticket id, key) from a page's ``count``-th printed ticket: what its QR code gives the citizen's phone."""
    path = printed(printing_page, count)[count - 1]  # /t/{id}/print?lang=..&key=..
    return path.split("/")[2], parse_qs(urlparse(path).query)["key"][0]


def rate(phone: Page, score: int, comment: str | None = None) -> None:
    form = phone.locator("#rate")
    expect(form).to_be_visible(timeout=LATE)
    form.locator(f'button[data-score="{score}"]').click()
    if comment:
        phone.fill("#rate-comment", comment)
    phone.click("#rate-submit")
    expect(phone.locator("#rated")).to_be_visible()


def call_and_serve(console: Page, number: str, display: Page, phone: Page, window: str) -> None:
    """F1 calls ``number``, which the lobby shows and the phone tells its holder; F3 starts, F4 finishes (办结)."""
    console.keyboard.press("F1")
    expect(console.locator("#t-number")).to_have_text(number)
    expect(display.locator("#now-number")).to_have_text(number)
    expect(display.locator("#now-window")).to_contain_text(window)
    expect(phone.locator("#turn")).to_contain_text(window)
    console.keyboard.press("F3")
    expect(console.locator("#state")).to_have_text("办理中")
    console.keyboard.press("F4")
    expect(console.locator("#state")).to_have_text("空闲")


def field(scope: Locator, name: str) -> Locator:
    return scope.locator(f'[data-field="{name}"]')


def test_a_morning_walked_through_the_pages_agrees_on_every_screen(hall: Hall) -> None:
    display = hall.open_page("/halls/{hall}/display?chime=0&repeat=1", role="display", size=(1920, 1080))
    dashboard = hall.open_page("/halls/{hall}/dashboard", role="manager", size=(1920, 1080))
    console1 = hall.open_page("/halls/{hall}/console", role="staff", window="1", size=(1366, 768))
    console3 = hall.open_page("/halls/{hall}/console", role="staff", window="3", size=(1366, 768))
    guide = hall.open_page("/halls/{hall}/guide", role="guide", size=(1180, 820))
    kiosk = hall.open_page("/halls/{hall}/kiosk", role="kiosk", size=(1080, 1920))
    for page in (guide, kiosk):
        record_printing(page)

    # 08:55 the windows open from their consoles.
    for console in (console1, console3):
        expect(console.locator("#state")).to_have_text("未开放")
        console.click("#act-open")
        expect(console.locator("#state")).to_have_text("空闲")
    expect(dashboard.locator("#kpi-open")).to_have_text("2 / 12")

    # 09:00 the guide types what people say they need, in Chinese, and issues.
    for query, code, number in (("社保", "SOC", "A001"), ("户籍", "HUK", "B001")):
        guide.locator("#search").fill(query)
        expect(guide.locator(".tile:visible")).to_have_count(1)
        guide.locator(f'.tile[data-code="{code}"]').click()
        guide.click("#issue")
        expect(guide.locator("#r-number")).to_have_text(number)
        guide.click("#next")
    a001_id, a001_key = phone_of(guide, 1)

    # A citizen at the kiosk finds 社保 on the A-Z keys, skips the sub-item and the ID number, and takes A002.
    # (The kiosk learns of the windows that opened within its next poll: until then its tiles say 暂无窗口办理.)
    expect(kiosk.locator(".k-tile[data-code=SOC] .k-tile-line")).to_contain_text("人等候", timeout=LATE)
    kiosk.locator("#k-search").click()
    tap(kiosk, "SB")
    kiosk_finds(kiosk, ["社保医保"])
    kiosk.locator(".k-tile[data-code=SOC]").click()
    kiosk.locator("#item-skip").click()
    kiosk.locator("#take").click()
    expect(kiosk.locator("#d-number")).to_have_text("A002")
    expect(kiosk.locator("#d-ahead")).to_have_text("1 人")
    a002_id, a002_key = phone_of(kiosk)
    expect(dashboard.locator("#kpi-waiting")).to_have_text("3")

    phone1 = open_phone(hall, a001_id, key=a001_key)
    phone2 = open_phone(hall, a002_id, key=a002_key)
    expect(phone1.locator("#number")).to_have_text("A001")
    expect(phone2.locator("#ahead")).to_have_text("1")

    # Window 1 calls A001 and serves it; the lobby says so and the phone says it is A001's turn.
    call_and_serve(console1, "A001", display, phone1, "1号窗口")
    expect(phone2.locator("#ahead")).to_have_text("0")
    rate(phone1, 5)

    # Window 3 calls B001, who does not come: a recall, then 过号 once the hall's rule allows it, not before.
    console3.keyboard.press("F1")
    expect(console3.locator("#t-number")).to_have_text("B001")
    expect(console3.locator("#act-no-show")).to_be_disabled()
    expect(console3.locator("#no-show-why")).to_contain_text("过号须先重呼 1 次")
    console3.keyboard.press("F2")
    expect(console3.locator("#t-recalls")).to_have_text("1 / 3")
    expect(console3.locator("#act-no-show")).to_be_enabled(timeout=10_000)
    console3.click("#act-no-show")
    expect(console3.locator("#state")).to_have_text("空闲")
    expect(console3.locator("#miss-list .l-number")).to_have_text(["B001"])

    # Window 1 calls A002, who came for 税务 after all: transferred, with its reason.
    console1.keyboard.press("F1")
    expect(console1.locator("#t-number")).to_have_text("A002")
    expect(phone2.locator("#turn")).to_contain_text("1号窗口")
    console1.click("#act-transfer")
    console1.select_option("#transfer-service", "TAX")
    console1.fill("#transfer-reason", "群众实际办理税务业务")
    console1.click("#transfer-submit")
    expect(console1.locator("#state")).to_have_text("空闲")
    expect(console3.locator("#waiting-list .l-number")).to_have_text(["A002"])  # window 3 takes 税务

    # Window 3 calls and serves A002; the citizen rates it 非常不满意, and the manager sees it at once.
    call_and_serve(console3, "A002", display, phone2, "3号窗口")
    rate(phone2, 1, "等了很久，还被转了一次")
    expect(dashboard.locator(f'#bad-list li[data-ticket="{a002_id}"]')).to_contain_text("A002", timeout=LATE)

    # -- every screen, held to the morning ---------------------------------------------------------------------
    # The lobby spoke each call once (the recall of B001 too), in order; it ends on A002 at window 3.
    display.wait_for_function("window.__spoken.length >= 5")
    assert [s["text"] for s in spoken(display)] == ["请A001号到1号窗口", "请B001号到3号窗口", "请B001号到3号窗口",
                                                     "请A002号到1号窗口", "请A002号到3号窗口"]

    # The consoles: window 1 served A001 (A002 it passed on), window 3 served A002 and marked B001 过号.
    for console, served, missed in ((console1, "1", "0"), (console3, "1", "1")):
        expect(console.locator("#today-served")).to_have_text(served, timeout=LATE)
        expect(console.locator("#today-missed")).to_have_text(missed, timeout=LATE)

    # The dashboard: three issued, nobody waiting, two served, one 过号, two windows open.
    for kpi, value in (("issued", "3"), ("waiting", "0"), ("served", "2"), ("missed", "1"), ("open", "2 / 12")):
        expect(dashboard.locator(f"#kpi-{kpi}")).to_have_text(value, timeout=LATE)
    expect(guide.locator('.tile[data-code="SOC"] .waiting b')).to_have_text("0")

    # The report of the day, by window: the same counts, and 好评率 50% from one 非常满意 and one 非常不满意.
    reports = hall.open_page("/halls/{hall}/reports", role="manager", size=(1600, 900))
    reports.select_option("#by", "window")
    reports.click("#run")
    totals = reports.locator("#totals")
    for name, value in (("issued", "3"), ("served", "2"), ("good_rate", "50.0%"), ("bad", "1")):
        expect(field(totals, name).locator(".kpi-value")).to_have_text(value, timeout=LATE)
    total = reports.locator('#report-total tr[data-key="total"]')
    for name, value in (("missed", "1"), ("rating_5", "1（50.0%）"), ("rating_1", "1（50.0%）")):
        expect(field(total, name)).to_have_text(value)
    stars = {w: reports.locator(f'#star-rows tr[data-window="{w}"]') for w in ("1", "3")}
    expect(field(stars["1"], "good_rate")).to_have_text("100.0%")
    expect(field(stars["3"], "good_rate")).to_have_text("0.0%")

    # ...and each figure a second screen shows, it shows alike: a window's report row and its console, the
    # report's totals and the dashboard, the report's 好评率 and the dashboard's chart of today's ratings.
    for window, console in (("1", console1), ("3", console3)):
        row = reports.locator(f'#report-rows tr[data-key="{window}"]')
        for name, shown_on_console in (("served", "#today-served"), ("missed", "#today-missed"),
                                       ("avg_wait_s", "#today-wait")):
            expect(field(row, name)).to_have_text(console.locator(shown_on_console).inner_text())
    for name, kpi in (("served", "served"), ("missed", "missed"), ("issued", "issued"), ("avg_wait_s", "avg")):
        expect(field(total, name)).to_have_text(dashboard.locator(f"#kpi-{kpi}").inner_text())
    dashboard.click("#report-panel summary")
    expect(dashboard.locator("#report-chart-ratings")).to_have_attribute("data-loaded", "1", timeout=LATE)
    assert "好评率 50.0%" in (dashboard.locator("#report-chart-ratings").get_attribute("alt") or "")
