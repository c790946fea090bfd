"""The window console (窗口工作台) in a real Chromium against a real server: a window's whole cycle by keyboard,
calling from the lists, no-shows, transfers, pauses, the token's window binding and refusals shown to staff.
Each test checks what staff see and what the server recorded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.pages import test_no_show_texts as rules
from tests.pages.conftest import Hall, screenshot

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

SIZE = (1366, 768)


def open_console(hall: Hall, *, window: str = "3", query: str = "", lang: str | None = None) -> Page:
    page = hall.open_page(f"/halls/{{hall}}/console{query}", role="staff", window=window, size=SIZE, lang=lang)
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#state")).not_to_be_empty()
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    return page


def window(hall: Hall, w: str) -> Any:
    return hall.call("GET", f"/windows/{w}", role="staff", window=w)


def ticket(hall: Hall, ticket_id: str) -> Any:
    return hall.call("GET", f"/tickets/{ticket_id}")


def numbers(page: Page, lst: str = "#waiting-list") -> Any:
    return page.locator(f"{lst} .l-number")


def test_a_ticket_from_opening_to_finish_by_keyboard(hall: Hall) -> None:
    page = open_console(hall)
    expect(page.locator("#window-name")).to_have_text("3号窗口")
    expect(page.locator("#state")).to_have_text("未开放")
    expect(page.locator("#act-call-next")).to_be_disabled()
    expect(page.locator("#act-call-next kbd")).to_have_text("F1")

    page.click("#act-open")
    expect(page.locator("#state")).to_have_text("空闲")
    assert window(hall, "3")["state"] == "idle"

    first, second = hall.issue("HUK"), hall.issue("HUK")
    expect(numbers(page)).to_have_text([first["number"], second["number"]])  # arrived by the live feed
    expect(page.locator("#waiting-count")).to_have_text("2")

    page.keyboard.press("F1")
    expect(page.locator("#t-number")).to_have_text(first["number"])
    expect(page.locator("#state")).to_have_text("叫号中")
    on_server = window(hall, "3")
    assert on_server["state"] == "calling"
    assert on_server["ticket"]["id"] == first["id"]
    expect(numbers(page)).to_have_text([second["number"]])
    expect(page.locator("#act-close")).to_be_disabled()  # a window with someone called cannot close

    page.keyboard.press("F2")
    expect(page.locator("#t-recalls")).to_have_text("1 / 3")
    assert ticket(hall, first["id"])["recalls"] == 1

    page.keyboard.press("F3")
    expect(page.locator("#state")).to_have_text("办理中")
    expect(page.locator("#t-status")).to_have_text("办理中")
    assert window(hall, "3")["state"] == "serving"
    timer = page.locator("#t-timer")
    before = timer.inner_text()
    expect(timer).not_to_have_text(before, timeout=3000)  # the service timer runs
    expect(page.locator("#act-start")).to_be_disabled()
    expect(page.locator("#act-no-show")).to_be_disabled()

    page.click("#outcomes label:has-text('咨询')")
    page.keyboard.press("F4")
    expect(page.locator("#state")).to_have_text("空闲")
    done = ticket(hall, first["id"])
    assert done["status"] == "done"
    assert done["outcome"] == "consult"
    expect(page.locator("#today-served")).to_have_text("1", timeout=10_000)
    expect(page.locator("#today-outcomes")).to_contain_text("咨询 1")
    expect(page.locator('input[name="outcome"][value="done"]')).to_be_checked()  # next finish starts from 办结


def test_call_a_chosen_ticket_from_the_waiting_list(hall: Hall) -> None:
    hall.open_windows("3", "1")
    a, b, c = hall.issue("HUK"), hall.issue("HUK"), hall.issue("HUK", priority="green")
    page = open_console(hall)
    # green channel first, then by issue time (the window's own call order from the server)
    expect(numbers(page)).to_have_text([c["number"], a["number"], b["number"]])
    expect(page.locator(f'#waiting-list .line[data-ticket="{c["id"]}"] .badge')).to_have_text("绿色通道")

    hall.window_op("1", "call-next")  # another window takes the green-channel ticket: this list follows
    expect(numbers(page)).to_have_text([a["number"], b["number"]])

    page.locator(f'#waiting-list .line[data-ticket="{b["id"]}"] button').click()
    expect(page.locator("#dlg-call")).to_be_visible()
    expect(page.locator("#call-reason")).to_have_value("群众已到窗口")
    page.click("#call-submit")
    expect(page.locator("#dlg-call")).to_be_hidden()
    expect(page.locator("#t-number")).to_have_text(b["number"])
    assert window(hall, "3")["ticket"]["id"] == b["id"]
    expect(numbers(page)).to_have_text([a["number"]])
    # while a ticket is called, nothing else can be called from the list
    expect(page.locator("#waiting-list button")).to_be_disabled()


# -- the hall's no-show rule (halls under rules of their own: tests/pages/test_no_show_texts.py) ----------------
@pytest.fixture(scope="module")
def rules_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rules.RuleHalls]:
    yield from rules.serve_rule_halls(tmp_path_factory)


@pytest.fixture
def rule_hall(rules_server: rules.RuleHalls, browser: Browser) -> Iterator[rules.RuleHall]:
    yield from rules.rule_halls(rules_server, browser)


def test_no_show_waits_for_the_rule_then_the_window_serves_the_late_arrival(rule_hall: rules.RuleHall) -> None:
    """One recall and 3 s from the call (a rule short enough to wait out); late arrivals served directly."""
    hall = rule_hall("short-serve")
    hall.open_windows("3")
    t = hall.issue("TAX")
    page = open_console(hall)
    expect(page.locator("#miss-title")).to_have_text("过号可直接办理")
    expect(page.locator("#miss-rule")).to_have_text(rules.sentence(hall)["zh"])  # what staff tell the citizen
    expect(page.locator("#miss-empty")).to_be_visible()
    page.keyboard.press("F1")
    expect(page.locator("#t-number")).to_have_text(t["number"])

    no_show, why = page.locator("#act-no-show"), page.locator("#no-show-why")
    expect(no_show).to_be_disabled()
    expect(why).to_contain_text("按本大厅过号规定，过号须先重呼 1 次")
    page.keyboard.press("F2")
    expect(page.locator("#t-recalls")).to_have_text("1 / 3")
    expect(no_show).to_be_enabled(timeout=10_000)  # the 3 s from the call have passed: the rule allows it
    expect(why).to_be_hidden()
    page.click("#act-no-show")
    expect(page.locator("#state")).to_have_text("空闲")
    expect(page.locator("#notice")).to_contain_text("群众返回时可在“过号可直接办理”中叫回")
    assert ticket(hall, t["id"])["status"] == "missed"
    expect(numbers(page, "#miss-list")).to_have_text([t["number"]])
    expect(page.locator("#today-missed")).to_have_text("1", timeout=10_000)

    page.locator("#miss-list .line button").click()
    expect(page.locator("#call-reason")).to_have_value("过号群众返回")
    page.click("#call-submit")
    # #t-number still holds the number from before the no-show: the window's state says the call went through
    expect(page.locator("#state")).to_have_text("叫号中")
    expect(page.locator("#t-number")).to_have_text(t["number"])
    back = ticket(hall, t["id"])
    assert back["status"] == "called"
    assert back["window"] == "3"
    expect(page.locator("#miss-empty")).to_be_visible()
    expect(no_show).to_be_disabled()  # called anew: the rule starts again
    page.click("#lang")
    expect(why).to_contain_text("By the hall's no-show rule: recall 1 more time")


def test_the_demo_rule_keeps_no_show_greyed_out_for_a_minute(hall: Hall) -> None:
    hall.open_windows("3")
    t = hall.issue("SOC")
    page = open_console(hall)
    page.keyboard.press("F1")
    expect(page.locator("#t-number")).to_have_text(t["number"])
    page.keyboard.press("F2")
    expect(page.locator("#t-recalls")).to_have_text("1 / 3")
    why = page.locator("#no-show-why")
    expect(why).to_have_text(re.compile(r"^按本大厅过号规定，过号须先再等 (60|[1-5]\d)秒。$"))
    expect(page.locator("#act-no-show")).to_be_disabled()
    expect(page.locator("#act-no-show")).to_have_attribute("title", re.compile("过号须先再等"))


def test_where_the_rule_requeues_the_console_puts_the_late_arrival_back_in_line(rule_hall: rules.RuleHall) -> None:
    hall = rule_hall("short-requeue")  # no wait, back at the end of the line
    hall.open_windows("3")
    t, other = hall.issue("TAX"), hall.issue("TAX")
    page = open_console(hall)
    expect(page.locator("#miss-title")).to_have_text("过号可重新排队")
    page.keyboard.press("F1")
    expect(page.locator("#act-no-show")).to_be_enabled()
    page.click("#act-no-show")
    expect(page.locator("#notice")).to_contain_text("在“过号可重新排队”中为其重新排队")
    back = page.locator("#miss-list .line button")
    expect(back).to_have_text("重新排队")
    back.click()
    expect(page.locator("#notice")).to_have_text(f"{t['number']} 号已重新排队，前面 1 人。")
    assert ticket(hall, t["id"])["status"] == "waiting"
    expect(numbers(page)).to_have_text([other["number"], t["number"]])  # behind the one who came meanwhile
    expect(page.locator("#miss-empty")).to_be_visible()


def test_where_the_rule_asks_for_a_new_number_the_console_says_so(rule_hall: rules.RuleHall) -> None:
    hall = rule_hall("quick-new")
    hall.open_windows("3")
    t = hall.issue("TAX")
    page = open_console(hall)
    page.keyboard.press("F1")
    page.click("#act-no-show")
    expect(page.locator("#notice")).to_contain_text("群众返回时请其重新取号")
    expect(page.locator("#miss-title")).to_have_text("近期过号（须重新取号）")
    line = page.locator(f'#miss-list .line[data-ticket="{t["id"]}"]')
    expect(line).to_contain_text("请重新取号")
    expect(line.locator("button")).to_have_count(0)  # nothing to call back or requeue
    expect(page.locator("#miss-rule")).to_have_text(rules.sentence(hall)["zh"])


def test_transfer_to_another_service_and_to_a_window(hall: Hall) -> None:
    hall.open_windows("3", "5")
    t = hall.issue("HUK")
    page = open_console(hall)
    page.keyboard.press("F1")
    expect(page.locator("#t-number")).to_have_text(t["number"])

    page.click("#act-transfer")
    expect(page.locator("#dlg-transfer")).to_be_visible()
    # 不动产 has no open window here (3 and 5 do not handle it): it is offered but cannot be chosen
    expect(page.locator('#transfer-service option[value="PROP"]')).to_be_disabled()
    expect(page.locator('#transfer-service option[value="HUK"]')).to_have_count(0)  # its own service is no target
    page.click("#transfer-submit")
    expect(page.locator("#transfer-problem")).to_have_text("请填写转窗原因。")  # a transfer needs its reason
    page.select_option("#transfer-service", "TAX")
    page.fill("#transfer-reason", "群众实际办理税务业务")
    page.click("#transfer-submit")
    expect(page.locator("#dlg-transfer")).to_be_hidden()
    expect(page.locator("#state")).to_have_text("空闲")
    expect(page.locator("#notice")).to_contain_text("税务办理")
    moved = ticket(hall, t["id"])
    assert moved["service"] == "TAX"
    assert moved["status"] == "waiting"
    assert moved["number"] == t["number"]

    # to a window: only windows that handle the ticket's service are listed, closed ones cannot be picked
    u = hall.issue("HUK")
    page.locator(f'#waiting-list .line[data-ticket="{u["id"]}"] button').click()
    page.click("#call-submit")
    expect(page.locator("#t-number")).to_have_text(u["number"])
    page.click("#act-transfer")
    page.check('input[name="transfer-to"][value="window"]')
    options = page.locator("#transfer-window option")
    expect(options).to_have_count(8)  # 1, 2, 4, 5, 6, 7, 8, 12 handle 户籍; 9-11 do not; 3 is this window
    assert [o.get_attribute("value") for o in options.all()] == ["1", "2", "4", "5", "6", "7", "8", "12"]
    expect(page.locator('#transfer-window option[value="1"]')).to_be_disabled()
    expect(page.locator("#transfer-window")).to_have_value("5")
    page.locator("#transfer-chips .chip", has_text="需专业窗口办理").click()
    expect(page.locator("#transfer-reason")).to_have_value("需专业窗口办理")

    hall.call("POST", "/windows/5/close")  # window 5 closes while the dialog is open: the server refuses
    page.click("#transfer-submit")
    expect(page.locator("#transfer-problem")).to_have_text("5号窗口未开启，请先开窗。")
    expect(page.locator("#dlg-transfer")).to_be_visible()
    assert window(hall, "3")["ticket"]["id"] == u["id"]

    hall.call("POST", "/windows/5/open")
    page.click("#transfer-submit")
    expect(page.locator("#dlg-transfer")).to_be_hidden()
    assert ticket(hall, u["id"])["status"] == "waiting"
    assert u["id"] in [line["id"] for line in hall.call("GET", "/windows/5/waiting")["tickets"]]
    assert u["id"] not in [line["id"] for line in hall.call("GET", "/windows/1/waiting")["tickets"]]  # 5's alone
    hall.forgive_refusals(409)


def test_pause_with_a_reason_and_resume(hall: Hall) -> None:
    hall.open_windows("3")
    page = open_console(hall)
    page.click("#act-pause")
    page.click("#pause-submit")
    expect(page.locator("#pause-problem")).to_have_text("请选择或填写暂停原因。")
    page.locator("#pause-chips .chip", has_text="午休").click()
    page.click("#pause-submit")
    expect(page.locator("#state")).to_have_text("暂停服务")
    expect(page.locator("#state-detail")).to_contain_text("午休")
    on_server = window(hall, "3")
    assert on_server["state"] == "paused"
    assert on_server["reason"] == "午休"
    expect(page.locator("#act-call-next")).to_be_disabled()
    page.keyboard.press("F1")  # the shortcut says why nothing happens
    expect(page.locator("#notice")).to_have_text("窗口暂停服务中，请先恢复服务。")

    page.click("#act-resume")
    expect(page.locator("#state")).to_have_text("空闲")
    assert window(hall, "3")["state"] == "idle"

    page.click("#act-pause")
    page.fill("#pause-reason", "窗口设备维护")
    page.click("#pause-submit")
    expect(page.locator("#state")).to_have_text("暂停服务")
    assert window(hall, "3")["reason"] == "窗口设备维护"
    page.click("#act-resume")
    expect(page.locator("#state")).to_have_text("空闲")


def test_a_staff_token_acts_only_for_its_own_window(hall: Hall) -> None:
    page = open_console(hall, window="3", query="?window=5")
    expect(page.locator("#window-name")).to_have_text("3号窗口")
    expect(page.locator("#notice")).to_contain_text("此令牌只能用于3号窗口")
    assert "window=3" in page.url
    expect(page.locator("#window-pick-wrap")).to_be_hidden()  # staff cannot switch windows
    page.click("#act-open")
    expect(page.locator("#state")).to_have_text("空闲")
    assert window(hall, "3")["state"] == "idle"
    assert hall.call("GET", "/windows/5")["state"] == "closed"


def test_refusals_and_empty_queues_are_shown(hall: Hall) -> None:
    hall.open_windows("3")
    page = open_console(hall)
    page.keyboard.press("F1")
    expect(page.locator("#notice")).to_have_text("当前没有等候本窗口的群众。")
    assert window(hall, "3")["state"] == "idle"

    expect(page.locator("#act-call-next")).to_be_enabled()  # disabled until the window is re-read
    t = hall.issue("SOC")
    page.keyboard.press("F1")
    expect(page.locator("#t-number")).to_have_text(t["number"])
    expect(page.locator("#act-close")).to_be_disabled()
    page.keyboard.press("F1")  # call next while calling: the page says what to do instead
    expect(page.locator("#notice")).to_contain_text(f"正在呼叫{t['number']}号")
    for n in (1, 2, 3):
        page.keyboard.press("F2")
        expect(page.locator("#t-recalls")).to_have_text(f"{n} / 3")
    page.keyboard.press("F2")  # the hall's recall limit is the server's rule: its refusal is shown as sent
    expect(page.locator("#notice")).to_have_text(f"{t['number']}号已重呼3次，达到上限，请作过号处理。")
    expect(page.locator("#notice")).to_have_attribute("data-kind", "error")
    assert ticket(hall, t["id"])["recalls"] == 3
    hall.forgive_refusals(409)


def test_a_double_press_calls_only_once(hall: Hall) -> None:
    hall.open_windows("3")
    first, second = hall.issue("HUK"), hall.issue("HUK")
    page = open_console(hall)
    expect(page.locator("#waiting-count")).to_have_text("2")
    page.dblclick("#act-call-next")
    page.keyboard.press("F1")
    expect(page.locator("#t-number")).to_have_text(first["number"])
    expect(page.locator("#act-call-next")).to_be_disabled()
    assert ticket(hall, second["id"])["status"] == "waiting"
    expect(numbers(page)).to_have_text([second["number"]])


def test_a_manager_picks_the_window(hall: Hall) -> None:
    hall.open_windows("7")
    page = hall.open_page("/halls/{hall}/console", role="manager", size=SIZE)
    expect(page.locator("#picker")).to_be_visible()
    expect(page.locator('.pick[data-window="7"] .pick-state')).to_have_text("空闲")
    page.click('.pick[data-window="5"]')
    expect(page.locator("#window-name")).to_have_text("5号窗口")
    expect(page.locator("#who")).to_have_text("管理员")
    assert "window=5" in page.url
    page.click("#act-open")
    expect(page.locator("#state")).to_have_text("空闲")
    assert hall.call("GET", "/windows/5")["state"] == "idle"

    page.select_option("#window-pick", "7")
    expect(page.locator("#window-name")).to_have_text("7号窗口")
    expect(page.locator("#state")).to_have_text("空闲")
    assert "window=7" in page.url
    t = hall.issue("BIZ")
    page.keyboard.press("F1")
    expect(page.locator("#t-number")).to_have_text(t["number"])
    assert hall.call("GET", "/windows/7")["ticket"]["id"] == t["id"]


def test_english_and_the_language_switch(hall: Hall) -> None:
    hall.open_windows("3")
    t = hall.issue("FUND", priority="vip")
    page = open_console(hall, lang="en")
    expect(page.locator("#act-call-next span")).to_have_text("Call next")
    expect(page.locator("#window-name")).to_have_text("Window 3")
    expect(page.locator("#state")).to_have_text("Idle")
    expect(page.locator("#waiting-list .l-service")).to_have_text(["Housing fund"])
    page.keyboard.press("F1")
    expect(page.locator("#t-service")).to_have_text("Housing fund")
    expect(page.locator("#t-priority")).to_have_text("VIP")
    expect(page.locator("#notice")).to_have_text(f"Called {t['number']}.")
    page.click("#lang")
    expect(page.locator("#act-call-next span")).to_have_text("叫下一位")
    expect(page.locator("#notice")).to_have_text(f"已呼叫 {t['number']} 号。")  # what is on screen is re-worded
    expect(page.locator("#t-service")).to_have_text("公积金")
    expect(page.locator("#state")).to_have_text("叫号中")
    assert ticket(hall, t["id"])["status"] == "called"


def test_screenshot_while_serving(hall: Hall) -> None:
    hall.open_windows("3", "1")
    # earlier today at window 3: two served
    for service, outcome in (("HUK", "done"), ("SOC", "consult")):
        hall.issue(service)
        hall.window_op("3", "call-next")
        hall.window_op("3", "start")
        hall.window_op("3", "finish", {"outcome": outcome})
    # now waiting: the next for window 3, a green-channel, a VIP, a pinned and a transferred ticket
    current = hall.issue("HUK", item="HUK-MOVE", name="张小三")
    hall.issue("SOC", priority="green", green_reason="elderly", item="SOC-RETIRE")
    hall.issue("TAX", priority="vip")
    pinned = hall.issue("FUND")
    hall.call("POST", f"/tickets/{pinned['id']}/pin", json={"reason": "行动不便"})
    for service in ("HUK", "SOC", "BIZ", "INFO", "HUK"):
        hall.issue(service)
    hall.issue("SOC")
    hall.window_op("1", "call-next")
    hall.window_op("1", "transfer", {"to_window": "3", "reason": "需户籍窗口办理"})

    page = open_console(hall)
    expect(page.locator("#today-served")).to_have_text("2", timeout=10_000)
    page.locator(f'#waiting-list .line[data-ticket="{current["id"]}"] button').click()
    page.click("#call-submit")
    expect(page.locator("#t-number")).to_have_text(current["number"])
    page.keyboard.press("F3")
    expect(page.locator("#state")).to_have_text("办理中")
    a_duration = re.compile(r"^([1-9]\d?秒|[1-9]\d?分\d{1,2}秒)$")  # never "0:03", which reads as a time of day
    expect(page.locator("#t-timer")).to_have_text(a_duration, timeout=3000)
    expect(page.locator("#waiting-list .line")).to_have_count(9)
    expect(page.locator("#t-holder")).to_have_text("张*三")
    screenshot(page, "console")


def test_sign_in_refuses_other_roles_and_sign_out_forgets(hall: Hall) -> None:
    page = hall.open_page("/halls/{hall}/console", size=SIZE)
    expect(page.locator(".signin-overlay")).to_be_visible()
    expect(page.locator("#desk")).to_be_hidden()
    expect(page.locator("#signin-username")).to_be_focused()  # a person signs in with an account
    page.click(".signin-token summary")  # a token is there for devices and scripts
    page.fill("#signin-token", hall.token("guide"))
    page.click("#signin-submit")
    expect(page.locator(".signin-problem")).to_have_text("此页面需要窗口工作人员或管理员的令牌。")

    page.fill("#signin-token", hall.token("staff", "4"))
    page.click("#signin-submit")
    expect(page.locator("#window-name")).to_have_text("4号窗口")
    expect(page.locator("#who")).to_have_text("窗口工作人员")
    expect(page.locator("#link")).to_have_attribute("data-status", "live")

    page.click("#sign-out")
    expect(page.locator(".signin-overlay")).to_be_visible()
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('hallq.token'))") == []


def test_the_called_ticket_shows_its_sub_item_masked_holder_and_green_reason(hall: Hall) -> None:
    hall.open_windows("3")
    t = hall.issue("HUK", item="HUK-MOVE", name="欧阳小明", priority="green", green_reason="pregnant")
    plain = hall.issue("HUK")
    page = open_console(hall)
    line = page.locator(f'#waiting-list .line[data-ticket="{t["id"]}"]')
    expect(line.locator(".l-item")).to_have_text("户口迁入")
    expect(line.locator(".badge.green")).to_have_text("绿色通道 · 孕妇")

    page.keyboard.press("F1")
    expect(page.locator("#t-number")).to_have_text(t["number"])
    expect(page.locator("#t-item")).to_have_text("事项：户口迁入")
    expect(page.locator("#t-holder")).to_have_text("欧**明")
    expect(page.locator("#t-priority")).to_have_text("绿色通道 · 孕妇")
    expect(page.locator("body")).not_to_contain_text("欧阳小明")  # the full name never reached the server
    page.click("#lang")
    expect(page.locator("#t-item")).to_have_text("Item: Household registration move-in")
    expect(page.locator("#t-priority")).to_have_text("Green channel · Pregnant")
    page.click("#lang")

    page.keyboard.press("F4")
    expect(page.locator("#state")).to_have_text("空闲")
    page.keyboard.press("F1")
    expect(page.locator("#t-number")).to_have_text(plain["number"])
    expect(page.locator("#t-item")).to_be_hidden()
    expect(page.locator("#t-holder")).to_be_hidden()
    expect(page.locator("#t-priority")).to_be_hidden()


def test_sub_item_skills_shown_and_transfer_offers_only_windows_serving_the_sub_item(hall: Hall) -> None:
    hall.open_windows("8", "9", "11")
    t = hall.issue("PROP", item="PROP-TRANSFER")
    page = open_console(hall, window="8")
    page.keyboard.press("F1")
    expect(page.locator("#t-number")).to_have_text(t["number"])
    page.click("#act-transfer")
    page.check('input[name="transfer-to"][value="window"]')
    # 7, 9 and 10 handle 不动产 transfers; 11 takes only mortgages of 不动产
    options = page.locator("#transfer-window option")
    expect(options).to_have_count(3)
    assert [o.get_attribute("value") for o in options.all()] == ["7", "9", "10"]
    page.click("#dlg-transfer [data-close]")

    mortgage_desk = open_console(hall, window="11")
    expect(mortgage_desk.locator("#services-line")).to_contain_text("不动产登记（仅抵押权首次登记）")
