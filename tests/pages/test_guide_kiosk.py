"""The guide desk, the kiosk, the printed 58 mm ticket and the printed 一次性告知书, in Chromium against the real
server.

What is checked is what a citizen or guide sees and what the server recorded: tickets found in GET /queue
or GET /tickets/{id} with the right service, sub-item, channel, priority and reason, refusals shown in the server's
words, and printing handed the ticket or notice page (window.print is replaced by a recorder: headless Chromium has
no printer). Appointment check-in runs on a server of its own whose clock the test sets (bookings are for days
ahead, and checked in on their day).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from floor.http.auth import ticket_key
from tests.conftest import SHANGHAI
from tests.pages.conftest import Hall, screenshot
from tests.server.conftest import (
    LiveServer,
    ServerClock,
    delete_prefix_sync,
    id_check_digit,
    make_id_number,
    start_server,
    stop_server,
    with_bad_check_digit,
    write_hall_copy,
)

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

GUIDE = "/halls/{hall}/guide"
KIOSK = "/halls/{hall}/kiosk"
GUIDE_SIZE = (1180, 820)
KIOSK_SIZE = (1080, 1920)
MM = 72 / 25.4  # PDF points per millimetre

# Every frame's print() (the guide's and kiosk's hidden ticket frame included) leaves its page's path and
# query in the top window's list instead of opening a print dialog: every page that issues uses it.
PRINT_RECORDER = """
window.print = () => { (window.top.__printed ||= []).push(location.pathname + location.search); };
"""


def record_printing(page: Page) -> None:
    page.context.add_init_script(PRINT_RECORDER)


def printed(page: Page, count: int = 1) -> list[str]:
    page.wait_for_function(f"(window.__printed || []).length >= {count}")
    result: list[str] = page.evaluate("window.__printed")
    return result


def printed_ticket_id(page: Page, count: int = 1) -> str:
    """The ticket of the page's ``count``-th print, from the ticket page its frame loaded (/t/{id}/print)."""
    done = printed(page, count)
    match = re.fullmatch(r"/t/([^/]+)/print.*", done[count - 1])
    assert match, done
    return match.group(1)


def forgive_lost_requests(hall: Hall) -> None:
    """A request the test cut off on purpose is logged by Chromium as a failed load, not a page fault."""
    hall.errors[:] = [e for e in hall.errors if "net::ERR_FAILED" not in e]


def waiting_numbers(hall: Hall, service: str | None = None) -> list[str]:
    query = f"?service={service}" if service else ""
    return [t["number"] for t in hall.call("GET", f"/queue{query}", role="guide")["tickets"]]


# -- guide desk ----------------------------------------------------------------------------------
def test_guide_finds_services_by_pinyin_initials_and_issues_green_channel(hall: Hall) -> None:
    hall.open_windows("1", "2")
    hall.issue("SOC")
    hall.issue("SOC")
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    expect(page.locator(".tile[data-code=SOC] .waiting b")).to_have_text("2")

    page.keyboard.type("hj")  # typing anywhere goes to the search box
    expect(page.locator("#search")).to_have_value("hj")
    expect(page.locator(".tile:visible")).to_have_count(1)
    expect(page.locator(".tile:visible .name")).to_have_text("户籍办理")

    page.locator("#search").fill("sb")
    expect(page.locator(".tile:visible .name")).to_have_text(["社保医保"])
    page.keyboard.press("Enter")  # the single match is picked and the ID number field comes next
    expect(page.locator("#chosen-name")).to_have_text("A · 社保医保")
    expect(page.locator("#id-number")).to_be_focused()

    page.locator("#priority").select_option("pregnant")
    page.locator("#issue").click()
    expect(page.locator("#r-number")).to_have_text("A003")
    expect(page.locator("#r-service")).to_have_text("社保医保")
    expect(page.locator("#r-priority")).to_have_text("绿色通道 · 孕妇")
    expect(page.locator("#r-ahead")).to_have_text("0 人")  # the green channel goes before both walk-ins

    ticket = hall.call("GET", f"/tickets/{printed_ticket_id(page)}")
    assert (ticket["number"], ticket["service"], ticket["priority"], ticket["green_reason"], ticket["channel"]) == \
        ("A003", "SOC", "green", "pregnant", "guide")
    assert waiting_numbers(hall, "SOC") == ["A003", "A001", "A002"]
    # The frame that printed holds the ticket page of that very ticket.
    frame = page.frame_locator("iframe.hallq-print-frame")
    expect(frame.locator("#number")).to_have_text("A003")
    expect(page.locator("#r-print-state")).to_have_text("已送打印机，请将号票交给办事人。")

    # The next citizen: typing starts over (the card goes, the form is empty); a plain ticket has no priority.
    page.keyboard.type("TAX")
    expect(page.locator("#result")).to_be_hidden()
    expect(page.locator("#search")).to_have_value("TAX")
    expect(page.locator("#priority")).to_have_value("")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # in the ID number field: submits the form
    expect(page.locator("#r-number")).to_have_text("D001")
    expect(page.locator("#r-priority")).to_be_hidden()
    assert hall.call("GET", f"/tickets/{printed_ticket_id(page, 2)}")["priority"] is None


def test_guide_checks_the_id_number_and_shows_the_servers_refusal(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.locator(".tile[data-code=SOC]").click()
    id_field = page.locator("#id-number")

    # A mistyped digit is caught on the tablet: nothing is sent.
    id_field.fill(with_bad_check_digit(make_id_number(date(1985, 6, 1))))
    page.locator("#issue").click()
    expect(page.locator("#id-problem")).to_contain_text("校验位")
    assert posts == []

    # A check digit that fits a birth date that does not exist: only the server can tell.
    first17 = "110105" + "19851340" + "123"
    bad_date = first17 + id_check_digit(first17)
    refusal = hall.call("POST", "/tickets", role="guide", json={"service": "SOC", "id_number": bad_date}, expect=422)
    id_field.fill(bad_date)
    page.keyboard.press("Tab")
    expect(id_field).to_have_value("110***********" + bad_date[-4:])  # masked once entered, never shown again
    page.locator("#issue").click()
    expect(page.locator("#id-problem")).to_have_text(refusal["error"]["message"])
    expect(page.locator("#result")).to_be_hidden()
    assert waiting_numbers(hall) == []

    # Re-entered correctly, the same desk issues; the ID number is not on the page afterwards.
    good = make_id_number(date(1985, 6, 1))
    page.locator("#id-clear").click()
    id_field.fill(good)
    page.locator("#issue").click()
    expect(page.locator("#r-number")).to_have_text("A001")
    assert good not in page.content()
    assert waiting_numbers(hall) == ["A001"]

    # The same person again for the same service: refused, in the server's words.
    page.locator("#next").click()
    page.locator(".tile[data-code=SOC]").click()
    id_field.fill(good)
    page.locator("#issue").click()
    expect(page.locator("#issue-problem")).to_contain_text(re.compile("已持有.*A001号"))
    assert waiting_numbers(hall) == ["A001"]
    hall.forgive_refusals(409)
    hall.forgive_refusals(422)


def test_guide_retry_after_a_lost_reply_gets_the_same_ticket(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    keys: list[str | None] = []

    def lose_first_reply(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()  # the server issues the ticket ...
            route.abort()  # ... but the reply never reaches the tablet
        else:
            route.continue_()

    page.route("**/api/v1/halls/*/tickets", lose_first_reply)
    page.locator(".tile[data-code=HUK]").click()
    page.locator("#issue").click()
    expect(page.locator("#issue-problem")).to_contain_text("网络")
    assert waiting_numbers(hall) == ["B001"]  # it was issued, the desk just did not hear

    page.locator("#issue").click()  # the guide tries again
    expect(page.locator("#r-number")).to_have_text("B001")
    assert waiting_numbers(hall) == ["B001"]
    assert keys[0]
    assert keys[1] == keys[0]

    page.locator("#next").click()  # a new citizen is a new request, even for the same service
    page.locator(".tile[data-code=HUK]").click()
    page.locator("#issue").click()
    expect(page.locator("#r-number")).to_have_text("B002")
    assert keys[2] != keys[0]
    assert waiting_numbers(hall) == ["B001", "B002"]
    forgive_lost_requests(hall)


def test_guide_disables_a_service_no_window_handles_and_cancels_a_ticket(hall: Hall) -> None:
    hall.open_windows("1")  # window 1 handles everything but 不动产登记 (PROP)
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    prop = page.locator(".tile[data-code=PROP]")
    expect(prop).to_be_disabled()
    expect(prop.locator(".off-note")).to_have_text("暂无窗口办理")
    expect(page.locator(".tile[data-code=SOC]")).to_be_enabled()
    page.locator("#search").fill("bdc")
    page.keyboard.press("Enter")
    expect(page.locator("#issue-problem")).to_contain_text("暂无窗口办理")
    expect(page.locator("#issue")).to_be_disabled()

    # A window that takes PROP opens: within a poll the tile comes alive.
    hall.open_windows("9")
    expect(prop).to_be_enabled(timeout=8000)

    page.locator("#search").fill("")
    page.locator(".tile[data-code=FUND]").click()
    page.locator("#issue").click()
    expect(page.locator("#r-number")).to_have_text("E001")
    ticket_id = printed_ticket_id_from_frame(page)
    page.locator("#cancel").click()
    expect(page.locator("#cancel-confirm")).to_be_visible()
    expect(page.locator("#cancel-question")).to_have_text("确定取消 E001 号？")
    page.locator("#cancel-no").click()  # second thoughts: nothing happens
    expect(page.locator("#cancel-confirm")).to_be_hidden()
    assert hall.call("GET", f"/tickets/{ticket_id}")["status"] == "waiting"

    page.locator("#cancel").click()
    page.locator("#cancel-yes").click()
    expect(page.locator("#r-title")).to_have_text("此号已取消")
    expect(page.locator("#cancel")).to_be_hidden()
    assert hall.call("GET", f"/tickets/{ticket_id}")["status"] == "cancelled"
    assert waiting_numbers(hall) == []


def printed_ticket_id_from_frame(page: Page) -> str:
    src = page.locator("iframe.hallq-print-frame").get_attribute("src") or ""
    return urlparse(src).path.split("/")[2]


def test_guide_speaks_english_and_refuses_other_roles(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    expect(page.locator(".topbar .title")).to_have_text("导办台")
    page.locator("#lang").click()
    expect(page.locator(".topbar .title")).to_have_text("Guide desk")
    expect(page.locator("#issue span")).to_have_text("Issue ticket")
    expect(page.locator(".tile[data-code=SOC] .name")).to_have_text("Social security")
    expect(page.locator(".tile[data-code=PROP] .off-note")).to_have_text("No window open for it")
    expect(page.locator("#search")).to_have_attribute("placeholder", re.compile("pinyin"))
    expect(page.locator("#lang")).to_have_text("中文")
    page.locator(".tile[data-code=SOC]").click()
    page.locator("#issue").click()
    expect(page.locator("#r-title")).to_have_text("Ticket issued")
    expect(page.locator("#next")).to_have_text("Next citizen")

    kiosk_on_guide = hall.open_page(GUIDE, role="kiosk", size=GUIDE_SIZE)
    expect(kiosk_on_guide.locator(".signin-problem")).to_contain_text("此页面需要导办员或管理员令牌")
    expect(kiosk_on_guide.locator("#desk")).to_be_hidden()


def test_guide_screenshot(hall: Hall) -> None:
    hall.open_windows("1", "2", "3", "4")
    for service, count in (("SOC", 14), ("HUK", 6), ("TAX", 3), ("FUND", 2), ("BIZ", 1), ("INFO", 4)):
        for _ in range(count):
            hall.issue(service)
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    expect(page.locator(".tile[data-code=SOC] .waiting b")).to_have_text("14")
    screenshot(page, "guide-services")
    page.keyboard.type("sb")
    page.keyboard.press("Enter")
    page.locator(".item-chip[data-item=SOC-RETIRE]").click()
    for number in (1, 2, 3):
        page.locator(f"#m-{number}").check()
    page.locator("#id-number").fill(make_id_number(date(1950, 3, 2)))  # 60+: the server puts them first
    page.locator("#issue").click()
    expect(page.locator("#r-number")).to_have_text("A015")
    expect(page.locator("#r-priority")).to_have_text("绿色通道 · 老年人")
    expect(page.locator("#r-item")).to_have_text("职工退休待遇申领")
    printed(page)
    page.locator("#back").click()
    expect(page.locator(".tile[data-code=SOC] .waiting b")).to_have_text("15")
    page.locator(".tile[data-code=SOC]").click()  # back to the checklist, as the guide left it
    expect(page.locator("#missing-summary")).to_contain_text("尚缺 1 项")
    page.locator("#search").blur()
    screenshot(page, "guide")


# -- kiosk ---------------------------------------------------------------------------------------
def tap_id_number(page: Page, id_number: str) -> None:
    for ch in id_number:
        page.locator(f"#keypad .key[data-key='{ch}']").click()


def test_kiosk_gives_someone_born_in_1950_the_green_channel(hall: Hall) -> None:
    hall.open_windows("1", "2")
    for _ in range(4):
        hall.issue("SOC")
    page = hall.open_page(KIOSK, role="kiosk", size=KIOSK_SIZE)
    record_printing(page)
    # The kiosk grants no priority by itself: nothing on it asks for one.
    assert page.locator("input[name=priority], [data-priority]").count() == 0
    expect(page.get_by_text(re.compile("VIP"))).to_have_count(0)

    page.locator(".k-tile[data-code=SOC]").click()
    page.locator("#item-skip").click()  # 社保 has sub-items; choosing one is optional
    expect(page.locator("#take")).to_have_text("不输入，直接取号")
    elderly = make_id_number(date(1950, 3, 2))
    tap_id_number(page, elderly[:10])
    expect(page.locator("#id-display .slot.filled")).to_have_count(10)
    assert elderly[6:10] not in page.locator("#id-display").inner_text().replace("\n", "")  # birth year hidden
    tap_id_number(page, elderly[10:])
    expect(page.locator("#take")).to_have_text("确认取号")
    page.locator("#take").click()

    expect(page.locator("#d-number")).to_have_text("A005")
    expect(page.locator("#d-green")).to_have_text("已为您开通绿色通道")
    expect(page.locator("#d-ahead")).to_have_text("0 人")
    ticket = hall.call("GET", f"/tickets/{printed_ticket_id(page)}")
    assert (ticket["number"], ticket["priority"], ticket["channel"]) == ("A005", "green", "kiosk")
    expect(page.locator("#d-printing")).to_have_text("请取走打印的号票。")
    # The QR code carries the ticket's key (the citizen's proof when rating), on the screen and on the print.
    key = ticket_key(hall.server.secret, hall.id, ticket["id"])
    expect(page.locator("#d-qr")).to_have_attribute("src", f"/t/{ticket['id']}/qr.svg?key={key}")
    page.wait_for_function("document.getElementById('d-qr').complete")
    assert page.locator("#d-qr").evaluate("img => img.naturalWidth") > 0  # the server took the key
    assert f"key={key}" in printed(page)[0]
    screenshot(page, "kiosk-ticket")

    # The same person again: the server's refusal, in large text.
    page.locator("#finish").click()
    page.locator(".k-tile[data-code=SOC]").click()
    page.locator("#item-skip").click()
    tap_id_number(page, elderly)
    page.locator("#take").click()
    expect(page.locator("#oops-text")).to_contain_text("A005")
    assert waiting_numbers(hall, "SOC") == ["A005", "A001", "A002", "A003", "A004"]
    hall.forgive_refusals(409)


def test_kiosk_returns_to_the_start_by_itself(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page(KIOSK + "?reset=2", role="kiosk", size=KIOSK_SIZE)
    record_printing(page)
    page.locator(".k-tile[data-code=HUK]").click()
    page.locator("#item-skip").click()
    page.locator("#take").click()  # no ID number: a plain ticket
    expect(page.locator("#d-number")).to_have_text("B001")
    expect(page.locator("#d-green")).to_be_hidden()
    expect(page.locator("#done-countdown")).to_contain_text("秒后自动返回首页")
    assert hall.call("GET", f"/tickets/{printed_ticket_id(page)}")["priority"] is None

    expect(page.locator("#start")).to_be_visible(timeout=5000)
    expect(page.locator("#done")).to_be_hidden()
    assert "B001" not in page.locator("body").inner_text()

    # Someone who walks off halfway through their ID number leaves nothing behind either.
    page.locator(".k-tile[data-code=HUK]").click()
    page.locator("#item-skip").click()
    tap_id_number(page, "110105")
    expect(page.locator("#start")).to_be_visible(timeout=9000)
    expect(page.locator("#id-display .slot.filled")).to_have_count(0)
    page.locator(".k-tile[data-code=HUK]").click()
    page.locator("#item-skip").click()
    expect(page.locator("#id-display .slot.filled")).to_have_count(0)


def test_kiosk_try_again_after_a_lost_reply_gets_the_same_ticket(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page(KIOSK, role="kiosk", size=KIOSK_SIZE)
    record_printing(page)
    keys: list[str | None] = []

    def lose_first_reply(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()
            route.abort()
        else:
            route.continue_()

    page.route("**/api/v1/halls/*/tickets", lose_first_reply)
    page.locator(".k-tile[data-code=INFO]").click()
    tap_id_number(page, make_id_number(date(1990, 1, 1)))
    page.locator("#take").click()
    expect(page.locator("#oops-text")).to_contain_text("网络")
    page.locator("#oops-retry").click()
    expect(page.locator("#d-number")).to_have_text("G001")
    assert keys[0]
    assert keys[1] == keys[0]
    assert waiting_numbers(hall) == ["G001"]
    forgive_lost_requests(hall)


def test_kiosk_explains_a_service_no_window_handles(hall: Hall) -> None:
    hall.open_windows("1", "2", "3")
    for service, count in (("SOC", 9), ("HUK", 4), ("TAX", 2), ("INFO", 3), ("FUND", 1)):
        for _ in range(count):
            hall.issue(service)
    page = hall.open_page(KIOSK, role="kiosk", size=KIOSK_SIZE)
    record_printing(page)
    expect(page.locator(".k-tile[data-code=SOC] .k-tile-line b")).to_have_text("9 人等候")
    expect(page.locator(".k-tile[data-code=PROP] .k-tile-line")).to_have_text("暂无窗口办理")
    screenshot(page, "kiosk")
    page.locator(".k-tile[data-code=PROP]").click()
    expect(page.locator("#oops-text")).to_have_text("当前没有窗口办理该业务，请前往导办台咨询")
    expect(page.locator("#oops-retry")).to_be_hidden()  # trying again cannot help; the guide desk can
    page.locator("#oops-home").click()
    expect(page.locator("#start")).to_be_visible()
    page.locator("#lang").click()
    expect(page.locator(".k-tile[data-code=PROP] .k-tile-line")).to_have_text("No window open")
    expect(page.locator("#start h1")).to_have_text("Please choose your service")


# -- the printed ticket --------------------------------------------------------------------------
def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) in points of every page's MediaBox."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]


def open_ticket_page(hall: Hall, ticket: dict[str, Any], query: str = "") -> Page:
    page = hall.open_page(f"/t/{ticket['id']}/print{query}", size=(219, 400), device_scale=2)
    # Printed from a desk, the browser holds the desk's token: the ticket then carries the hall's name.
    page.evaluate("([key, token]) => localStorage.setItem(key, token)",
                  [f"hallq.token.{hall.id}.guide", hall.token("guide")])
    record_printing(page)
    page.reload()
    return page


def test_ticket_prints_on_a_58mm_roll(hall: Hall) -> None:
    hall.open_windows("1")
    hall.issue("SOC")
    ticket = hall.issue("SOC", priority="green")
    hall.issue("SOC")
    page = open_ticket_page(hall, ticket, f"?lang=zh&key={ticket['key']}")  # as the desk prints it
    page.emulate_media(media="print")
    expect(page.locator("#number")).to_have_text(ticket["number"])
    expect(page.locator("#hall-name")).to_have_text("示范县政务服务中心")
    expect(page.locator("#service")).to_have_text("社保医保")
    expect(page.locator("#ahead")).to_have_text("前面还有 0 人")
    expect(page.locator("#mark")).to_have_text("绿色通道")
    expect(page.get_by_text("扫码查看排队进度")).to_be_visible()
    expect(page.locator("#print-now")).to_be_hidden()  # a screen-only button
    qr = page.locator("img#qr")
    expect(qr).to_have_attribute("src", f"/t/{ticket['id']}/qr.svg?key={ticket['key']}")
    page.wait_for_function("document.body.classList.contains('ready')")
    assert qr.evaluate("img => img.naturalWidth") > 0
    number_fits = page.locator("#number").evaluate("n => n.scrollWidth <= n.clientWidth")
    assert number_fits
    assert page.evaluate("window.__printed") is None  # only ?print=1 prints by itself

    pdf = page.pdf(width="58mm")
    pages = pdf_pages(pdf)
    assert len(pages) == 1, pages
    # 58 mm = 164.4 pt; Chromium rounds the sheet to whole CSS pixels (220 px = 165.1 pt).
    assert abs(pages[0][0] - 58 * MM) < 1.5, pages
    screenshot(page, "ticket-58mm", full_page=True)


def test_ticket_page_prints_itself_with_print_1(hall: Hall) -> None:
    hall.open_windows("1")
    ticket = hall.issue("INFO")
    page = open_ticket_page(hall, ticket, "?print=1")
    assert printed(page) == [f"/t/{ticket['id']}/print?print=1"]
    expect(page.locator("#number")).to_have_text("G001")
    expect(page.locator("#mark")).to_be_hidden()
    expect(page.get_by_text("扫码查看排队进度")).to_be_hidden()  # no key in its address: printed without a QR code
    hall.call("POST", f"/tickets/{ticket['id']}/cancel", role="guide")
    page.reload()
    expect(page.locator("#mark")).to_have_text("已取消")  # a reprint never passes for a live ticket
    expect(page.locator("#line")).to_be_hidden()


# -- the catalog at the guide desk ---------------------------------------------------------------------------------
def test_guide_ticks_the_checklist_and_prints_the_notice_of_what_is_missing(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    page.locator(".tile[data-code=SOC]").click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator(".item-chip")).to_have_text(
        [re.compile("^不指定"), re.compile("^职工参保登记即办件"), re.compile("^职工退休待遇申领承诺件（10 个工作日）"),
         re.compile("^医保关系转移接续承诺件（15 个工作日）")])
    expect(page.locator("#checklist-block")).to_be_hidden()  # no sub-item yet: nothing to check

    page.locator(".item-chip[data-item=SOC-RETIRE]").click()
    expect(page.locator("#chosen-item")).to_have_text("职工退休待遇申领 · 承诺件（10 个工作日）")
    expect(page.locator("#item-facts")).to_contain_text("表格：基本养老保险待遇申领表")
    rows = page.locator("#checklist .material")
    expect(rows.locator(".m-name")).to_have_text(
        ["居民身份证", "户口簿", "本人近期一寸免冠彩色照片", "社会保障卡或银行卡"])
    expect(rows.nth(3)).to_contain_text("用于发放养老金")
    expect(page.locator("#checklist .material.missing")).to_have_count(4)  # nothing ticked: all missing
    page.locator("#m-1").check()
    page.locator("#m-3").check()
    expect(page.locator("#checklist .material.missing .m-name")).to_have_text(["户口簿", "社会保障卡或银行卡"])
    expect(page.locator("#missing-summary")).to_have_text("尚缺 2 项材料：请打印告知书交办事人，补齐后一次办成")

    # The notice goes to the printer whether or not a ticket is issued: here, none is.
    page.locator("#print-notice").click()
    assert printed(page) == [f"/halls/{hall.id}/notice?item=SOC-RETIRE&missing=2%2C4&lang=zh"]
    expect(page.locator("#notice-state")).to_have_text("告知书已送打印机，请交给办事人。")
    notice = page.frame_locator("iframe.hallq-notice-frame")
    expect(notice.locator("#hall-name")).to_have_text("示范县政务服务中心")
    expect(notice.locator("#n-title")).to_have_text("职工退休待遇申领")
    expect(notice.locator("#material-rows tr.missing .name")).to_have_text(["户口簿尚缺", "社会保障卡或银行卡尚缺"])
    expect(notice.locator("#missing-note")).to_have_text("您本次尚缺标 ★ 的 2 项材料，请备齐后再来办理。")
    assert waiting_numbers(hall) == []

    page.locator("#tick-all").click()
    expect(page.locator("#missing-summary")).to_have_text("材料齐全")
    expect(page.locator("#checklist .material.missing")).to_have_count(0)
    page.locator("#issue").click()
    expect(page.locator("#r-item")).to_have_text("职工退休待遇申领")
    assert hall.call("GET", f"/tickets/{printed_ticket_id_from_frame(page)}")["item"] == "SOC-RETIRE"
    expect(page.frame_locator("iframe.hallq-print-frame").locator("#item")).to_have_text("职工退休待遇申领")


def test_guide_issues_with_sub_item_green_reason_and_a_masked_name(hall: Hall) -> None:
    hall.open_windows("9")  # 不动产 only
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    page.locator("#search").fill("bdc")
    page.keyboard.press("Enter")
    page.locator(".item-chip[data-item=PROP-TRANSFER]").click()
    page.locator("#name").fill("张小三")
    page.locator("#priority").select_option("military")
    page.locator("#issue").click()
    expect(page.locator("#r-number")).to_have_text("C001")
    expect(page.locator("#r-item")).to_have_text("二手房转移登记")
    expect(page.locator("#r-priority")).to_have_text("绿色通道 · 军人")
    expect(page.locator("#r-holder")).to_have_text("办事人：张*三")
    ticket = hall.call("GET", f"/tickets/{printed_ticket_id(page)}")
    assert (ticket["item"], ticket["priority"], ticket["green_reason"], ticket["holder"]) == \
        ("PROP-TRANSFER", "green", "military", "张*三")
    assert "张小三" not in page.content()  # the full name left the page with the request

    # A second citizen: everything of the first is gone from the form.
    page.locator("#next").click()
    expect(page.locator("#name")).to_have_value("")
    expect(page.locator("#priority")).to_have_value("")
    expect(page.locator("#grid-view")).to_be_visible()


def test_guide_offers_a_bundle_as_one_choice_with_the_union_of_its_materials(hall: Hall) -> None:
    hall.open_windows("7")  # serves every member of 开餐馆一件事, so it is given the bundle
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    tile = page.locator(".tile[data-code=RESTO]")
    expect(tile.locator(".tags")).to_have_text("一件事企业开办 + 食品经营许可 + 税务办理")
    tile.click()
    expect(page.locator("#d-bundle")).to_be_visible()
    expect(page.locator("#members li b")).to_have_text(["企业开办", "食品经营许可", "税务办理"])
    expect(page.locator("#items-block")).to_be_hidden()  # one ticket for the bundle: no sub-item to pick
    bundle = hall.call("GET", "/catalog/bundles/RESTO", role="guide")
    expect(page.locator("#checklist .m-name")).to_have_text([m["name"] for m in bundle["materials"]])
    licence = page.locator("#checklist .material", has_text="营业执照")
    expect(licence.locator(".m-for")).to_have_text("用于食品经营许可证核发")
    # 个体工商户 or 有限公司: the papers of either are marked 选一, and the count is the printed notice's (the three
    # every restaurant needs and the two of the lighter option), never all nine.
    expect(page.locator("#checklist .material .m-choice")).to_have_count(6)
    expect(page.locator("#missing-summary")).to_have_text("尚缺 5 项材料：请打印告知书交办事人，补齐后一次办成")
    for number in (1, 2, 3, 4, 5):  # the sole proprietor's papers: enough, without the company's
        page.locator(f"#m-{number}").check()
    expect(page.locator("#missing-summary")).to_have_text("材料齐全")
    for number in (1, 2, 3, 4, 5):
        page.locator(f"#m-{number}").uncheck()
    page.locator("#print-notice").click()
    everything = ",".join(str(n) for n in range(1, len(bundle["materials"]) + 1))
    assert printed(page) == [f"/halls/{hall.id}/notice?service=RESTO&missing={everything.replace(',', '%2C')}&lang=zh"]
    expect(page.frame_locator("iframe.hallq-notice-frame").locator("#n-title")).to_have_text("开餐馆一件事")

    page.locator("#issue").click()
    expect(page.locator("#r-number")).to_have_text("K001")
    ticket = hall.call("GET", f"/tickets/{printed_ticket_id(page, 2)}")
    assert (ticket["service"], ticket["item"]) == ("RESTO", None)


# -- the printed notice --------------------------------------------------------------------------------------------
def open_notice(hall: Hall, query: str, size: tuple[int, int] = (900, 1200)) -> Page:
    page = hall.open_page(f"/halls/{{hall}}/notice?{query}", role="guide", size=size)
    page.wait_for_function("document.body.classList.contains('ready')")
    return page


def test_notice_prints_on_one_a4_sheet_with_everything_the_item_needs(hall: Hall) -> None:
    page = open_notice(hall, "item=SOC-RETIRE&missing=2,4")
    expect(page.locator("#hall-name")).to_have_text("示范县政务服务中心")
    expect(page.locator("h1")).to_have_text("一次性告知书")
    expect(page.locator("#n-title")).to_have_text("职工退休待遇申领")
    expect(page.locator("#n-service")).to_have_text("社保医保")
    expect(page.locator("#n-promised")).to_have_text(
        re.compile(r"^承诺件（10 个工作日），如今日受理，预计 \d{4}-\d\d-\d\d 前办结$"))
    rows = page.locator("#material-rows tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0).locator("td")).to_have_text(["1", "居民身份证", "1 份", "✓", ""])
    expect(rows.nth(2).locator("td")).to_have_text(["3", "本人近期一寸免冠彩色照片", "2 份", "", ""])
    expect(rows.nth(3).locator("td")).to_have_text(["★4", "社会保障卡或银行卡尚缺", "1 份", "✓", "用于发放养老金"])
    expect(page.locator("#n-forms li")).to_have_text(["基本养老保险待遇申领表"])
    expect(page.locator("#n-basis li")).to_have_text(["《中华人民共和国社会保险法》第十六条"])
    notice = hall.call("GET", "/catalog/items/SOC-RETIRE", role="guide")["notice"]
    expect(page.locator("#n-date")).to_have_text(notice["day"])
    expect(page.locator(".sign")).to_contain_text("导办人员（签名/工号）：")
    expect(page.locator(".sign .blank")).to_have_count(2)
    screenshot(page, "notice", full_page=True)

    page.emulate_media(media="print")
    expect(page.locator("#print-now")).to_be_hidden()
    pages = pdf_pages(page.pdf(prefer_css_page_size=True))
    assert len(pages) == 1, pages
    width, height = pages[0]
    assert abs(width - 210 * MM) < 2, pages  # A4
    assert abs(height - 297 * MM) < 2, pages


def test_notice_of_a_bundle_on_a5_in_english(hall: Hall) -> None:
    page = hall.open_page("/halls/{hall}/notice?service=RESTO&paper=a5", role="guide", size=(600, 900), lang="en")
    page.wait_for_function("document.body.classList.contains('ready')")
    expect(page.locator("h1")).to_have_text("One-time full notice")
    expect(page.locator("#title-label")).to_have_text("Theme bundle")
    expect(page.locator("#n-title")).to_have_text("Opening a restaurant")
    expect(page.locator("#service-row")).to_be_hidden()
    expect(page.locator("#n-parts .part b")).to_have_text(["Business start-up", "Food business permit", "Taxation"])
    expect(page.locator("#material-rows tr", has_text="营业执照").locator(".note")).to_have_text(
        "for Food business permit issuance")
    expect(page.locator("#n-windows")).to_have_text("7号窗口, 8号窗口")
    page.emulate_media(media="print")
    pages = pdf_pages(page.pdf(prefer_css_page_size=True))
    assert pages, pages
    assert all(abs(w - 148 * MM) < 2 and abs(h - 210 * MM) < 2 for w, h in pages), pages  # A5


def test_notice_of_an_unknown_item_says_so(hall: Hall) -> None:
    page = hall.open_page("/halls/{hall}/notice?item=NOPE-1", role="guide")
    expect(page.locator("#sheet .failed")).to_have_text("本大厅受理事典中没有事项 NOPE-1，请从事项列表中选择。")
    hall.forgive_refusals(404)


# -- sub-items and bundles at the kiosk ----------------------------------------------------------------------------
def test_kiosk_offers_sub_items_to_pick_or_skip_and_a_bundle_as_one_tile(hall: Hall) -> None:
    hall.open_windows("1", "7")
    page = hall.open_page(KIOSK, role="kiosk", size=KIOSK_SIZE)
    record_printing(page)
    page.locator(".k-tile[data-code=SOC]").click()
    expect(page.locator("#item-step")).to_be_visible()
    expect(page.locator(".k-item-btn .k-item-name")).to_have_text(
        ["职工参保登记", "职工退休待遇申领", "医保关系转移接续"])
    screenshot(page, "kiosk-items")
    page.locator(".k-item-btn[data-item=SOC-MED]").click()
    expect(page.locator("#s-item")).to_have_text("医保关系转移接续")
    page.locator("#take").click()
    expect(page.locator("#d-number")).to_have_text("A001")
    expect(page.locator("#d-item")).to_have_text("医保关系转移接续")
    assert hall.call("GET", f"/tickets/{printed_ticket_id(page)}")["item"] == "SOC-MED"

    page.locator("#finish").click()
    bundle = page.locator(".k-tile[data-code=RESTO]")
    expect(bundle.locator(".k-tile-bundle")).to_have_text("一件事企业开办 + 食品经营许可 + 税务办理")
    bundle.click()
    expect(page.locator("#id-step")).to_be_visible()  # a bundle has no sub-item to pick
    page.locator("#take").click()
    expect(page.locator("#d-number")).to_have_text("K001")
    expect(page.locator("#d-item")).to_be_hidden()
    assert hall.call("GET", f"/tickets/{printed_ticket_id(page, 2)}")["service"] == "RESTO"


# -- appointment check-in, on a server whose clock the test sets ---------------------------------------------------
MONDAY, TUESDAY = date(2027, 3, 1), date(2027, 3, 2)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)


@dataclass
class ClockedPages:
    server: LiveServer
    clock: ServerClock
    pool: Iterator[str]


@pytest.fixture(scope="module")
def clocked_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClockedPages]:
    """A server of its own for check-in: bookings are made a day ahead and checked in on their day."""
    home = tmp_path_factory.mktemp("checkin-pages")
    (home / "halls").mkdir()
    pool = [f"checkin-{i:02d}" for i in range(4)]
    paths = [write_hall_copy(home / "halls", h) for h in pool]
    clock = ServerClock(home / "clock", at(MONDAY, 9))
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=paths, hall_ids=pool, extra_env=clock.env)
    try:
        yield ClockedPages(server, clock, iter(pool))
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


@pytest.fixture
def booked_hall(clocked_pages: ClockedPages, browser: Browser) -> Iterator[tuple[Hall, ServerClock]]:
    """A hall on the clocked server, the clock on Monday 09:00; fails the test on any JavaScript error."""
    hall_id = next(clocked_pages.pool, None)
    if hall_id is None:
        pytest.fail("the check-in server's pool of halls is used up")
    clocked_pages.clock.set(at(MONDAY, 9))
    h = Hall(clocked_pages.server, hall_id, browser)
    yield h, clocked_pages.clock
    h.http.close()
    for context in browser.contexts:
        context.close()
    assert not h.errors, "errors in the page:\n" + "\n".join(h.errors)


def book(hall: Hall, service: str, slot: datetime, id_number: str, name: str = "张小三") -> Any:
    body = {"service": service, "slot": slot.isoformat(), "name": name, "id_number": id_number,
            "phone": "13912345678"}
    return hall.call("POST", "/appointments", role="guide", json=body, expect=201)


def test_guide_checks_in_a_booking_by_voucher_code_and_prints_its_y_ticket(
        booked_hall: tuple[Hall, ServerClock]) -> None:
    hall, clock = booked_hall
    booking = book(hall, "SOC", at(TUESDAY, 9), make_id_number(date(1985, 6, 1)))
    clock.set(at(TUESDAY, 8, 50))
    hall.open_windows("1")
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    page.locator("#checkin-input").fill("123")  # neither a code nor an ID number: said on the desk, nothing sent
    page.locator("#checkin").click()
    expect(page.locator("#checkin-problem")).to_have_text("请输入 6 位预约码或 18 位身份证号。")
    assert posts == []

    wrong = "000000" if booking["code"] != "000000" else "111111"
    page.locator("#checkin-input").fill(wrong)
    page.locator("#checkin").click()
    refusal = hall.call("POST", "/appointments/check-in", role="guide", json={"code": wrong}, expect=404)
    expect(page.locator("#checkin-problem")).to_have_text(refusal["error"]["message"])
    expect(page.locator("#checkin-input")).to_have_value(wrong)  # a code stays, to be corrected

    page.locator("#checkin-input").fill(make_id_number(date(1990, 1, 1), seq=777))  # nobody who booked
    page.locator("#checkin").click()
    expect(page.locator("#checkin-problem")).to_have_text(refusal["error"]["message"])
    expect(page.locator("#checkin-input")).to_have_value("")  # an ID number is never left on the desk

    page.locator("#checkin-input").fill(booking["code"])
    page.keyboard.press("Enter")
    expect(page.locator("#r-number")).to_have_text("YA001")
    expect(page.locator("#r-appointment")).to_have_text("预约")
    expect(page.locator("#r-holder")).to_have_text("办事人：张*三")
    expect(page.locator("#checkin-input")).to_have_value("")
    ticket = hall.call("GET", f"/tickets/{printed_ticket_id(page)}")
    assert (ticket["number"], ticket["channel"], ticket["service"]) == ("YA001", "appointment", "SOC")
    assert hall.call("GET", f"/appointments/{booking['id']}")["status"] == "checked_in"
    printout = page.frame_locator("iframe.hallq-print-frame")
    expect(printout.locator("#number")).to_have_text("YA001")
    expect(printout.locator("#mark")).to_have_text("预约")
    screenshot(page, "guide-checkin")
    hall.forgive_refusals(404)


def test_kiosk_checks_in_a_booking_by_id_number(booked_hall: tuple[Hall, ServerClock]) -> None:
    hall, clock = booked_hall
    person = make_id_number(date(1979, 11, 5), seq=456)
    book(hall, "HUK", at(TUESDAY, 10), person, name="李四")
    clock.set(at(TUESDAY, 9, 45))
    hall.open_windows("3")
    page = hall.open_page(KIOSK, role="kiosk", size=KIOSK_SIZE)
    record_printing(page)
    page.locator("#checkin-start").click()
    expect(page.locator("#ci-take")).to_be_disabled()
    for ch in person[:8]:
        page.locator(f"#ci-keypad .key[data-key='{ch}']").click()
    assert person[6:8] not in page.locator("#ci-display").inner_text().replace("\n", "")  # birth date hidden
    for ch in person[8:]:
        page.locator(f"#ci-keypad .key[data-key='{ch}']").click()
    page.locator("#ci-take").click()
    expect(page.locator("#d-number")).to_have_text("YB001")
    expect(page.locator("#d-booked")).to_be_visible()
    ticket = hall.call("GET", f"/tickets/{printed_ticket_id(page)}")
    assert (ticket["channel"], ticket["service"], ticket["holder"]) == ("appointment", "HUK", "李*")
    screenshot(page, "kiosk-checkin")

    # The same booking again: the server hands back the same ticket, not a second one.
    page.locator("#finish").click()
    page.locator("#checkin-start").click()
    for ch in person:
        page.locator(f"#ci-keypad .key[data-key='{ch}']").click()
    page.locator("#ci-take").click()
    expect(page.locator("#d-number")).to_have_text("YB001")
    assert waiting_numbers(hall) == ["YB001"]
