"""What search reads of the catalog (floor.catalog.search_terms and the catalog's terms): sub-items carry pinyin and
initials as their services do, terms are letters and digits only, and each name's terms are worked out once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pypinyin import lazy_pinyin

from floor.catalog.rules import build_catalog, item_detail, item_entry
from floor.catalog.search_terms import search_terms
from queue_engine.config import HallConfig
from tests.floor.catalog.test_rules import small_hall

MONDAY = date(2026, 11, 23)


@pytest.fixture
def hall() -> HallConfig:
    return small_hall()


def test_sub_items_carry_pinyin_and_initials_of_their_chinese_name(hall: HallConfig) -> None:
    catalog = build_catalog(hall, MONDAY)
    biz = catalog.services[0]
    assert [(i.code, i.pinyin, i.initials) for i in biz.items] == [
        ("BIZ-INDIV", "getigongshanghushelidengji", "gtgshsldj"),
        ("BIZ-LLC", "youxianzerengongsishelidengji", "yxzrgssldj"),
    ]
    # One sub-item read alone (GET /catalog/items/{item}) says the same.
    indiv = item_entry(hall, "BIZ-INDIV", MONDAY)
    detail = item_detail(hall, "BIZ-INDIV", MONDAY)
    assert indiv is not None
    assert detail is not None
    assert (indiv.initials, detail.initials) == ("gtgshsldj", "gtgshsldj")


def test_terms_are_what_can_be_typed_and_a_latin_run_stays_whole() -> None:
    # Brackets and spaces are never typed; ETC is typed as ETC, so its initials are not just "e".
    assert search_terms("12345热线（咨询）") == {"pinyin": "12345rexianzixun", "initials": "12345rxzx"}
    assert search_terms("ETC办理") == {"pinyin": "etcbanli", "initials": "etcbl"}
    assert search_terms("公积金 提取") == {"pinyin": "gongjijintiqu", "initials": "gjjtq"}


@pytest.fixture
def pinyin_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every name pypinyin is asked about, starting from an empty cache (emptied again after, so no later test reads
    terms made through this wrapper)."""
    calls: list[str] = []
    def counted(name: str, *args: Any, **kwargs: Any) -> list[str]:
        calls.append(name)
        return lazy_pinyin(name, *args, **kwargs)

    search_terms.cache_clear()
    monkeypatch.setattr("floor.catalog.search_terms.lazy_pinyin", counted)
    yield calls
    search_terms.cache_clear()


def test_each_names_terms_are_worked_out_once(hall: HallConfig, pinyin_calls: list[str]) -> None:
    build_catalog(hall, MONDAY)
    first = len(pinyin_calls)
    assert "个体工商户设立登记" in pinyin_calls  # sub-items' names are asked for too
    build_catalog(hall, MONDAY)  # every GET /catalog builds the catalog again...
    assert len(pinyin_calls) == first  # ...and pypinyin is not asked again
