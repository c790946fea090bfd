"""The 差评 cases page (差评件办理), in Chromium against a real server: a manager works a case through 回访核实,
整改, 反馈 and 追评/申诉复核, and sees overdue cases marked."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from tests.pages.conftest import Hall, screenshot
from tests.pages.test_dashboard_phone import ZONE, overdue_case_in_record, served_ticket

CASES = "/halls/{hall}/cases"
DESK = (1366, 768)


def opened_case(hall: Hall, window: str = "5", score: int = 2, comment: str = "材料清单没讲清楚") -> dict[str, Any]:
    """A ticket served at ``window`` and rated 差评; returns it once the archiver has opened its case."""
    ticket = served_ticket(hall, window)
    hall.rate(ticket, score, comment=comment)  # by the ticket's QR code
    deadline = time.monotonic() + 10
    while hall.http.get(f"/api/v1/halls/{hall.id}/cases/{ticket['id']}",
                        headers={"Authorization": f"Bearer {hall.token('manager')}"}).status_code != 200:
        assert time.monotonic() < deadline, "the archiver did not open the case"
        time.sleep(0.1)
    return ticket


def test_a_manager_takes_a_case_through_its_whole_loop(hall: Hall) -> None:
    hall.open_windows("5")
    ticket = opened_case(hall)
    page = hall.open_page(CASES, role="manager", size=DESK)
    row = page.locator(f'#case-rows tr[data-case="{ticket["id"]}"]')
    expect(row).to_contain_text("不满意")
    expect(row).to_contain_text("待回访核实")
    expect(page.locator("#f-status")).to_have_value("open")
    row.click()
    expect(page.locator("#d-title")).to_have_text(f"{ticket['number']} · 待回访核实")
    expect(page.locator("#d-comment")).to_have_text("群众留言：材料清单没讲清楚")
    expect(page.locator("#sf-title")).to_have_text("登记回访核实")

    page.click("#sf-submit")
    expect(page.locator("#sf-problem")).to_have_text("请填写说明。")
    page.fill("#sf-note", "已电话回访\n核实属实")
    page.check('#sf-choice input[name="reached"][value="false"]')
    page.click("#sf-submit")
    callback = page.locator('#d-steps li[data-step="callback"]')
    expect(callback).to_have_class("step done")
    expect(callback).to_contain_text("未联系到群众")
    expect(callback).to_contain_text("已电话回访 核实属实")
    expect(page.locator("#sf-title")).to_have_text("登记整改")
    screenshot(page, "cases")

    page.fill("#sf-note", "一次性告知单补充材料说明")
    page.click("#sf-submit")
    expect(page.locator("#sf-title")).to_have_text("登记反馈")
    page.fill("#sf-note", "已告知群众整改情况")
    page.click("#sf-submit")
    expect(page.locator("#d-title")).to_have_text(f"{ticket['number']} · 已办结")
    expect(row).to_have_count(0)  # the list shows open cases: this one is closed now

    page.check('#sf-choice input[name="kind"][value="appeal"]')
    page.click("#sf-submit")
    expect(page.locator("#sf-problem")).to_have_text("请选择申诉是否成立。")
    page.check('#sf-choice input[name="outcome"][value="upheld"]')
    page.click("#sf-submit")
    expect(page.locator("#d-title")).to_have_text(f"{ticket['number']} · 已复核")
    expect(page.locator('#d-steps li[data-step="review"]')).to_contain_text("申诉成立，差评撤销")
    expect(page.locator("#step-form")).to_be_hidden()

    case = hall.call("GET", f"/cases/{ticket['id']}")
    assert (case["status"], case["callback"]["reached"], case["feedback"]["satisfied"]) == ("reviewed", False, True)
    assert (case["review"]["kind"], case["review"]["outcome"]) == ("appeal", "upheld")


def test_overdue_cases_are_marked_and_can_be_picked_out(hall: Hall) -> None:
    late_id = f"{datetime.now(ZONE):%Y%m%d}-0000000fade0"
    overdue_case_in_record(hall.server, hall.id, late_id, days_ago=9)
    hall.open_windows("5")
    fresh = opened_case(hall)
    page = hall.open_page(CASES, role="manager", size=DESK)
    late = page.locator(f'#case-rows tr[data-case="{late_id}"]')
    expect(late).to_have_class("overdue")
    expect(late.locator("td.late")).to_have_count(2)  # both the callback and the fix are past due
    expect(page.locator("#count")).to_have_text("共 2 件，超期 1 件")
    page.select_option("#f-overdue", "true")
    page.click("#filters button[type=submit]")
    expect(page.locator("#case-rows tr")).to_have_count(1)
    expect(page.locator("#case-rows tr").first).to_have_attribute("data-case", late_id)
    late.click()
    expect(page.locator('#d-steps li[data-step="callback"]')).to_have_class("step todo late")
    expect(page.locator('#d-steps li[data-step="callback"]')).to_contain_text("已超期")
    page.select_option("#f-overdue", "false")
    page.select_option("#f-window", "5")
    page.click("#filters button[type=submit]")
    expect(page.locator("#case-rows tr")).to_have_count(1)
    expect(page.locator("#case-rows tr").first).to_have_attribute("data-case", fresh["id"])
    page.locator("#case-rows tr").first.click()
    expect(page.locator('#d-steps li[data-step="callback"]')).to_have_class("step todo")


def test_a_deadline_reads_as_the_end_of_its_day(hall: Hall) -> None:
    """A step is due by the end of its day, which the API gives as the midnight after it: the pages say
    "12月7日24:00前" (the end of the 7th), never "12-08 00:00" (which read as the morning of the 8th)."""
    hall.open_windows("5")
    ticket = opened_case(hall)
    case = hall.call("GET", f"/cases/{ticket['id']}")
    callback_due = datetime.fromisoformat(case["callback_due"])
    assert (callback_due.hour, callback_due.minute) == (0, 0)
    last_day = (callback_due - timedelta(days=1)).date()
    said = f"{last_day.month}月{last_day.day}日24:00前"

    page = hall.open_page(CASES, role="manager", size=DESK)
    row = page.locator(f'#case-rows tr[data-case="{ticket["id"]}"]')
    expect(row.locator("td").nth(5)).to_have_text(said)
    expect(row).not_to_contain_text("00:00")
    row.click()
    expect(page.locator('#d-steps li[data-step="callback"] .when')).to_have_text(f"期限：{said}")
    page.click("#lang")
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    expect(row.locator("td").nth(5)).to_have_text(f"by end of {last_day.day} {months[last_day.month - 1]}")

    dashboard = hall.open_page("/halls/{hall}/dashboard", role="manager", size=(1920, 1080))
    expect(dashboard.locator(f'#case-rows tr[data-case="{ticket["id"]}"] td.due')).to_have_text(said)
