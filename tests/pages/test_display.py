"""The lobby display in Chromium against a real server: calls shown and spoken (in order, never cut off, again
on a recall, and after the feed drops), window states, waiting counts, the notice line, the voice gate, the
hall's language (its setting, not a button on the TV), and the landscape and portrait screenshots of a busy hall.
A display that cannot speak is tested in test_display_voice.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.pages.conftest import Hall, screenshot, spoken
from tests.server.conftest import LiveServer, delete_prefix_sync, start_server, stop_server, write_hall_copy

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

LANDSCAPE = (1920, 1080)
PORTRAIT = (1080, 1920)

# A browser that has had no click yet: sound stays suspended until someone touches the page.
SUSPENDED_AUDIO = """
window.AudioContext = class {
  constructor() { this.state = "suspended"; this.onstatechange = null; this.currentTime = 0; }
  resume() { this.state = "running"; if (this.onstatechange) this.onstatechange(); return Promise.resolve(); }
};
"""
NO_AUDIO = "delete window.AudioContext; delete window.webkitAudioContext;"


def hall_in_english(directory: Path, hall_id: str) -> Path:
    """A demo copy whose screens speak English to their readers: ``[screens] language = "en"`` in the hall file."""
    path = write_hall_copy(directory, hall_id)
    text = path.read_text(encoding="utf-8")
    if re.search(r"^\[screens\]", text, flags=re.MULTILINE):  # the demo may say its language already
        text = re.sub(r"^(\[screens\][^\[]*?)^language = .*$\n?", r"\1", text, count=1, flags=re.MULTILINE | re.DOTALL)
        text = re.sub(r"^\[screens\]\n", '[screens]\nlanguage = "en"\n', text, count=1, flags=re.MULTILINE)
    else:
        text += '\n[screens]\nlanguage = "en"\n'
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def english_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("english")
    (home / "halls").mkdir()
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=[hall_in_english(home / "halls", "english")],
                          hall_ids=("english",), heartbeat_s=1.0)
    try:
        yield server
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


@pytest.fixture
def english_hall(english_server: LiveServer, browser: Browser) -> Iterator[Hall]:
    """The one hall of a server whose hall file sets its screens' language to English."""
    h = Hall(english_server, "english", browser)
    yield h
    h.http.close()
    for context in browser.contexts:
        context.close()
    assert not h.errors, "errors in the page:\n" + "\n".join(h.errors)


def open_display(hall: Hall, query: str = "", *, size: tuple[int, int] = LANDSCAPE, **kwargs: Any) -> Page:
    """The display signed in with a display token, its feed live (so later calls arrive as live events)."""
    page = hall.open_page(f"/halls/{{hall}}/display{query}", role="display", size=size, **kwargs)
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    return page


def wait_spoken(page: Page, count: int) -> list[dict[str, Any]]:
    page.wait_for_function("n => (window.__spoken || []).length >= n", arg=count)
    return spoken(page)


def words(number: str, window: str) -> str:
    return f"请{number}号到{window}号窗口"


def test_a_call_is_shown_and_spoken_twice_by_default(hall: Hall) -> None:
    hall.open_windows("5")
    ticket = hall.issue("SOC")
    page = open_display(hall)

    hall.window_op("5", "call-next")

    expect(page.locator("#now-number")).to_have_text(ticket["number"])
    expect(page.locator("#now-window")).to_have_text("5号窗口")
    expect(page.locator("#now-words")).to_have_text(words(ticket["number"], "5"))
    expect(page.locator('.win[data-window="5"] .win-main')).to_have_text(ticket["number"])
    said = wait_spoken(page, 2)
    assert [s["text"] for s in said] == [words(ticket["number"], "5")] * 2
    assert {s["lang"] for s in said} == {"zh-CN"}


def test_calls_in_quick_succession_are_spoken_in_order_and_never_cut_off(hall: Hall) -> None:
    hall.open_windows("1", "2", "3")
    numbers = [hall.issue("SOC")["number"] for _ in range(3)]
    speech_ms = 400
    page = open_display(hall, "?repeat=1", speech_ms=speech_ms)

    for window in ("1", "2", "3"):
        hall.window_op(window, "call-next")

    said = wait_spoken(page, 3)
    assert [s["text"] for s in said] == [words(n, w) for n, w in zip(numbers, ("1", "2", "3"), strict=True)]
    gaps = [b["at"] - a["at"] for a, b in pairwise(said)]
    assert all(gap >= speech_ms for gap in gaps), gaps  # each began after the one before had ended
    assert page.evaluate("window.__cancelled") is None
    expect(page.locator("#now-number")).to_have_text(numbers[2])
    expect(page.locator("#recent .recent-number")).to_have_text([numbers[1], numbers[0]])


def test_a_recall_flashes_and_is_spoken_again(hall: Hall) -> None:
    hall.open_windows("2")
    number = hall.issue("HUK")["number"]
    page = open_display(hall, "?repeat=1&chime=0")

    hall.window_op("2", "call-next")
    wait_spoken(page, 1)
    expect(page.locator("#now-recall")).to_be_hidden()
    hall.window_op("2", "recall")

    said = wait_spoken(page, 2)
    assert [s["text"] for s in said] == [words(number, "2")] * 2
    expect(page.locator("#now-recall")).to_be_visible()
    expect(page.locator("#now")).to_have_class("panel now flash")
    expect(page.locator("#recent li")).to_have_count(0)  # the same number is not listed twice


def test_calls_made_while_the_feed_reconnects_still_arrive_and_are_spoken(hall: Hall) -> None:
    hall.open_windows("1", "2")
    first, second = hall.issue("SOC")["number"], hall.issue("SOC")["number"]
    page = open_display(hall, "?repeat=1")

    page.evaluate("window.hallqDisplay.feed.drop()")
    expect(page.locator("#link")).to_have_attribute("data-status", "reconnecting")
    hall.window_op("1", "call-next")
    hall.window_op("2", "call-next")

    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    expect(page.locator("#now-number")).to_have_text(second)
    expect(page.locator("#recent .recent-number")).to_have_text([first])
    said = wait_spoken(page, 2)
    assert [s["text"] for s in said] == [words(first, "1"), words(second, "2")]


def test_calls_replayed_long_after_they_happened_are_shown_but_not_spoken(hall: Hall) -> None:
    hall.open_windows("1", "2")
    old, new = hall.issue("SOC")["number"], hall.issue("SOC")["number"]
    page = open_display(hall, "?repeat=1&chime=0")
    soc_waiting = page.locator('#services [data-service="SOC"] .svc-waiting b')

    # The screen learns the server's time from /snapshot. Make it two minutes later than the calls below, as
    # if the screen had been dark that long and its feed were now replaying what it missed.
    def later(route: Route) -> None:
        snap = hall.call("GET", "/snapshot", role="display")
        snap["at"] = (datetime.fromisoformat(snap["at"]) + timedelta(minutes=2)).isoformat()
        route.fulfill(json=snap)

    page.route("**/snapshot", later)
    hall.issue("SOC")  # any event makes the screen read /snapshot again
    expect(soc_waiting).to_have_text("3")
    page.evaluate("window.hallqDisplay.feed.drop()")
    expect(page.locator("#link")).to_have_attribute("data-status", "reconnecting")
    hall.window_op("1", "call-next")
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    expect(page.locator("#now-number")).to_have_text(old)  # shown...
    expect(soc_waiting).to_have_text("2")

    # ...but not spoken. Back to the server's true time, a call is spoken again.
    page.unroute_all(behavior="wait")  # a re-read still in the handler is answered by it, not let through
    hall.issue("SOC")
    expect(soc_waiting).to_have_text("3")
    hall.window_op("2", "call-next")
    expect(page.locator("#now-number")).to_have_text(new)
    wait_spoken(page, 1)
    page.wait_for_timeout(300)  # time enough for a wrongly queued old call to have been spoken too
    assert [s["text"] for s in spoken(page)] == [words(new, "2")]


def test_window_states_and_waiting_per_service(hall: Hall) -> None:
    hall.open_windows("1", "3")
    page = open_display(hall, "?chime=0")

    def window(w: str) -> Locator:
        return page.locator(f'.win[data-window="{w}"]')

    expect(window("1").locator(".win-main")).to_have_text("空闲")
    expect(window("4").locator(".win-main")).to_have_text("未开放")
    hall.window_op("3", "pause", {"reason": "系统维护"})
    expect(window("3").locator(".win-main")).to_have_text("暂停服务")
    expect(window("3")).to_have_attribute("data-state", "paused")
    # The reason staff typed is theirs, not the lobby's: the tile says only 暂停服务, and the display is not told.
    expect(window("3").locator(".win-sub")).to_have_text("")
    expect(page.locator("body")).not_to_contain_text("系统维护")
    paused = {w["id"]: w for w in hall.call("GET", "/snapshot", role="display")["windows"]}["3"]
    assert (paused["state"], paused["reason"]) == ("paused", None)
    assert {w["id"]: w for w in hall.call("GET", "/snapshot")["windows"]}["3"]["reason"] == "系统维护"  # managers'

    soc = page.locator('#services [data-service="SOC"]')
    expect(soc.locator(".svc-waiting b")).to_have_text("0")
    expect(soc.locator(".svc-eta")).to_have_text("无需等候")
    first = hall.issue("SOC")["number"]
    expect(soc.locator(".svc-waiting b")).to_have_text("1")
    hall.issue("SOC")
    expect(soc.locator(".svc-waiting b")).to_have_text("2")
    expect(soc.locator(".svc-eta")).to_have_text(re.compile(r"^(即将|约 \d+ 分钟)$"))
    # 不动产 is handled only by windows that are closed: nobody can take it now.
    expect(page.locator('#services [data-service="PROP"] .svc-eta')).to_have_text("暂停办理")

    hall.window_op("1", "call-next")
    expect(window("1").locator(".win-main")).to_have_text(first)
    expect(window("1").locator(".win-sub")).to_have_text("叫号中")
    expect(soc.locator(".svc-waiting b")).to_have_text("1")
    hall.window_op("1", "start")
    expect(window("1").locator(".win-sub")).to_have_text("办理中")
    expect(window("1")).to_have_attribute("data-state", "serving")


def test_an_english_hall_s_display_is_in_english_from_its_hall_file_with_no_button_to_change_it(
        english_hall: Hall) -> None:
    hall = english_hall
    assert hall.call("GET", "/config", role="display")["screens"]["language"] == "en"
    hall.open_windows("5")
    number = hall.issue("TAX")["number"]
    page = open_display(hall, "?chime=0&repeat=1", lang="zh")  # the browser's own choice is not the hall's

    expect(page.locator(".now h2 span").first).to_have_text("Now calling")
    expect(page.locator("#now-idle")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    hall.window_op("5", "call-next")
    expect(page.locator("#now-window")).to_have_text("Window 5")
    expect(page.locator("#now-words")).to_have_text(f"Number {number}, please go to Window 5")
    expect(page.locator('#services [data-service="TAX"] .svc-name')).to_have_text("Taxation")
    expect(page.locator('.win[data-window="6"] .win-main')).to_have_text("Closed")
    expect(page.locator("#notice-track span").first).to_contain_text("Please watch for your number")
    expect(page.locator("button", has_text=re.compile("English|中文"))).to_have_count(0)  # nothing to switch it
    expect(page).to_have_title(f"{hall.call('GET', '/snapshot', role='display')['name']} queue display")
    # The voice speaks Chinese whatever the screen's language: the hall's announcement is the same for all.
    assert wait_spoken(page, 1)[0]["text"] == words(number, "5")


def test_a_chinese_hall_s_display_stays_chinese_whatever_the_browser_or_address_asks(hall: Hall) -> None:
    config = hall.call("GET", "/config", role="display")
    assert config["screens"]["language"] == "zh"
    hall.open_windows("5")
    page = open_display(hall, "?chime=0&repeat=1&lang=en", lang="en")

    expect(page.locator(".now h2 span").first).to_have_text("正在呼叫")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator('#services [data-service="TAX"] .svc-name')).to_have_text("税务办理")
    expect(page.locator('.win[data-window="6"] .win-main')).to_have_text("未开放")
    # No button on the TV to change it: the old "English" switch is gone.
    expect(page.locator("#lang-switch")).to_have_count(0)
    expect(page.locator("button", has_text=re.compile("English|中文"))).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("English")
    # The tab and the TV box's task list name the hall, in the hall's words.
    snapshot = hall.call("GET", "/snapshot", role="display")
    expect(page).to_have_title(f"{snapshot['name']} 叫号显示")
    # Citizens read names: never a service's code, nor the pinyin a guide searches by.
    shown = page.locator("body").inner_text()
    for service in config["services"]:
        assert service["code"] not in shown, service["code"]
        for term in (service["pinyin"], service["initials"]):
            assert term.lower() not in shown.lower(), term


HOURS_ZH = "办公时间：上午 08:30–12:00，下午 14:00–17:30。"
HOURS_EN = "Opening hours: 08:30–12:00 (morning), 14:00–17:30 (afternoon). "
NO_SHOW_BEFORE = "过号请到导办台重新排队。"  # the sentence of a hall whose /config says no rule of its own


def test_notice_line_scrolls_the_opening_hours_or_a_notice_of_its_own(hall: Hall) -> None:
    page = open_display(hall)
    track = page.locator("#notice-track span").first
    rule = hall.call("GET", "/config", role="display").get("no_show_notice")
    tail = rule["zh"].rstrip("。") + "。" if rule else NO_SHOW_BEFORE
    expect(track).to_have_text(f"{HOURS_ZH}请留意叫号，{tail}")
    assert page.eval_on_selector("#notice-track", "n => getComputedStyle(n).animationName") == "marquee"
    assert page.locator("marquee").count() == 0

    own = hall.open_page("/halls/{hall}/display?notice=今日下午系统升级，暂停办理不动产业务", role="display")
    expect(own.locator("#notice-track span").first).to_have_text("今日下午系统升级，暂停办理不动产业务")


def with_no_show_notice(page: Page, notice: dict[str, str] | None) -> None:
    """/config as it reads when the hall's no-show rule is ``notice`` (None: a /config that says none)."""
    def change(route: Route) -> None:
        config = route.fetch().json()
        config.pop("no_show_notice", None)
        route.fulfill(json=config | ({"no_show_notice": notice} if notice else {}))

    page.route("**/config", change)


def test_the_notice_line_says_the_hall_s_own_no_show_rule_when_it_has_one(hall: Hall) -> None:
    page = hall.open_page("/halls/{hall}/display", role="display", size=LANDSCAPE)
    with_no_show_notice(page, {"zh": "过号后30分钟内可到导办台登记，顺延3位叫号", "en": "Missed it? See a guide."})
    page.reload()
    track = page.locator("#notice-track span").first
    expect(track).to_have_text(f"{HOURS_ZH}请留意叫号，过号后30分钟内可到导办台登记，顺延3位叫号。")
    expect(page.locator("body")).not_to_contain_text("过号请到导办台重新排队")

    with_no_show_notice(page, None)  # a server that does not give the rule: the sentence of before
    page.reload()
    expect(track).to_have_text(f"{HOURS_ZH}请留意叫号，{NO_SHOW_BEFORE}")


def test_an_english_hall_s_notice_line_says_its_own_no_show_rule_in_english(english_hall: Hall) -> None:
    page = english_hall.open_page("/halls/{hall}/display", role="display", size=LANDSCAPE)
    track = page.locator("#notice-track span").first
    rule = english_hall.call("GET", "/config", role="display").get("no_show_notice")
    before = "Please watch for your number; if you miss your call, see the guide desk to queue again."
    expect(track).to_have_text(HOURS_EN + (f"Please watch for your number. {rule['en']}" if rule else before))

    with_no_show_notice(page, {"zh": "过号请重新取号", "en": "Missed your call? Take a new number"})
    page.reload()
    expect(track).to_have_text(f"{HOURS_EN}Please watch for your number. Missed your call? Take a new number.")
    with_no_show_notice(page, None)
    page.reload()
    expect(track).to_have_text(HOURS_EN + before)


def test_voice_gate_until_a_click_and_calls_are_spoken_meanwhile(hall: Hall) -> None:
    hall.open_windows("1")
    number = hall.issue("SOC")["number"]
    page = open_display(hall, "?repeat=1")
    # Whether headless Chromium lets sound start without a click varies; a stand-in AudioContext decides.
    page.context.add_init_script(SUSPENDED_AUDIO)
    page.reload()
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    gate = page.locator("#voice-gate")
    expect(gate).to_be_visible()
    expect(gate).to_contain_text("点击开启语音")
    hall.window_op("1", "call-next")
    assert wait_spoken(page, 1)[0]["text"] == words(number, "1")  # a suspended chime holds nothing up

    page.mouse.click(400, 300)
    expect(gate).to_be_hidden()


def test_no_web_audio_at_all_still_announces(hall: Hall) -> None:
    hall.open_windows("1")
    number = hall.issue("SOC")["number"]
    page = open_display(hall, "?repeat=1")
    page.context.add_init_script(NO_AUDIO)
    page.reload()
    expect(page.locator("#link")).to_have_attribute("data-status", "live")

    hall.window_op("1", "call-next")
    assert wait_spoken(page, 1)[0]["text"] == words(number, "1")


def busy_hall(hall: Hall) -> None:
    """A mid-morning: eight windows open, 25 tickets over six services, calls and service under way, one pause."""
    hall.open_windows(*(str(w) for w in range(1, 9)))
    hall.issue("BIZ", name="王小明")  # a real-name ticket, window 7's call at the end: shown as 王*明 by its number
    for service, count in (("SOC", 7), ("HUK", 5), ("TAX", 4), ("FUND", 3), ("BIZ", 1), ("PROP", 2), ("INFO", 2)):
        for _ in range(count):
            hall.issue(service)
    for window in ("1", "2"):
        hall.window_op(window, "call-next")
        hall.window_op(window, "start")
        hall.window_op(window, "finish", {"outcome": "done"})
    for window in ("1", "2", "3", "4", "5", "6", "7"):
        hall.window_op(window, "call-next")
    for window in ("1", "3", "4"):
        hall.window_op(window, "start")
    hall.window_op("8", "pause", {"reason": "系统维护，请至其他窗口"})


def settle(page: Page) -> None:
    """Sound on (a click, as someone setting up the screen does once), the call flash finished (the marquee runs
    for ever and is left alone)."""
    page.mouse.click(960, 540)
    expect(page.locator("#voice-gate")).to_be_hidden()
    page.wait_for_function(
        "document.getAnimations().every(a => a.effect.getComputedTiming().iterations === Infinity)")


def test_screenshots_of_a_busy_hall(hall: Hall) -> None:
    page = open_display(hall, "?chime=0&repeat=1", size=LANDSCAPE)
    busy_hall(hall)  # arrives live on the open landscape screen

    expect(page.locator("#recent li")).to_have_count(8)
    expect(page.locator('.win[data-window="8"] .win-main')).to_have_text("暂停服务")
    expect(page.locator('.win[data-window="7"]')).to_have_attribute("data-state", "calling")
    expect(page.locator("#now-holder")).to_have_text("王*明")
    expect(page.locator('#services [data-service="SOC"] .svc-waiting b')).not_to_have_text("7")
    settle(page)
    screenshot(page, "display-landscape")

    tall = open_display(hall, "?chime=0", size=PORTRAIT)  # built from the snapshot alone
    expect(tall.locator("#now-number")).to_have_text(page.locator("#now-number").inner_text())
    expect(tall.locator("#recent li")).to_have_count(8)
    settle(tall)
    screenshot(tall, "display-portrait")


def test_a_real_name_call_shows_the_masked_holder_but_announces_only_the_number(hall: Hall) -> None:
    hall.open_windows("5", "6")
    named = hall.issue("SOC", name="欧阳小明", item="SOC-RETIRE")
    plain = hall.issue("SOC")
    page = open_display(hall, "?repeat=1")

    hall.window_op("5", "call-next")
    expect(page.locator("#now-number")).to_have_text(named["number"])
    expect(page.locator("#now-holder")).to_have_text("欧**明")
    expect(page.locator("#now-words")).to_have_text(words(named["number"], "5"))
    assert wait_spoken(page, 1)[0]["text"] == words(named["number"], "5")  # no name is ever spoken

    hall.window_op("6", "call-next")
    expect(page.locator("#now-number")).to_have_text(plain["number"])
    expect(page.locator("#now-holder")).to_be_hidden()
    expect(page.locator("#recent li").first).to_contain_text("欧**明")
    led = hall.http.get(f"/api/v1/halls/{hall.id}/led", headers={"Authorization": f"Bearer {hall.token('display')}"})
    assert "*" not in led.text  # the LED strip keeps to numbers

    fresh = open_display(hall)  # built from the snapshot alone: the recent call keeps its holder
    expect(fresh.locator("#recent li").first).to_contain_text("欧**明")
    expect(page.locator("body")).not_to_contain_text("欧阳小明")


def test_a_token_of_another_role_is_refused_with_the_reason(hall: Hall) -> None:
    page = hall.open_page("/halls/{hall}/display", role="guide", size=LANDSCAPE)

    expect(page.locator(".signin-problem")).to_have_text("此页面需要显示屏或管理员令牌。")
    page.locator("#signin-token").fill(hall.token("display"))
    page.locator("#signin-submit").click()
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    expect(page.locator(".signin-overlay")).to_have_count(0)
