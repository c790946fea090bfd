"""The hall set up live through the real server: services, windows, hours and holidays changed while the hall runs,
each change checked with a message a person can act on, refused while the live day forbids it, made from the version
it names, audited with before and after, and obeyed by the hall's next call; the file import names a wrong line.

Every test has a hall of its own on the module's server (``api``); the same across two workers and restarts, on
SQLite and PostgreSQL, is in test_setup_workers.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.server.conftest import HallApi, assert_error, has_chinese

pytestmark = pytest.mark.slow


async def setup(api: HallApi) -> dict[str, Any]:
    found: dict[str, Any] = await api.ok("GET", "/setup", role="admin")
    return found


def window_of(config: dict[str, Any], window_id: str) -> dict[str, Any]:
    return next(w for w in config["windows"] if w["id"] == window_id)


async def put_window(api: HallApi, window: dict[str, Any], version: int, *, role: str = "manager",
                     expect: int = 200) -> Any:
    return await api.ok("PUT", f"/setup/windows/{window['id']}", expect, role=role,
                        json={"version": version, "window": window})


async def test_setup_is_for_managers_and_admins(api: HallApi) -> None:
    for role, window in (("guide", None), ("staff", "1"), ("display", None), ("kiosk", None)):
        reply = await api.request("GET", "/setup", role=role, window=window)
        assert reply.status_code == 403, (role, reply.text)
        reply = await api.request("PUT", "/setup/windows/1", role=role, window=window,
                                  json={"version": 1, "window": {"id": "1", "name": "1", "services": ["SOC"]}})
        assert reply.status_code == 403, (role, reply.text)
    found = await setup(api)
    assert found["version"] == 1
    assert found["source"].startswith("file:")
    assert [w["id"] for w in found["config"]["windows"]][:3] == ["1", "2", "3"]


async def test_another_halls_admin_is_refused(api: HallApi) -> None:
    other = api.server.auth("admin", None, "other")
    reply = await api.client.get(api.path("/setup"), headers=other)
    assert reply.status_code == 403, reply.text


async def test_new_skills_apply_to_the_windows_next_call(api: HallApi) -> None:
    config = (await setup(api))["config"]
    await api.open("1", "2")
    soc = await api.issue("SOC")
    huk = await api.issue("HUK")
    two = {**window_of(config, "2"), "services": ["HUK"], "primary": ["HUK"]}
    changed = await put_window(api, two, 1)
    assert changed["version"] == 2
    assert changed["changes"][0]["before"]["services"][0] == "SOC"
    called = await api.window_op("2", "call-next")
    assert called["ticket"]["id"] == huk["id"]
    await api.window_op("2", "finish", {"outcome": "done"})
    assert (await api.window_op("2", "call-next"))["ticket"] is None  # SOC is window 1's now, not 2's
    assert (await api.ok("GET", f"/tickets/{soc['id']}", role="guide"))["status"] == "waiting"


async def test_a_new_window_opens_at_once_and_a_closed_one_is_removed(api: HallApi) -> None:
    changed = await put_window(api, {"id": "13", "name": "13号窗口", "services": ["SOC", "INFO"], "stand_in": "12"},
                               1)
    await api.open("13")
    snapshot = await api.snapshot()
    assert next(w for w in snapshot["windows"] if w["id"] == "13")["state"] == "idle"
    version = {"version": str(changed["version"])}
    refused = await api.request("DELETE", "/setup/windows/13", role="admin", params=version)
    assert_error(refused, 409, "window_in_use")
    assert has_chinese(refused.json()["error"]["message"])
    await api.ok("POST", "/windows/13/close")
    removed = await api.ok("DELETE", "/setup/windows/13", role="admin", params=version)
    assert removed["changes"][0]["after"] is None
    assert "13" not in [w["id"] for w in (await api.snapshot())["windows"]]
    assert_error(await api.request("POST", "/windows/13/open"), 404, "unknown_window")


async def test_a_service_with_waiting_tickets_is_not_removed(api: HallApi) -> None:
    await api.open("1")
    waiting = await api.issue("INFO")
    refused = await api.request("DELETE", "/setup/services/INFO", role="admin", params={"version": "1"})
    assert_error(refused, 409, "service_has_tickets")
    message = refused.json()["error"]["message"]
    assert waiting["number"] in message
    assert has_chinese(message)
    await api.ok("POST", f"/tickets/{waiting['id']}/cancel", role="guide")
    removed = await api.ok("DELETE", "/setup/services/INFO", role="admin", params={"version": "1"})
    assert removed["version"] == 2
    assert all("INFO" not in w["services"] for w in (await setup(api))["config"]["windows"])
    # The shared server's halls form a county whose other halls still serve INFO: the citizen is sent to them.
    sent_on = assert_error(await api.request("POST", "/tickets", role="guide", json={"service": "INFO"}), 422,
                           "not_authorised")
    assert api.hall not in {place["hall"] for place in sent_on["nearby"]}


async def test_a_bundle_member_is_not_removed(api: HallApi) -> None:
    refused = await api.request("DELETE", "/setup/services/FOOD", role="admin", params={"version": "1"})
    assert_error(refused, 409, "in_a_bundle")
    assert "RESTO" in refused.json()["error"]["message"]


async def test_a_change_from_an_old_version_is_refused(api: HallApi) -> None:
    config = (await setup(api))["config"]
    await put_window(api, {**window_of(config, "3"), "name": "三号窗口"}, 1)
    refused = await api.request("PUT", "/setup/windows/3", json={"version": 1, "window": {
        **window_of(config, "3"), "name": "叁号窗口"}})
    assert_error(refused, 409, "setup_changed")
    assert refused.json()["error"]["version"] == 2
    assert window_of((await setup(api))["config"], "3")["name"] == "三号窗口"


@pytest.mark.parametrize(("service", "field", "words"), [
    ({"letter": "A"}, "hall", "业务字母重复"),
    ({"letter": "V"}, "service.letter", "V 和 Y"),
    ({"target_wait_s": 0}, "service.target_wait_s", "Input should be greater than 0"),
])
async def test_a_wrong_service_is_refused_saying_what_to_correct(
    api: HallApi, service: dict[str, Any], field: str, words: str
) -> None:
    body = {"code": "PET", "letter": "P", "name_zh": "宠物登记", "name_en": "Pets", **service}
    reply = await api.request("PUT", "/setup/services/PET", json={"version": 1, "service": body},
                              headers={"Accept-Language": "zh-CN"})
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert field in [f["field"] for f in error["fields"]]
    assert words in error["message"] or words in str(error["fields"])
    assert (await setup(api))["version"] == 1  # nothing changed


async def test_a_new_service_with_its_notice_text_is_issued_at_once(api: HallApi) -> None:
    service = {"code": "PET", "letter": "P", "name_zh": "宠物登记", "name_en": "Pet registration",
               "items": [{"code": "PET-DOG", "name_zh": "犬只登记", "notes": "犬只须到场，并携带免疫证明。",
                          "materials": [{"name": "居民身份证", "copies": 1, "original": True}]}]}
    changed = await api.ok("PUT", "/setup/services/PET", json={"version": 1, "service": service})
    config = (await setup(api))["config"]
    await put_window(api, {**window_of(config, "1"), "services": [*window_of(config, "1")["services"], "PET"]},
                     changed["version"])
    await api.open("1")
    issued = await api.issue("PET", item="PET-DOG")
    assert issued["number"] == "P001"
    notice = await api.ok("GET", "/catalog/items/PET-DOG", role="guide")
    assert "犬只须到场" in notice["notice"]["text"]


async def test_hours_lunch_and_holidays_are_set(api: HallApi) -> None:
    changed = await api.ok("PUT", "/setup/calendar", json={
        "version": 1, "hours": ["09:00-12:00", "13:30-17:00"], "holidays": ["2027-02-11", "2027-02-12"],
        "workdays": ["2027-02-07"]})
    config = (await setup(api))["config"]
    assert [(h["start"], h["end"]) for h in config["hours"]] == [("09:00:00", "12:00:00"), ("13:30:00", "17:00:00")]
    assert config["holidays"] == ["2027-02-11", "2027-02-12"]
    assert config["workdays"] == ["2027-02-07"]
    assert changed["changes"][0]["before"]["hours"][0]["start"] == "08:30:00"
    reply = await api.request("PUT", "/setup/calendar", json={"version": changed["version"],
                                                               "hours": ["13:00-12:00"]})
    assert reply.status_code == 422
    assert "结束时间早于开始时间" in reply.json()["error"]["message"]


async def test_a_change_is_audited_with_before_and_after(api: HallApi) -> None:
    config = (await setup(api))["config"]
    await put_window(api, {**window_of(config, "4"), "name": "四号窗口"}, 1, role="admin")
    deadline = time.monotonic() + 60  # the archiver, a process of its own at a lower priority, follows
    while True:
        entries = [e for e in (await api.ok("GET", "/audit", params={"actor": "admin"}))["entries"]
                   if e["action"] == "hall.configured"]
        if entries or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert entries, "the change reached the audit log"
    details = entries[0]["details"]
    assert entries[0]["role"] == "admin"
    assert details["changes"][0]["before"]["name"] == "4号窗口"
    assert details["changes"][0]["after"]["name"] == "四号窗口"
    assert "config" not in details


async def test_export_then_import_names_the_wrong_line(api: HallApi) -> None:
    exported = await api.request("GET", "/setup/export")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    text = exported.text.replace('name = "5号窗口"', 'name = "综合受理5"')
    imported = await api.ok("POST", "/setup/import", role="admin", json={"version": 1, "toml": text})
    assert [c["id"] for c in imported["changes"]] == ["5"]
    bad = text.replace('letter = "B"', 'letter = "b"')
    line = next(n for n, row in enumerate(bad.splitlines(), 1) if row == 'letter = "b"')
    reply = await api.request("POST", "/setup/import", role="admin", json={"version": 2, "toml": bad},
                              headers={"Accept-Language": "zh-CN"})
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["message"].startswith(f"toml:{line}: services.1.letter:")
    assert error["fields"][0]["field"] == "toml.services.1.letter"
    assert has_chinese(error["message"])
    assert (await api.request("POST", "/setup/import", role="manager", json={"version": 2, "toml": text})
            ).status_code == 403
