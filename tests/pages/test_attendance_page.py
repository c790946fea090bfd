"""考勤 on the reports page, in Chromium against a real server: a member of staff signs in with their account, takes
window 5, opens it, pauses for 午休 and resumes, then signs out; the manager's reports page shows their row (name,
role, sign-in, the window stint, the pause with its reason and length, 在岗中 and then the sign-out time), all on the
hall's clock even in a browser on another continent; an empty day says so; the CSV carries the same row; and the
section reads in English."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.pages.conftest import Hall, PagesServer, screenshot
from tests.server.conftest import delete_prefix_sync, start_server, stop_server, write_hall_copy

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

REPORTS = "/halls/{hall}/reports"
DESK = (1600, 1000)
ZONE = ZoneInfo("Asia/Shanghai")  # the demo hall's
BROWSER_ZONE = "America/Los_Angeles"  # the manager's laptop: 15 or 16 hours behind the hall
PASSWORD = "a-good-password-1"
HALLS = 3  # more than the tests of this module
T = TypeVar("T")


@pytest.fixture(scope="module")
def pages_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PagesServer]:
    """This module's server, with a few demo halls (tests/pages/conftest.py starts forty)."""
    home = tmp_path_factory.mktemp("attendance-pages")
    (home / "halls").mkdir()
    pool = [f"page-{i:02d}" for i in range(HALLS)]
    paths = [write_hall_copy(home / "halls", h) for h in pool]
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=paths, hall_ids=tuple(pool), heartbeat_s=1.0)
    try:
        yield PagesServer(server, iter(pool))
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


# -- a member of staff, through the API as the console does it ------------------------------------------------------
class Staff:
    """A person signed in with their account: the session's two cookies, sent by hand on each request."""

    def __init__(self, hall: Hall, display_name: str) -> None:
        self.hall = hall
        self.username = f"{hall.id}-{uuid.uuid4().hex[:8]}"
        hall.call("POST", "/accounts", role="admin", expect=201, json={
            "username": self.username, "display_name": display_name, "role": "staff", "password": PASSWORD})
        self.http = httpx.Client(base_url=hall.base_url, timeout=30.0, trust_env=False)
        self.cookies: dict[str, str] = {}

    def sign_in(self) -> None:
        self.keep(self.send("POST", "/session", json={"username": self.username, "password": PASSWORD}))

    def keep(self, reply: httpx.Response) -> None:
        assert reply.status_code == 200, reply.text
        self.cookies = {name: reply.cookies[name] for name in ("hallq_session", "hallq_csrf")}

    def send(self, method: str, path: str, json: Any = None) -> httpx.Response:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            headers["X-CSRF-Token"] = self.cookies["hallq_csrf"]
        self.http.cookies.clear()  # only the cookies named above
        return self.http.request(method, f"/api/v1/halls/{self.hall.id}{path}", headers=headers, json=json)

    def do(self, method: str, path: str, json: Any = None) -> Any:
        reply = self.send(method, path, json)
        assert reply.status_code == 200, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json()


@pytest.fixture
def staff(hall: Hall) -> Iterator[Callable[[str], Staff]]:
    """Make a staff account and sign it in (its HTTP client closed after the test)."""
    made: list[Staff] = []

    def make(display_name: str) -> Staff:
        person = Staff(hall, display_name)
        made.append(person)
        person.sign_in()
        return person

    yield make
    for person in made:
        person.http.close()


def attendance(hall: Hall, username: str, day: str | None = None) -> dict[str, Any] | None:
    people = hall.call("GET", f"/attendance?day={day}" if day else "/attendance")["people"]
    return next((p for p in people if p["username"] == username), None)


def wait_for(check: Callable[[], T | None], seconds: float = 15.0) -> T:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.2)
    return found


def hall_clock(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZONE).strftime("%H:%M")


def today() -> date:
    return datetime.now(ZONE).date()


# -- the page, in a browser far from the hall -------------------------------------------------------------------------
def open_far_away(hall: Hall) -> Page:
    """The reports page signed in as a manager, in a browser whose own clock is California's: every time shown must
    still be the hall's (hall.open_page puts the browser in the hall's zone, where a mistake would not show)."""
    context = hall.browser.new_context(viewport={"width": DESK[0], "height": DESK[1]}, locale="zh-CN",
                                       timezone_id=BROWSER_ZONE, bypass_csp=True, accept_downloads=True)
    page = context.new_page()
    page.on("pageerror", lambda exc: hall.errors.append(f"reports: {exc}"))
    page.on("console", lambda msg: hall.errors.append(f"reports: console.{msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.goto(hall.base_url + REPORTS.replace("{hall}", hall.id) + f"#token={hall.token('manager')}")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    return page


def row(page: Page, username: str) -> Locator:
    return page.locator(f'#attendance-rows tr[data-username="{username}"]')


def field(page: Page, username: str, name: str) -> Locator:
    return row(page, username).locator(f'[data-field="{name}"]')


def pick_day(page: Page, day: str) -> None:
    page.fill("#attendance-day", day)
    page.locator("#attendance-day").dispatch_event("change")


# -- the test ---------------------------------------------------------------------------------------------------------
def test_attendance_shows_who_sat_at_which_window_and_paused_why(hall: Hall, staff: Callable[[str], Staff]) -> None:
    page = open_far_away(hall)
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE
    # The hall's today, not the browser's; nobody has signed in yet: a sentence, not an empty table.
    expect(page.locator("#attendance-day")).to_have_value(today().isoformat())
    expect(page.locator("#attendance-empty")).to_be_visible()
    expect(page.locator("#attendance-empty")).to_have_text(f"{today().isoformat()} 没有工作人员签到，没有考勤记录。")
    expect(page.locator("#attendance-rows tr")).to_have_count(0)
    expect(page.locator("#attendance-csv")).to_be_disabled()

    # 赵敏 signs in, takes window 5, opens it, pauses for 午休 a moment and resumes.
    zhao = staff("赵敏")
    zhao.keep(zhao.send("POST", "/session/window", json={"window": "5"}))
    zhao.do("POST", "/windows/5/open")
    zhao.do("POST", "/windows/5/pause", json={"reason": "午休"})
    time.sleep(1.2)
    zhao.do("POST", "/windows/5/resume")
    # The archiver trails the stream: wait for the resume too, not just the pause.
    person = wait_for(lambda: (p := attendance(hall, zhao.username)) and p["pauses"] and p["pauses"][0]["end"] and p)
    assert person["signed_out"] is None
    assert person["windows"][0]["end"] is None
    assert datetime.fromisoformat(person["signed_in"]).utcoffset() is not None  # a moment, not a wall clock
    # 钱伟 takes window 3 and steps away (离岗), still paused and signed in.
    qian = staff("钱伟")
    qian.keep(qian.send("POST", "/session/window", json={"window": "3"}))
    qian.do("POST", "/windows/3/open")
    qian.do("POST", "/windows/3/pause", json={"reason": "离岗（去后台）"})
    away = wait_for(lambda: (p := attendance(hall, qian.username)) and p["pauses"] and p)

    page.click("#attendance-refresh")
    expect(page.locator("#attendance-empty")).to_be_hidden()
    expect(page.locator("#attendance-rows tr")).to_have_count(2)
    assert page.locator("#attendance-rows tr").evaluate_all("rows => rows.map(r => r.dataset.username)") == [
        zhao.username, qian.username]  # in the order they signed in
    expect(field(page, zhao.username, "name")).to_have_text(f"赵敏 {zhao.username}")
    expect(field(page, zhao.username, "role")).to_have_text("窗口人员")
    expect(field(page, zhao.username, "signed_in")).to_have_text(hall_clock(person["signed_in"]))
    expect(field(page, zhao.username, "signed_out")).to_have_text("在岗中")
    stint_start = hall_clock(person["windows"][0]["start"])
    expect(field(page, zhao.username, "windows").locator(".stint")).to_have_text([f"5号窗口 {stint_start}–至今"])
    pauses = field(page, zhao.username, "pauses")
    expect(pauses).to_have_attribute("data-count", "1")
    expect(pauses.locator("summary")).to_have_text(re.compile(r"^1次，共\d+秒$"))
    assert person["pauses"][0]["seconds"] >= 1
    seconds = person["pauses"][0]["seconds"]
    # Each pause's reason and length: on hover (the title) and in the fold.
    pause_text = f"午休 {seconds}秒"
    expect(pauses.locator("details")).to_have_attribute("title", re.compile(f"^{pause_text}（5号窗口 "))
    expect(pauses.locator("li.pause")).to_be_hidden()
    pauses.locator("summary").click()
    expect(pauses.locator('li.pause[data-reason="午休"] .pause-what')).to_have_text(pause_text)
    expect(pauses.locator("li.pause .pause-where")).to_have_text(
        f"5号窗口 {hall_clock(person['pauses'][0]['start'])}–{hall_clock(person['pauses'][0]['end'])}")
    expect(field(page, zhao.username, "paused")).to_have_text(f"{seconds}秒")
    # 钱伟's pause has not ended: it says so, from its start on.
    expect(field(page, qian.username, "signed_out")).to_have_text("在岗中")
    expect(field(page, qian.username, "windows").locator(".stint")).to_have_text(
        [f"3号窗口 {hall_clock(away['windows'][0]['start'])}–至今"])
    qian_pauses = field(page, qian.username, "pauses")
    expect(qian_pauses).to_have_attribute("data-count", "1")
    qian_pauses.locator("summary").click()
    expect(qian_pauses.locator("li.pause .pause-what")).to_have_text(re.compile(r"^离岗（去后台） \d+秒（暂停中）$"))
    expect(qian_pauses.locator("li.pause .pause-where")).to_have_text(
        f"3号窗口 {hall_clock(away['pauses'][0]['start'])}–至今")

    # Signed out: the 签退 time, on the hall's clock, once the day is picked again; the stint is closed.
    zhao.do("DELETE", "/session")
    out = wait_for(lambda: (p := attendance(hall, zhao.username)) and p["signed_out"] and p)
    pick_day(page, (today() - timedelta(days=1)).isoformat())
    yesterday = (today() - timedelta(days=1)).isoformat()
    expect(page.locator("#attendance-empty")).to_have_text(f"{yesterday} 没有工作人员签到，没有考勤记录。")
    expect(page.locator("#attendance-rows tr")).to_have_count(0)
    page.click("#attendance-today")
    expect(page.locator("#attendance-day")).to_have_value(today().isoformat())
    expect(field(page, zhao.username, "signed_out")).to_have_text(hall_clock(out["signed_out"]))
    expect(field(page, zhao.username, "signed_out")).not_to_have_attribute("data-on-duty", "1")
    stint_end = hall_clock(out["windows"][0]["end"])
    expect(field(page, zhao.username, "windows").locator(".stint")).to_have_text(
        [f"5号窗口 {stint_start}–{stint_end}"])
    expect(field(page, zhao.username, "at_windows")).to_have_text(re.compile(r"^\d+秒$|^\d+分\d+秒$"))
    expect(field(page, qian.username, "signed_out")).to_have_attribute("data-on-duty", "1")  # still here
    for person_pauses in (pauses, qian_pauses):
        person_pauses.locator("summary").click()  # the folds, drawn again, open for the picture
    expect(pauses.locator("li.pause")).to_be_visible()
    page.locator("#attendance").scroll_into_view_if_needed()
    screenshot(page, "reports-attendance")

    # The CSV: the same row, with the pause's reason.
    with page.expect_download() as got:
        page.click("#attendance-csv")
    download = got.value
    assert download.suggested_filename == f"hallq-{hall.id}-attendance-{today().isoformat()}.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    line = dict(zip(rows[0], next(r for r in rows[1:] if r[1] == zhao.username), strict=True))
    assert line["姓名 Name"] == "赵敏"
    assert line["签退 Signed out"] == hall_clock(out["signed_out"])
    assert line["窗口 Windows"] == f"5号窗口 {stint_start}–{stint_end}"
    assert line["暂停次数 Pauses"] == "1"
    assert line["暂停明细 Pause details"].startswith(pause_text)
    assert line["暂停秒数 Paused (s)"] == str(out["paused_s"])

    # English: the words change, the times do not.
    page.click("#lang")
    expect(page.locator("#attendance-title")).to_have_text("Attendance")
    expect(field(page, zhao.username, "role")).to_have_text("window staff")
    expect(field(page, zhao.username, "windows").locator(".stint")).to_have_text(
        [f"Window 5 {stint_start}–{stint_end}"])
    expect(pauses.locator("summary")).to_have_text(f"1 pause, {seconds} s in all")
    expect(pauses.locator("details")).to_have_attribute("title", re.compile(f"^午休 {seconds} s \\(Window 5 "))
    expect(field(page, qian.username, "signed_out")).to_have_text("On duty")
