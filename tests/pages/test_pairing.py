"""Screens and pads paired, not pasted, in Chromium: a lobby display opened with no token shows a pairing code; the
hall's admin enters it on the accounts page and names the device; the display signs in by itself, with no secret in
its address. Unpaired (its credential withdrawn), it is refused within a second."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from tests.pages.conftest import Hall, screenshot

LANDSCAPE = (1920, 1080)
PAD = (1280, 800)


def code_on(page: Page) -> str:
    shown = page.locator("#pairing-code")
    expect(shown).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    return shown.inner_text().replace(" ", "")


def test_a_display_is_paired_by_its_code_on_the_accounts_page_and_unpaired_at_once(hall: Hall) -> None:
    hall.open_windows("1")
    display = hall.open_page("/halls/{hall}/display", size=LANDSCAPE)  # a new TV: no token anywhere
    code = code_on(display)
    screenshot(display, "display-pairing")

    admin = hall.open_page("/halls/{hall}/accounts", role="admin", size=(1600, 900))
    admin.fill("#pair-code", f"{code[:3]} {code[3:]}")  # typed as the screen shows it
    admin.fill("#pair-name", "一楼大厅左侧电视")
    admin.select_option("#pair-role", "display")
    admin.click("#pair-submit")
    expect(admin.locator("#pair-problem")).to_be_empty()
    device = admin.locator("#key-rows tr", has_text="一楼大厅左侧电视")
    expect(device).to_be_visible()

    # The display collects its own credential at its next poll and goes live: nothing in its address.
    expect(display.locator(".signin-overlay")).to_have_count(0, timeout=10_000)
    expect(display.locator("#link")).to_have_attribute("data-status", "live")
    assert "token" not in display.url
    hall.call("POST", "/tickets", role="guide", json={"service": "SOC"}, expect=201)
    hall.window_op("1", "call-next")
    expect(display.locator("#now-number")).to_have_text("A001")

    # A code is collected once: entering it again is refused, saying why.
    admin.fill("#pair-code", code)
    admin.fill("#pair-name", "又一台")
    admin.click("#pair-submit")
    expect(admin.locator("#pair-problem")).to_contain_text(code)
    hall.forgive_refusals(404)

    # Unpaired: its credential is refused everywhere within a second.
    (paired,) = [k for k in hall.call("GET", "/keys", role="admin")["keys"] if k["name"] == "一楼大厅左侧电视"]
    assert (paired["kind"], paired["role"]) == ("device", "display")
    token = display.evaluate("Object.entries(localStorage).find(([k]) => k.startsWith('hallq.token'))[1]")
    hall.call("DELETE", f"/keys/{paired['id']}", role="admin")
    refused_at = None
    start = time.monotonic()
    while time.monotonic() - start < 3:
        reply = hall.http.get(f"/api/v1/halls/{hall.id}/snapshot", headers={"Authorization": f"Bearer {token}"})
        if reply.status_code == 401:
            refused_at = time.monotonic() - start
            assert reply.json()["error"]["code"] == "revoked"
            break
        time.sleep(0.05)
    assert refused_at is not None, "the unpaired display's credential was still good 3 s later"
    assert refused_at < 1.0, refused_at


def test_a_rating_pad_is_paired_beside_its_window_and_a_stranger_cannot_collect_it(hall: Hall) -> None:
    hall.open_windows("5")
    pad = hall.open_page("/halls/{hall}/rate", size=PAD)
    code = code_on(pad)
    # Someone who read the code off the pad's screen has not its claim: nothing to collect.
    stranger = hall.http.get(f"/api/v1/halls/{hall.id}/pairing/{code}", headers={"X-Pairing-Claim": "guess"})
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (403, "wrong_claim")
    # Only the hall's admin pairs; a manager may not.
    body = {"name": "5号窗口评价器", "role": "pad", "window": "5"}
    refused = hall.call("POST", f"/pairing/{code}/device", role="manager", json=body, expect=403)
    assert refused["error"]["code"] == "wrong_role"
    hall.call("POST", f"/pairing/{code}/device", role="admin", json=body, expect=201)
    expect(pad.locator(".signin-overlay")).to_have_count(0, timeout=10_000)
    expect(pad.locator("#link")).to_have_attribute("data-status", "live")
    (paired,) = [k for k in hall.call("GET", "/keys", role="admin")["keys"] if k["name"] == "5号窗口评价器"]
    assert (paired["role"], paired["window"]) == ("pad", "5")
