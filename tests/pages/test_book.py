"""The booking page (预约办理) in Chromium against the real server, on the real clock: a citizen books a slot with
name, ID number and phone, gets a voucher code, sees it again after a reload and cancels; full slots cannot be
chosen, and the server's refusals are shown in its own words."""

from __future__ import annotations

from datetime import date
from typing import Any

from playwright.sync_api import Page, expect

from tests.pages.conftest import Hall, screenshot
from tests.server.conftest import make_id_number

BOOK = "/halls/{hall}/book"
PHONE_SIZE = (412, 915)
ID_NUMBER = make_id_number(date(1986, 4, 12), seq=377, area="320102")
PHONE = "13812345678"


def first_day(hall: Hall) -> str:
    day: str = hall.call("GET", "/appointments/slots?service=SOC", role="kiosk")["day"]
    return day


def bookings(hall: Hall, day: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = hall.call("GET", f"/appointments?day={day}", role="guide")["appointments"]
    return result


def choose_soc_retirement(page: Page) -> None:
    page.locator(".b-tile[data-code=SOC]").click()
    expect(page.locator("#items-box")).to_be_visible()  # 社保 has sub-items: one must be chosen
    page.locator(".b-item[data-code=SOC-RETIRE]").click()
    expect(page.locator("#step-slot")).to_be_visible()


def test_a_citizen_books_a_slot_gets_a_voucher_code_and_cancels(hall: Hall) -> None:
    day = first_day(hall)
    page = hall.open_page(BOOK, role="kiosk", size=PHONE_SIZE)
    expect(page.locator(".b-tile")).to_have_count(8)  # every service but the RESTO bundle
    expect(page.locator(".b-tile[data-code=RESTO]")).to_have_count(0)
    choose_soc_retirement(page)
    expect(page.locator(".b-day")).to_have_count(5)
    expect(page.locator(".b-day.chosen")).to_have_attribute("data-day", day)
    nine = page.locator(f'.b-slot[data-start="{day}T09:00:00+08:00"]')
    expect(nine).to_contain_text("余 4 个")
    nine.click()
    expect(page.locator("#form-chosen")).to_contain_text("职工退休待遇申领")
    expect(page.locator("#form-chosen")).to_contain_text("09:00–09:30")
    page.locator("#name").fill("张小三")
    page.locator("#id-number").fill(ID_NUMBER)
    page.locator("#phone").fill(PHONE)
    page.locator("#submit").click()

    expect(page.locator("#d-status")).to_have_text("预约成功")
    code = page.locator("#d-code").inner_text()
    assert code.isdigit()
    assert len(code) == 6
    expect(page.locator("#d-holder")).to_have_text("张*三")
    expect(page.locator("#d-service")).to_have_text("社保医保 · 职工退休待遇申领")
    for value in (ID_NUMBER, PHONE, "张小三"):
        assert value not in page.content(), f"{value} stays in the page after booking"
    screenshot(page, "book")

    [booked] = bookings(hall, day)
    assert (booked["code"], booked["holder"], booked["item"], booked["status"]) == (code, "张*三", "SOC-RETIRE",
                                                                                     "booked")
    assert booked["slot_start"] == f"{day}T09:00:00+08:00"

    page.reload()  # the booking's id is in the fragment: the page shows it again
    expect(page.locator("#d-code")).to_have_text(code)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#cancel").click()
    expect(page.locator("#d-status")).to_have_text("已取消")
    expect(page.locator("#cancel")).to_be_hidden()
    assert bookings(hall, day)[0]["status"] == "cancelled"

    page.locator("#again").click()
    expect(page.locator("#step-service")).to_be_visible()
    assert "appointment=" not in page.url


def test_full_slots_cannot_be_chosen_and_refusals_are_shown_in_the_servers_words(hall: Hall) -> None:
    day = first_day(hall)
    for n in range(4):  # capacity 4: the 09:00 slot is full
        hall.call("POST", "/appointments", role="guide", expect=201, json={
            "service": "SOC", "slot": f"{day}T09:00:00+08:00", "name": "李四", "phone": PHONE,
            "id_number": ID_NUMBER if n == 0 else make_id_number(date(1970 + n, 1, 1), seq=n)})
    page = hall.open_page(BOOK, role="kiosk", size=(1180, 820))
    choose_soc_retirement(page)
    nine = page.locator(f'.b-slot[data-start="{day}T09:00:00+08:00"]')
    expect(nine).to_be_disabled()
    expect(nine).to_contain_text("已约满")
    screenshot(page, "book-slots")
    page.locator(f'.b-slot[data-start="{day}T09:30:00+08:00"]').click()

    page.locator("#name").fill("李四")
    page.locator("#id-number").fill(ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1"))
    page.locator("#phone").fill(PHONE)
    page.locator("#submit").click()
    expect(page.locator("#form-problem")).to_contain_text("校验位")  # caught on the page, nothing sent

    page.locator("#id-number").fill(ID_NUMBER)  # booked 09:00 already: one booking per service a day
    page.locator("#submit").click()
    expect(page.locator("#form-problem")).to_contain_text("每项业务每天限约一次")
    hall.forgive_refusals(409)
    assert len(bookings(hall, day)) == 4

    page.locator("#lang").click()
    expect(page.locator("#submit")).to_have_text("Book")
    expect(page.locator("#form-rules")).to_contain_text("Check in at a kiosk or the guide desk")
