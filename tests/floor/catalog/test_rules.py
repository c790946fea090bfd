"""受理事典 from the hall's configuration (floor.catalog.rules): sub-items, promised time, bundles and the union of
their materials, which windows serve what, and the 一次性告知 notice's content. Pure: no Redis, no SQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from floor.catalog.rules import (
    build_catalog,
    bundle_detail,
    bundle_entry,
    bundle_notice,
    copies_text,
    item_detail,
    item_entry,
    item_notice,
    promised_text,
)
from queue_engine.config import HallConfig

MONDAY = date(2026, 11, 23)
FRIDAY = date(2026, 11, 27)


def small_hall(**fields: Any) -> HallConfig:
    """Two services whose sub-items share documents, a bundle of both, and a window restricted to one sub-item."""
    id_card = {"name": "居民身份证", "copies": 1, "original": True}
    data: dict[str, Any] = {
        "id": "small", "name": "小镇便民服务中心", "hours": ["08:30-12:00", "14:00-17:30"],
        "holidays": ["2026-12-01"],
        "services": [
            {"code": "BIZ", "letter": "F", "name_zh": "企业开办", "name_en": "Business start-up", "items": [
                {"code": "BIZ-INDIV", "name_zh": "个体工商户设立登记", "name_en": "Sole proprietor", "promised_days": 0,
                 "forms": ["登记申请书"], "legal_basis": ["《促进个体工商户发展条例》"],
                 "materials": [id_card, {"name": "经营场所证明", "copies": 1}]},
                {"code": "BIZ-LLC", "name_zh": "有限责任公司设立登记", "promised_days": 1,
                 "forms": ["登记申请书", "公司章程范本"], "materials": [
                     {"name": "居民身份证", "copies": 2, "note": "全体股东"},
                     {"name": "经营场所证明", "copies": 1, "original": True}]},
            ]},
            {"code": "FOOD", "letter": "H", "name_zh": "食品经营许可", "name_en": "Food permit", "items": [
                {"code": "FOOD-PERMIT", "name_zh": "食品经营许可证核发", "name_en": "Food permit issuance",
                 "promised_days": 10, "legal_basis": ["《食品安全法》第三十五条"],
                 "materials": [{"name": "居民身份证", "copies": 1, "original": True, "note": "法定代表人"},
                               {"name": "营业执照", "copies": 0, "original": True}]},
            ]},
            {"code": "TAX", "letter": "D", "name_zh": "税务办理", "name_en": "Taxation"},
            {"code": "RESTO", "letter": "K", "name_zh": "开餐馆一件事", "name_en": "Opening a restaurant",
             "bundle": ["BIZ", "FOOD", "TAX"]},
        ],
        "windows": [
            {"id": "1", "name": "1号窗口", "services": ["BIZ", "FOOD", "TAX"]},
            {"id": "2", "name": "2号窗口", "services": ["BIZ"], "items": ["BIZ-LLC"]},
            {"id": "3", "name": "3号窗口", "services": ["TAX"]},
        ],
    }
    return HallConfig.model_validate({**data, **fields})


@pytest.fixture
def hall() -> HallConfig:
    return small_hall()


# -- promised time --------------------------------------------------------------------------------------------------
def test_promised_time_reads_jibanjian_for_zero_days_and_chengnuojian_with_working_days() -> None:
    assert promised_text(0) == "即办件（当场办结）"
    assert promised_text(5) == "承诺件（5 个工作日）"
    assert promised_text(0, "en") == "On the spot (即办件)"
    assert promised_text(1, "en") == "Within 1 working day (承诺件)"
    assert promised_text(10, "en") == "Within 10 working days (承诺件)"


def test_promised_date_counts_working_days_past_weekends_and_holidays(hall: HallConfig) -> None:
    # Friday + 1 working day is Monday; Monday 2026-11-23 + 10 working days skips two weekends and the 1 December
    # holiday the hall lists, landing on Tuesday 8 December.
    llc = item_entry(hall, "BIZ-LLC", FRIDAY)
    assert llc is not None
    assert llc.due == date(2026, 11, 30)
    food = item_entry(hall, "FOOD-PERMIT", MONDAY)
    assert food is not None
    assert food.due == date(2026, 12, 8)
    indiv = item_entry(hall, "BIZ-INDIV", MONDAY)
    assert indiv is not None
    assert (indiv.immediate, indiv.due, indiv.promised) == (True, MONDAY, "即办件（当场办结）")


def test_copies_wording_says_when_only_the_original_is_shown() -> None:
    assert copies_text(2, False) == "2 份"
    assert copies_text(0, True) == "仅验原件"
    assert copies_text(1, True, "en") == "1 copy"
    assert copies_text(0, True, "en") == "original shown only"


# -- the catalog ----------------------------------------------------------------------------------------------------
def test_catalog_lists_every_service_in_the_halls_order_with_its_sub_items_and_search_terms(hall: HallConfig) -> None:
    catalog = build_catalog(hall, MONDAY)
    assert [s.code for s in catalog.services] == ["BIZ", "FOOD", "TAX", "RESTO"]
    biz = catalog.services[0]
    assert [i.code for i in biz.items] == ["BIZ-INDIV", "BIZ-LLC"]
    assert (biz.pinyin, biz.initials) == ("qiyekaiban", "qykb")
    assert biz.in_bundles == ["RESTO"]
    assert catalog.services[3].is_bundle
    assert [b.code for b in catalog.bundles] == ["RESTO"]
    llc = biz.items[1]
    assert llc.name_en == "有限责任公司设立登记"  # no English name configured: the Chinese one, never blank
    assert [m.name for m in llc.materials] == ["居民身份证", "经营场所证明"]
    assert llc.forms == ["登记申请书", "公司章程范本"]


def test_a_window_naming_some_sub_items_of_a_service_serves_only_those(hall: HallConfig) -> None:
    catalog = build_catalog(hall, MONDAY)
    items = {i.code: i for s in catalog.services for i in s.items}
    assert items["BIZ-LLC"].windows == ["1", "2"]
    assert items["BIZ-INDIV"].windows == ["1"]  # window 2 takes BIZ-LLC only
    skills = {w.id: w for w in catalog.windows}
    assert skills["2"].items == ["BIZ-LLC"]
    assert skills["1"].items == ["BIZ-INDIV", "BIZ-LLC", "FOOD-PERMIT"]
    assert skills["3"].items == []


def test_a_bundle_is_served_only_at_windows_that_serve_every_member(hall: HallConfig) -> None:
    resto = bundle_entry(hall, "RESTO", MONDAY)
    assert resto is not None
    assert resto.windows == ["1"]  # the configuration gives window 1 the bundle; 2 and 3 lack members
    assert [m.code for m in resto.members] == ["BIZ", "FOOD", "TAX"]
    assert resto.items == ["BIZ-INDIV", "BIZ-LLC", "FOOD-PERMIT"]


def test_bundle_materials_are_the_union_of_its_members_one_line_per_document(hall: HallConfig) -> None:
    resto = bundle_entry(hall, "RESTO", MONDAY)
    assert resto is not None
    lines = {m.name: m for m in resto.materials}
    assert list(lines) == ["居民身份证", "经营场所证明", "营业执照"]
    card = lines["居民身份证"]
    # The most copies any sub-item asks for, the original if any asks for it, every note, and who asks.
    assert (card.copies, card.original) == (2, True)
    assert card.note == "全体股东；法定代表人"
    assert card.items == ["BIZ-INDIV", "BIZ-LLC", "FOOD-PERMIT"]
    assert (lines["经营场所证明"].original, lines["经营场所证明"].items) == (True, ["BIZ-INDIV", "BIZ-LLC"])
    assert (lines["营业执照"].copies, lines["营业执照"].items) == (0, ["FOOD-PERMIT"])
    # Forms, legal basis: each once; the promised time is the longest of its sub-items'.
    assert resto.forms == ["登记申请书", "公司章程范本"]
    assert resto.legal_basis == ["《促进个体工商户发展条例》", "《食品安全法》第三十五条"]
    assert (resto.promised_days, resto.promised) == (10, "承诺件（10 个工作日）")


def test_unknown_codes_and_plain_services_have_no_entry(hall: HallConfig) -> None:
    assert item_entry(hall, "NOPE", MONDAY) is None
    assert item_detail(hall, "BIZ", MONDAY) is None  # a service code is not a sub-item
    assert bundle_entry(hall, "BIZ", MONDAY) is None  # a plain service is not a bundle
    assert bundle_detail(hall, "NOPE", MONDAY) is None


def test_the_demo_halls_restaurant_bundle_gathers_business_food_and_tax(demo_hall: HallConfig) -> None:
    resto = bundle_entry(demo_hall, "RESTO", MONDAY)
    assert resto is not None
    assert [m.code for m in resto.members] == ["BIZ", "FOOD", "TAX"]
    assert resto.windows == ["7", "8"]
    assert "营业执照" in [m.name for m in resto.materials]
    mortgage = item_entry(demo_hall, "PROP-MORTGAGE", MONDAY)
    transfer = item_entry(demo_hall, "PROP-TRANSFER", MONDAY)
    assert mortgage is not None
    assert transfer is not None
    assert "11" in mortgage.windows
    assert "11" not in transfer.windows  # window 11 takes mortgages only


# -- the notice ------------------------------------------------------------------------------------------------------
def test_item_notice_lists_every_material_form_basis_and_the_promised_time(demo_hall: HallConfig) -> None:
    notice = item_notice(demo_hall, "SOC-RETIRE", MONDAY)
    assert notice is not None
    assert (notice.kind, notice.title, notice.service_name, notice.hall_name) == \
        ("item", "职工退休待遇申领", "社保医保", "示范县政务服务中心")
    assert [(m.number, m.name, m.copies_text, m.original) for m in notice.materials] == [
        (1, "居民身份证", "1 份", True), (2, "户口簿", "1 份", True), (3, "本人近期一寸免冠彩色照片", "2 份", False),
        (4, "社会保障卡或银行卡", "1 份", True)]
    text = notice.text.splitlines()
    assert text[:3] == ["示范县政务服务中心", "一次性告知书", "办理事项：职工退休待遇申领（社保医保）"]
    assert "办理时限：承诺件（10 个工作日）" in text
    assert "如今日受理，预计办结日期：2026-12-07" in text
    assert "4. 社会保障卡或银行卡 1 份（验原件；用于发放养老金）" in text
    assert "3. 本人近期一寸免冠彩色照片 2 份" in text
    assert "申请表格：基本养老保险待遇申领表" in text
    assert "设定依据：《中华人民共和国社会保险法》第十六条" in text
    assert "告知日期：2026-11-23" in text
    assert text[-1] == "导办人员（签名/工号）：____________"
    assert any(line.startswith("以上为办理本事项所需的全部材料，一次性告知") for line in text)


def test_an_on_the_spot_item_has_no_settled_by_date_and_an_original_only_document_says_so(
        demo_hall: HallConfig) -> None:
    reg = item_notice(demo_hall, "SOC-REG", MONDAY)
    card = item_notice(demo_hall, "HUK-IDCARD", MONDAY)
    assert reg is not None
    assert card is not None
    assert "办理时限：即办件（当场办结）" in reg.text
    assert "预计办结日期" not in reg.text
    assert "1. 原居民身份证 仅验原件" in card.text.splitlines()


def test_bundle_notice_names_its_members_and_what_each_document_is_for(hall: HallConfig) -> None:
    notice = bundle_notice(hall, "RESTO", MONDAY)
    assert notice is not None
    assert (notice.kind, notice.title, notice.windows) == ("bundle", "开餐馆一件事", ["1号窗口"])
    assert [(p.service, p.item) for p in notice.parts] == [
        ("BIZ", "BIZ-INDIV"), ("BIZ", "BIZ-LLC"), ("FOOD", "FOOD-PERMIT"), ("TAX", None)]
    text = notice.text.splitlines()
    assert "主题联办（一件事）：开餐馆一件事" in text
    assert ("包含事项：企业开办（个体工商户设立登记、有限责任公司设立登记）；"
            "食品经营许可（食品经营许可证核发）；税务办理") in text
    assert ("1. 居民身份证 2 份（验原件；全体股东；法定代表人；用于个体工商户设立登记、有限责任公司设立登记、"
            "食品经营许可证核发）") in text
    assert "3. 营业执照 仅验原件（验原件；用于食品经营许可证核发）" not in text  # "original" is said once
    assert "3. 营业执照 仅验原件（用于食品经营许可证核发）" in text


def test_notice_speaks_english_when_asked_keeping_the_documents_own_names(demo_hall: HallConfig) -> None:
    notice = item_notice(demo_hall, "SOC-RETIRE", MONDAY, "en")
    assert notice is not None
    text = notice.text.splitlines()
    assert text[1:3] == ["One-time full notice", "Matter: Retirement pension claim (Social security)"]
    assert "Time limit: Within 10 working days (承诺件)" in text
    assert "1. 居民身份证 1 copy (original shown)" in text
    assert text[-1] == "Guide (signature / staff number): ____________"


def test_item_detail_carries_its_notice_in_the_asked_language(demo_hall: HallConfig) -> None:
    detail = item_detail(demo_hall, "FOOD-PERMIT", MONDAY, "en")
    assert detail is not None
    assert (detail.code, detail.service, detail.notice.lang, detail.notice.title) == \
        ("FOOD-PERMIT", "FOOD", "en", "Food business permit issuance")
    bundle = bundle_detail(demo_hall, "RESTO", MONDAY)
    assert bundle is not None
    assert bundle.notice.kind == "bundle"
    assert [m.number for m in bundle.notice.materials] == list(range(1, len(bundle.materials) + 1))
