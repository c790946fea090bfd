"""就近办 on the guide desk and the kiosk, in Chromium against a real server serving the demo county as a network
(HALLQ_NETWORK): a village station lists what other halls of the county serve and it does not, and picking one (or
a ticket refused as not authorised here) shows the nearest halls that can, nearest first, with their lines as the
server has them now; no ticket is issued. A hall of no network shows nothing of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from floor.http.auth import make_token
from tests.pages.conftest import Hall, screenshot
from tests.server.conftest import LiveServer, county_server

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

GUIDE = "/halls/{hall}/guide"
KIOSK = "/halls/{hall}/kiosk"
GUIDE_SIZE = (1180, 820)
KIOSK_SIZE = (1080, 1920)
NEAREST = ["chengguan", "demo", "heishan"]  # from the village dongzhuang, for SOC-RETIRE (tests/server/test_network.py)
LEAD = "本站暂不能办理职工退休待遇申领，可就近到："


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module: every hall of the demo county, as its network."""
    with county_server(tmp_path_factory.mktemp("county"), heartbeat_s=1.0) as server:
        yield server


def open_window(hall: Hall, window: str = "1") -> None:
    """Open ``window`` (issuing in opening hours needs one); already open from an earlier test of the module is fine."""
    reply = hall.http.post(f"/api/v1/halls/{hall.id}/windows/{window}/open",
                           headers={"Authorization": f"Bearer {hall.token('manager')}"})
    assert reply.status_code == 200 or reply.json()["error"]["code"] == "window_already_open", reply.text


@pytest.fixture
def village(county: LiveServer, browser: Browser) -> Iterator[Hall]:
    """The village station dongzhuang, whose pages the tests open; fails the test on any JS error."""
    h = Hall(county, "dongzhuang", browser)
    yield h
    h.http.close()
    for context in browser.contexts:
        context.close()
    assert not h.errors, "errors in the page:\n" + "\n".join(h.errors)


@pytest.fixture
def town(county: LiveServer, browser: Browser) -> Iterator[Hall]:
    """The town centre chengguan, the nearest hall that serves what the village does not: a window open there."""
    h = Hall(county, "chengguan", browser)
    open_window(h)
    yield h
    h.http.close()


def soc_waiting(hall: Hall) -> int:
    """How many wait for 社保 at ``hall`` now, as its snapshot says."""
    line = next(s for s in hall.call("GET", "/snapshot")["services"] if s["code"] == "SOC")
    waiting: int = line["waiting"]
    return waiting


def issue_retirements(town: Hall, count: int) -> int:
    """Issue ``count`` SOC-RETIRE tickets at the town centre; how many wait for 社保 there then."""
    for _ in range(count):
        town.issue("SOC", item="SOC-RETIRE")
    return soc_waiting(town)


def places(page: Page, scope: str) -> list[str]:
    """The halls the 就近办 panel in ``scope`` lists, in order (once it shows three)."""
    rows = page.locator(f"{scope} .nb-place")
    expect(rows).to_have_count(3)
    halls: list[str] = rows.evaluate_all("rows => rows.map((row) => row.dataset.hall)")
    return halls


def expect_nearest(page: Page, scope: str, waiting_in_town: int) -> None:
    """The three nearest halls, nearest first, the first (the town centre) with its line as the server has it."""
    assert places(page, scope) == NEAREST
    first = page.locator(f"{scope} .nb-place").first
    expect(first.locator(".nb-name")).to_have_text("城关镇便民服务中心")
    expect(first.locator(".nb-address")).to_have_text("示范县城关镇人民路18号")
    expect(first.locator(".nb-fact.distance")).to_have_text(re.compile(r"^约\d+(\.\d)?公里$"))
    expect(first.locator(".nb-fact.waiting")).to_have_text(f"{waiting_in_town}人等候")
    expect(first.locator(".nb-fact.wait")).to_have_text(re.compile(r"^约\d+分钟$"))


def offer_retirement_here(page: Page, village: Hall) -> None:
    """The page reads a catalog offering SOC-RETIRE at the village, as if it had been authorised for it when the page
    read its catalog and no longer is: the server refuses the ticket as not authorised here (422 not_authorised)."""
    token = make_token(village.server.secret, "demo", "guide")
    county_catalog = village.http.get("/api/v1/halls/demo/catalog", headers={"Authorization": f"Bearer {token}"})
    assert county_catalog.status_code == 200, county_catalog.text
    soc = next(s for s in county_catalog.json()["services"] if s["code"] == "SOC")
    retire = next(i for i in soc["items"] if i["code"] == "SOC-RETIRE")

    def stale(route: Route) -> None:
        reply = route.fetch()
        catalog = reply.json()
        next(s for s in catalog["services"] if s["code"] == "SOC")["items"].append(retire)
        route.fulfill(response=reply, json=catalog)

    page.route("**/api/v1/halls/*/catalog", stale)
    page.reload()  # signed in still: the token was kept for the page


def forgive_lost_requests(hall: Hall) -> None:
    """A request the test cut off on purpose is logged by Chromium as a failed load, not a page fault."""
    hall.errors[:] = [e for e in hall.errors if "net::ERR_FAILED" not in e]


# -- guide desk ----------------------------------------------------------------------------------
def test_guide_lists_what_the_village_cannot_do_and_sends_the_citizen_to_the_nearest_hall(
        village: Hall, town: Hall) -> None:
    waiting = issue_retirements(town, 2)
    assert waiting >= 2
    page = village.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    section = page.locator("#elsewhere")
    expect(section.locator("#elsewhere-title")).to_have_text("其他网点可办（就近办）")
    soc = section.locator(".nb-group[data-service=SOC]")
    expect(soc.locator(".nb-service-name")).to_have_text("社保医保")
    expect(soc.locator(".nb-item")).to_have_text(["职工退休待遇申领"])  # 参保登记, 医保转移: the village does them
    expect(section.locator(".nb-item[data-service=TAX]")).to_have_text("税务办理")  # a whole service
    expect(page.locator(".tile")).to_have_count(3)  # the village's own services, as before

    page.locator(".nb-item[data-item=SOC-RETIRE]").click()
    expect(page.locator("#nearby")).to_be_visible()
    expect(page.locator("#issue-form")).to_be_hidden()  # no ticket for it here
    expect(page.locator("#nb-lead")).to_have_text(LEAD)
    expect_nearest(page, "#nearby", waiting)
    expect(page.locator(".nb-item[data-item=SOC-RETIRE]")).to_have_attribute("aria-pressed", "true")

    # Lines change: the panel asks again each time it opens.
    waiting = issue_retirements(town, 1)
    page.locator("#nb-back").click()
    expect(page.locator("#issue-form")).to_be_visible()
    page.locator(".nb-item[data-item=SOC-RETIRE]").click()
    expect(page.locator("#nearby .nb-place").first.locator(".nb-fact.waiting")).to_have_text(f"{waiting}人等候")

    # Keyboard first: typing starts over; a search only another hall answers is picked with Enter.
    page.keyboard.type("retire")  # the sub-item's code
    expect(page.locator("#nearby")).to_be_hidden()
    expect(page.locator("#search")).to_have_value("retire")
    expect(page.locator(".tile:visible")).to_have_count(0)
    expect(page.locator("#no-match")).to_be_hidden()  # not "nothing matches": another hall has it
    expect(section.locator(".nb-item")).to_have_text(["职工退休待遇申领"])
    page.locator("#search").fill("社保")  # a service the village has: its tile, and its sub-items elsewhere
    expect(page.locator(".tile:visible .name")).to_have_text(["社保医保"])
    expect(section.locator(".nb-item")).to_have_text(["职工退休待遇申领"])
    page.locator("#search").fill("退休")  # the sub-item's name
    expect(page.locator(".tile:visible")).to_have_count(0)
    expect(section.locator(".nb-item")).to_have_text(["职工退休待遇申领"])
    page.keyboard.press("Enter")
    expect(page.locator("#nb-lead")).to_have_text(LEAD)
    expect(page.locator("#nb-back")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#issue-form")).to_be_visible()
    assert village.call("GET", "/queue", role="guide")["tickets"] == []

    # English, where the desk has it.
    page.locator("#lang").click()
    expect(section.locator("#elsewhere-title")).to_have_text("Other halls can (nearest hall)")
    expect(section.locator(".nb-item[data-item=SOC-RETIRE]")).to_have_text("Retirement pension claim")
    page.locator("#lang").click()


def test_guide_sends_on_a_ticket_refused_as_not_authorised_and_says_when_it_cannot_look(
        village: Hall, town: Hall) -> None:
    open_window(village)
    waiting = soc_waiting(town)
    page = village.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    offer_retirement_here(page, village)
    page.locator(".tile[data-code=SOC]").click()
    page.locator(".item-chip[data-item=SOC-RETIRE]").click()
    page.locator("#issue").click()
    expect(page.locator("#nb-lead")).to_have_text(LEAD)
    expect_nearest(page, "#nearby", waiting)
    assert village.call("GET", "/queue", role="guide")["tickets"] == []  # refused: nothing issued
    village.forgive_refusals(422)

    # The look-up fails: a short message and a way to try again, never an empty panel.
    page.locator("#nb-back").click()
    expect(page.locator("#detail")).to_be_visible()  # 社保 as the guide left it, its sub-items done elsewhere too
    page.route("**/api/v1/halls/*/nearby?*", lambda route: route.abort())
    page.locator("#items-elsewhere .nb-item[data-item=SOC-RETIRE]").click()
    expect(page.locator("#nb-note")).to_have_text("暂时查不到附近网点，请稍后重试或咨询工作人员。")
    expect(page.locator("#nb-places")).to_be_hidden()
    page.unroute("**/api/v1/halls/*/nearby?*")
    page.locator("#nb-retry").click()
    expect_nearest(page, "#nearby", waiting)
    expect(page.locator("#nb-retry")).to_be_hidden()
    forgive_lost_requests(village)


# -- kiosk ---------------------------------------------------------------------------------------
def test_kiosk_shows_the_nearest_halls_in_big_type_and_issues_nothing(village: Hall, town: Hall) -> None:
    open_window(village)
    waiting = issue_retirements(town, 1)
    page = village.open_page(KIOSK, role="kiosk", size=KIOSK_SIZE)
    section = page.locator("#k-elsewhere")
    expect(section.locator("h2")).to_have_text("其他网点可办（就近办）")
    expect(section.locator(".k-nb-group[data-service=SOC] .k-nb-service")).to_have_text("社保医保")
    item = section.locator(".k-nb-item[data-item=SOC-RETIRE]")
    expect(item).to_have_text("职工退休待遇申领")
    box = item.bounding_box()
    assert box is not None
    assert box["height"] >= 96  # a touch target, as every kiosk button is

    item.click()
    expect(page.locator("#nearby-step")).to_be_visible()
    expect(page.locator("#k-nb-lead")).to_have_text(LEAD)
    expect_nearest(page, "#k-nb-places", waiting)
    expect(page.locator("#nb-countdown")).to_contain_text("秒后自动返回首页")
    screenshot(page, "kiosk-nearby")
    page.locator("#k-nb-back").click()
    expect(page.locator("#start")).to_be_visible()

    # A search narrows the list as it narrows the tiles; what only another hall does is no "nothing found".
    page.locator("#k-search").fill("退休")
    expect(page.locator(".k-tile:visible")).to_have_count(0)
    expect(page.locator("#k-no-match")).to_be_hidden()
    expect(section.locator(".k-nb-item")).to_have_text(["职工退休待遇申领"])
    page.locator("#k-search-clear").click()
    expect(section.locator(".k-nb-item[data-service=TAX]")).to_have_text("税务办理")

    # A ticket the server refuses as not authorised here ends on the same screen, not in an error.
    offer_retirement_here(page, village)
    page.locator(".k-tile[data-code=SOC]").click()
    page.locator(".k-item-btn[data-item=SOC-RETIRE]").click()
    page.locator("#take").click()
    expect(page.locator("#k-nb-lead")).to_have_text(LEAD)
    expect_nearest(page, "#k-nb-places", waiting)
    expect(page.locator("#oops")).to_be_hidden()
    assert village.call("GET", "/queue", role="guide")["tickets"] == []
    village.forgive_refusals(422)

    page.locator("#lang").click()
    expect(page.locator("#k-nb-lead")).to_have_text(
        "This hall cannot handle Retirement pension claim; the nearest halls that can:")
    expect(page.locator("#k-nb-places .nb-fact.waiting").first).to_have_text(f"{waiting} waiting")
    page.locator("#k-nb-back").click()
    expect(section.locator("h2")).to_have_text("Other halls can (nearest hall)")


# -- a hall of no network ------------------------------------------------------------------------
def test_a_hall_of_no_network_shows_nothing_of_it(hall: Hall) -> None:
    assert hall.call("GET", "/nearby/items", role="guide") == {"items": []}
    guide = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    expect(guide.locator("#link[data-status=live]")).to_be_attached()
    expect(guide.locator(".tile[data-code=SOC]")).to_be_visible()  # drawn once the list came (read together)
    expect(guide.locator("#elsewhere")).to_be_hidden()
    expect(guide.locator(".nb-item")).to_have_count(0)
    expect(guide.locator("#elsewhere:visible, #nearby:visible")).to_have_count(0)
    kiosk = hall.open_page(KIOSK, role="kiosk", size=KIOSK_SIZE)
    expect(kiosk.locator("#link[data-status=live]")).to_be_attached()
    expect(kiosk.locator(".k-tile[data-code=SOC]")).to_be_visible()
    expect(kiosk.locator("#k-elsewhere")).to_be_hidden()
    expect(kiosk.locator(".k-nb-item")).to_have_count(0)
    expect(kiosk.locator("#k-elsewhere:visible, #nearby-step:visible")).to_have_count(0)
