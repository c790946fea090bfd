"""The county's one catalog, set up live: a village station says what it accepts of the catalog, the county's
admins change the catalog itself, and every hall taking its services from it follows at once.

The demo county is served as a network (HALLQ_NETWORK): its catalog is the county centre's services ("demo").
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from floor.http.auth import make_token
from tests.server.conftest import COUNTY_IDS, LiveServer, county_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo county, one server for the module: each test works in halls of its own or reads what it changed."""
    with county_server(tmp_path_factory.mktemp("county")) as server:
        yield server


def call(server: LiveServer, method: str, path: str, token: str, json: Any = None) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=20, trust_env=False) as client:
        return client.request(method, path, json=json, headers={"Authorization": f"Bearer {token}",
                                                                 "Accept-Language": "en"})


def items_of(config: dict[str, Any]) -> set[str]:
    return {i["code"] for s in config["services"] for i in s["items"]}


def test_a_village_says_what_it_accepts_of_the_catalog_and_issues_it_at_once(county: LiveServer) -> None:
    manager = make_token(county.secret, "dongzhuang", "manager")
    guide = make_token(county.secret, "dongzhuang", "guide")
    catalog = call(county, "GET", "/api/v1/halls/dongzhuang/setup/catalog", manager).json()
    assert catalog["catalog"] == "demo-county"
    assert catalog["name"] == "示范县"
    assert "SOC-RETIRE" in {i["code"] for s in catalog["services"] for i in s["items"]}
    assert catalog["authorised"] == ["SOC-REG", "SOC-MED", "HUK-IDCARD", "INFO"]
    assert "SOC-RETIRE" in {i["item"] for i in call(county, "GET", "/api/v1/halls/dongzhuang/nearby/items",
                                                        guide).json()["items"]}

    changed = call(county, "PUT", "/api/v1/halls/dongzhuang/setup/authorised", manager, {
        "version": catalog["version"], "authorised": [*catalog["authorised"], "SOC-RETIRE"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == catalog["version"] + 1
    assert changed.json()["changes"][0]["what"] == "authorised"
    assert call(county, "POST", "/api/v1/halls/dongzhuang/windows/1/open", manager).status_code == 200
    issued = call(county, "POST", "/api/v1/halls/dongzhuang/tickets", guide, {"service": "SOC", "item": "SOC-RETIRE"})
    assert issued.status_code == 201, issued.text
    assert "SOC-RETIRE" not in {i["item"] for i in call(county, "GET", "/api/v1/halls/dongzhuang/nearby/items",
                                                            guide).json()["items"]}

    # A code the catalog lacks, a stale version, and the hall's own services: each refused, saying what to do.
    unknown = call(county, "PUT", "/api/v1/halls/dongzhuang/setup/authorised", manager, {
        "version": catalog["version"] + 1, "authorised": ["SOC-REG", "PET-DOG"]})
    assert unknown.status_code == 422, unknown.text
    assert "PET-DOG" in unknown.json()["error"]["message"]
    stale = call(county, "PUT", "/api/v1/halls/dongzhuang/setup/authorised", manager, {
        "version": catalog["version"], "authorised": ["SOC-REG"]})
    assert stale.json()["error"]["code"] == "setup_changed"
    own = call(county, "PUT", "/api/v1/halls/dongzhuang/setup/services/SOC", manager, {
        "version": catalog["version"] + 1, "service": catalog["services"][0]})
    assert own.status_code == 409
    assert own.json()["error"]["code"] == "from_catalog"
    # Withdrawing everything its one window serves would leave it serving nothing: refused.
    emptied = call(county, "PUT", "/api/v1/halls/dongzhuang/setup/authorised", manager, {
        "version": catalog["version"] + 1, "authorised": ["FUND"]})
    assert emptied.json()["error"]["code"] == "window_left_empty"
    # The county centre keeps its own services: it has no catalog to take from.
    plain = call(county, "GET", "/api/v1/halls/demo/setup/catalog", make_token(county.secret, "demo", "manager"))
    assert plain.json()["error"]["code"] == "no_catalog"


def test_the_county_changes_its_catalog_and_every_hall_of_it_follows(county: LiveServer) -> None:
    own_manager = make_token(county.secret, "demo", "admin")
    county_admin = make_token(county.secret, "demo", "admin", region="demo-county")
    setup = call(county, "GET", "/api/v1/halls/demo/setup", county_admin).json()
    assert setup["keeps_catalog"] == {"region": "demo-county", "name": "示范县"}
    soc = next(s for s in setup["config"]["services"] if s["code"] == "SOC")
    renamed = {**soc, "name_zh": "社会保障", "items": [i for i in soc["items"] if i["code"] != "SOC-MED"]}

    # The centre's own admin does not change what every hall of the county works by.
    refused = call(county, "PUT", "/api/v1/halls/demo/setup/services/SOC", own_manager,
                   {"version": setup["version"], "service": renamed})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "catalog_keepers_only"
    # A town's manager does not either: the catalog is the county's.
    town = make_token(county.secret, "chengguan", "admin", region="chengguan")
    assert call(county, "PUT", "/api/v1/halls/demo/setup/services/SOC", town,
                {"version": setup["version"], "service": renamed}).status_code == 403

    # A citizen waits at beipo for SOC-MED, which the county is about to drop.
    manager, guide = (make_token(county.secret, "beipo", r) for r in ("manager", "guide"))
    assert call(county, "POST", "/api/v1/halls/beipo/windows/1/open", manager).status_code == 200
    waiting = call(county, "POST", "/api/v1/halls/beipo/tickets", guide, {"service": "SOC", "item": "SOC-MED"})
    assert waiting.status_code == 201, waiting.text

    changed = call(county, "PUT", "/api/v1/halls/demo/setup/services/SOC", county_admin,
                   {"version": setup["version"], "service": renamed})
    assert changed.status_code == 200, changed.text
    followers = {f["hall"]: f for f in changed.json()["followers"]}
    assert set(followers) == set(COUNTY_IDS) - {"demo"}  # every hall of the county takes SOC from the catalog
    assert followers["beipo"]["refused"] == "item_has_tickets", followers["beipo"]
    assert "SOC-MED" in followers["beipo"]["message"]  # in the reader's language (English here)
    assert all("version" in f for hall, f in followers.items() if hall != "beipo"), followers

    # Those that followed run on the changed catalog; beipo keeps its day until its ticket is done.
    xihe = call(county, "GET", "/api/v1/halls/xihe/config", make_token(county.secret, "xihe", "guide")).json()
    assert next(s for s in xihe["services"] if s["code"] == "SOC")["name_zh"] == "社会保障"
    assert "SOC-MED" not in items_of(xihe)
    village = call(county, "GET", "/api/v1/halls/beipo/config", guide).json()
    assert "SOC-MED" in items_of(village)
    deadline = time.monotonic() + 15  # the archiver writes the audit log a moment after the change
    while not (entries := call(county, "GET", "/api/v1/halls/xihe/audit", county_admin).json()["entries"]):
        assert time.monotonic() < deadline, "the follow was not audited"
        time.sleep(0.2)
    followed = entries[0]  # who changed the catalog, and what it took from xihe
    assert (followed["action"], followed["role"], followed["details"]["source"]) == (
        "hall.configured", "admin", "catalog:demo-county")
    assert followed["details"]["changes"][0]["after"]["authorised"] == ["SOC-REG", "HUK-IDCARD", "INFO"]
