"""Region managers: an account or token scoped to a region acts in every hall below it and nowhere else, and
watches the region's halls live (区域总览) over one websocket.

The demo county is served as a network (HALLQ_NETWORK). Two counties would not fit a test's server, so "another
county" is a town of the same county: a town's manager must see nothing of the county's other towns, which is
the same rule (the region's subtree, nothing beside it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from floor.http.auth import make_token
from tests.server.conftest import (
    COUNTY_IDS,
    LiveServer,
    county_server,
    recv_json,
    ws_connect,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo county, one server for the module: each test works in halls of its own or reads what it changed."""
    with county_server(tmp_path_factory.mktemp("county")) as server:
        yield server


def region_token(server: LiveServer, region: str, role: str = "manager", hall: str = "demo") -> str:
    return make_token(server.secret, hall, role, region=region)


def call(server: LiveServer, method: str, path: str, token: str, json: Any = None) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=20, trust_env=False) as client:
        return client.request(method, path, json=json, headers={"Authorization": f"Bearer {token}",
                                                                 "Accept-Language": "en"})


def test_a_region_token_acts_in_every_hall_below_its_region_and_in_none_beside_it(county: LiveServer) -> None:
    town = region_token(county, "chengguan", hall="chengguan")
    # chengguan's town centre, its villages and its bank outlet lie in the town's region...
    for hall in ("chengguan", "dongzhuang", "xihe", "bank-chengguan"):
        assert call(county, "GET", f"/api/v1/halls/{hall}/snapshot", town).status_code == 200, hall
    assert call(county, "POST", "/api/v1/halls/dongzhuang/windows/1/open", town).status_code == 200
    # ...the county centre and the other towns and their villages do not.
    for hall in ("demo", "heishan", "beipo", "xindi", "bank-heishan"):
        refused = call(county, "GET", f"/api/v1/halls/{hall}/snapshot", town)
        assert refused.status_code == 403, hall
        assert refused.json()["error"]["code"] == "wrong_region"
    assert call(county, "GET", "/api/v1/halls/heishan/reports", town).status_code == 403
    assert call(county, "GET", "/api/v1/halls/heishan/audit", town).status_code == 403
    assert call(county, "GET", "/api/v1/regions/heishan", town).status_code == 403
    assert call(county, "GET", "/api/v1/regions/demo-county", town).json()["error"]["code"] == "wrong_region"
    # The county's manager acts everywhere in the county.
    whole = region_token(county, "demo-county")
    for hall in COUNTY_IDS:
        assert call(county, "GET", f"/api/v1/halls/{hall}/snapshot", whole).status_code == 200, hall
    # A hall's own manager sees its hall, not a region.
    own = make_token(county.secret, "chengguan", "manager")
    refused = call(county, "GET", "/api/v1/regions/chengguan", own)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_regional"
    assert call(county, "GET", "/api/v1/halls/dongzhuang/snapshot", own).json()["error"]["code"] == "wrong_hall"
    # Guides and staff are never scoped to a region.
    with pytest.raises(ValueError, match="region"):
        make_token(county.secret, "demo", "guide", region="demo-county")


def test_the_region_lists_its_halls_and_the_overview_adds_up(county: LiveServer) -> None:
    token = region_token(county, "demo-county")
    region = call(county, "GET", "/api/v1/regions/demo-county", token).json()
    assert [r["region"] for r in region["path"]] == ["demo-province", "demo-city", "demo-county"]
    assert sorted(h["hall"] for h in region["halls"]) == sorted(COUNTY_IDS)
    town = call(county, "GET", "/api/v1/regions/chengguan", token).json()
    assert sorted(h["hall"] for h in town["halls"]) == ["bank-chengguan", "chengguan", "dongzhuang", "xihe"]
    assert call(county, "GET", "/api/v1/regions/nowhere", token).status_code == 404

    manager = make_token(county.secret, "xihe", "manager")
    guide = make_token(county.secret, "xihe", "guide")
    assert call(county, "POST", "/api/v1/halls/xihe/windows/1/open", manager).status_code == 200
    for _ in range(3):
        issued = call(county, "POST", "/api/v1/halls/xihe/tickets", guide, json={"service": "SOC", "item": "SOC-REG"})
        assert issued.status_code == 201, issued.text
    overview = call(county, "GET", "/api/v1/regions/chengguan/overview", token).json()
    lines = {line["hall"]: line for line in overview["halls"]}
    assert set(lines) == {"bank-chengguan", "chengguan", "dongzhuang", "xihe"}
    assert (lines["xihe"]["waiting"], lines["xihe"]["windows_open"], lines["xihe"]["level"]) == (
        3, 1, "village_station")
    assert lines["xihe"]["windows_planned"] == 1
    assert overview["totals"]["waiting"] == sum(line["waiting"] for line in lines.values()) == 3


async def test_the_overview_socket_sends_the_region_then_each_change_once(county: LiveServer) -> None:
    url = f"ws://127.0.0.1:{county.port}/api/v1/regions/chengguan/ws/overview?token="
    refused_token = region_token(county, "heishan", hall="heishan")
    async with ws_connect(url + refused_token) as ws:
        message = await recv_json(ws)
        assert message["type"] == "error"
    async with ws_connect(url + region_token(county, "chengguan", hall="chengguan")) as ws:
        first = await recv_json(ws)
        assert first["type"] == "overview"
        assert first["name"] == "城关镇"
        assert {line["hall"] for line in first["halls"]} == {"bank-chengguan", "chengguan", "dongzhuang", "xihe"}
        before = {line["hall"]: line["waiting"] for line in first["halls"]}
        manager = make_token(county.secret, "dongzhuang", "manager")
        guide = make_token(county.secret, "dongzhuang", "guide")
        await asyncio.to_thread(call, county, "POST", "/api/v1/halls/dongzhuang/windows/1/open", manager)
        issued = await asyncio.to_thread(call, county, "POST", "/api/v1/halls/dongzhuang/tickets", guide,
                                         {"service": "HUK", "item": "HUK-IDCARD"})
        assert issued.status_code == 201, issued.text
        changed: dict[str, Any] = {}
        while changed.get("waiting") != before["dongzhuang"] + 1:
            frame = await recv_json(ws, 10)
            if frame["type"] == "halls":
                assert all(line["hall"] in before for line in frame["halls"])  # nothing of another town
                changed = next((line for line in frame["halls"] if line["hall"] == "dongzhuang"), changed)
        assert changed["windows_open"] == 1
        # A hall beside the region (another town's village) changes: nothing is sent about it.
        await asyncio.to_thread(call, county, "POST", "/api/v1/halls/beipo/windows/1/open",
                                make_token(county.secret, "beipo", "manager"))
        try:
            quiet: dict[str, Any] | None = await recv_json(ws, 3)
        except TimeoutError:
            quiet = None
        assert quiet is None or quiet["type"] == "heartbeat", quiet


def test_a_countys_admin_makes_a_towns_manager_who_signs_in_below_the_town_only(county: LiveServer) -> None:
    admin = region_token(county, "demo-county", role="admin")
    made = call(county, "POST", "/api/v1/regions/demo-county/accounts", admin, {
        "username": "Town.Li", "display_name": "李镇长", "role": "manager", "region": "chengguan"})
    assert made.status_code == 201, made.text
    one_time = made.json()["one_time_password"]
    assert (made.json()["username"], made.json()["region"], made.json()["halls"]) == ("town.li", "chengguan", [])
    assert call(county, "POST", "/api/v1/regions/demo-county/accounts", admin, {
        "username": "town.li", "display_name": "又一个", "role": "manager"}).json()["error"]["code"] == "username_taken"
    # Guides and staff are a hall's, never a region's; a region beside the county is not this admin's to fill.
    assert call(county, "POST", "/api/v1/regions/demo-county/accounts", admin, {
        "username": "g.one", "display_name": "导办", "role": "guide"}).status_code == 422
    assert call(county, "POST", "/api/v1/regions/chengguan/accounts", region_token(county, "chengguan", "admin"), {
        "username": "h.one", "display_name": "黑山", "role": "manager", "region": "heishan"}).status_code == 422

    # The town's manager signs in on a village's page of the town, and is refused at a village of another town.
    with httpx.Client(base_url=county.base_url, timeout=20, trust_env=False) as client:
        signed = client.post("/api/v1/halls/dongzhuang/session", json={"username": "town.li", "password": one_time})
        assert signed.status_code == 200, signed.text
        assert signed.json()["must_change"] is True
        refused = client.post("/api/v1/halls/beipo/session", json={"username": "town.li", "password": one_time})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "wrong_hall"

    # The county's admin sees it, the town's admin too (it is of the town), a hall's admin never.
    listed = call(county, "GET", "/api/v1/regions/demo-county/accounts", admin).json()["accounts"]
    assert "town.li" in {a["username"] for a in listed}
    town_admin = region_token(county, "chengguan", "admin", hall="chengguan")
    town_listed = call(county, "GET", "/api/v1/regions/chengguan/accounts", town_admin).json()["accounts"]
    assert {a["username"] for a in town_listed} == {"town.li"}
    hall_admin = make_token(county.secret, "dongzhuang", "admin")
    assert "town.li" not in call(county, "GET", "/api/v1/halls/dongzhuang/accounts", hall_admin).text
    assert call(county, "GET", "/api/v1/regions/chengguan/accounts", hall_admin).status_code == 403
    # Disabled by the county: refused at its next sign-in.
    changed = call(county, "PATCH", "/api/v1/regions/demo-county/accounts/town.li", admin, {"disabled": True})
    assert changed.json()["disabled"] is True
    with httpx.Client(base_url=county.base_url, timeout=20, trust_env=False) as client:
        again = client.post("/api/v1/halls/dongzhuang/session", json={"username": "town.li", "password": one_time})
        assert again.json()["error"]["code"] == "account_disabled"
