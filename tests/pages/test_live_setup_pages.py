"""The hall's set-up changed while it runs (PUT /setup/..., DELETE /setup/windows/...), and every live page follows
it without a reload: the lobby display, a window's console and the manager's dashboard from their feeds'
``hall.configured`` event, within a second or two; the guide desk and the kiosk, which have no feed, from their next
snapshot poll (its services no longer match their catalog), within a few seconds.

Each page is marked once it has loaded (``window.__sameLoad``): a page that reloaded itself would lose the mark, so
what is seen afterwards was drawn by the page that was already open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.pages.conftest import Hall, spoken

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

FEED_MS = 8_000  # a page with a feed: the event, then GET /config and /snapshot (a loaded 2-core machine)
POLL_MS = 10_000  # the guide desk and the kiosk: their next snapshot poll (every 5 s), then GET /catalog
NEW_SERVICE = {"code": "PASS", "letter": "P", "name_zh": "出入境", "name_en": "Exit and entry",
               "target_wait_s": 900, "handling_s": 300}


def setup(hall: Hall) -> Any:
    return hall.call("GET", "/setup", role="admin")


def change(hall: Hall, method: str, path: str, body: dict[str, Any] | None = None) -> int:
    """One set-up change made from the version GET /setup gives now; the new version, one more."""
    version = setup(hall)["version"]
    if body is None:
        reply = hall.call(method, f"{path}?version={version}", role="admin")
    else:
        reply = hall.call(method, path, role="manager", json={"version": version, **body})
    assert reply["version"] == version + 1, reply
    new_version: int = reply["version"]
    return new_version


def opened(page: Page) -> Page:
    page.evaluate("window.__sameLoad = true")
    return page


def same_load(page: Page) -> bool:
    return bool(page.evaluate("window.__sameLoad === true"))


def tiles_of(dashboard: Page) -> Callable[[str], Locator]:
    """A window's tile on the dashboard, by the window's id."""
    return lambda window: dashboard.locator(f'#windows .win[data-window="{window}"]')


def test_pages_follow_a_set_up_changed_live_without_a_reload(hall: Hall) -> None:
    hall.open_windows("2")
    config = setup(hall)["config"]
    window_2 = next(w for w in config["windows"] if w["id"] == "2")
    soc = next(s for s in config["services"] if s["code"] == "SOC")
    assert (window_2["name"], soc["name_zh"]) == ("2号窗口", "社保医保")
    assert "13" not in {w["id"] for w in config["windows"]}

    display = hall.open_page("/halls/{hall}/display?chime=0&repeat=1", role="display", size=(1920, 1080))
    expect(display.locator("#link")).to_have_attribute("data-status", "live")
    expect(display.locator('.win[data-window="2"] .win-name')).to_have_text("2号窗口")
    expect(display.locator("#notice-track")).to_contain_text("14:00–17:30")
    console = hall.open_page("/halls/{hall}/console", role="staff", window="2", size=(1366, 768))
    expect(console.locator("#link")).to_have_attribute("data-status", "live")
    expect(console.locator("#window-name")).to_have_text("2号窗口")
    expect(console.locator("#state")).to_have_text("空闲")
    expect(console.locator("#services-line")).to_contain_text("社保医保")
    dashboard = hall.open_page("/halls/{hall}/dashboard", role="manager", size=(1920, 1080))
    expect(dashboard.locator("#link")).to_have_attribute("data-status", "live")
    tile = tiles_of(dashboard)
    expect(tile("2").locator(".win-name")).to_have_text("2号窗口")
    expect(tile("13")).to_have_count(0)
    guide = hall.open_page("/halls/{hall}/guide", role="guide", size=(1180, 820))
    expect(guide.locator("#link")).to_have_attribute("data-status", "live")
    expect(guide.locator(".tile[data-code=SOC] .name")).to_have_text("社保医保")
    kiosk = hall.open_page("/halls/{hall}/kiosk", role="kiosk", size=(1080, 1920))
    expect(kiosk.locator("#link")).to_have_attribute("data-status", "live")
    expect(kiosk.locator(".k-tile[data-code=SOC] .k-tile-name")).to_have_text("社保医保")
    pages = [opened(p) for p in (display, console, dashboard, guide, kiosk)]

    # A new service; window 2 renamed and given it; a new window 13 for 社保 and it; 社保医保 renamed; longer hours.
    first = change(hall, "PUT", "/setup/services/PASS", {"service": NEW_SERVICE})
    change(hall, "PUT", "/setup/windows/2", {"window": {
        **{k: window_2[k] for k in ("id", "services", "primary")}, "name": "社保专窗",
        "services": [*window_2["services"], "PASS"]}})
    change(hall, "PUT", "/setup/windows/13", {"window": {
        "id": "13", "name": "13号窗口", "services": ["SOC", "PASS"], "primary": ["PASS"]}})
    change(hall, "PUT", "/setup/services/SOC", {"service": {**soc, "name_zh": "社会保障"}})
    last = change(hall, "PUT", "/setup/calendar", {
        "hours": ["08:30-12:00", "14:00-18:00"], "holidays": config["holidays"], "workdays": config["workdays"]})
    assert last == first + 4

    # The dashboard: a tile for the new window with both its services' letters, the new name on window 2's, the new
    # service's row and its line in the waiting-list picker, and 社保's new name wherever the page names it.
    expect(tile("13")).to_have_count(1, timeout=FEED_MS)
    expect(tile("13").locator(".win-name")).to_have_text("13号窗口")
    expect(tile("13").locator(".svc")).to_have_text(["A", "P"], timeout=FEED_MS)
    expect(tile("13").locator(".svc.primary")).to_have_text("P")
    expect(tile("13").locator(".svc").first).to_have_attribute("title", "社会保障 Social security")
    expect(tile("2").locator(".win-name")).to_have_text("社保专窗")
    expect(tile("2").locator(".svc").last).to_have_text("P")
    expect(dashboard.locator('#service-rows tr[data-service="PASS"] .svc-name')).to_have_text("P出入境")
    expect(dashboard.locator('#service-rows tr[data-service="SOC"] .svc-name')).to_have_text("A社会保障")
    expect(dashboard.locator('#queue-service option[value="PASS"]')).to_have_text("P 出入境（0 人）")
    expect(dashboard.locator('#queue-service option[value="SOC"]')).to_contain_text("A 社会保障")

    # The console of window 2: its new name, and its skills by their names now, the new service among them.
    expect(console.locator("#window-name")).to_have_text("社保专窗", timeout=FEED_MS)
    expect(console.locator("#services-line")).to_contain_text("优先叫号：社会保障")
    expect(console.locator("#services-line")).to_contain_text("出入境")
    assert console.title().startswith("社保专窗")

    # The lobby display: window tiles and service lines (from the snapshot), and the hours on its notice line.
    expect(display.locator('.win[data-window="2"] .win-name')).to_have_text("社保专窗", timeout=FEED_MS)
    expect(display.locator('.win[data-window="13"]')).to_have_count(1)
    expect(display.locator('#services [data-service="SOC"] .svc-name')).to_have_text("社会保障")
    expect(display.locator('#services [data-service="PASS"] .svc-name')).to_have_text("出入境")
    expect(display.locator("#notice-track")).to_contain_text("14:00–18:00", timeout=FEED_MS)

    # The guide desk and the kiosk: the renamed service and the new one, and search finds the new one by its pinyin.
    expect(guide.locator(".tile[data-code=SOC] .name")).to_have_text("社会保障", timeout=POLL_MS)
    expect(guide.locator(".tile[data-code=PASS] .name")).to_have_text("出入境")
    expect(guide.locator(".tile[data-code=PASS] .able")).to_have_text("1 个窗口可办")
    guide.locator("#search").fill("crj")
    expect(guide.locator(".tile:visible .name")).to_have_text(["出入境"])
    expect(kiosk.locator(".k-tile[data-code=SOC] .k-tile-name")).to_have_text("社会保障", timeout=POLL_MS)
    expect(kiosk.locator(".k-tile[data-code=PASS] .k-tile-name")).to_have_text("出入境")

    # Window 2 calls a 社保 ticket from its console: the display names the window by its new name, as it says it.
    ticket = hall.issue("SOC")
    expect(console.locator("#waiting-list .l-service")).to_have_text(["社会保障"])
    console.keyboard.press("F1")
    expect(console.locator("#t-number")).to_have_text(ticket["number"])
    expect(console.locator("#t-service")).to_have_text("社会保障")
    expect(display.locator("#now-number")).to_have_text(ticket["number"])
    expect(display.locator("#now-window")).to_have_text("社保专窗")
    expect(display.locator("#now-words")).to_have_text(f"请{ticket['number']}号到社保专窗")
    display.wait_for_function("() => (window.__spoken || []).length >= 1")
    assert spoken(display)[0]["text"] == f"请{ticket['number']}号到社保专窗"

    # Window 13 removed: its tile goes from the dashboard and the display.
    change(hall, "DELETE", "/setup/windows/13")
    expect(tile("13")).to_have_count(0, timeout=FEED_MS)
    expect(display.locator('.win[data-window="13"]')).to_have_count(0, timeout=FEED_MS)
    expect(tile("2").locator(".win-name")).to_have_text("社保专窗")

    assert all(same_load(p) for p in pages), "a page reloaded itself"
