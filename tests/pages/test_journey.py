"""One citizen through the whole hall, every page a real Chromium page on a real server:

the guide issues a ticket on the guide desk, the citizen follows it on the phone page, staff call it on the
window console, the lobby display shows it and queues its announcement, the phone flips to "your turn", and the
manager's dashboard counts move with each step.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.pages.conftest import Hall, spoken

DISPLAY = (1920, 1080)


def test_a_ticket_from_the_guide_desk_to_the_window(hall: Hall) -> None:
    hall.open_windows("3")  # the window opens for business before the doors do
    display = hall.open_page("/halls/{hall}/display?chime=0&repeat=1", role="display", size=DISPLAY)
    dashboard = hall.open_page("/halls/{hall}/dashboard", role="manager", size=(1920, 1080))
    console = hall.open_page("/halls/{hall}/console", role="staff", window="3", size=(1366, 768))
    guide = hall.open_page("/halls/{hall}/guide", role="guide", size=(1180, 820))
    soc_waiting = dashboard.locator('#service-rows tr[data-service="SOC"] [data-field="waiting"]')
    expect(soc_waiting).to_have_text("0")
    expect(console.locator("#state")).to_have_text("空闲")

    # The guide finds 社保 by its pinyin initials and issues.
    guide.fill("#search", "sbyb")
    guide.locator('#grid .tile[data-code="SOC"]').click()
    guide.click("#issue")
    expect(guide.locator("#r-number")).to_have_text("A001")
    waiting = hall.call("GET", "/queue")["tickets"]
    assert [t["number"] for t in waiting] == ["A001"]
    ticket_id = waiting[0]["id"]

    # The citizen scans the QR code: the phone page shows the place in line.
    phone = hall.open_page(f"/t/{ticket_id}", size=(390, 844))
    expect(phone.locator("#number")).to_have_text("A001")
    expect(phone.locator("#ahead")).to_have_text("0")
    expect(soc_waiting).to_have_text("1")  # the dashboard saw the issue live

    # Staff call the next citizen with the keyboard shortcut.
    console.keyboard.press("F1")
    expect(console.locator("#state")).to_have_text("叫号中")
    assert hall.call("GET", "/windows/3", role="staff", window="3")["ticket"]["number"] == "A001"

    # The lobby display shows the call and queues its announcement in Chinese.
    expect(display.locator("#now-number")).to_have_text("A001")
    expect(display.locator("#now-window")).to_contain_text("3号窗口")
    display.wait_for_function("window.__spoken.length >= 1")
    said = spoken(display)
    assert [(s["text"], s["lang"]) for s in said] == [("请A001号到3号窗口", "zh-CN")]

    # The phone flips to "your turn, go to window 3".
    expect(phone.locator("#turn")).to_be_visible()
    expect(phone.locator("#turn")).to_contain_text("3号窗口")
    assert phone.evaluate("document.body.dataset.status") == "called"

    # The dashboard: nobody waits for 社保 any more, window 3 is calling A001.
    expect(soc_waiting).to_have_text("0")
    window3 = dashboard.locator('#windows [data-window="3"]')
    expect(window3).to_have_attribute("data-state", "calling")
    expect(window3.locator('[data-field="ticket"]')).to_have_text("A001")

    # The citizen arrives and is served; every face follows.
    console.keyboard.press("F3")
    expect(console.locator("#state")).to_have_text("办理中")
    expect(window3).to_have_attribute("data-state", "serving")
    console.keyboard.press("F4")
    expect(console.locator("#state")).to_have_text("空闲")
    expect(phone.locator("body")).to_have_attribute("data-status", "done")
    expect(dashboard.locator("#kpi-served")).to_have_text("1", timeout=15_000)  # from the SQL record
    assert hall.call("GET", f"/tickets/{ticket_id}")["status"] == "done"
