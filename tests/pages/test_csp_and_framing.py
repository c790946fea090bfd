"""The pages under their Content-Security-Policy in real Chromium, and framing refused to other origins.

- Every page the app's rooms serve (and the ticket's phone and print pages) is opened signed in, as a hall would,
  with something on the floor to draw; the browser must have received the strict policy, must report no violation
  (``securitypolicyviolation`` events, recorded from before the page's first script, and Chromium's console) and
  must refuse inline script and style put into the page.
- A page on another origin (a second server on another port) that frames the staff console, signed in with its
  token, gets nothing: the console never loads in the frame, its buttons never exist. The printed ticket and the
  notice, which the desk prints from a frame of its own origin, are refused to another origin too, and still print
  from the guide desk.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from floor.app import ROOMS
from tests.pages.conftest import SPEECH_RECORDER, Hall

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

PAGES = sorted(name for room in ROOMS for name in room.pages)
# Records every violation the page's policy reports, in every frame, before any script of the page runs.
CSP_RECORDER = """
(() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
      + ` ${e.sample}`);
  }, true);
})();
"""
PRINT_RECORDER = "window.print = () => { (window.top.__printed ||= []).push(location.pathname + location.search); };"


@dataclass(frozen=True)
class Way:
    """How a page is opened signed in, and what shows that it has drawn the hall."""

    role: str
    query: str = ""
    window: str | None = None
    ready: str = "body"  # a selector present once the page has drawn what it reads


LIVE = '#link[data-status="live"]'
WAYS: dict[str, Way] = {
    "guide": Way("guide", ready=LIVE),
    "kiosk": Way("kiosk", ready=LIVE),
    "display": Way("display", ready=LIVE),
    "console": Way("staff", window="5", ready=LIVE),
    "dashboard": Way("manager", ready="#service-rows tr .meter i"),
    "reports": Way("manager", ready='body[data-ready="1"]'),
    "cases": Way("manager", ready="#filters"),
    "book": Way("kiosk", ready=".b-tile"),
    "rate": Way("pad", query="?window=5", window="5", ready=LIVE),
    "notice": Way("guide", query="?item=SOC-RETIRE&paper=a5", ready="body.ready"),  # A5: its own @page
}


def watch(page: Page) -> list[str]:
    """Chromium's own words for what a policy refused (console), as they come."""
    said: list[str] = []

    def seen(msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text or "Refused to" in msg.text:
            said.append(msg.text)

    page.on("console", seen)
    return said


def violations(page: Page) -> list[str]:
    found: list[str] = []
    for frame in page.frames:
        found += frame.evaluate("window.__csp || []")
    return found


def busy_floor(hall: Hall) -> dict[str, Any]:
    """Windows open, tickets waiting, one being served at window 5: every page has something to draw."""
    hall.open_windows("1", "5")
    for service in ("SOC", "TAX", "SOC"):
        hall.issue(service)
    hall.window_op("5", "call-next")
    hall.window_op("5", "start")
    ticket: dict[str, Any] = hall.issue("SOC")
    return ticket


def new_page(hall: Hall, *scripts: str, faults: bool = True) -> Page:
    """A page of its own context, set up as ``Hall.open_page`` does (speech recorder; with ``faults``, a script
    error or console error fails the test), with ``scripts`` run before the first script of every document."""
    context = hall.browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                       timezone_id="Asia/Shanghai")
    for script in (SPEECH_RECORDER, *scripts):
        context.add_init_script(script)
    page = context.new_page()
    if not faults:
        return page
    page.on("pageerror", lambda exc: hall.errors.append(f"{page.url}: {exc}"))
    page.on("console", lambda msg: hall.errors.append(f"{page.url}: console.{msg.type}: {msg.text}")
            if msg.type == "error" else None)
    return page


def open_under_policy(hall: Hall, path: str, way: Way | None, *scripts: str) -> tuple[Page, list[str]]:
    page = new_page(hall, CSP_RECORDER, *scripts)
    said = watch(page)
    url = hall.base_url + path.replace("{hall}", hall.id) + (way.query if way else "")
    if way is not None:
        url += f"#token={hall.token(way.role, way.window)}"
    reply = page.goto(url)
    assert reply is not None, path
    assert reply.status == 200, (path, reply.status)
    policy = reply.header_value("content-security-policy") or ""
    assert "script-src 'self'" in policy, (path, policy)
    assert "style-src 'self'" in policy, (path, policy)
    return page, said


def assert_enforced(hall: Hall, page: Page) -> None:
    """Inline script and a style attribute put into the page are refused by the browser itself (and reported: the
    refusals provoked here are forgiven, not those before)."""
    before = len(hall.errors)
    ran = page.evaluate("""() => new Promise((resolve) => {
      const s = document.createElement("script");
      s.textContent = "window.__inlineRan = true";
      document.head.append(s);
      const probe = document.createElement("div");
      probe.setAttribute("style", "width: 123px; position: absolute");
      document.body.append(probe);
      setTimeout(() => resolve({ script: window.__inlineRan === true, width: probe.getBoundingClientRect().width }),
                 100);
    })""")
    assert ran["script"] is False, ran
    assert ran["width"] != 123, ran
    page.wait_for_function("window.__csp.length >= 2")
    page.wait_for_timeout(100)  # Chromium's console messages of the refusals reach the test after the events
    hall.errors[before:] = [e for e in hall.errors[before:] if "Content Security Policy" not in e]


@pytest.mark.parametrize("name", PAGES)
def test_every_page_runs_under_its_policy_without_a_violation(hall: Hall, name: str) -> None:
    busy_floor(hall)
    way = WAYS.get(name, Way("manager"))
    page, said = open_under_policy(hall, f"/halls/{{hall}}/{name}", way)
    expect(page.locator(way.ready).first).to_be_attached(timeout=15_000)
    if name == "dashboard":  # today's charts: images fetched with the token and shown as blob: URLs
        page.locator("#report-panel summary").click()
        expect(page.locator("#report-chart-hourly")).to_have_attribute("src", re.compile(r"^blob:"), timeout=15_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert violations(page) == [], name
    assert said == [], name
    assert_enforced(hall, page)


def test_phone_and_print_pages_run_under_their_policy_without_a_violation(hall: Hall) -> None:
    ticket = busy_floor(hall)
    fragment = f"#key={ticket['key']}" if ticket.get("key") else ""  # as the ticket's QR code carries it
    phone, said = open_under_policy(hall, f"/t/{ticket['id']}{fragment}", None)
    expect(phone.locator("#number")).to_have_text(ticket["number"])
    phone.wait_for_load_state("networkidle")
    assert violations(phone) == []
    assert said == []
    assert_enforced(hall, phone)

    key = f"&key={ticket['key']}" if ticket.get("key") else ""
    printed, said = open_under_policy(hall, f"/t/{ticket['id']}/print?lang=zh{key}", None)
    expect(printed.locator("body.ready")).to_be_attached(timeout=15_000)
    expect(printed.locator("#number")).to_have_text(ticket["number"])
    assert violations(printed) == []
    assert said == []
    assert_enforced(hall, printed)


# -- framing ---------------------------------------------------------------------------------------------------
@dataclass
class OtherSite:
    """A page of another origin (another port of 127.0.0.1) that frames whatever it is asked to."""

    base_url: str
    frames: dict[str, str]


@pytest.fixture
def other_site() -> Iterator[OtherSite]:
    frames: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            target = frames.get(self.path.lstrip("/"), "about:blank")
            body = (f'<!doctype html><title>another site</title><h1>Win a prize</h1>'
                    f'<iframe name="victim" src="{target}" width="1200" height="700"></iframe>').encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield OtherSite(f"http://127.0.0.1:{server.server_address[1]}", frames)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def frame_from_other_site(hall: Hall, other_site: OtherSite, target: str) -> tuple[Page, list[str], list[int]]:
    """The other site's page framing ``target`` (an address of the hall's server); the console messages of the
    framing page and the statuses of the hall server's answers to the frame."""
    other_site.frames["frame"] = target
    page = new_page(hall, faults=False)  # the other site's page: Chromium's refusal is a console error there
    said: list[str] = []
    page.on("console", lambda msg: said.append(msg.text))
    answered: list[int] = []
    page.on("response", lambda r: answered.append(r.status) if r.url.split("#")[0] == target.split("#")[0] else None)
    page.goto(f"{other_site.base_url}/frame")
    expect(page.locator("h1")).to_have_text("Win a prize")
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)
    return page, said, answered


def assert_refused(hall: Hall, page: Page, said: list[str], answered: list[int], what: str) -> None:
    assert answered == [200], f"the hall's server never answered the frame's request for {what}: {answered}"
    frame = page.frame(name="victim")
    assert frame is not None
    # Chromium puts its error page in the frame's place (chrome-error://chromewebdata/).
    assert not frame.url.startswith(hall.base_url), f"{what} loaded in another origin's frame: {frame.url}"
    assert frame.locator("button").count() == 0, f"{what} drew its buttons in another origin's frame"
    assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in said), said


def test_another_origin_cannot_frame_the_signed_in_console(hall: Hall, other_site: OtherSite) -> None:
    hall.open_windows("5")
    hall.issue("SOC")
    console = f"{hall.base_url}/halls/{hall.id}/console#token={hall.token('staff', '5')}"
    page, said, answered = frame_from_other_site(hall, other_site, console)
    assert_refused(hall, page, said, answered, "the console")
    page.wait_for_timeout(1500)  # long enough for a console to sign in, connect and draw its call button
    frame = page.frame(name="victim")
    assert frame is not None
    assert frame.locator("#act-call-next").count() == 0
    # Nothing was done on the window's behalf, nor could be: no click lands on a frame that is not there.
    assert hall.call("GET", "/windows/5", role="manager")["state"] == "idle"


def test_another_origin_cannot_frame_a_ticket_s_print_page_or_the_notice(hall: Hall, other_site: OtherSite) -> None:
    hall.open_windows("1")
    ticket = hall.issue("SOC")
    for what, target in (("the print page", f"{hall.base_url}/t/{ticket['id']}/print"),
                         ("the notice", f"{hall.base_url}/halls/{hall.id}/notice?item=SOC-RETIRE"
                                        f"#token={hall.token('guide')}")):
        page, said, answered = frame_from_other_site(hall, other_site, target)
        assert_refused(hall, page, said, answered, what)


def test_the_guide_desk_still_prints_from_a_frame_of_its_own(hall: Hall) -> None:
    """The print page and the notice may be framed by our own pages: the desk prints both, under the policy."""
    hall.open_windows("1")
    ticket = hall.issue("SOC")
    page, said = open_under_policy(hall, "/halls/{hall}/guide", WAYS["guide"], PRINT_RECORDER)
    expect(page.locator(LIVE)).to_be_attached(timeout=15_000)
    page.evaluate("""async (ticket) => {
      const { printTicket, printNotice } = await import("/assets/tickets/issue.js");
      await printTicket(ticket);
      await printNotice({ item: "SOC-RETIRE" });
    }""", ticket)
    printed: list[str] = page.evaluate("window.__printed")
    assert [p.split("?")[0] for p in printed] == [f"/t/{ticket['id']}/print", f"/halls/{hall.id}/notice"], printed
    assert violations(page) == []
    assert said == []
