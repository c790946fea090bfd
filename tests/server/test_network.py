"""The demo county served as a network (HALLQ_NETWORK): every hall of it answers, each with the services of the
county's one catalog it is authorised for; a village station refuses an item it is not authorised for; and a hall
file that authorises what the catalog lacks stops `hallq serve` naming its line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from floor.http.auth import make_token
from tests.conftest import ROOT
from tests.server.conftest import (
    COUNTY_DIR,
    COUNTY_HALLS,
    COUNTY_IDS,
    COUNTY_NETWORK,
    DEMO_TOML,
    HALLQ,
    ServerFactory,
    server_env,
)

pytestmark = pytest.mark.slow



def test_the_demo_county_serves_every_hall_with_what_it_is_authorised_for(live_server: ServerFactory) -> None:
    server = live_server(halls=COUNTY_HALLS, hall_ids=COUNTY_IDS, extra_env={"HALLQ_NETWORK": str(COUNTY_NETWORK)})
    with httpx.Client(base_url=server.base_url, timeout=20, trust_env=False) as client:
        def call(hall: str, method: str, path: str, role: str, json: object = None) -> httpx.Response:
            token = make_token(server.secret, hall, role)
            return client.request(method, f"/api/v1/halls/{hall}{path}", json=json,
                                  headers={"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"})

        levels = {hall: call(hall, "GET", "/config", "manager").json()["level"] for hall in COUNTY_IDS}
        assert levels["demo"] == "county_centre"
        assert {levels[h] for h in ("chengguan", "heishan", "xindi")} == {"town_centre"}
        assert {levels[h] for h in ("dongzhuang", "xihe", "beipo", "nanwan")} == {"village_station"}
        assert {levels[h] for h in ("bank-chengguan", "bank-heishan")} == {"bank_outlet"}
        village = call("dongzhuang", "GET", "/config", "guide").json()
        assert [(s["code"], [i["code"] for i in s["items"]]) for s in village["services"]] == [
            ("SOC", ["SOC-REG", "SOC-MED"]), ("HUK", ["HUK-IDCARD"]), ("INFO", [])]
        assert call("dongzhuang", "POST", "/windows/1/open", "manager").status_code == 200
        issued = call("dongzhuang", "POST", "/tickets", "guide", json={"service": "SOC", "item": "SOC-REG"})
        assert issued.status_code == 201, issued.text
        # 就近办: what the village is not authorised for, the nearest halls of the county that can, with their lines.
        assert call("chengguan", "POST", "/windows/1/open", "manager").status_code == 200
        waiting = call("chengguan", "POST", "/tickets", "guide", json={"service": "SOC", "item": "SOC-RETIRE"})
        assert waiting.status_code == 201, waiting.text
        refused = call("dongzhuang", "POST", "/tickets", "guide", json={"service": "SOC", "item": "SOC-RETIRE"})
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "not_authorised"
        places = error["nearby"]
        assert [p["hall"] for p in places] == ["chengguan", "demo", "heishan"]  # nearest first, at most three
        assert 2 < places[0]["distance_km"] < 3.5
        assert places[0]["waiting"] == 1
        assert error["message"].startswith("本站未获授权办理职工退休待遇申领，可就近到：城关镇便民服务中心（约")
        asked = call("dongzhuang", "GET", "/nearby?service=SOC&item=SOC-RETIRE", "kiosk").json()
        assert (asked["here"], [p["hall"] for p in asked["nearby"]]) == (False, ["chengguan", "demo", "heishan"])
        assert call("dongzhuang", "GET", "/nearby?service=SOC&item=SOC-REG", "kiosk").json() == {
            "service": "SOC", "item": "SOC-REG", "here": True, "nearby": []}
        items = call("dongzhuang", "GET", "/nearby/items", "kiosk").json()["items"]
        offered = {(x["service"], x["item"]) for x in items}
        assert ("SOC", "SOC-RETIRE") in offered  # the county's, not the village's
        assert ("PROP", "PROP-TRANSFER") in offered
        assert ("TAX", None) in offered  # a service without sub-items, whole
        assert ("SOC", "SOC-REG") not in offered  # the village serves it itself
        bank = call("bank-heishan", "POST", "/tickets", "guide", json={"service": "HUK"})
        assert bank.status_code == 422, bank.text
        assert bank.json()["error"]["nearby"][0]["hall"] == "heishan"  # the town centre next door
        unknown = call("bank-heishan", "POST", "/tickets", "guide", json={"service": "NOPE"})
        assert unknown.status_code == 404  # nobody in the county has it: unknown, not elsewhere


def test_an_authorisation_the_catalog_lacks_stops_the_server_naming_its_line(tmp_path: Path) -> None:
    text = (COUNTY_DIR / "beipo.toml").read_text(encoding="utf-8").replace('"SOC-MED"', '"SOC-TYPO"')
    bad = tmp_path / "beipo.toml"
    bad.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("authorised"))
    env = server_env(tmp_path / "home", "hqtest-network-unused", halls=(DEMO_TOML, bad),
                     extra={"HALLQ_NETWORK": str(COUNTY_NETWORK)})
    result = subprocess.run([str(HALLQ), "serve", "--port", "1"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.splitlines() == [
        f"hallq: {bad}:{line}: authorised names what the catalog does not have: SOC-TYPO"]


def test_the_county_demo_prints_every_hall_and_its_people_sign_in_there(live_server: ServerFactory) -> None:
    server = live_server(halls=COUNTY_HALLS, hall_ids=COUNTY_IDS, extra_env={"HALLQ_NETWORK": str(COUNTY_NETWORK)},
                         args=["--demo"])
    banner = server.stdout()
    assert banner.startswith("hall demo: 示范县政务服务中心"), banner
    for hall in COUNTY_IDS[1:]:
        assert f"{server.base_url}/halls/{hall}/guide" in banner, hall
    assert "dongzhuang-guide, dongzhuang-1" in banner
    password = banner.split("accounts (password ", 1)[1].split(" ", 1)[0]
    with httpx.Client(base_url=f"{server.base_url}/api/v1/halls/dongzhuang", trust_env=False, timeout=30) as client:
        for username, role in (("manager", "manager"), ("dongzhuang-1", "staff")):
            signed = client.post("/session", json={"username": username, "password": password})
            assert signed.status_code == 200, signed.text
            assert client.get("/whoami").json()["role"] == role
        taken = client.post("/session/window", json={"window": "1"},
                            headers={"X-CSRF-Token": client.cookies["hallq_csrf"]})
        assert taken.status_code == 200, taken.text
    with httpx.Client(base_url=f"{server.base_url}/api/v1/halls/xihe", trust_env=False, timeout=30) as client:
        refused = client.post("/session", json={"username": "dongzhuang-1", "password": password})
        assert refused.status_code == 403, refused.text  # one village's staff is no staff of the next
