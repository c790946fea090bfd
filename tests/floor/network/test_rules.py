"""A county's network (floor/network/rules.py): the region tree, and halls taking their services from the county's
one catalog by what they are authorised for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from floor.hall_files import read_hall_files
from floor.network.rules import Network, authorised_services, compose, distance_km, nearby
from floor.settings import DEMO_HALL, Settings
from queue_engine.config import HallConfig, Invalid, Location, hall_data

REGIONS = [
    {"id": "nm", "name": "内蒙古自治区", "kind": "province"},
    {"id": "cf", "name": "赤峰市", "kind": "city", "parent": "nm"},
    {"id": "sf", "name": "示范县", "kind": "county", "parent": "cf"},
    {"id": "sf-cg", "name": "城关镇", "kind": "town", "parent": "sf"},
    {"id": "sf-cg-dz", "name": "东庄村", "kind": "village", "parent": "sf-cg"},
    {"id": "sf-hs", "name": "黑山镇", "kind": "town", "parent": "sf"},
    {"id": "other", "name": "邻县", "kind": "county", "parent": "cf"},
    {"id": "demo-county", "name": "示范县（演示）", "kind": "county", "parent": "cf"},  # where demo.toml says it is
]
CATALOG = hall_data(DEMO_HALL)["services"]  # the demo hall's services stand for the county's 受理事典


def network(**changes: Any) -> Network:
    return Network.model_validate({"regions": REGIONS, "catalogs": {"sf": CATALOG}, **changes})


def village(**changes: Any) -> dict[str, Any]:
    return {"id": "dongzhuang", "name": "东庄村便民服务站", "region": "sf-cg-dz", "level": "village_station",
            "catalog": "sf", "authorised": ["SOC-REG", "HUK-IDCARD", "INFO"],
            "windows": [{"id": "1", "name": "代办窗口", "services": ["SOC", "HUK", "INFO"]}], **changes}


def test_below_and_path_follow_the_tree() -> None:
    n = network()
    assert n.below("sf") == {"sf", "sf-cg", "sf-cg-dz", "sf-hs"}
    assert n.below("cf") == {"cf", "sf", "sf-cg", "sf-cg-dz", "sf-hs", "other", "demo-county"}
    assert [r.id for r in n.path("sf-cg-dz")] == ["nm", "cf", "sf", "sf-cg", "sf-cg-dz"]
    assert n.below("sf-hs") == {"sf-hs"}


@pytest.mark.parametrize(("regions", "zh"), [
    ([*REGIONS, {"id": "x", "name": "某村", "kind": "village", "parent": "nowhere"}], "不在地区列表中"),
    ([*REGIONS, {"id": "x", "name": "某县", "kind": "county", "parent": "sf-cg"}], "不能隶属于"),
    ([*REGIONS, {"id": "sf", "name": "重复", "kind": "county", "parent": "cf"}], "地区编号重复"),
])
def test_a_wrong_tree_is_refused_saying_why(regions: list[dict[str, Any]], zh: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Network.model_validate({"regions": regions})
    error = refused.value.errors()[0]["ctx"]["error"]
    assert isinstance(error, Invalid)
    assert zh in error.zh


def test_a_village_takes_only_the_items_it_is_authorised_for() -> None:
    hall = HallConfig.model_validate(compose(village(), network()))
    assert [s.code for s in hall.services] == ["SOC", "HUK", "INFO"]
    soc, huk, _info = hall.services
    assert [i.code for i in soc.items] == ["SOC-REG"]
    assert [i.code for i in huk.items] == ["HUK-IDCARD"]
    assert hall.authorised == ("SOC-REG", "HUK-IDCARD", "INFO")
    assert hall.item_service("SOC-RETIRE") is None  # not this village's: a ticket for it is refused


def test_a_bundle_comes_only_with_all_its_members() -> None:
    catalog = network().catalogs["sf"]
    some = [s["code"] for s in authorised_services(catalog, ("BIZ", "FOOD"))]
    assert "RESTO" not in some
    every = [s["code"] for s in authorised_services(catalog, ("BIZ", "FOOD", "TAX"))]
    assert every[-1] == "RESTO"


def test_an_authorisation_the_catalog_lacks_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        compose(village(authorised=["SOC-REG", "SOC-TYPO"]), network())
    assert "SOC-TYPO" in str(refused.value)
    assert "不在受理事典中" in refused.value.zh


def test_a_hall_names_its_region_and_catalog_rightly() -> None:
    with pytest.raises(Invalid):
        compose(village(region="nowhere"), network())
    with pytest.raises(Invalid):
        compose(village(catalog="other"), network())  # a region without a catalog
    with pytest.raises(Invalid):
        compose(village(services=CATALOG), network())  # both its own services and a catalog


def test_a_server_reads_its_network_and_composes_its_halls(tmp_path: Path) -> None:
    import tomli_w

    net = tmp_path / "network.toml"
    net.write_text(tomli_w.dumps({"regions": REGIONS, "catalogs": {"sf": CATALOG}}), encoding="utf-8")
    hall = tmp_path / "dongzhuang.toml"
    hall.write_text(tomli_w.dumps(village()), encoding="utf-8")
    files = read_hall_files(Settings(secret=b"x" * 32, halls=(DEMO_HALL, hall), network=net))
    assert set(files) == {"demo", "dongzhuang"}
    assert [s.code for s in files["dongzhuang"].config.services] == ["SOC", "HUK", "INFO"]
    assert files["demo"].config.catalog is None  # a hall with services of its own keeps them


def test_nearby_offers_halls_of_the_same_county_that_can_nearest_first() -> None:
    n = network()

    def soc_hall(hall_id: str, region: str, lat: float | None = None, lon: float | None = None) -> HallConfig:
        place = {"location": {"lat": lat, "lon": lon}} if lat is not None else {}
        window = {"id": "1", "name": "1号窗口", "services": ["SOC"]}
        return HallConfig.model_validate(compose(village(
            id=hall_id, region=region, authorised=["SOC"], windows=[window], **place), n))

    here = HallConfig.model_validate(compose(village(location={"lat": 42.29, "lon": 118.98}), n))
    near, far = soc_hall("near", "sf-cg", 42.28, 118.97), soc_hall("far", "sf-hs", 42.40, 118.70)
    nowhere, stranger = soc_hall("nowhere", "sf-hs"), soc_hall("stranger", "other", 42.29, 118.98)  # another county
    lacking = HallConfig.model_validate(compose(village(id="lacking", location={"lat": 42.29, "lon": 118.98}), n))
    found = nearby(n, here, [here, far, stranger, nowhere, lacking, near], "SOC", "SOC-RETIRE")
    assert [(h.id, None if km is None else round(km)) for h, km in found] == [("near", 1), ("far", 26),
                                                                              ("nowhere", None)]
    assert nearby(n, here, [near], "SOC", "SOC-RETIRE", limit=0) == []
    assert distance_km(Location(lat=42.0, lon=119.0), Location(lat=43.0, lon=119.0)) == pytest.approx(111.2, abs=0.1)
