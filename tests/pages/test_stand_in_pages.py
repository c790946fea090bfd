"""AB岗 (A/B post stand-in) on the pages, in a real Chromium against a real server: the console's 离岗 chip hands a
window's services to its B post and resuming takes them back; the managers' dashboard raises a banner at once when
a window's staff leave and a service is left with no open window, which a manager dismisses, or which clears
itself once an open window serves the service again.

The demo hall: windows 9 and 10 both serve 不动产登记 (PROP) only, 11 serves PROP (mortgages) and 税务办理 (TAX);
1-8 serve TAX too but stay closed here. Window 9's B post is set to 10, and 10 is moved to TAX alone, so a take-over
shows as 10 gaining PROP.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.pages.conftest import Hall, screenshot

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

DASHBOARD = "/halls/{hall}/dashboard"
CONSOLE = "/halls/{hall}/console"
SIZE = (1366, 768)
SOON = 8000  # ms: the dashboard hears events at once; its snapshot is re-read 200 ms after them, and every 5 s


def set_stand_in(hall: Hall, window: str, stand_in: str | None) -> None:
    """PUT /setup/windows/{window} with its current fields and ``stand_in`` as its B post."""
    setup = hall.call("GET", "/setup")
    current = next(w for w in setup["config"]["windows"] if w["id"] == window)
    hall.call("PUT", f"/setup/windows/{window}", json={"version": setup["version"],
                                                        "window": {**current, "stand_in": stand_in}})
    after = hall.call("GET", "/config")
    assert next(w for w in after["windows"] if w["id"] == window)["stand_in"] == stand_in


def window_line(hall: Hall, window: str) -> Any:
    """The window's line in GET /snapshot (state, services)."""
    return next(w for w in hall.call("GET", "/snapshot")["windows"] if w["id"] == window)


def letters(page: Page, window: str) -> Any:
    """The service letters the dashboard's tile of ``window`` shows."""
    return page.locator(f'#windows .win[data-window="{window}"] .win-services .svc')


def open_dashboard(hall: Hall) -> Page:
    page = hall.open_page(DASHBOARD, role="manager", size=SIZE)
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    expect(page.locator('#windows .win[data-window="10"]')).to_be_visible()
    return page


def open_console(hall: Hall, window: str) -> Page:
    page = hall.open_page(CONSOLE, role="staff", window=window, size=SIZE)
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    return page


def test_leaving_the_post_hands_over_and_an_uncovered_service_alerts_the_dashboard(hall: Hall) -> None:
    config = hall.call("GET", "/config")
    letter = {s["code"]: s["letter"] for s in config["services"]}
    set_stand_in(hall, "9", "10")
    hall.open_windows("9", "10")
    hall.call("POST", "/windows/10/services", json={"services": ["TAX"], "primary": ["TAX"]})
    assert window_line(hall, "10")["services"] == ["TAX"]

    dashboard = open_dashboard(hall)
    expect(letters(dashboard, "10")).to_have_text([letter["TAX"]])
    console = open_console(hall, "9")
    expect(console.locator("#state")).to_have_text("空闲")

    # -- 9 leaves its post through the console's new chip: its B post (10) takes up PROP ------------------------
    console.click("#act-pause")
    expect(console.locator("#pause-stand-in")).to_contain_text("离岗后由 10号窗口 接替本窗口业务")
    chip = console.locator("#pause-chips .chip", has_text="离岗（B岗接替）")
    expect(chip).to_have_count(1)
    for kept in ("午休", "临时离岗", "系统故障"):  # the chips staff know stay
        expect(console.locator("#pause-chips .chip", has_text=kept)).not_to_have_count(0)
    chip.click()
    expect(console.locator("#pause-reason")).to_have_value("离岗（B岗接替）")
    console.click("#pause-submit")
    expect(console.locator("#state")).to_have_text("暂停服务")
    nine = hall.call("GET", "/windows/9", role="staff", window="9")
    assert nine["state"] == "paused"
    assert nine["reason"].startswith("离岗")
    ten = window_line(hall, "10")
    assert ten["state"] == "idle"
    assert sorted(ten["services"]) == ["PROP", "TAX"], ten  # the B post took up what 9 served
    expect(letters(dashboard, "10")).to_have_count(2, timeout=SOON)  # the tile shows it...
    expect(dashboard.locator('#windows .win[data-window="9"]')).to_have_attribute("data-state", "paused")
    dashboard.wait_for_timeout(1000)  # ...and an alert, had the server sent one, came before that snapshot
    expect(dashboard.locator("#uncovered")).to_be_hidden()  # PROP is served at 10: nothing to tell
    expect(dashboard.locator("#uncovered-list li")).to_have_count(0)

    # -- 9 is back: 10 gives PROP back -------------------------------------------------------------------------
    console.click("#act-resume")
    expect(console.locator("#state")).to_have_text("空闲")
    assert window_line(hall, "10")["services"] == ["TAX"]
    expect(letters(dashboard, "10")).to_have_text([letter["TAX"]], timeout=SOON)

    # -- 9 pauses for lunch (hands nothing over), then 10 leaves: TAX has no open window -----------------------
    hall.window_op("9", "pause", {"reason": "午休"})
    assert window_line(hall, "10")["services"] == ["TAX"]  # 午休 is not 离岗
    hall.window_op("10", "pause", {"reason": "离岗"})
    banner = dashboard.locator('#uncovered-list li[data-window="10"]')
    expect(banner).to_be_visible(timeout=5000)
    expect(banner).to_have_attribute("data-services", "TAX")
    expect(banner.locator(".uncovered-services")).to_have_text("税务办理")
    expect(banner).to_contain_text("无人可办：10号窗口离岗，且无其他开放窗口可办理")
    expect(banner).not_to_contain_text("接替")  # 10 has no B post, and nothing was taken up
    expect(dashboard.locator("#uncovered-list li")).to_have_count(1)
    # It stays: later snapshots (re-read every 5 s) still show no open window serving TAX.
    dashboard.wait_for_timeout(5500)
    expect(banner).to_be_visible()
    assert "(1)" in dashboard.title()
    screenshot(dashboard, "dashboard-uncovered")

    dashboard.click("#lang")  # the manager's language, from the hall's own names
    expect(banner.locator(".uncovered-services")).to_have_text("Taxation")
    expect(banner).to_contain_text("Window 10 left the post")
    dashboard.click("#lang")
    expect(banner).to_contain_text("10号窗口离岗")

    banner.locator("button.ack", has_text="知道了").click()
    expect(dashboard.locator("#uncovered")).to_be_hidden()

    # -- 9 leaves while its B post is away too: the banner says 10 did not stand in, and clears itself once an ----
    # -- open window (11) serves PROP again ---------------------------------------------------------------------
    hall.window_op("9", "resume")
    hall.window_op("9", "pause", {"reason": "离岗（B岗接替）"})
    assert window_line(hall, "10")["services"] == ["TAX"]  # 10 is paused: it takes nothing up
    second = dashboard.locator('#uncovered-list li[data-window="9"]')
    expect(second).to_be_visible(timeout=5000)
    expect(second).to_have_attribute("data-services", "PROP")
    expect(second.locator(".uncovered-services")).to_have_text("不动产登记")
    expect(second).to_contain_text("9号窗口离岗")
    expect(second).to_contain_text("B岗10号窗口未能接替")
    expect(dashboard.locator('#uncovered-list li[data-window="10"]')).to_have_count(0)  # dismissed stays dismissed

    hall.open_windows("11")  # serves PROP (and TAX): nobody is left without a window
    expect(dashboard.locator("#uncovered")).to_be_hidden(timeout=SOON)
    expect(dashboard.locator("#uncovered-list li")).to_have_count(0)
