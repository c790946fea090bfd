"""The rating pad (评价器) beside a window, in Chromium against a real server: it asks when its window finishes a
ticket, takes one tap, thanks the citizen and goes back to waiting; it never insists."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.pages.conftest import Hall, screenshot

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

PAD = (1280, 800)


def pad(hall: Hall, window: str = "5", **options: str) -> Page:
    """The pad of ``window``, signed in with that window's pad token (the token says the window)."""
    query = "&".join(f"{k}={v}" for k, v in options.items())
    page = hall.open_page("/halls/{hall}/rate" + (f"?{query}" if query else ""), role="pad", window=window,
                          size=PAD)
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    return page


def finish(hall: Hall, window: str, service: str = "SOC") -> dict[str, Any]:
    """Issue a ticket and serve it to the end at ``window`` (open); the ticket as issued (with its key)."""
    ticket: dict[str, Any] = hall.issue(service)
    assert hall.window_op(window, "call-next")["ticket"]["id"] == ticket["id"]
    hall.window_op(window, "start")
    hall.window_op(window, "finish", {"outcome": "done"})
    return ticket


def rating_of(hall: Hall, ticket_id: str) -> dict[str, Any] | None:
    """The record's rating of a ticket, once the archiver has it (waits up to 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [r for r in hall.call("GET", "/ratings")["ratings"] if r["ticket"] == ticket_id]
        if found:
            return found[0]  # type: ignore[no-any-return]
        time.sleep(0.1)
    return None


def test_the_pad_asks_when_its_window_finishes_and_thanks_after_one_tap(hall: Hall) -> None:
    hall.open_windows("5", "3")
    page = pad(hall, thanks="2")
    expect(page.locator("#window-name")).to_have_text("5号窗口")
    expect(page.locator("#idle")).to_be_visible()
    expect(page.locator("#idle")).to_contain_text("欢迎对我们的服务进行评价")

    finish(hall, "3")  # another window's citizen: not this pad's to ask
    page.wait_for_timeout(700)
    expect(page.locator("#ask")).to_be_hidden()

    mine = finish(hall, "5")
    ask = page.locator("#ask")
    expect(ask).to_be_visible(timeout=2000)
    expect(ask.locator("h1")).to_have_text("请为本次服务评价")
    expect(page.locator("#ask-number")).to_have_text(mine["number"])
    expect(page.locator("#ask-service")).to_have_text("社保医保")
    buttons = page.locator("#levels button")
    expect(buttons).to_have_count(5)
    expect(buttons.locator(".level-name")).to_have_text(["非常满意", "满意", "基本满意", "不满意", "非常不满意"])
    screenshot(page, "rating-pad")

    page.get_by_role("button", name="不满意", exact=True).click()
    expect(page.locator("#thanks")).to_be_visible()
    expect(page.locator("#thanks-head")).to_have_text("感谢您的评价！")
    expect(page.locator("#thanks-sub")).to_have_text("您的评价：不满意")
    stored = rating_of(hall, mine["id"])
    assert stored is not None
    assert (stored["score"], stored["source"], stored["bad"], stored["window"]) == (2, "pad", True, "5")

    expect(page.locator("#idle")).to_be_visible(timeout=4000)  # back to waiting by itself


def test_an_unanswered_question_goes_away_by_itself(hall: Hall) -> None:
    hall.open_windows("5")
    page = pad(hall, prompt="2")
    ticket = finish(hall, "5")
    expect(page.locator("#ask")).to_be_visible(timeout=2000)
    expect(page.locator("#idle")).to_be_visible(timeout=4000)
    state = hall.rating_state(ticket)
    assert (state["rated"], state["rateable"]) == (False, True)  # the citizen may still rate by phone


def test_a_pad_started_just_after_a_finish_asks_about_that_ticket(hall: Hall) -> None:
    hall.open_windows("5")
    ticket = finish(hall, "5")
    deadline = time.monotonic() + 10
    while hall.call("GET", "/windows/5/rating-pad", role="pad", window="5")["ticket"] is None:
        assert time.monotonic() < deadline, "the record did not get the finished ticket"
        time.sleep(0.1)
    page = pad(hall)
    expect(page.locator("#ask")).to_be_visible()
    expect(page.locator("#ask-number")).to_have_text(ticket["number"])
    page.get_by_role("button", name="非常满意").click()
    expect(page.locator("#thanks-sub")).to_have_text("您的评价：非常满意")


def test_a_rating_given_by_phone_meanwhile_ends_the_question(hall: Hall) -> None:
    hall.open_windows("5")
    page = pad(hall)
    ticket = finish(hall, "5")
    expect(page.locator("#ask")).to_be_visible(timeout=2000)
    hall.rate(ticket, 5)  # by the ticket's QR code, on the citizen's phone
    expect(page.locator("#thanks")).to_be_visible(timeout=2000)
    expect(page.locator("#thanks-sub")).to_have_text("本次服务已评价。")


def test_the_pad_speaks_english_and_says_which_token_it_needs(hall: Hall) -> None:
    hall.open_windows("5")
    page = pad(hall, lang="en")
    finish(hall, "5")
    expect(page.locator("#ask h1")).to_have_text("Please rate this service", timeout=2000)
    expect(page.locator("#levels .level-name").first).to_have_text("Very satisfied")
    guide = hall.open_page("/halls/{hall}/rate", role="guide", size=PAD, lang="en")
    expect(guide.locator(".signin-problem")).to_contain_text("The rating pad takes its window's pad token")
    expect(guide.locator(".signin-problem")).to_contain_text("hallq token --role pad --window")


def test_a_pad_signed_in_with_a_display_token_is_refused(hall: Hall) -> None:
    hall.open_windows("5")
    page = hall.open_page("/halls/{hall}/rate?window=5", role="display", size=PAD)
    problem = page.locator(".signin-problem")
    expect(problem).to_contain_text("评价器使用本窗口的评价器令牌")
    expect(problem).to_contain_text("hallq token --role pad --window")
    expect(page.locator("#link")).to_have_attribute("data-status", "connecting")  # never followed any feed
    finish(hall, "5")
    page.wait_for_timeout(700)
    expect(page.locator("#ask")).to_be_hidden()  # a display token asks nobody, whatever ?window= says
    # The refused token is not kept: a reload asks again rather than starting as a display.
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('hallq.token'))") == []

    page.fill("#signin-token", hall.token("pad", "5"))  # the right token, pasted: the pad starts
    page.click("#signin-submit")
    expect(page.locator(".signin-overlay")).to_have_count(0)
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    expect(page.locator("#window-name")).to_have_text("5号窗口")


def test_a_pad_rates_its_windows_just_finished_ticket_recorded_as_pad(hall: Hall) -> None:
    hall.open_windows("5", "3")
    page = pad(hall)
    earlier = finish(hall, "5")
    last = finish(hall, "5")
    expect(page.locator("#ask-number")).to_have_text(last["number"], timeout=2000)
    # A pad rates only the ticket its own window finished last: not another window's pad, not an earlier one.
    for window, ticket in (("3", last), ("5", earlier)):
        refused = hall.http.post(f"/api/v1/halls/{hall.id}/tickets/{ticket['id']}/rating", json={"score": 1},
                                 headers={"Authorization": f"Bearer {hall.token('pad', window)}"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_this_pad"), refused.text
    # Nor does any other role of the hall: a rating comes from the citizen served.
    others: list[tuple[str, str | None]] = [("manager", None), ("staff", "5"), ("display", None)]
    for role, at in others:
        refused = hall.http.post(f"/api/v1/halls/{hall.id}/tickets/{last['id']}/rating", json={"score": 1},
                                 headers={"Authorization": f"Bearer {hall.token(role, at)}"})
        assert refused.status_code == 403, (role, refused.text)

    page.get_by_role("button", name="满意", exact=True).click()
    expect(page.locator("#thanks-sub")).to_have_text("您的评价：满意")
    hall.rate(earlier, 3, source="pad")  # the earlier citizen, by the QR code: the body's source is ignored
    stored = rating_of(hall, last["id"])
    assert stored is not None
    assert (stored["score"], stored["source"], stored["window"], stored["number"]) == (4, "pad", "5", last["number"])
    by_key = rating_of(hall, earlier["id"])
    assert by_key is not None
    assert (by_key["score"], by_key["source"]) == (3, "qr")
