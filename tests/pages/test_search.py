"""Finding a service by what a hall's people type, at the guide desk and the kiosk, in Chromium against the real
server: its Chinese name (any part of it), full pinyin, pinyin initials or code, or one of its sub-items' (事项);
the best match first; a sub-item found preselected. And the citizen's screens without codes or pinyin: the kiosk and
the printed ticket never, the guide desk only when the hall sets ``screens.show_codes``; reports name services by
name; every page is titled by its own name and the hall's.

The demo hall's names: 社保医保 (SOC, A), 户籍办理 (HUK, B), 不动产登记 (PROP, C, windows 9-11 only), 税务办理 (TAX),
公积金 (FUND), 企业开办 (BIZ: 个体工商户设立登记, 有限责任公司设立登记), 咨询取件 (INFO), 食品经营许可 (FOOD) and
开餐馆一件事 (RESTO, a bundle of BIZ + FOOD + TAX).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.pages.conftest import Hall, PagesServer
from tests.pages.test_guide_kiosk import printed_ticket_id, record_printing
from tests.server.conftest import DEMO_TOML, delete_prefix_sync, start_server, stop_server, write_hall_copy

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

GUIDE = "/halls/{hall}/guide"
KIOSK = "/halls/{hall}/kiosk"
GUIDE_SIZE = (1180, 820)
KIOSK_SIZE = (1080, 1920)
HALL_NAME = "示范县政务服务中心"
EVERY_SERVICE = ["社保医保", "户籍办理", "不动产登记", "税务办理", "公积金", "企业开办", "咨询取件", "食品经营许可",
                 "开餐馆一件事"]
# What only staff may see: codes and pinyin of the demo's services and sub-items.
CODES = re.compile(r"SOC|HUK|PROP|TAX|FUND|BIZ|INFO|FOOD|RESTO|sbyb|shebao|hjbl|gtgshsldj", re.IGNORECASE)
POOL = 12  # one hall per test that takes ``hall``
CODES_HALL = "codes-on"


@pytest.fixture(scope="module")
def pages_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PagesServer]:
    """This module's server: demo-hall copies for ``hall``, and one whose guide desk shows codes (``codes_hall``)."""
    home = tmp_path_factory.mktemp("search-pages")
    halls_dir = home / "halls"
    halls_dir.mkdir()
    pool = [f"search-{i:02d}" for i in range(POOL)]
    codes = write_hall_copy(halls_dir, CODES_HALL)
    codes.write_text(codes.read_text(encoding="utf-8") + "\n[screens]\nshow_codes = true\n", encoding="utf-8")
    paths: list[Path] = [DEMO_TOML, codes, *(write_hall_copy(halls_dir, h) for h in pool)]
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=paths, hall_ids=("demo", CODES_HALL, *pool))
    try:
        yield PagesServer(server, iter(pool))
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


@pytest.fixture
def codes_hall(pages_server: PagesServer, browser: Browser) -> Iterator[Hall]:
    """The hall with ``[screens] show_codes = true``; fails the test on any JavaScript error."""
    h = Hall(pages_server.server, CODES_HALL, browser)
    yield h
    h.http.close()
    for context in browser.contexts:
        context.close()
    assert not h.errors, "errors in the page:\n" + "\n".join(h.errors)


def shown_guide(page: Page) -> list[str]:
    return page.locator(".tile:visible .name").all_inner_texts()


def guide_finds(page: Page, query: str, names: list[str], hits: list[str] | None = None) -> None:
    """Type ``query`` in the guide's search box: exactly ``names`` show, in that order, each with its ``hits``."""
    page.locator("#search").fill(query)
    expect(page.locator(".tile:visible .name"), f"search {query!r}").to_have_text(names)
    expect(page.locator(".tile:visible .hit"), f"search {query!r}").to_have_text(hits or [""] * len(names))


def kiosk_finds(page: Page, names: list[str], hits: list[str] | None = None) -> None:
    expect(page.locator(".k-tile:visible .k-tile-name")).to_have_text(names)
    expect(page.locator(".k-tile:visible .k-tile-hit")).to_have_text(hits or [""] * len(names))
    no_codes(page.locator("#main").inner_text())


def no_codes(text: str) -> None:
    assert not CODES.search(text), f"a code or pinyin on a citizen's screen: {CODES.search(text)!r} in {text!r}"


def tap(page: Page, keys: str) -> None:
    for key in keys:
        page.locator(f"#k-letters .k-letter-key[data-key='{key}']").click()


# -- the guide desk ------------------------------------------------------------------------------------------------
def test_guide_finds_a_service_by_chinese_name_pinyin_initials_and_code(hall: Hall) -> None:
    hall.open_windows("1", "9")
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    expect(page.locator(".tile:visible")).to_have_count(len(EVERY_SERVICE))
    for query, names in (("社保", ["社保医保"]), ("户籍", ["户籍办理"]), ("开餐馆", ["开餐馆一件事"]),
                         ("不动产", ["不动产登记"]), ("医保", ["社保医保"]), ("一件事", ["开餐馆一件事"]),
                         ("sb", ["社保医保"]), ("hj", ["户籍办理"]), ("kcg", ["开餐馆一件事"]),
                         ("shebao", ["社保医保"]), ("HUJI", ["户籍办理"]), ("TAX", ["税务办理"]),
                         ("resto", ["开餐馆一件事"])):
        guide_finds(page, query, names)
    page.locator("#search").fill("火星移民")
    expect(page.locator(".tile:visible")).to_have_count(0)
    expect(page.locator("#no-match")).to_be_visible()

    # Typed and Enter: the single match is chosen, as it always was for "sb".
    page.locator("#search").fill("户籍")
    page.keyboard.press("Enter")
    expect(page.locator("#chosen-name")).to_have_text("B · 户籍办理")


def test_guide_ranks_name_start_then_substring_then_sub_items(hall: Hall) -> None:
    hall.open_windows("1", "9")
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    # 开餐馆一件事 starts with 开, 企业开办 only has it: the bundle comes first although the hall lists it last.
    guide_finds(page, "开", ["开餐馆一件事", "企业开办"])
    # 不动产登记 has 登记 in its own name; 社保医保 and 企业开办 only in their sub-items', which the tiles say.
    guide_finds(page, "登记", ["不动产登记", "社保医保", "企业开办"],
                ["", "含：职工参保登记", "含：个体工商户设立登记、有限责任公司设立登记"])
    # A sub-item whose initials start with it (抵押权首次登记) comes before one that only has them (待遇).
    guide_finds(page, "dy", ["不动产登记", "社保医保"], ["含：抵押权首次登记", "含：职工退休待遇申领"])
    guide_finds(page, "二手房", ["不动产登记"], ["含：二手房转移登记"])
    # The tiles are in that order in the page too (Tab and screen readers follow it), not only on screen.
    page.locator("#search").fill("登记")
    order = page.locator("#grid .tile:not([hidden])").evaluate_all("tiles => tiles.map(t => t.dataset.code)")
    assert order == ["PROP", "SOC", "BIZ"]


def test_guide_finds_a_sub_item_and_preselects_it(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    record_printing(page)
    guide_finds(page, "个体工商户", ["企业开办"], ["含：个体工商户设立登记"])
    guide_finds(page, "gtgsh", ["企业开办"], ["含：个体工商户设立登记"])  # the sub-item's pinyin initials
    guide_finds(page, "SOC-MED", ["社保医保"], ["含：医保关系转移接续"])  # its code
    guide_finds(page, "退休", ["社保医保"], ["含：职工退休待遇申领"])
    page.keyboard.press("Enter")  # the single match, with the sub-item it was found by
    expect(page.locator("#chosen-item")).to_have_text("职工退休待遇申领 · 承诺件（10 个工作日）")
    expect(page.locator(".item-chip[data-item=SOC-RETIRE]")).to_have_attribute("aria-checked", "true")
    expect(page.locator("#checklist .m-name")).to_have_text(["居民身份证", "户口簿", "本人近期一寸免冠彩色照片",
                                                            "社会保障卡或银行卡"])
    page.locator("#issue").click()
    expect(page.locator("#r-item")).to_have_text("职工退休待遇申领")
    assert hall.call("GET", f"/tickets/{printed_ticket_id(page)}")["item"] == "SOC-RETIRE"

    # Two sub-items matched: which one is the guide's call, so neither is preselected.
    page.locator("#next").click()
    guide_finds(page, "登记", ["不动产登记", "社保医保", "企业开办"],
                ["", "含：职工参保登记", "含：个体工商户设立登记、有限责任公司设立登记"])
    page.locator(".tile[data-code=BIZ]").click()
    expect(page.locator(".item-chip[aria-checked=true]")).to_have_text([re.compile("^不指定")])
    # One did: a tap on its tile preselects it, as Enter does.
    page.locator("#back").click()
    guide_finds(page, "有限责任", ["企业开办"], ["含：有限责任公司设立登记"])
    page.locator(".tile[data-code=BIZ]").click()
    expect(page.locator(".item-chip[aria-checked=true]")).to_have_attribute("data-item", "BIZ-LLC")
    # Back to it found by its own name: the sub-item stays as the guide left it.
    page.locator("#back").click()
    guide_finds(page, "企业", ["企业开办"])
    page.locator(".tile[data-code=BIZ]").click()
    expect(page.locator(".item-chip[aria-checked=true]")).to_have_attribute("data-item", "BIZ-LLC")


def test_guide_tiles_show_codes_only_when_the_hall_asks(hall: Hall, codes_hall: Hall) -> None:
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    expect(page.locator(".tile:visible")).to_have_count(len(EVERY_SERVICE))
    expect(page.locator(".tile .code")).to_have_count(0)
    no_codes(page.locator("#grid").inner_text())
    page.keyboard.type("sb")  # still found by them
    expect(page.locator(".tile:visible .name")).to_have_text(["社保医保"])
    no_codes(page.locator("#grid").inner_text())

    staff = codes_hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    expect(staff.locator(".tile[data-code=SOC] .code")).to_have_text("SOC · sbyb")
    expect(staff.locator(".tile[data-code=RESTO] .code")).to_have_text("RESTO · kcgyjs")


def test_guide_title_is_the_page_and_the_hall(hall: Hall) -> None:
    page = hall.open_page(GUIDE, role="guide", size=GUIDE_SIZE)
    expect(page.locator("#desk")).to_be_visible()
    expect(page).to_have_title(f"导办台 · {HALL_NAME}")
    page.locator("#lang").click()
    expect(page).to_have_title(f"Guide desk · {HALL_NAME}")


# -- the kiosk -----------------------------------------------------------------------------------------------------
def test_kiosk_finds_a_service_by_chinese_name_initials_and_code(hall: Hall) -> None:
    hall.open_windows("1", "9")
    page = hall.open_page(KIOSK, role="kiosk", size=KIOSK_SIZE)
    expect(page).to_have_title(f"自助取号 · {HALL_NAME}")
    kiosk_finds(page, EVERY_SERVICE)
    expect(page.locator("#k-letters")).to_be_hidden()

    # A touch on the box brings up the A-Z keys; 社保 is S B.
    page.locator("#k-search").click()
    expect(page.locator("#k-letters .k-letter-key[data-key]")).to_have_count(28)  # A-Z, delete, hide
    tap(page, "SB")
    expect(page.locator("#k-search")).to_have_value("SB")
    kiosk_finds(page, ["社保医保"])
    tap(page, "Y")
    kiosk_finds(page, ["社保医保"])  # sby: still 社保医保
    page.locator("#k-letters .k-letter-key[data-key=del]").click()
    page.locator("#k-letters .k-letter-key[data-key=del]").click()
    page.locator("#k-letters .k-letter-key[data-key=del]").click()
    tap(page, "HJ")
    kiosk_finds(page, ["户籍办理"])
    page.locator("#k-search-clear").click()
    expect(page.locator("#k-search")).to_have_value("")
    kiosk_finds(page, EVERY_SERVICE)

    # Chinese from the input method (text committed into the box, as an IME does).
    for query, names in (("社保", ["社保医保"]), ("户籍", ["户籍办理"]), ("开餐馆", ["开餐馆一件事"]),
                         ("不动产", ["不动产登记"]), ("开", ["开餐馆一件事", "企业开办"]), ("SOC", ["社保医保"])):
        page.locator("#k-search").focus()
        page.keyboard.insert_text(query)
        kiosk_finds(page, names)
        page.locator("#k-search-clear").click()
    expect(page.locator("#k-search-clear")).to_be_disabled()  # nothing to clear
    page.locator("#k-search").focus()
    page.keyboard.insert_text("火星移民")
    expect(page.locator(".k-tile:visible")).to_have_count(0)
    expect(page.locator("#k-no-match")).to_have_text("没有找到相关业务，请换个词，或到导办台咨询。")

    page.locator("#k-letters-toggle").click()  # the keys fold away
    expect(page.locator("#k-letters")).to_be_hidden()


def test_kiosk_finds_a_sub_item_and_goes_straight_on_with_it(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page(KIOSK, role="kiosk", size=KIOSK_SIZE)
    record_printing(page)
    page.locator("#k-search").focus()
    page.keyboard.insert_text("个体工商户")
    kiosk_finds(page, ["企业开办"], ["含：个体工商户设立登记"])
    page.locator(".k-tile[data-code=BIZ]").click()
    expect(page.locator("#id-step")).to_be_visible()  # the sub-item is chosen: no need to pick it again
    expect(page.locator("#s-item")).to_have_text("个体工商户设立登记")
    no_codes(page.locator("#main").inner_text())
    page.locator("#back").click()  # 返回: the search is still there to choose again
    expect(page.locator("#k-search")).to_have_value("个体工商户")
    kiosk_finds(page, ["企业开办"], ["含：个体工商户设立登记"])
    page.locator(".k-tile[data-code=BIZ]").click()
    page.locator("#take").click()
    expect(page.locator("#d-number")).to_have_text("F001")
    expect(page.locator("#d-item")).to_have_text("个体工商户设立登记")
    no_codes(page.locator("#main").inner_text())
    assert hall.call("GET", f"/tickets/{printed_ticket_id(page)}")["item"] == "BIZ-INDIV"
    printout = page.frame_locator("iframe.hallq-print-frame")
    expect(printout.locator("#item")).to_have_text("个体工商户设立登记")
    no_codes(printout.locator("#ticket").inner_text())

    # 完成: the next person starts from every service, nothing of this search left.
    page.locator("#finish").click()
    expect(page.locator("#k-search")).to_have_value("")
    kiosk_finds(page, EVERY_SERVICE)


def test_kiosk_clears_a_search_left_behind(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page(KIOSK + "?reset=2", role="kiosk", size=KIOSK_SIZE)  # a search waits 4 s
    page.locator("#k-search").click()
    tap(page, "SB")
    kiosk_finds(page, ["社保医保"])
    expect(page.locator("#search-countdown")).to_contain_text("秒后清除查找")
    expect(page.locator("#k-search")).to_have_value("", timeout=8000)
    expect(page.locator("#k-letters")).to_be_hidden()
    kiosk_finds(page, EVERY_SERVICE)
    expect(page.locator("#search-countdown")).to_have_text("")


# -- names, not codes, elsewhere -----------------------------------------------------------------------------------
def test_reports_name_services_without_their_codes(hall: Hall) -> None:
    page = hall.open_page("/halls/{hall}/reports", role="manager")
    page.wait_for_function("document.body.dataset.ready === '1'")
    expect(page.locator("#report-rows tr[data-key=SOC] th")).to_have_text("社保医保")
    expect(page.locator("#report-rows tr[data-key=RESTO] th")).to_have_text("开餐馆一件事")
    expect(page).to_have_title(f"统计报表 · {HALL_NAME}")


def test_pages_are_titled_by_their_name_and_the_halls(hall: Hall) -> None:
    titles = {}
    for page in ("guide", "kiosk", "dashboard", "reports", "book", "console"):
        found = re.search(r"<title>(.*)</title>", hall.http.get(f"/halls/{hall.id}/{page}").text)
        titles[page] = found[1] if found else None
    assert titles == {"guide": f"导办台 · {HALL_NAME}", "kiosk": f"自助取号 · {HALL_NAME}",
                      "dashboard": f"管理看板 · {HALL_NAME}", "reports": f"统计报表 · {HALL_NAME}",
                      "book": f"预约办理 · {HALL_NAME}", "console": f"窗口工作台 · {HALL_NAME}"}
