"""The catalog API against the real server: GET /catalog, /catalog/items/{item}, /catalog/bundles/{bundle}, and the
notice page's HTML. Who may call them is the security matrix's job; here, what they answer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.server.conftest import HallApi, assert_error, has_chinese

SHANGHAI = ZoneInfo("Asia/Shanghai")


def hall_today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


async def test_catalog_gives_services_sub_items_bundles_and_window_skills(api: HallApi) -> None:
    before = hall_today()
    catalog = await api.ok("GET", "/catalog", role="kiosk")
    assert catalog["day"] in (before, hall_today())  # the hall's day, from which promised dates count
    assert (catalog["hall"], catalog["name"]) == (api.hall, "示范县政务服务中心")
    services = {s["code"]: s for s in catalog["services"]}
    assert list(services)[-2:] == ["FOOD", "RESTO"]
    soc = services["SOC"]
    assert (soc["letter"], soc["initials"], soc["is_bundle"]) == ("A", "sbyb", False)
    assert (soc["name"], services["RESTO"]["name"]) == ("社保医保", "开餐馆一件事")  # what the pages search and show
    retire = next(i for i in soc["items"] if i["code"] == "SOC-RETIRE")
    # A sub-item is found as its service is: by its name, its pinyin or their initials.
    assert (retire["name"], retire["pinyin"], retire["initials"]) == \
        ("职工退休待遇申领", "zhigongtuixiudaiyushenling", "zgtxdysl")
    assert [m["name"] for m in retire["materials"]][:2] == ["居民身份证", "户口簿"]
    assert (retire["promised_days"], retire["immediate"], retire["promised"]) == (10, False, "承诺件（10 个工作日）")
    assert services["RESTO"]["is_bundle"]
    assert services["BIZ"]["in_bundles"] == ["RESTO"]
    [resto] = catalog["bundles"]
    assert [m["code"] for m in resto["members"]] == ["BIZ", "FOOD", "TAX"]
    assert resto["windows"] == ["7", "8"]
    assert {"营业执照", "公司章程", "经营者居民身份证"} <= {m["name"] for m in resto["materials"]}
    windows = {w["id"]: w for w in catalog["windows"]}
    assert windows["11"]["items"] == ["PROP-MORTGAGE"]
    assert "RESTO" in windows["7"]["services"]


async def test_one_sub_item_comes_with_its_notice_in_the_asked_language(api: HallApi) -> None:
    before = hall_today()
    item = await api.ok("GET", "/catalog/items/SOC-RETIRE", role="guide")
    assert (item["code"], item["service"], item["name"], item["initials"]) == \
        ("SOC-RETIRE", "SOC", "职工退休待遇申领", "zgtxdysl")
    assert item["windows"] == ["1", "2", "3", "4", "5", "6", "7", "8", "12"]
    notice = item["notice"]
    assert (notice["kind"], notice["lang"], notice["hall_name"]) == ("item", "zh", "示范县政务服务中心")
    assert notice["day"] in (before, hall_today())  # the notice is dated the hall's day
    assert notice["due"] == item["due"] > notice["day"]  # a 承诺件: settled some working days later
    assert "一次性告知书" in notice["text"]
    assert "4. 社会保障卡或银行卡 1 份（验原件；用于发放养老金）" in notice["text"].splitlines()

    english = await api.ok("GET", "/catalog/items/SOC-RETIRE", role="guide", headers={"Accept-Language": "en"})
    assert english["notice"]["lang"] == "en"
    assert english["notice"]["title"] == "Retirement pension claim"
    assert english["notice"]["text"].splitlines()[1] == "One-time full notice"


async def test_a_bundle_comes_with_the_union_of_its_members_materials_and_its_notice(api: HallApi) -> None:
    bundle = await api.ok("GET", "/catalog/bundles/RESTO", role="display")
    assert (bundle["code"], bundle["letter"], bundle["promised_days"]) == ("RESTO", "K", 10)
    assert bundle["items"] == ["BIZ-INDIV", "BIZ-LLC", "FOOD-PERMIT"]
    names = [m["name"] for m in bundle["materials"]]
    assert len(names) == len(set(names))
    assert [n["name"] for n in bundle["notice"]["materials"]] == names
    licence = next(m for m in bundle["notice"]["materials"] if m["name"] == "营业执照")
    assert licence["for_items"] == ["食品经营许可证核发"]
    assert "主题联办（一件事）：开餐馆一件事" in bundle["notice"]["text"]


async def test_a_bundles_alternative_sub_items_are_one_choice_on_its_notice(api: HallApi) -> None:
    """开餐馆一件事 takes a 个体工商户 or a company, not both: their documents are a choice (以下二选一), after the
    documents every restaurant needs, numbered so on the desk's checklist and the notice alike."""
    bundle = await api.ok("GET", "/catalog/bundles/RESTO", role="guide")
    assert bundle["alternatives"] == [["BIZ-INDIV", "BIZ-LLC"]]
    lines = [(m["name"], m["choice"], m["options"]) for m in bundle["materials"]]
    assert lines == [
        ("营业执照", None, []), ("经营场所平面图和设备布局图", None, []), ("食品安全管理制度", None, []),
        ("经营者居民身份证", 0, ["BIZ-INDIV"]), ("经营场所证明", 0, ["BIZ-INDIV"]),
        ("公司章程", 0, ["BIZ-LLC"]), ("股东主体资格证明", 0, ["BIZ-LLC"]),
        ("法定代表人、董事、监事任职文件", 0, ["BIZ-LLC"]), ("住所使用证明", 0, ["BIZ-LLC"])]
    notice = bundle["notice"]
    assert [(m["number"], m["choice"]) for m in notice["materials"]][2:4] == [(3, None), (4, 0)]
    [choice] = notice["choices"]
    assert choice["label"] == "以下二选一"
    assert [(o["item"], o["item_name"], o["materials"]) for o in choice["options"]] == [
        ("BIZ-INDIV", "个体工商户设立登记", [4, 5]), ("BIZ-LLC", "有限责任公司设立登记", [6, 7, 8, 9])]
    text = notice["text"].splitlines()
    start = text.index("以下二选一（备齐其中一组即可）：")
    assert text[start + 1:start + 4] == ["（一）个体工商户设立登记：", "  4. 经营者居民身份证 1 份（验原件）",
                                         "  5. 经营场所证明 1 份"]
    assert "（二）有限责任公司设立登记：" in text[start:]
    english = await api.ok("GET", "/catalog/bundles/RESTO", role="guide", headers={"Accept-Language": "en"})
    assert english["notice"]["choices"][0]["label"] == "Choose one of these 2"
    assert "Choose one of these 2 (one set is enough):" in english["notice"]["text"].splitlines()
    # A plain sub-item's notice has no choice to make.
    assert (await api.ok("GET", "/catalog/items/SOC-RETIRE", role="guide"))["notice"]["choices"] == []


async def test_an_unknown_sub_item_is_404_with_a_sentence_naming_it(api: HallApi) -> None:
    error = assert_error(await api.request("GET", "/catalog/items/SOC-NOPE", role="guide"), 404, "unknown_item")
    assert error["message"] == "本大厅受理事典中没有事项 SOC-NOPE，请从事项列表中选择。"
    english = assert_error(await api.request("GET", "/catalog/items/SOC-NOPE", role="guide",
                                             headers={"Accept-Language": "en"}), 404, "unknown_item")
    assert "SOC-NOPE" in english["message"]
    assert not has_chinese(english["message"])
    # A service code is not a sub-item; whatever is typed, the sentence quotes at most 40 characters of it.
    assert_error(await api.request("GET", "/catalog/items/SOC", role="guide"), 404, "unknown_item")
    long = assert_error(await api.request("GET", "/catalog/items/" + "X" * 300, role="guide"), 404, "unknown_item")
    assert "X" * 40 in long["message"]
    assert "X" * 41 not in long["message"]


async def test_a_plain_service_is_not_a_bundle_and_an_unknown_one_is_not_a_service(api: HallApi) -> None:
    plain = assert_error(await api.request("GET", "/catalog/bundles/SOC", role="guide"), 404, "not_a_bundle")
    assert "RESTO" in plain["message"]
    assert has_chinese(plain["message"])
    assert_error(await api.request("GET", "/catalog/bundles/NOPE", role="guide"), 404, "unknown_service")


async def test_catalog_refuses_a_query_parameter_it_does_not_read(api: HallApi) -> None:
    error = assert_error(await api.request("GET", "/catalog", role="guide", params={"service": "SOC"}), 422,
                         "invalid_request")
    assert "service" in error["message"]


async def test_the_notice_page_is_served_for_the_hall(api: HallApi) -> None:
    reply = await api.client.get(f"/halls/{api.hall}/notice", params={"item": "SOC-RETIRE"})
    assert reply.status_code == 200
    assert "一次性告知书" in reply.text
    assert f'<meta name="hallq-hall" content="{api.hall}">' in reply.text
    assert '<meta name="hallq-hall-name" content="示范县政务服务中心">' in reply.text
    assert "/assets/tickets/notice.js" in reply.text
    assert (await api.client.get("/assets/tickets/notice.js")).status_code == 200
