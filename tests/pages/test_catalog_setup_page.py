"""大厅设置 in a county network (the demo county, HALLQ_NETWORK), in Chromium against a real server.

A village station takes its services from the county's catalog (受理事典): its page shows the catalog's services and
sub-items as ticks instead of its own services' table; a sub-item ticked and saved is issued at once, and withdrawing
everything its one window serves is refused in the server's words with nothing changed. The county centre keeps the
catalog: the county's admin changes a service on its page and sees how every hall of the county followed (one with
live tickets of what the catalog dropped, listed with why it cannot yet), while the centre's own manager is told who
may change it.

The tests share one server (a county starts in a few seconds) and run in file order: the last drops a sub-item from
the catalog, after which the others would see a catalog of one item fewer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, Response, expect

from floor.http.auth import make_token
from tests.pages.conftest import Hall, screenshot
from tests.server.conftest import COUNTY_IDS, LiveServer, county_server

pytestmark = pytest.mark.slow  # a server of the whole county: handed out first (see tests/conftest.py)

DESK = (1366, 768)
COUNTY = "demo-county"
KEEPERS_ONLY = "这些业务即示范县受理事典，全县各网点据此办理，须由示范县的管理员修改。"


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo county served as a network, as tests/server/test_catalog_setup.py serves it."""
    with county_server(tmp_path_factory.mktemp("county"), heartbeat_s=1.0) as server:
        yield server


@dataclass
class CountyHall(Hall):
    """A hall of the county; with ``region``, its tokens are scoped to that region (the county's own people)."""

    region: str | None = None

    def token(self, role: str, window: str | None = None) -> str:
        return make_token(self.server.secret, self.id, role, window, region=self.region)


@pytest.fixture
def halls(county: LiveServer, browser: Browser) -> Iterator[Callable[..., CountyHall]]:
    """``halls("dongzhuang")``, ``halls("demo", region="demo-county")``: halls of the county to call and open pages
    of; any JavaScript error on a page fails the test (a refusal the test provoked is forgiven where it does)."""
    made: list[CountyHall] = []

    def make(hall_id: str, region: str | None = None) -> CountyHall:
        hall = CountyHall(county, hall_id, browser, region=region)
        made.append(hall)
        return hall

    yield make
    for context in browser.contexts:
        context.close()
    for hall in made:
        hall.http.close()
    errors = [e for hall in made for e in hall.errors]
    assert not errors, "errors in the page:\n" + "\n".join(errors)


def open_setup(hall: Hall, role: str = "manager") -> Page:
    page = hall.open_page("/halls/{hall}/setup", role=role, size=DESK)
    expect(page.locator('body[data-ready="1"]')).to_be_attached(timeout=15_000)
    expect(page.locator(".signin-overlay")).to_have_count(0)
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    return page


def group(page: Page, code: str) -> Locator:
    """A service of the catalog on the authorised list, with its sub-items."""
    return page.locator(f'#authorised-list .auth-svc[data-code="{code}"]')


def item_box(page: Page, code: str) -> Locator:
    return page.locator(f'#authorised-list label.item[data-code="{code}"] input')


def service_dialog(page: Page, code: str) -> Locator:
    page.locator(f'#service-rows tr[data-code="{code}"] button.edit').click()
    dialog = page.locator("#service-dialog")
    expect(dialog).to_be_visible()
    return dialog


def save_service(page: Page) -> Any:
    """Save the service dialog; the server's answer."""
    with page.expect_response(lambda r: "/setup/services/" in r.url and r.request.method == "PUT") as reply:
        page.locator("#s-save").click()
    response: Response = reply.value
    return response.json()


def service_of(config: dict[str, Any], code: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in config["services"] if s["code"] == code)
    return found


def items_of(config: dict[str, Any]) -> set[str]:
    return {i["code"] for s in config["services"] for i in s["items"]}


# -- a village station: what it is authorised for ---------------------------------------------------------------------
def test_a_village_ticks_what_it_accepts_of_the_catalog_and_issues_it_at_once(halls: Callable[..., CountyHall]
                                                                               ) -> None:
    village = halls("dongzhuang")
    before = village.call("GET", "/setup/catalog")
    assert before["authorised"] == ["SOC-REG", "SOC-MED", "HUK-IDCARD", "INFO"]
    page = open_setup(village)

    # The catalog in place of the services' table, whose add/change/remove would be refused (from_catalog).
    expect(page.locator("#authorised-card")).to_be_visible()
    expect(page.locator("#services-card")).to_be_hidden()
    expect(page.locator("#add-service")).to_be_hidden()
    expect(page.locator("#authorised-title")).to_have_text("授权事项（取自示范县受理事典）")
    expect(page.locator("#authorised-list .auth-svc")).to_have_count(len(before["services"]))
    ticked = page.locator("#authorised-list input:checked")
    expect(ticked).to_have_count(len(before["authorised"]))
    assert sorted(ticked.evaluate_all("boxes => boxes.map(b => b.value)")) == sorted(before["authorised"])
    expect(group(page, "SOC").locator(".auth-state")).to_have_text("部分事项 2/3")
    expect(group(page, "INFO").locator(".auth-state")).to_have_text("整项授权")
    expect(group(page, "PROP").locator(".auth-state")).to_have_text("未授权")
    expect(group(page, "RESTO").locator(".auth-state")).to_have_text("未办理")  # a bundle: not ticked, it comes
    expect(page.locator("#authorised-count")).to_have_text(
        "已授权 3 项业务（整项 1 项）、3 个事项；事典共 8 项业务、10 个事项")
    expect(page.locator("#authorised-save")).to_be_disabled()

    # Found by name among the catalog's items, ticked, and shown as a change not yet saved.
    page.locator("#authorised-filter").fill("退休")
    expect(page.locator("#authorised-list .auth-svc:visible")).to_have_count(1)
    expect(page.locator("#authorised-list label.item:visible")).to_have_count(1)
    expect(page.locator("#authorised-list label.item:visible")).to_contain_text("职工退休待遇申领")
    expect(page.locator("#authorised-shown")).to_have_text("显示 1 项业务、1 个事项")
    item_box(page, "SOC-RETIRE").check()
    page.locator("#authorised-filter").fill("")
    expect(page.locator("#authorised-list .auth-svc:visible")).to_have_count(len(before["services"]))
    expect(page.locator('#authorised-list label.item[data-code="SOC-RETIRE"]')).to_have_class(re.compile(r"\badded\b"))
    expect(page.locator("#authorised-pending")).to_have_text("尚未保存：新增 职工退休待遇申领。")
    expect(group(page, "SOC").locator(".auth-state")).to_have_text("全部 3 个事项（非整项）")  # not the whole service
    page.locator("#authorised-card").evaluate("card => card.scrollIntoView({block: 'start'})")
    screenshot(page, "setup-authorised")

    page.locator("#authorised-save").click()
    version = before["version"] + 1
    expect(page.locator("#authorised-done")).to_have_text(
        f"授权已保存，即时生效（第 {version} 版）：新增 职工退休待遇申领。")
    expect(page.locator("#version")).to_have_text(f"当前第 {version} 版")
    expect(page.locator("#authorised-pending")).to_be_hidden()
    after = village.call("GET", "/setup/catalog")
    assert (after["version"], after["authorised"]) == (version, ["SOC-REG", "SOC-RETIRE", "SOC-MED", "HUK-IDCARD",
                                                                "INFO"])
    village.open_windows("1")
    issued = village.issue("SOC", item="SOC-RETIRE")  # the village issues it now
    assert issued["item"] == "SOC-RETIRE", issued

    # Withdrawing everything its one window serves would leave the window with nothing: refused, nothing changed.
    while (on := page.locator("#authorised-list input:checked:enabled")).count():
        on.first.uncheck()
    group(page, "FUND").locator("input.whole").check()
    expect(page.locator("#authorised-pending")).to_contain_text("新增 公积金；取消 咨询取件、职工参保登记")
    page.locator("#authorised-save").click()
    expect(page.locator("#authorised-problem")).to_have_text(
        "按此授权，1号窗口将无业务可办，请保留其所办事项或先修改该窗口。")
    village.forgive_refusals(409)
    assert village.call("GET", "/setup/catalog") == after
    expect(page.locator("#version")).to_have_text(f"当前第 {version} 版")
    expect(page.locator("#authorised-list input:checked")).to_have_count(1)  # the ticks stay as they were

    page.locator("#authorised-reset").click()  # back to what the hall is authorised for
    expect(page.locator("#authorised-list input:checked")).to_have_count(len(after["authorised"]))
    expect(page.locator("#authorised-pending")).to_be_hidden()

    page.locator("#lang").click()
    expect(page.locator("#authorised-title")).to_have_text("Authorised items (from the 示范县 catalog, 受理事典)")
    expect(group(page, "SOC").locator(".auth-state")).to_have_text("All 3 sub-items (not whole)")
    expect(page.locator("#authorised-save")).to_have_text("Save the authorisation")


# -- the county centre: the catalog's keeper --------------------------------------------------------------------------
def test_the_county_s_admin_changes_the_catalog_and_sees_every_hall_of_it_follow(halls: Callable[..., CountyHall]
                                                                                  ) -> None:
    centre = halls("demo", region=COUNTY)
    page = open_setup(centre, role="admin")
    expect(page.locator("#services-card")).to_be_visible()  # the centre's services are its own, and the catalog
    expect(page.locator("#authorised-card")).to_be_hidden()
    # Said from the start (GET /setup's keeps_catalog), before anyone changes anything.
    expect(page.locator("#keeper-note")).to_have_text("这些业务即示范县受理事典，修改后全县各网点同步。")

    dialog = service_dialog(page, "SOC")
    dialog.locator('[data-path="name_zh"]').fill("社会保障")
    answer = save_service(page)
    expect(dialog).to_be_hidden()
    followers = answer["followers"]
    assert {f["hall"] for f in followers} == set(COUNTY_IDS) - {"demo"}
    assert all("version" in f for f in followers), followers
    expect(page.locator("#keeper-note")).to_have_text("这些业务即示范县受理事典，修改后全县各网点同步。")
    expect(page.locator("#followers li")).to_have_count(len(followers))
    expect(page.locator("#followers-count")).to_have_text(f"{len(followers)} 个已同步")
    xihe_line = page.locator('#followers li[data-hall="xihe"]')
    expect(xihe_line).to_contain_text("已同步")
    expect(xihe_line).to_contain_text("西河村便民服务站")  # the county's halls by name
    xihe_version = next(f["version"] for f in followers if f["hall"] == "xihe")
    expect(xihe_line).to_contain_text(f"第 {xihe_version} 版")
    xihe = halls("xihe").call("GET", "/config", role="guide")
    assert service_of(xihe, "SOC")["name_zh"] == "社会保障"

    # The centre's own manager does not change what every hall of the county works by: told so, nothing changed.
    own = halls("demo")
    page = open_setup(own)
    dialog = service_dialog(page, "HUK")
    dialog.locator('[data-path="name_zh"]').fill("户政")
    page.locator("#s-save").click()
    expect(page.locator("#s-problem")).to_have_text(KEEPERS_ONLY)
    own.forgive_refusals(403)
    expect(dialog).to_be_visible()
    page.locator("#s-cancel").click()
    expect(page.locator("#keeper-note")).to_have_text(KEEPERS_ONLY)
    expect(page.locator("#keeper-note")).to_have_class(re.compile(r"\brefused\b"))
    expect(page.locator("#followers")).to_be_hidden()
    assert service_of(own.call("GET", "/config"), "HUK")["name_zh"] == "户籍办理"


def test_a_hall_with_live_tickets_of_what_the_catalog_drops_is_listed_with_why(halls: Callable[..., CountyHall]
                                                                                ) -> None:
    xihe = halls("xihe")
    xihe.open_windows("1")
    xihe.issue("SOC", item="SOC-MED")  # someone waits at xihe for what the county is about to drop
    centre = halls("demo", region=COUNTY)
    page = open_setup(centre, role="admin")
    dialog = service_dialog(page, "SOC")
    medical = dialog.locator("details.item-editor", has_text="SOC-MED")
    medical.locator("summary").click()
    medical.locator("button.remove-item").click()
    expect(dialog.locator("details.item-editor")).to_have_count(2)
    answer = save_service(page)
    refused = [f for f in answer["followers"] if "refused" in f]
    assert [f["hall"] for f in refused] == ["xihe"], answer["followers"]
    assert refused[0]["refused"] == "item_has_tickets"

    followed = len(answer["followers"]) - 1
    expect(page.locator("#followers-count")).to_have_text(f"{followed} 个已同步，1 个暂未同步")
    expect(page.locator("#followers li").first).to_have_attribute("data-hall", "xihe")  # the ones to see to, first
    line = page.locator('#followers li[data-hall="xihe"]')
    expect(line.locator(".badge")).to_have_text("暂未同步")
    expect(line.locator(".why")).to_have_text(
        "事典删去的事项在该网点仍有未办结的号票，该网点暂按原设置办理，办结后随事典下次修改同步。")
    expect(page.locator('#followers li[data-hall="dongzhuang"] .badge')).to_have_text("已同步")
    page.locator("#lang").click()
    expect(line.locator(".why")).to_contain_text("SOC-MED")  # the server's own sentence, naming the item
    expect(page.locator("#keeper-note")).to_have_text(
        "These services are the 示范县 catalog (受理事典): every hall of the county follows a change.")

    # xihe keeps its day until the ticket is done; the halls that followed no longer offer the item.
    assert "SOC-MED" in items_of(xihe.call("GET", "/config", role="guide"))
    assert "SOC-MED" not in items_of(halls("dongzhuang").call("GET", "/config", role="guide"))
