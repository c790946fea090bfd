"""大厅设置, the managers' set-up page, in Chromium against a real server: the services and windows of GET /setup in
their tables; a window's services changed on the page, which the live day then obeys at its next call; a window added
on the page and opened at once; a service added with its sub-items, materials, forms and notice text; a wrong edit
refused in the server's Chinese words with its field marked and nothing changed; a save decided on a version someone
else has since replaced refused, the set-up read again and saved on a second try; the opening hours, lunch and
holidays; a file that does not import names its line and field; removals the live day refuses; and only managers and
admins get in.

Each test has a hall of its own (the ``hall`` fixture), so none depends on another's edits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import FilePayload, Locator, Page, expect

from tests.pages.conftest import Hall, PagesServer, screenshot
from tests.server.conftest import delete_prefix_sync, start_server, stop_server, write_hall_copy

DESK = (1366, 768)
POOL = 14  # a hall per test, and a few to spare: a server of fewer halls starts sooner than the package's
WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@pytest.fixture(scope="module")
def pages_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PagesServer]:
    """tests/pages/conftest.py's server, with this module's few demo copies."""
    home = tmp_path_factory.mktemp("setup-page")
    halls_dir = home / "halls"
    halls_dir.mkdir()
    pool = [f"setup-{i:02d}" for i in range(POOL)]
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=[write_hall_copy(halls_dir, h) for h in pool], hall_ids=pool,
                          heartbeat_s=1.0)
    try:
        yield PagesServer(server, iter(pool))
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


def open_setup(hall: Hall, role: str = "manager", **kwargs: Any) -> Page:
    page = hall.open_page("/halls/{hall}/setup", role=role, size=DESK, **kwargs)
    expect(page.locator('body[data-ready="1"]')).to_be_attached(timeout=15_000)
    expect(page.locator(".signin-overlay")).to_have_count(0)
    expect(page.locator("#link")).to_have_attribute("data-status", "live")  # following the set-up's changes
    return page


def read_setup(hall: Hall, role: str = "manager") -> dict[str, Any]:
    found: dict[str, Any] = hall.call("GET", "/setup", role=role)
    return found


def window(setup: dict[str, Any], window_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(w for w in setup["config"]["windows"] if w["id"] == window_id)
    return found


def service(setup: dict[str, Any], code: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in setup["config"]["services"] if s["code"] == code)
    return found


def export(hall: Hall, role: str = "manager") -> str:
    reply = hall.http.get(f"/api/v1/halls/{hall.id}/setup/export",
                          headers={"Authorization": f"Bearer {hall.token(role)}"})
    assert reply.status_code == 200, reply.text
    return reply.text


def toml_file(name: str, text: str) -> FilePayload:
    return {"name": name, "mimeType": "application/toml", "buffer": text.encode()}


def window_dialog(page: Page, window_id: str | None) -> Locator:
    if window_id is None:
        page.locator("#add-window").click()
    else:
        page.locator(f'#window-rows tr[data-window="{window_id}"] button.edit').click()
    dialog = page.locator("#window-dialog")
    expect(dialog).to_be_visible()
    return dialog


def service_dialog(page: Page, code: str | None) -> Locator:
    if code is None:
        page.locator("#add-service").click()
    else:
        page.locator(f'#service-rows tr[data-code="{code}"] button.edit').click()
    dialog = page.locator("#service-dialog")
    expect(dialog).to_be_visible()
    return dialog


def fits_the_desk(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= DESK[0], "nothing may stick out sideways"


# -- (a) what GET /setup says, in the tables -------------------------------------------------------------------------
def test_a_manager_sees_the_services_and_windows_of_the_set_up(hall: Hall) -> None:
    page = open_setup(hall)
    setup = read_setup(hall)
    services, windows = setup["config"]["services"], setup["config"]["windows"]
    expect(page.locator("#service-rows tr")).to_have_count(len(services))
    assert page.locator("#service-rows tr").evaluate_all("rows => rows.map(r => r.dataset.code)") == [
        s["code"] for s in services]
    soc = page.locator('#service-rows tr[data-code="SOC"]')
    expect(soc.locator("td.letter")).to_have_text("A")
    expect(soc.locator("td.name")).to_contain_text("社保医保")
    expect(soc.locator("td.name-en")).to_have_text("Social security")
    expect(soc.locator("td.wait")).to_have_text("15 分钟")  # target_wait_s 900
    expect(soc.locator("td.handling")).to_have_text("8 分钟")  # handling_s 480
    expect(soc.locator("td.items")).to_have_text(str(len(service(setup, "SOC")["items"])))
    expect(soc.locator("td.windows-count")).to_have_text(
        str(sum("SOC" in w["services"] for w in windows)))
    resto = page.locator('#service-rows tr[data-code="RESTO"]')
    expect(resto.locator("td.name .bundle-mark")).to_have_text("一件事")
    expect(resto.locator("td.bundle .chip")).to_have_text(["企业开办", "食品经营许可", "税务办理"])

    expect(page.locator("#window-rows tr")).to_have_count(len(windows))
    first = page.locator('#window-rows tr[data-window="1"]')
    expect(first.locator("td.name")).to_have_text("1号窗口")
    expect(first.locator("td.kind")).to_have_text("综合窗口")
    expect(first.locator("td.skills .chip.primary")).to_have_text("★ 社保医保")
    expect(first.locator("td.primary")).to_have_text("社保医保")
    expect(first.locator("td.stand-in")).to_have_text("—")
    eleven = page.locator('#window-rows tr[data-window="11"]')
    expect(eleven.locator("td.kind")).to_have_text("专业窗口")
    expect(eleven.locator("td.items")).to_have_text("抵押权首次登记")

    expect(page.locator("#version")).to_have_text(f"当前第 {setup['version']} 版")
    assert setup["source"].startswith("file:")
    expect(page.locator('#source [data-source="file"]')).to_have_text("由文件导入")
    expect(page.locator('#manager-nav a[aria-current="page"]')).to_have_text("大厅设置")
    expect(page.locator("#export")).to_be_enabled()
    expect(page.locator("#import-form")).to_be_hidden()  # importing is the admin's
    expect(page.locator("#import-admin-only")).to_be_visible()
    fits_the_desk(page)
    screenshot(page, "setup")

    page.locator("#lang").click()
    expect(page.locator("#services-card h2 span").first).to_have_text("Services")
    expect(soc.locator("td.wait")).to_have_text("15 min")
    expect(first.locator("td.kind")).to_have_text("Comprehensive")
    dialog = window_dialog(page, "11")  # the dialogs hold what the set-up says, in the page's language
    expect(page.locator("#window-title")).to_have_text("Change window 11")
    expect(dialog.locator('[data-path="kind"]')).to_have_value("special")
    expect(dialog.locator('li.svc[data-code="PROP"] input[type="radio"][value="only"]')).to_be_checked()
    expect(dialog.locator('li.svc[data-code="PROP"] input.item:checked')).to_have_count(1)
    expect(dialog.locator('li.svc[data-code="PROP"] input.item[value="PROP-MORTGAGE"]')).to_be_checked()
    expect(dialog.locator("li.svc.on")).to_have_count(2)
    page.locator("#w-cancel").click()
    dialog = service_dialog(page, "RESTO")
    expect(page.locator("#service-title")).to_have_text("Change Opening a restaurant (RESTO)")
    expect(dialog.locator('[data-path="handling_s"]')).to_have_value("45")
    assert dialog.locator(".bundle-field input:checked").evaluate_all("xs => xs.map(x => x.value)") == [
        "TAX", "BIZ", "FOOD"]  # in the hall's order of services
    page.locator("#s-cancel").click()
    expect(dialog).to_be_hidden()


# -- (b) a window's services changed on the page; the live day obeys -------------------------------------------------
def test_window_2_s_services_changed_on_the_page_are_what_it_calls_next(hall: Hall) -> None:
    page = open_setup(hall)
    dialog = window_dialog(page, "2")
    expect(page.locator("#window-title")).to_have_text("修改窗口：2号窗口")
    soc = dialog.locator('li.svc[data-code="SOC"]')
    expect(soc.locator("input.serve")).to_be_checked()
    expect(soc.locator("input.primary")).to_be_checked()
    expect(dialog.locator('li.svc[data-code="PROP"] input.primary')).to_be_disabled()  # not served: not first either
    soc.locator("input.serve").uncheck()
    expect(soc.locator("input.primary")).not_to_be_checked()
    expect(soc.locator("input.primary")).to_be_disabled()
    dialog.locator('li.svc[data-code="HUK"] input.primary').check()
    stand_in = dialog.locator('[data-path="stand_in"]')
    assert "2" not in stand_in.locator("option").evaluate_all("os => os.map(o => o.value)"), "not its own B post"
    stand_in.select_option("3")
    screenshot(page, "setup-window-dialog")
    page.locator("#w-save").click()
    expect(dialog).to_be_hidden()

    row = page.locator('#window-rows tr[data-window="2"]')
    expect(row.locator('td.skills .chip[data-code="SOC"]')).to_have_count(0)
    expect(row.locator('td.skills .chip[data-code="HUK"]')).to_have_text("★ 户籍办理")
    expect(row.locator("td.primary")).to_have_text("户籍办理")
    expect(row.locator("td.stand-in")).to_have_text("3号窗口")
    expect(page.locator("#hallq-toast")).to_contain_text("已保存")
    expect(page.locator('#source [data-source="live"]')).to_have_text("在线修改")
    setup = read_setup(hall)
    expect(page.locator("#version")).to_have_text(f"当前第 {setup['version']} 版")
    two = window(setup, "2")
    assert (two["services"], two["primary"], two["stand_in"]) == (["HUK", "TAX", "FUND", "BIZ", "INFO"], ["HUK"], "3")
    assert setup["source"] == "live"
    page.wait_for_timeout(300)  # the feed's event of this very change: not taken for someone else's
    expect(page.locator("#hallq-toast")).not_to_contain_text("他人")

    hall.open_windows("1", "2")  # window 1 still serves SOC: the hall issues SOC tickets
    soc_ticket, huk_ticket = hall.issue("SOC"), hall.issue("HUK")
    called = hall.window_op("2", "call-next")["ticket"]
    assert called["id"] == huk_ticket["id"], "window 2 no longer serves SOC: it calls the HUK ticket, issued later"
    assert hall.window_op("1", "call-next")["ticket"]["id"] == soc_ticket["id"]


# -- (c) a window added on the page opens at once ----------------------------------------------------------------------
def test_a_window_added_on_the_page_is_opened_at_once(hall: Hall) -> None:
    page = open_setup(hall)
    dialog = window_dialog(page, None)
    expect(page.locator("#window-title")).to_have_text("新增窗口")
    expect(dialog.locator('[data-path="id"]')).to_have_value("13")  # the next number
    expect(dialog.locator('[data-path="name"]')).to_have_value("13号窗口")
    page.locator("#w-save").click()
    expect(page.locator("#w-problem")).to_have_text("请至少选择一项业务：窗口不能什么都不办。")
    dialog.locator('li.svc[data-code="INFO"] input.serve').check()
    dialog.locator('li.svc[data-code="INFO"] input.primary').check()
    prop = dialog.locator('li.svc[data-code="PROP"]')
    prop.locator("input.serve").check()
    prop.locator('input[type="radio"][value="only"]').check()
    prop.locator('input.item[value="PROP-MORTGAGE"]').check()
    dialog.locator('[data-path="kind"]').select_option("special")
    dialog.locator('[data-path="stand_in"]').select_option("12")
    page.locator("#w-save").click()
    expect(dialog).to_be_hidden()

    row = page.locator('#window-rows tr[data-window="13"]')
    expect(row.locator("td.name")).to_have_text("13号窗口")
    expect(row.locator("td.kind")).to_have_text("专业窗口")
    expect(row.locator("td.items")).to_have_text("抵押权首次登记")
    expect(row.locator("td.stand-in")).to_have_text("12号窗口")
    expect(page.locator("#windows-count")).to_contain_text("共 13 个")
    assert window(read_setup(hall), "13") == {"id": "13", "name": "13号窗口", "services": ["PROP", "INFO"],
                                              "primary": ["INFO"], "kind": "special", "items": ["PROP-MORTGAGE"],
                                              "stand_in": "12"}
    hall.call("POST", "/windows/13/open")  # at once: 200
    ticket = hall.issue("INFO")
    assert hall.window_op("13", "call-next")["ticket"]["id"] == ticket["id"]


# -- a service with its sub-items, edited inline --------------------------------------------------------------------
def test_a_service_added_with_its_sub_items_materials_and_notice_text(hall: Hall) -> None:
    page = open_setup(hall)
    dialog = service_dialog(page, None)
    expect(page.locator("#service-title")).to_have_text("新增业务")
    expect(dialog.locator('[data-path="letter"]')).to_have_value("I")  # the first letter no service has
    dialog.locator('[data-path="code"]').fill("marr")
    expect(dialog.locator('[data-path="code"]')).to_have_value("MARR")
    dialog.locator('[data-path="letter"]').fill("m")
    dialog.locator('[data-path="name_zh"]').fill("婚姻登记")
    dialog.locator('[data-path="name_en"]').fill("Marriage registration")
    dialog.locator('[data-path="target_wait_s"]').fill("20")
    dialog.locator('[data-path="handling_s"]').fill("12.5")
    page.locator("#s-add-item").click()
    item = dialog.locator('details.item-editor[data-index="0"]')
    item.locator('[data-path="items.0.code"]').fill("MARR-REG")
    item.locator('[data-path="items.0.name_zh"]').fill("结婚登记")
    item.locator('[data-path="items.0.name_en"]').fill("Marriage")
    item.locator('[data-path="items.0.handling_s"]').fill("15")
    for k, (name, copies, original, note) in enumerate([("居民身份证", "1", True, ""), ("户口簿", "0", True, ""),
                                                         ("近期二寸合影照片", "3", False, "红底")]):
        item.locator("button.add-material").click()
        item.locator(f'[data-path="items.0.materials.{k}.name"]').fill(name)
        item.locator(f'[data-path="items.0.materials.{k}.copies"]').fill(copies)
        if original:
            item.locator(f'[data-path="items.0.materials.{k}.original"]').check()
        item.locator(f'[data-path="items.0.materials.{k}.note"]').fill(note)
    item.locator('tr[data-index="1"] button.remove-material').click()  # the 户口簿 after all: not needed
    item.locator('[data-path="items.0.forms"]').fill("申请结婚登记声明书\n\n")
    item.locator('[data-path="items.0.legal_basis"]').fill("《中华人民共和国民法典》第一千零四十九条\n《婚姻登记条例》第五条")
    item.locator('[data-path="items.0.notes"]').fill("双方须本人到场，不收费。")
    expect(item.locator("summary")).to_contain_text("MARR-REG")
    expect(item.locator("summary")).to_contain_text("材料 2 项")
    page.locator("#s-save").click()
    expect(dialog).to_be_hidden()

    row = page.locator('#service-rows tr[data-code="MARR"]')
    expect(row.locator("td.letter")).to_have_text("M")
    expect(row.locator("td.handling")).to_have_text("12.5 分钟")
    expect(row.locator("td.items")).to_have_text("1")
    assert service(read_setup(hall), "MARR") == {
        "code": "MARR", "letter": "M", "name_zh": "婚姻登记", "name_en": "Marriage registration", "target_wait_s": 1200,
        "handling_s": 750, "bundle": [], "items": [{
            "code": "MARR-REG", "name_zh": "结婚登记", "name_en": "Marriage", "promised_days": 0, "handling_s": 900,
            "materials": [{"name": "居民身份证", "copies": 1, "original": True, "note": ""},
                          {"name": "近期二寸合影照片", "copies": 3, "original": False, "note": "红底"}],
            "forms": ["申请结婚登记声明书"],
            "legal_basis": ["《中华人民共和国民法典》第一千零四十九条", "《婚姻登记条例》第五条"],
            "notes": "双方须本人到场，不收费。"}]}

    # Changed again: the dialog opens with what was saved, the code fixed.
    dialog = service_dialog(page, "MARR")
    expect(dialog.locator('[data-path="code"]')).to_have_attribute("readonly", "")
    item = dialog.locator('details.item-editor[data-index="0"]')
    item.locator("summary").click()
    expect(item.locator('[data-path="items.0.materials.1.name"]')).to_have_value("近期二寸合影照片")
    item.locator('[data-path="items.0.promised_days"]').fill("1")
    page.locator("#s-save").click()
    expect(dialog).to_be_hidden()
    assert service(read_setup(hall), "MARR")["items"][0]["promised_days"] == 1


# -- (d) a wrong edit: the server's sentence, its field marked, nothing changed ----------------------------------------
def test_a_wrong_edit_shows_the_server_s_sentence_and_changes_nothing(hall: Hall) -> None:
    page = open_setup(hall)
    before = read_setup(hall)
    dialog = service_dialog(page, "HUK")
    letter = dialog.locator('[data-path="letter"]')
    letter.fill("A")  # SOC's
    page.locator("#s-save").click()
    expect(page.locator("#s-problem")).to_have_text("设置有误：业务字母重复：A。")
    expect(letter).to_have_class(re.compile(r"\binvalid\b"))
    expect(dialog).to_be_visible()

    letter.fill("V")  # kept for VIP tickets: the page says so before asking
    page.locator("#s-save").click()
    expect(page.locator("#s-problem")).to_have_text("字母 V 和 Y 留给 VIP 号和预约号，请换一个字母。")
    letter.fill("B")

    page.locator("#s-add-item").click()  # a sub-item code another service has
    dialog.locator('[data-path="items.2.code"]').fill("SOC-REG")
    dialog.locator('[data-path="items.2.name_zh"]').fill("职工参保登记")
    page.locator("#s-save").click()
    expect(page.locator("#s-problem")).to_have_text("设置有误：事项编码重复：SOC-REG。")
    expect(dialog.locator('[data-path="items.2.code"]')).to_have_class(re.compile(r"\binvalid\b"))
    expect(dialog.locator('[data-path="letter"]')).not_to_have_class(re.compile(r"\binvalid\b"))
    page.locator("#s-cancel").click()
    expect(dialog).to_be_hidden()

    assert read_setup(hall) == before
    expect(page.locator('#service-rows tr[data-code="HUK"] td.letter')).to_have_text("B")
    expect(page.locator("#version")).to_have_text(f"当前第 {before['version']} 版")
    hall.forgive_refusals(422)


# -- (e) a save decided on a version someone else has since replaced ---------------------------------------------------
def test_a_stale_save_is_refused_the_set_up_read_again_and_saved_on_a_second_try(hall: Hall) -> None:
    page = open_setup(hall)
    dialog = window_dialog(page, "3")
    name = dialog.locator('[data-path="name"]')
    name.fill("3号窗口（老年人优先）")

    setup = read_setup(hall)  # meanwhile, another manager renames window 4
    hall.call("PUT", "/setup/windows/4", json={"version": setup["version"],
                                                "window": {**window(setup, "4"), "name": "4号窗口（企业专窗）"}})
    expect(page.locator('#window-rows tr[data-window="4"] td.name')).to_have_text("4号窗口（企业专窗）")
    expect(page.locator("#hallq-toast")).to_contain_text("设置已由他人更新")
    expect(page.locator("#w-note")).to_contain_text("其间设置已由他人更新")

    page.locator("#w-save").click()
    expect(page.locator("#w-problem")).to_contain_text("大厅设置已被他人修改")
    expect(dialog).to_be_visible()
    expect(name).to_have_value("3号窗口（老年人优先）")  # what was typed stays
    assert window(read_setup(hall), "3")["name"] == "3号窗口"
    hall.forgive_refusals(409)

    page.locator("#w-save").click()  # checked, saved again: over the version now read
    expect(dialog).to_be_hidden()
    expect(page.locator('#window-rows tr[data-window="3"] td.name')).to_have_text("3号窗口（老年人优先）")
    after = read_setup(hall)
    assert window(after, "3")["name"] == "3号窗口（老年人优先）"
    assert window(after, "4")["name"] == "4号窗口（企业专窗）", "the other manager's change is not overwritten"
    assert after["version"] == setup["version"] + 2


def test_a_stale_calendar_keeps_what_was_typed_and_says_the_server_s_sentence(hall: Hall) -> None:
    page = open_setup(hall)
    first = page.locator("#sessions li.session").nth(0)
    first.locator("input.start").fill("08:00")  # unsaved here, while another manager saves other hours
    setup = read_setup(hall)
    hall.call("PUT", "/setup/calendar", json={"version": setup["version"], "hours": ["08:30-12:00", "14:00-18:00"],
                                              "holidays": ["2027-01-01"], "workdays": []})
    expect(page.locator("#calendar-pending")).to_contain_text("其间设置已由他人更新")
    page.locator("#calendar-save").click()
    expect(page.locator("#calendar-problem")).to_contain_text("大厅设置已被他人修改")
    expect(first.locator("input.start")).to_have_value("08:00")
    hall.forgive_refusals(409)
    page.locator("#calendar-save").click()
    expect(page.locator("#calendar-pending")).to_be_hidden()
    assert [h["start"] for h in read_setup(hall)["config"]["hours"]] == ["08:00:00", "14:00:00"]


# -- (f) the opening hours, lunch and the calendar ---------------------------------------------------------------------
def test_opening_hours_lunch_and_holidays_saved_on_the_page(hall: Hall) -> None:
    page = open_setup(hall)
    sessions = page.locator("#sessions li.session")
    gap = page.locator("#sessions li.gap")
    expect(sessions).to_have_count(2)
    expect(gap).to_have_text("午休 12:00–14:00（2小时）")
    expect(page.locator("#calendar-save")).to_be_disabled()  # nothing to save yet

    sessions.nth(0).locator("input.start").fill("09:00")
    sessions.nth(1).locator("input.start").fill("13:30")
    sessions.nth(1).locator("input.end").fill("17:00")
    expect(gap).to_have_text("午休 12:00–13:30（1小时30分）")
    expect(page.locator("#calendar-total")).to_have_text("每日办公 6小时30分")
    expect(page.locator("#calendar-pending")).to_have_text("有尚未保存的修改。")

    page.locator("#add-session").click()  # a third session, then taken away again
    expect(sessions).to_have_count(3)
    sessions.nth(2).locator("button.remove-session").click()
    expect(sessions).to_have_count(2)

    page.locator("#holiday-date").fill("2027-10-01")
    page.locator("#add-holiday").click()
    holiday = page.locator('#holidays li.day[data-date="2027-10-01"]')
    expect(holiday).to_contain_text(WEEKDAY_ZH[date(2027, 10, 1).weekday()])
    page.locator("#workday-date").fill("2027-10-01")
    page.locator("#add-workday").click()
    expect(page.locator("#calendar-problem")).to_have_text("2027-10-01 已列为节假日，不能同时为调休上班日。")
    page.locator("#workday-date").fill("2027-09-26")
    page.locator("#add-workday").click()
    expect(page.locator('#workdays li.day[data-date="2027-09-26"]')).to_contain_text("周日")
    page.locator('#holidays li.day[data-date="2027-01-01"] button.remove-day').click()
    page.locator("#calendar-save").click()
    expect(page.locator("#calendar-pending")).to_be_hidden()
    expect(page.locator("#hallq-toast")).to_contain_text("办公时间已保存")

    config = read_setup(hall)["config"]
    assert config["hours"] == [{"start": "09:00:00", "end": "12:00:00"}, {"start": "13:30:00", "end": "17:00:00"}]
    assert (config["holidays"], config["workdays"]) == (["2027-10-01"], ["2027-09-26"])

    sessions.nth(1).locator("input.start").fill("11:00")  # overlaps the morning: the page says so, sends nothing
    expect(gap).to_have_text("与上一时段重叠")
    page.locator("#calendar-save").click()
    expect(page.locator("#calendar-problem")).to_have_text("第 2 时段与上一时段重叠。")
    expect(sessions.nth(1).locator("input.start")).to_have_class(re.compile(r"\binvalid\b"))
    page.locator("#calendar-reset").click()
    expect(sessions.nth(1).locator("input.start")).to_have_value("13:30")


# -- (g) the set-up file -----------------------------------------------------------------------------------------------
def test_the_file_downloads_and_a_bad_line_is_named_with_its_field(hall: Hall) -> None:
    page = open_setup(hall, role="admin")
    expect(page.locator("#import-form")).to_be_visible()
    with page.expect_download() as downloading:
        page.locator("#export").click()
    download = downloading.value
    assert download.suggested_filename == f"{hall.id}.toml"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text == export(hall)

    before = read_setup(hall)
    lines = text.splitlines()
    line = lines.index('letter = "B"') + 1  # 户籍办理, the second service
    broken = text.replace('letter = "B"', 'letter = "V"', 1)
    page.locator("#import-file").set_input_files(files=toml_file("broken.toml", broken))
    expect(page.locator("#import-chosen")).to_contain_text("broken.toml")
    page.locator("#import-submit").click()
    expect(page.locator("#confirm-title")).to_have_text("用「broken.toml」替换全部设置？")
    page.locator("#confirm-ok").click()
    expect(page.locator("#confirm")).to_be_hidden()
    error = page.locator("#import-error")
    expect(error).to_be_visible()
    expect(page.locator("#import-line")).to_have_text(f"第 {line} 行")
    expect(page.locator("#import-field")).to_have_text("字段 services.1.letter")
    expect(page.locator("#import-message")).to_contain_text(f":{line}: services.1.letter:")
    expect(page.locator("#import-message")).to_contain_text("字母 V 和 Y")
    expect(error.locator(".line-text")).to_have_text(f'{line}letter = "V"')
    assert read_setup(hall) == before

    unreadable = text.replace('letter = "B"', "letter = B", 1)  # not TOML at all: the line, no field
    page.locator("#import-file").set_input_files(files=toml_file("unreadable.toml", unreadable))
    page.locator("#import-submit").click()
    page.locator("#confirm-ok").click()
    expect(page.locator("#import-line")).to_have_text(f"第 {line} 行")
    expect(page.locator("#import-field")).to_have_count(0)
    expect(page.locator("#import-message")).to_contain_text("TOML 格式有误")
    assert read_setup(hall) == before
    hall.forgive_refusals(422)

    fixed = text.replace('name_zh = "户籍办理"', 'name_zh = "户籍业务"', 1)
    page.locator("#import-file").set_input_files(files=toml_file("fixed.toml", fixed))
    expect(error).to_be_hidden()
    page.locator("#import-submit").click()
    page.locator("#confirm-ok").click()
    expect(page.locator("#import-done")).to_contain_text("已导入「fixed.toml」：1 处变化")
    expect(page.locator('#service-rows tr[data-code="HUK"] td.name')).to_contain_text("户籍业务")
    assert service(read_setup(hall), "HUK")["name_zh"] == "户籍业务"


# -- removals the live day refuses, then allows ------------------------------------------------------------------------
def test_a_removal_the_live_day_refuses_is_shown_and_done_once_allowed(hall: Hall) -> None:
    hall.open_windows("5")
    page = open_setup(hall)
    page.locator('#window-rows tr[data-window="5"] button.remove').click()
    expect(page.locator("#confirm-title")).to_have_text("删除「5号窗口」？")
    page.locator("#confirm-ok").click()
    expect(page.locator("#confirm-problem")).to_have_text("5号窗口正在使用，请先关窗再删除。")
    hall.call("POST", "/windows/5/close")
    page.locator("#confirm-ok").click()
    expect(page.locator("#confirm")).to_be_hidden()
    expect(page.locator('#window-rows tr[data-window="5"]')).to_have_count(0)
    assert "5" not in [w["id"] for w in read_setup(hall)["config"]["windows"]]

    hall.open_windows("6")
    hall.issue("FUND")
    page.locator('#service-rows tr[data-code="FUND"] button.remove').click()
    page.locator("#confirm-ok").click()
    expect(page.locator("#confirm-problem")).to_contain_text("仍有未办结的号票")
    expect(page.locator('#service-rows tr[data-code="FUND"]')).to_have_count(1)
    page.locator("#confirm-back").click()
    page.locator('#service-rows tr[data-code="TAX"] button.remove').click()  # a bundle holds TAX: the server says so
    page.locator("#confirm-ok").click()
    expect(page.locator("#confirm-problem")).to_have_text("联办主题 RESTO 包含 TAX，请先将其移出联办主题。")
    assert {"FUND", "TAX"} <= {s["code"] for s in read_setup(hall)["config"]["services"]}
    hall.forgive_refusals(409)  # the refusals provoked here, each shown in the server's words


# -- (h) who gets in ---------------------------------------------------------------------------------------------------
def test_a_guide_is_turned_away_with_a_sentence_naming_the_role(hall: Hall) -> None:
    page = hall.open_page("/halls/{hall}/setup", role="guide", size=DESK)
    expect(page.locator(".signin-problem")).to_have_text(
        "大厅设置只供管理员（manager）和系统管理员（admin）使用；这是导办台（guide）的令牌，请用管理员账号登录。")
    expect(page.locator("#service-rows tr")).to_have_count(0)
    assert hall.call("GET", "/setup", role="guide", expect=403)["error"]["code"] == "wrong_role"
    page.context.close()
    staff = hall.open_page("/halls/{hall}/setup", role="staff", window="5", size=DESK, lang="en")
    expect(staff.locator(".signin-problem")).to_have_text(
        "Hall set-up is for the hall's managers and administrators only; this token is a window staff's (staff). "
        "Sign in with a manager's account.")
    expect(staff.locator('body[data-ready="1"]')).to_have_count(0)
