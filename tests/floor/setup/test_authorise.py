"""A hall of a county's catalog says what it accepts of it, and follows the catalog when the county changes it
(floor/setup/rules.py ``authorise``, ``following``): pure, on the demo's services as the catalog."""

from __future__ import annotations

from typing import Any

import pytest

from floor.network.rules import Network, compose
from floor.settings import DEMO_HALL
from floor.setup.rules import SetupRefused, authorise, following
from queue_engine.config import HallConfig, Service, hall_data

CATALOG = tuple(Service.model_validate(s) for s in hall_data(DEMO_HALL)["services"])
NETWORK = Network.model_validate({"regions": [{"id": "sf", "name": "示范县", "kind": "county"}],
                                  "catalogs": {"sf": [s.model_dump(mode="json") for s in CATALOG]}})


def village(**changes: Any) -> HallConfig:
    data = {"id": "dongzhuang", "name": "东庄村便民服务站", "region": "sf", "level": "village_station",
            "catalog": "sf", "authorised": ["SOC-REG", "HUK-IDCARD", "INFO"],
            "windows": [{"id": "1", "name": "代办窗口", "services": ["SOC", "HUK", "INFO"], "items": ["SOC-REG"]},
                        {"id": "2", "name": "户籍窗口", "services": ["HUK"]}], **changes}
    return HallConfig.model_validate(compose(data, NETWORK))


def items(config: HallConfig) -> set[str]:
    return {i.code for s in config.services for i in s.items}


def test_authorising_more_brings_the_catalogs_items_and_says_what_changed() -> None:
    edit = authorise(village(), CATALOG, ["SOC", "HUK-IDCARD", "INFO"])
    soc = next(s for s in CATALOG if s.code == "SOC")
    assert {i.code for i in soc.items} <= items(edit.config)  # a whole service: every sub-item of it
    assert edit.config.authorised == ("SOC", "HUK-IDCARD", "INFO")
    assert edit.changes == [{"what": "authorised", "id": "dongzhuang",
                             "before": {"authorised": ["SOC-REG", "HUK-IDCARD", "INFO"],
                                        "services": ["SOC", "HUK", "INFO"]},
                             "after": {"authorised": ["SOC", "HUK-IDCARD", "INFO"],
                                       "services": ["SOC", "HUK", "INFO"]}}]


def test_withdrawing_a_service_takes_it_from_every_window_that_served_it() -> None:
    one_window = [{"id": "1", "name": "代办窗口", "services": ["SOC", "HUK", "INFO"], "items": ["SOC-REG"]}]
    edit = authorise(village(windows=one_window), CATALOG, ["SOC-REG", "INFO"])
    assert [s.code for s in edit.config.services] == ["SOC", "INFO"]
    first = edit.config.window("1")
    assert first is not None
    assert (first.services, first.items) == (("SOC", "INFO"), ("SOC-REG",))


def test_a_window_left_with_nothing_is_refused_naming_it() -> None:
    with pytest.raises(SetupRefused) as refused:
        authorise(village(windows=[{"id": "2", "name": "户籍窗口", "services": ["HUK"]}]), CATALOG, ["SOC-REG"])
    assert (refused.value.code, refused.value.status) == ("window_left_empty", 409)
    assert "2" in refused.value.en
    assert "2号窗口" in refused.value.zh


def test_a_code_the_catalog_lacks_is_refused_in_both_languages() -> None:
    with pytest.raises(SetupRefused) as refused:
        authorise(village(), CATALOG, ["SOC-REG", "PET-DOG"])
    assert "PET-DOG" in refused.value.en
    assert "PET-DOG" in refused.value.zh
    assert refused.value.fields[0]["field"] == "authorised"


def test_a_hall_keeping_its_own_services_has_nothing_to_authorise() -> None:
    own = HallConfig.model_validate(hall_data(DEMO_HALL))
    with pytest.raises(SetupRefused) as refused:
        authorise(own, CATALOG, ["SOC"])
    assert refused.value.code == "no_catalog"


def test_following_a_changed_catalog_keeps_what_it_still_has() -> None:
    soc = next(s for s in CATALOG if s.code == "SOC")
    renamed = soc.model_copy(update={"name_zh": "社会保障",
                                     "items": tuple(i for i in soc.items if i.code != "SOC-REG")})
    changed = tuple(renamed if s.code == "SOC" else s for s in CATALOG)
    edit = following(village(authorised=["SOC-REG", "SOC-MED", "HUK-IDCARD", "INFO"]), changed)
    assert edit.config.authorised == ("SOC-MED", "HUK-IDCARD", "INFO")  # SOC-REG is gone from the catalog
    service = edit.config.service("SOC")
    assert service is not None
    assert service.name_zh == "社会保障"
    assert items(edit.config) == {"SOC-MED", "HUK-IDCARD"}
    window = edit.config.window("1")
    assert window is not None
    assert window.items == ()  # it served SOC-REG alone of SOC: that item is no more
