"""A lobby display that cannot speak says so: on its own screen, for whoever sets it up, with what to do; to the
server; and so on the manager's dashboard, which lists the mute and the offline displays.

Each test gives the page a device (tests/pages/conftest.py, ``open_page(voice=...)``): a Mandarin voice, voices
listed but none Chinese, no voice listed ever, a voice whose every utterance fails, or no speech synthesis at all.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from displays.voice_api import OFFLINE_AFTER_S
from tests.pages.conftest import Hall, spoken

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

LANDSCAPE = (1920, 1080)
FULL_HD = (1920, 1080)
NO_ZH_VOICE = "本机无中文语音，叫号不会播报"


def open_display(hall: Hall, query: str = "", *, voice: str, role: str = "display") -> Page:
    page = hall.open_page(f"/halls/{{hall}}/display{query}", role=role, size=LANDSCAPE, voice=voice)
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    return page


def displays(hall: Hall) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = hall.call("GET", "/displays")["displays"]
    return result


def reported(hall: Hall, check: Any, within_s: float = 10.0) -> dict[str, Any]:
    """The one display the hall has seen, once its latest report passes ``check``."""
    deadline = time.monotonic() + within_s
    while True:
        seen = displays(hall)
        if len(seen) == 1 and check(seen[0]):
            return seen[0]
        assert time.monotonic() < deadline, f"no report like that within {within_s} s: {seen}"
        time.sleep(0.2)


def test_a_display_with_a_chinese_voice_speaks_with_it_and_reports_so(hall: Hall) -> None:
    hall.open_windows("5")
    number = hall.issue("SOC")["number"]
    page = open_display(hall, "?repeat=1&chime=0&name=一楼大厅东", voice="zh")

    first = reported(hall, lambda d: d["speaking"])
    assert first | {"display": None, "last_seen": None} == {
        "display": None, "name": "一楼大厅东", "voice": "Test Mandarin", "speaking": True, "problem": None,
        "mute": False, "offline": False, "last_seen": None}
    hall.window_op("5", "call-next")
    expect(page.locator("#now-number")).to_have_text(number)
    page.wait_for_function("window.__spoken.length >= 1")
    assert spoken(page)[0]["voice"] == "Test Mandarin"  # the Mandarin voice, not the device's English default
    expect(page.locator("#voice-problem")).to_be_hidden()
    expect(page.locator("#voice-status")).to_be_hidden()

    # The screen keeps its id across restarts: still one display, however often the TV box reboots.
    page.reload()
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    page.wait_for_timeout(500)
    assert [d["display"] for d in displays(hall)] == [first["display"]]

    dashboard = hall.open_page("/halls/{hall}/dashboard", role="manager", size=FULL_HD)
    expect(dashboard.locator("#service-rows tr").first).to_be_visible()
    dashboard.wait_for_timeout(500)
    expect(dashboard.locator("#displays-watch")).to_be_hidden()  # every display speaks: nothing to see to


def test_no_chinese_voice_is_said_on_the_screen_and_listed_on_the_dashboard_until_one_is_installed(
        hall: Hall) -> None:
    hall.open_windows("1")
    number = hall.issue("SOC")["number"]
    page = open_display(hall, "?repeat=1&chime=0&name=二楼东侧", voice="en-only")

    problem = page.locator("#voice-problem")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text(NO_ZH_VOICE)
    expect(problem).to_contain_text("安装中文（普通话）语音包")  # what to do about it
    expect(problem).to_contain_text("换用有中文语音的电视盒子或电脑")
    expect(problem).to_contain_text("本屏：二楼东侧（编号 ")  # which screen, as the dashboard names it
    expect(problem).to_contain_text("管理看板会列出本屏。")
    expect(page.locator("#voice-status")).to_have_text("无语音播报")
    # The people waiting are told too: watch this screen rather than listen for it.
    expect(page.locator("#notice-track span").first).to_contain_text("本屏暂不语音播报叫号，请留意屏幕。")
    mute = reported(hall, lambda d: d["mute"])
    assert (mute["name"], mute["voice"], mute["problem"]) == ("二楼东侧", None, NO_ZH_VOICE)

    dashboard = hall.open_page("/halls/{hall}/dashboard", role="manager", size=FULL_HD)
    watch = dashboard.locator("#displays-watch")
    expect(watch).to_be_visible()
    row = watch.locator(f'li[data-display="{mute["display"]}"]')
    expect(row).to_contain_text("二楼东侧")
    expect(row.locator(".display-mute")).to_have_text("无语音")
    expect(row).to_contain_text(NO_ZH_VOICE)
    expect(row.locator(".display-offline")).to_have_count(0)

    # Calls are still shown, and the screen still tries to speak them (a voice may answer after all).
    hall.window_op("1", "call-next")
    expect(page.locator("#now-number")).to_have_text(number)
    # Whoever set the screen up folds the panel away; the mark in the bar stays.
    page.locator("#voice-problem-ok").click()
    expect(problem).to_be_hidden()
    expect(page.locator("#voice-status")).to_be_visible()

    # A Chinese voice installed (the browser says its voices changed): the screen, the server and the dashboard
    # all know, without a restart.
    page.evaluate("window.__setVoices('zh')")
    expect(page.locator("#voice-status")).to_be_hidden()
    expect(page.locator("#notice-track span").first).not_to_contain_text("本屏暂不语音播报")
    fixed = reported(hall, lambda d: not d["mute"])
    assert (fixed["voice"], fixed["problem"]) == ("Test Mandarin", None)
    dashboard.reload()
    expect(dashboard.locator("#service-rows tr").first).to_be_visible()
    dashboard.wait_for_timeout(500)
    expect(dashboard.locator("#displays-watch")).to_be_hidden()


def test_a_device_that_never_lists_a_voice_is_mute_after_a_few_seconds(hall: Hall) -> None:
    page = open_display(hall, voice="none")  # headless Chromium as it is: no voice, and no word of any coming

    expect(page.locator("#voice-problem")).to_contain_text(NO_ZH_VOICE, timeout=8000)
    assert reported(hall, lambda d: d["mute"])["problem"] == NO_ZH_VOICE


def test_speech_that_fails_is_said_and_reported_with_the_browser_s_error(hall: Hall) -> None:
    hall.open_windows("1")
    hall.issue("SOC")
    page = open_display(hall, "?repeat=1&chime=0", voice="error")
    assert not reported(hall, lambda d: True)["mute"]  # a Mandarin voice is listed: it looks fine at first
    expect(page.locator("#voice-problem")).to_be_hidden()

    hall.window_op("1", "call-next")
    problem = page.locator("#voice-problem")
    expect(problem).to_contain_text("本机语音播报出错，叫号不会播报")
    expect(problem).to_contain_text("synthesis-failed")
    failing = reported(hall, lambda d: d["mute"])
    assert (failing["voice"], failing["problem"]) == ("Test Mandarin", "本机语音播报出错，叫号不会播报")


def test_a_browser_without_speech_at_all_says_so(hall: Hall) -> None:
    hall.open_windows("1")
    number = hall.issue("SOC")["number"]
    page = open_display(hall, "?repeat=1", voice="missing")

    expect(page.locator("#voice-problem")).to_contain_text("本机浏览器不能语音播报，叫号不会播报")
    assert reported(hall, lambda d: d["mute"])["problem"] == "本机浏览器不能语音播报，叫号不会播报"
    hall.window_op("1", "call-next")
    expect(page.locator("#now-number")).to_have_text(number)  # shown all the same


def test_a_manager_looking_at_the_display_sees_the_problem_but_reports_nothing(hall: Hall) -> None:
    page = open_display(hall, voice="en-only", role="manager")

    expect(page.locator("#voice-problem")).to_contain_text(NO_ZH_VOICE)
    expect(page.locator("#voice-problem")).not_to_contain_text("管理看板")
    page.wait_for_timeout(500)
    assert displays(hall) == []  # only a display token reports: the manager's laptop is no lobby screen


def test_the_dashboard_lists_a_display_that_stopped_reporting_as_offline(hall: Hall) -> None:
    page = open_display(hall, "?name=三楼", voice="zh")
    seen = reported(hall, lambda d: d["speaking"])
    page.context.close()

    # The server says offline once a display has been silent for OFFLINE_AFTER_S (tests/server/test_display_voice.py
    # moves its clock); here the dashboard is shown that answer.
    def silent(route: Route) -> None:
        answer = route.fetch().json()
        answer["displays"] = [{**d, "offline": True} for d in answer["displays"]]
        route.fulfill(json=answer)

    dashboard = hall.open_page("/halls/{hall}/dashboard", role="manager", size=FULL_HD)
    dashboard.route("**/displays", silent)
    dashboard.reload()
    row = dashboard.locator(f'#displays-watch li[data-display="{seen["display"]}"]')
    expect(row).to_contain_text("三楼")
    expect(row.locator(".display-offline")).to_have_text("离线")
    expect(row).to_contain_text(f"最后在线 {seen['last_seen'][11:16]}")
    expect(row.locator(".display-mute")).to_have_count(0)
    assert OFFLINE_AFTER_S <= 5 * 60  # "a few minutes"

    dashboard.locator("#lang").click()  # the dashboard's own language switch: the list follows
    expect(row.locator(".display-offline")).to_have_text("Offline")
    expect(dashboard.locator("#displays-watch h2")).to_have_text("Displays to see to")
