"""Every endpoint and field of api.md against the real server (one per module, a hall of its own per test)."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from displays.announce import display_width
from tests.server.conftest import (
    HallApi,
    assert_error,
    has_chinese,
    id_check_digit,
    make_id_number,
    with_bad_check_digit,
)

TICKET_FIELDS = {"id", "number", "service", "status", "window", "ahead", "estimated_wait_s", "issued_at",
                 "called_at", "finished_at"}
ISSUE_FIELDS = {"id", "number", "service", "status", "issued_at", "ahead", "estimated_wait_s"}
STATUSES = {"waiting", "called", "serving", "done", "missed", "cancelled"}
UNKNOWN_TICKET = "20000101-000000000000"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def assert_local_time(value: Any) -> datetime:
    """ISO 8601 with the hall's offset (+08:00)."""
    assert isinstance(value, str), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(hours=8), value
    assert value.endswith("+08:00"), value
    return parsed


def assert_ticket(ticket: dict[str, Any], **expected: Any) -> None:
    assert set(ticket) >= TICKET_FIELDS, sorted(TICKET_FIELDS - set(ticket))
    assert ticket["status"] in STATUSES
    assert_local_time(ticket["issued_at"])
    for name, value in expected.items():
        assert ticket[name] == value, f"{name}: {ticket[name]!r} != {value!r} in {ticket}"


# -- tickets ---------------------------------------------------------------------------------
async def test_issue_returns_201_with_the_contract_fields(api: HallApi) -> None:
    await api.open("5")
    reply = await api.request("POST", "/tickets", role="guide", json={"service": "SOC", "channel": "guide"})
    assert reply.status_code == 201, reply.text
    ticket = reply.json()
    assert set(ticket) >= ISSUE_FIELDS, sorted(ISSUE_FIELDS - set(ticket))
    assert ticket["number"] == "A001"
    assert ticket["service"] == "SOC"
    assert ticket["status"] == "waiting"
    assert ticket["ahead"] == 0
    assert isinstance(ticket["estimated_wait_s"], int)
    assert ticket["estimated_wait_s"] >= 0
    assert isinstance(ticket["id"], str)
    assert ticket["id"]
    issued_at = assert_local_time(ticket["issued_at"])
    assert abs((datetime.now(issued_at.tzinfo) - issued_at).total_seconds()) < 120


async def test_issue_counts_who_is_ahead_and_numbers_per_service(api: HallApi) -> None:
    await api.open("5")
    first, second, third = [await api.issue("SOC") for _ in range(3)]
    other = await api.issue("HUK")
    assert [t["number"] for t in (first, second, third)] == ["A001", "A002", "A003"]
    assert [t["ahead"] for t in (first, second, third)] == [0, 1, 2]
    assert first["estimated_wait_s"] <= second["estimated_wait_s"] <= third["estimated_wait_s"]
    assert other["number"] == "B001"
    assert other["ahead"] == 0
    assert len({t["id"] for t in (first, second, third, other)}) == 4


async def test_idempotency_key_returns_the_same_ticket_and_takes_no_number(api: HallApi) -> None:
    await api.open("5")
    headers = {"Idempotency-Key": "kiosk-7-press-1"}
    first = await api.request("POST", "/tickets", role="guide", json={"service": "SOC"}, headers=headers)
    again = await api.request("POST", "/tickets", role="guide", json={"service": "SOC"}, headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["number"] == first.json()["number"] == "A001"
    assert again.json()["status"] == "waiting"
    following = await api.issue("SOC")
    assert following["number"] == "A002"  # the replay took no number
    snapshot = await api.snapshot()
    soc = next(s for s in snapshot["services"] if s["code"] == "SOC")
    assert soc["waiting"] == 2


async def test_concurrent_retries_with_one_idempotency_key_make_one_ticket(api: HallApi) -> None:
    await api.open("5")
    headers = {"Idempotency-Key": "flaky-network-42"}
    replies = await asyncio.gather(*(api.request("POST", "/tickets", role="kiosk", json={"service": "SOC"},
                                                 headers=headers) for _ in range(8)))
    assert sorted(r.status_code for r in replies) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in replies}) == 1
    assert (await api.issue("SOC"))["number"] == "A002"


async def test_idempotency_key_longer_than_64_characters_is_refused(api: HallApi) -> None:
    await api.open("5")
    reply = await api.request("POST", "/tickets", role="guide", json={"service": "SOC"},
                              headers={"Idempotency-Key": "k" * 65})
    assert_error(reply, 422, "invalid_request")


async def test_phone_page_reads_a_ticket_without_a_token(api: HallApi) -> None:
    await api.open("5")
    await api.issue("SOC")
    mine = await api.issue("SOC")
    reply = await api.client.get(api.path(f"/tickets/{mine['id']}"))  # no Authorization header at all
    assert reply.status_code == 200, reply.text
    ticket = reply.json()
    assert_ticket(ticket, id=mine["id"], number="A002", service="SOC", status="waiting", window=None, ahead=1,
                  called_at=None, finished_at=None)
    assert isinstance(ticket["estimated_wait_s"], int)
    assert ticket["estimated_wait_s"] > 0
    assert "person" not in ticket


async def test_cancel_a_waiting_ticket(api: HallApi) -> None:
    await api.open("5")
    ticket = await api.issue("SOC")
    cancelled = await api.ok("POST", f"/tickets/{ticket['id']}/cancel", role="guide")
    assert_ticket(cancelled, id=ticket["id"], status="cancelled")
    seen = await api.ok("GET", f"/tickets/{ticket['id']}", role=None)
    assert seen["status"] == "cancelled"
    assert seen["ahead"] is None
    assert_error(await api.request("POST", f"/tickets/{ticket['id']}/cancel", role="guide"), 409,
                 "ticket_not_waiting")
    assert (await api.window_op("5", "call-next"))["ticket"] is None


async def test_pin_moves_a_waiting_ticket_to_the_front(api: HallApi) -> None:
    await api.open("5")
    tickets = [await api.issue("SOC") for _ in range(3)]
    pinned = await api.ok("POST", f"/tickets/{tickets[2]['id']}/pin", json={"reason": "孕妇，优先办理"})
    assert_ticket(pinned, id=tickets[2]["id"], status="waiting")
    assert (await api.ok("GET", f"/tickets/{tickets[2]['id']}", role=None))["ahead"] == 0
    called = (await api.window_op("5", "call-next"))["ticket"]
    assert called["number"] == "A003"
    assert_error(await api.request("POST", f"/tickets/{tickets[2]['id']}/pin", json={"reason": "again"}), 409,
                 "ticket_not_waiting")


# -- windows -----------------------------------------------------------------------------------
async def test_open_get_and_close_a_window(api: HallApi) -> None:
    window = await api.ok("GET", "/windows/5", role="staff", window="5")
    assert window["id"] == "5"
    assert window["name"] == "5号窗口"
    assert window["state"] == "closed"
    assert window["ticket"] is None
    assert "SOC" in window["services"]
    opened = await api.window_op("5", "open")
    assert opened["state"] == "idle"
    assert_error(await api.request("POST", "/windows/5/open", role="staff", window="5"), 409, "window_already_open")
    closed = await api.window_op("5", "close")
    assert closed["state"] == "closed"
    assert (await api.ok("GET", "/windows/5", role="manager"))["state"] == "closed"


async def test_call_next_returns_the_ticket_or_null(api: HallApi) -> None:
    await api.open("5")
    assert await api.window_op("5", "call-next") == {"ticket": None}
    issued = await api.issue("SOC")
    reply = await api.window_op("5", "call-next")
    assert set(reply) == {"ticket"}
    assert_ticket(reply["ticket"], id=issued["id"], number="A001", status="called", window="5")
    assert_local_time(reply["ticket"]["called_at"])
    window = await api.ok("GET", "/windows/5", role="staff", window="5")
    assert window["state"] == "calling"
    assert window["ticket"]["id"] == issued["id"]
    phone = await api.ok("GET", f"/tickets/{issued['id']}", role=None)
    assert_ticket(phone, status="called", window="5")


async def test_call_next_on_a_closed_window_is_refused(api: HallApi) -> None:
    assert_error(await api.request("POST", "/windows/5/call-next", role="staff", window="5"), 409, "window_closed")


async def test_call_a_chosen_ticket_with_a_reason(api: HallApi) -> None:
    await api.open("5")
    await api.issue("SOC")
    chosen = await api.issue("SOC")
    refused = await api.request("POST", "/windows/5/call", role="staff", window="5", json={"ticket": chosen["id"]})
    error = assert_error(refused, 422, "invalid_request")
    assert any(f["field"] == "reason" for f in error["fields"])
    unknown = await api.request("POST", "/windows/5/call", role="staff", window="5",
                                json={"ticket": UNKNOWN_TICKET, "reason": "x"})
    assert_error(unknown, 404, "unknown_ticket")
    reply = await api.window_op("5", "call", {"ticket": chosen["id"], "reason": "预约客户到场"})
    assert_ticket(reply["ticket"], id=chosen["id"], number="A002", status="called", window="5")


async def test_recall_start_and_finish_with_an_outcome(api: HallApi) -> None:
    await api.open("5")
    issued = await api.issue("SOC")
    await api.window_op("5", "call-next")
    recalled = await api.window_op("5", "recall")
    assert_ticket(recalled["ticket"], id=issued["id"], status="called", window="5")
    assert recalled["ticket"]["recalls"] == 1
    started = await api.window_op("5", "start")
    assert_ticket(started["ticket"], id=issued["id"], status="serving", window="5")
    assert (await api.ok("GET", "/windows/5", role="staff", window="5"))["state"] == "serving"
    finished = await api.window_op("5", "finish", {"outcome": "consult"})
    assert_ticket(finished["ticket"], id=issued["id"], status="done")
    assert finished["ticket"]["outcome"] == "consult"
    assert_local_time(finished["ticket"]["finished_at"])
    window = await api.ok("GET", "/windows/5", role="staff", window="5")
    assert window["state"] == "idle"
    assert window["ticket"] is None
    assert_error(await api.request("POST", "/windows/5/finish", role="staff", window="5", json={"outcome": "done"}),
                 409, "window_idle")


async def test_finish_with_an_unknown_outcome_is_refused(api: HallApi) -> None:
    await api.open("5")
    await api.issue("SOC")
    await api.window_op("5", "call-next")
    error = assert_error(await api.request("POST", "/windows/5/finish", role="staff", window="5",
                                           json={"outcome": "great"}), 422, "invalid_request")
    assert any(f["field"] == "outcome" for f in error["fields"])


async def test_no_show_waits_for_the_halls_rule(api: HallApi) -> None:
    """The demo hall's rule: one recall and a minute from the call first. A no-show marked when the rule allows it,
    and the rule's sentence, are tested on a clock the test sets (test_no_show_rule.py)."""
    await api.open("5")
    issued = await api.issue("SOC")
    await api.window_op("5", "call-next")
    error = assert_error(await api.request("POST", "/windows/5/no-show", role="staff", window="5"), 409,
                         "no_show_too_early")
    assert has_chinese(error["message"])
    assert "重呼1次" in error["message"]
    assert error["recalls_left"] == 1
    assert 0 < error["wait_s"] <= 60
    assert_ticket(await api.ok("GET", f"/tickets/{issued['id']}", role=None), id=issued["id"], status="called")
    assert (await api.ok("GET", "/windows/5", role="staff", window="5"))["state"] == "calling"


async def test_transfer_to_another_service_keeps_the_number(api: HallApi) -> None:
    await api.open("5")
    issued = await api.issue("SOC")
    await api.window_op("5", "call-next")
    await api.window_op("5", "start")
    moved = await api.window_op("5", "transfer", {"to_service": "HUK", "reason": "需办理户籍迁移"})
    assert_ticket(moved["ticket"], id=issued["id"], number="A001", service="HUK", status="waiting", window=None)
    assert (await api.ok("GET", "/windows/5", role="staff", window="5"))["state"] == "idle"
    again = (await api.window_op("5", "call-next"))["ticket"]
    assert again["id"] == issued["id"]
    assert again["service"] == "HUK"


async def test_transfer_to_a_window(api: HallApi) -> None:
    await api.open("5", "7")
    issued = await api.issue("SOC")
    await api.window_op("5", "call-next")
    moved = await api.window_op("5", "transfer", {"to_window": "7", "reason": "需要负责人审核"})
    assert_ticket(moved["ticket"], id=issued["id"], number="A001", status="waiting")
    await api.issue("SOC")  # a walk-in after it: the transferred ticket still goes first at window 7
    called = (await api.window_op("7", "call-next"))["ticket"]
    assert called["id"] == issued["id"]
    assert called["window"] == "7"


async def test_transfer_needs_a_target(api: HallApi) -> None:
    await api.open("5")
    await api.issue("SOC")
    await api.window_op("5", "call-next")
    assert_error(await api.request("POST", "/windows/5/transfer", role="staff", window="5", json={"reason": "x"}),
                 422, "invalid_request")
    assert_error(await api.request("POST", "/windows/5/transfer", role="staff", window="5",
                                   json={"to_service": "NOPE", "reason": "x"}), 404, "unknown_service")


async def test_pause_with_a_reason_and_resume(api: HallApi) -> None:
    await api.open("5")
    error = assert_error(await api.request("POST", "/windows/5/pause", role="staff", window="5", json={}), 422,
                         "invalid_request")
    assert any(f["field"] == "reason" for f in error["fields"])
    paused = await api.window_op("5", "pause", {"reason": "系统维护"})
    assert paused["state"] == "paused"
    assert paused["reason"] == "系统维护"
    assert_error(await api.request("POST", "/windows/5/call-next", role="staff", window="5"), 409, "window_paused")
    resumed = await api.window_op("5", "resume")
    assert resumed["state"] == "idle"
    assert_error(await api.request("POST", "/windows/5/resume", role="staff", window="5"), 409, "window_not_paused")


async def test_unknown_window_is_404(api: HallApi) -> None:
    assert_error(await api.request("POST", "/windows/99/open"), 404, "unknown_window")
    assert_error(await api.request("GET", "/windows/99"), 404, "unknown_window")


async def test_manager_sets_what_a_window_serves(api: HallApi) -> None:
    window = await api.ok("POST", "/windows/5/services", json={"services": ["PROP", "TAX"], "primary": ["PROP"]})
    assert window["id"] == "5"
    assert window["services"] == ["PROP", "TAX"]
    assert window["primary"] == ["PROP"]
    assert (await api.ok("GET", "/windows/5"))["services"] == ["PROP", "TAX"]
    snapshot = await api.snapshot()
    assert next(w for w in snapshot["windows"] if w["id"] == "5")["services"] == ["PROP", "TAX"]
    await api.open("5", "6")
    await api.issue("SOC")
    assert (await api.window_op("5", "call-next"))["ticket"] is None  # no longer serves SOC
    assert_error(await api.request("POST", "/windows/5/services", json={"services": ["NOPE"]}), 404,
                 "unknown_service")
    assert_error(await api.request("POST", "/windows/5/services", role="staff", window="5",
                                   json={"services": ["SOC"]}), 403, "wrong_role")


# -- the hall ----------------------------------------------------------------------------------
async def test_snapshot_fields(api: HallApi) -> None:
    await api.open("5", "6")
    await api.issue("SOC")
    await api.issue("SOC")
    await api.issue("HUK")
    called = (await api.window_op("5", "call-next"))["ticket"]
    snapshot = await api.snapshot()
    assert {"services", "windows", "recent_calls", "event_id"} <= set(snapshot)
    codes = [s["code"] for s in snapshot["services"]]
    assert codes == ["SOC", "HUK", "PROP", "TAX", "FUND", "BIZ", "INFO", "FOOD", "RESTO"]
    for line in snapshot["services"]:
        assert {"code", "name", "waiting", "longest_wait_s", "estimated_wait_s"} <= set(line)
        assert isinstance(line["name"], str)
        assert line["name"]
        assert isinstance(line["longest_wait_s"], int)
        assert line["longest_wait_s"] >= 0
        assert isinstance(line["estimated_wait_s"], int)
        assert line["estimated_wait_s"] >= 0
    waiting = {s["code"]: s["waiting"] for s in snapshot["services"]}
    assert waiting["SOC"] + waiting["HUK"] == 2
    assert waiting["PROP"] == waiting["TAX"] == 0
    assert next(s for s in snapshot["services"] if s["code"] == "SOC")["name"] == "社保医保"
    assert [w["id"] for w in snapshot["windows"]] == [str(i) for i in range(1, 13)]
    for line in snapshot["windows"]:
        assert {"id", "name", "state", "ticket", "services"} <= set(line)
        assert line["state"] in {"closed", "idle", "calling", "serving", "paused"}
    by_id = {w["id"]: w for w in snapshot["windows"]}
    assert by_id["5"]["name"] == "5号窗口"
    assert by_id["5"]["state"] == "calling"
    assert by_id["5"]["ticket"] == called["number"]
    assert by_id["6"]["state"] == "idle"
    assert by_id["6"]["ticket"] is None
    assert by_id["1"]["state"] == "closed"
    assert by_id["9"]["services"] == ["PROP"]
    assert len(snapshot["recent_calls"]) == 1
    call = snapshot["recent_calls"][0]
    assert {"number", "window", "at"} <= set(call)
    assert call["number"] == called["number"]
    assert call["window"] == "5"
    assert_local_time(call["at"])
    assert isinstance(snapshot["event_id"], str)
    assert re.fullmatch(r"\d+-\d+", snapshot["event_id"])


async def test_snapshot_event_id_moves_with_every_change(api: HallApi) -> None:
    await api.open("5")
    before = (await api.snapshot())["event_id"]
    await api.issue("SOC")
    after = (await api.snapshot())["event_id"]
    assert before != after
    assert tuple(map(int, after.split("-"))) > tuple(map(int, before.split("-")))


async def test_config_describes_the_hall(api: HallApi) -> None:
    config = await api.ok("GET", "/config", role="guide")
    assert config["id"] == api.hall
    services = {s["code"]: s for s in config["services"]}
    assert list(services) == ["SOC", "HUK", "PROP", "TAX", "FUND", "BIZ", "INFO", "FOOD", "RESTO"]
    assert services["SOC"]["letter"] == "A"
    assert services["BIZ"]["name_zh"] == "企业开办"
    assert [w["id"] for w in config["windows"]] == [str(i) for i in range(1, 13)]
    assert config["windows"][4]["name"] == "5号窗口"


@pytest.mark.parametrize("width", [8, 12])
async def test_led_lines_are_exactly_the_strip_width(api: HallApi, width: int) -> None:
    await api.open("5", "6", "7", "12")
    await api.issue("SOC")
    await api.issue("HUK")
    at_five = (await api.window_op("5", "call-next"))["ticket"]
    at_seven = (await api.window_op("7", "call-next"))["ticket"]
    await api.window_op("7", "start")
    await api.window_op("6", "pause", {"reason": "午间交接"})
    reply = await api.request("GET", "/led", role="display", params={"width": str(width)})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    lines = reply.text.split("\n")
    assert lines[-1] == ""  # newline-terminated
    lines = lines[:-1]
    assert len(lines) == 12
    for window_id, line in zip([str(i) for i in range(1, 13)], lines, strict=True):
        assert display_width(line) == width, f"window {window_id}: {line!r} is {display_width(line)} wide"
        assert window_id in line, (window_id, line)
    assert at_five["number"] in lines[4]
    assert at_seven["number"] in lines[6]
    assert "暂停" in lines[5]


async def test_led_refuses_other_widths(api: HallApi) -> None:
    assert_error(await api.request("GET", "/led", role="display", params={"width": "10"}), 422, "invalid_request")


# -- documentation -----------------------------------------------------------------------------
API_MD_ENDPOINTS = [
    ("post", "/tickets"), ("get", "/tickets/{}"), ("post", "/tickets/{}/cancel"), ("post", "/tickets/{}/pin"),
    ("post", "/windows/{}/open"), ("post", "/windows/{}/close"), ("post", "/windows/{}/call-next"),
    ("post", "/windows/{}/call"), ("post", "/windows/{}/recall"), ("post", "/windows/{}/start"),
    ("post", "/windows/{}/finish"), ("post", "/windows/{}/no-show"), ("post", "/windows/{}/requeue"),
    ("post", "/windows/{}/transfer"),
    ("post", "/windows/{}/pause"), ("post", "/windows/{}/resume"), ("get", "/windows/{}"),
    ("post", "/windows/{}/services"), ("get", "/snapshot"), ("get", "/config"), ("get", "/led"),
]


def all_keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in all_keys(value)}
    if isinstance(node, list):
        return {k for value in node for k in all_keys(value)}
    return set()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_openapi_lists_every_endpoint_of_api_md(api: HallApi) -> None:
    reply = await api.client.get("/api/v1/openapi.json")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    spec = reply.json()
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["title"]
    assert spec["info"]["version"]
    assert isinstance(spec["components"]["schemas"], dict)
    listed = {(method, re.sub(r"\{[^}]+\}", "{}", path)) for path, ops in spec["paths"].items() for method in ops}
    missing = [(m, "/api/v1/halls/{}" + p) for m, p in API_MD_ENDPOINTS if (m, "/api/v1/halls/{}" + p) not in listed]
    assert not missing, f"not in openapi.json: {missing}"
    for path, ops in spec["paths"].items():
        assert path.startswith("/")
        params = set(re.findall(r"\{(\w+)\}", path))
        for method, op in ops.items():
            assert method in {"get", "post", "put", "patch", "delete"}
            assert op["responses"], (method, path)
            assert {p["name"] for p in op.get("parameters", []) if p["in"] == "path"} == params, (method, path)
    for ref in _refs(spec):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in spec["components"]["schemas"], f"dangling {ref}"
    issue = spec["paths"]["/api/v1/halls/{hall}/tickets"]["post"]
    assert "201" in issue["responses"]
    assert "requestBody" in issue


async def test_docs_page_is_html(api: HallApi) -> None:
    reply = await api.client.get("/api/v1/docs")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert "<html" in reply.text.lower()
    assert "/tickets" in reply.text


# -- refusals ----------------------------------------------------------------------------------
async def test_unknown_hall_is_404(api: HallApi) -> None:
    reply = await api.client.get("/api/v1/halls/no-such-hall/snapshot", headers=api.auth("manager"))
    assert_error(reply, 404, "unknown_hall")
    phone = await api.client.get(f"/api/v1/halls/no-such-hall/tickets/{UNKNOWN_TICKET}")
    assert_error(phone, 404, "unknown_hall")


async def test_unknown_service_is_404(api: HallApi) -> None:
    await api.open("5")
    assert_error(await api.request("POST", "/tickets", role="guide", json={"service": "NOPE"}), 404,
                 "unknown_service")


async def test_unknown_ticket_is_404(api: HallApi) -> None:
    assert_error(await api.request("GET", f"/tickets/{UNKNOWN_TICKET}", role=None), 404, "unknown_ticket")
    assert_error(await api.request("POST", f"/tickets/{UNKNOWN_TICKET}/cancel"), 404, "unknown_ticket")


@pytest.mark.parametrize(("content", "field"), [
    (b'{"service": "SOC",', None),  # not JSON
    (b"[]", None),  # JSON, not an object
    (b'{"service": 5}', "service"),
    (b'{"service": "SOC", "priority": "gold"}', "priority"),
    (b'{"service": "SOC", "channel": "fax"}', "channel"),
    (b'{"service": "SOC", "colour": "red"}', "colour"),  # extra field
    (b"{}", "service"),  # missing
])
async def test_invalid_body_is_422_with_the_fields(api: HallApi, content: bytes, field: str | None) -> None:
    await api.open("5")
    reply = await api.client.post(api.path("/tickets"), content=content,
                                  headers={**api.auth("guide"), "Content-Type": "application/json"})
    error = assert_error(reply, 422, "invalid_request")
    assert isinstance(error.get("fields"), list), error
    assert error["fields"], error
    for entry in error["fields"]:
        assert {"field", "problem"} <= set(entry)
    if field is not None:
        assert field in [f["field"] for f in error["fields"]], error


async def test_an_oversized_body_is_413(api: HallApi) -> None:
    body = b'{"service": "SOC", "phone": "' + b"1" * 70_000 + b'"}'
    reply = await api.client.post(api.path("/tickets"), content=body,
                                  headers={**api.auth("guide"), "Content-Type": "application/json"})
    assert_error(reply, 413, "body_too_large")


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/api/v1/nothing-here", 404, "not_found"),
    ("GET", "/api/v1/halls/demo/no-such-room", 404, "not_found"),
    ("GET", "/api/v1/halls/demo/tickets", 405, "method_not_allowed"),
    ("DELETE", "/api/v1/halls/demo/snapshot", 405, "method_not_allowed"),
    ("GET", "/api/v1/halls/demo/windows/5/call-next", 405, "method_not_allowed"),
])
async def test_unknown_path_and_wrong_method(api: HallApi, method: str, path: str, status: int, code: str) -> None:
    zh = await api.client.request(method, path, headers=api.server.auth("manager"))
    assert has_chinese(assert_error(zh, status, code)["message"])
    en = await api.client.request(method, path, headers={**api.server.auth("manager"), "Accept-Language": "en"})
    assert not has_chinese(assert_error(en, status, code)["message"])


async def test_messages_are_chinese_by_default_and_english_on_request(api: HallApi) -> None:
    await api.open("5")
    cases: list[tuple[str, str, dict[str, Any] | None, int, str]] = [
        ("POST", "/tickets", {"service": "NOPE"}, 404, "unknown_service"),
        ("POST", "/tickets", {"service": "SOC", "colour": "red"}, 422, "invalid_request"),
        ("GET", f"/tickets/{UNKNOWN_TICKET}", None, 404, "unknown_ticket"),
        ("POST", "/windows/6/call-next", None, 409, "window_closed"),
    ]
    for method, path, body, status, code in cases:
        zh = assert_error(await api.request(method, path, json=body), status, code)["message"]
        en = assert_error(await api.request(method, path, json=body, headers={"Accept-Language": "en-US,en;q=0.9"}),
                          status, code)["message"]
        assert has_chinese(zh), (code, zh)
        assert not has_chinese(en), (code, en)
    unknown_hall = await api.client.get("/api/v1/halls/nowhere/snapshot",
                                        headers={**api.auth("manager"), "Accept-Language": "en"})
    assert not has_chinese(assert_error(unknown_hall, 404, "unknown_hall")["message"])


# -- people ------------------------------------------------------------------------------------
def impossible_birth_date_id() -> str:
    first17 = "110105" + "19851340" + "123"  # month 13, with a correct check digit
    return first17 + id_check_digit(first17)


@pytest.mark.parametrize("id_number", [
    with_bad_check_digit(make_id_number(date(1985, 3, 14))),
    impossible_birth_date_id(),
    "11010519850314123",  # 17 characters
    "ABCDEFGHIJKLMNOPQR",
])
async def test_an_invalid_id_number_is_refused_naming_the_field(api: HallApi, id_number: str) -> None:
    await api.open("5")
    reply = await api.request("POST", "/tickets", role="guide", json={"service": "SOC", "id_number": id_number})
    error = assert_error(reply, 422, "invalid_request")
    assert [f["field"] for f in error["fields"]] == ["id_number"]
    assert "身份证号" in error["message"]
    assert not re.search(r"[a-z]{3,}", error["message"]), error["message"]  # Chinese through and through
    assert (await api.snapshot())["services"][0]["waiting"] == 0


async def test_a_valid_id_of_someone_under_60_is_accepted_without_priority(api: HallApi) -> None:
    await api.open("5")
    reply = await api.request("POST", "/tickets", role="guide",
                              json={"service": "SOC", "id_number": make_id_number(date(1990, 6, 15))})
    assert reply.status_code == 201, reply.text
    assert reply.json().get("priority") is None


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


async def test_someone_aged_60_or_more_gets_the_green_channel(api: HallApi) -> None:
    await api.open("5")
    walk_in = await api.issue("SOC")
    elder = await api.issue("SOC", id_number=make_id_number(date(1950, 1, 2), seq=456))
    assert elder["priority"] == "green"
    assert elder["ahead"] == 0  # ahead of the earlier walk-in
    called = (await api.window_op("5", "call-next"))["ticket"]
    assert called["id"] == elder["id"]
    assert (await api.ok("GET", f"/tickets/{walk_in['id']}", role=None))["ahead"] == 0


async def test_green_from_the_60th_birthday_on(api: HallApi) -> None:
    await api.open("5")
    today = datetime.now(SHANGHAI).date()  # the hall's business day
    sixty_today = years_before(today, 60)
    sixty_tomorrow = years_before(today + timedelta(days=1), 60)
    if sixty_tomorrow == sixty_today:  # 29 February folded onto the 28th: take the day after
        sixty_tomorrow += timedelta(days=1)
    assert (await api.issue("SOC", id_number=make_id_number(sixty_today, seq=1)))["priority"] == "green"
    assert (await api.issue("SOC", id_number=make_id_number(sixty_tomorrow, seq=2))).get("priority") is None


async def test_a_kiosk_gives_the_green_channel_to_the_elderly_itself(api: HallApi) -> None:
    await api.open("5")
    elder = await api.issue("SOC", role="kiosk", id_number=make_id_number(date(1940, 7, 1), seq=9))
    assert elder["priority"] == "green"
    assert elder["channel"] == "kiosk"


async def test_a_guide_may_grant_vip(api: HallApi) -> None:
    await api.open("5")
    await api.issue("SOC")
    vip = await api.issue("SOC", priority="vip")
    assert vip["priority"] == "vip"
    assert vip["number"].startswith("V")
    assert vip["ahead"] == 0
    assert (await api.window_op("5", "call-next"))["ticket"]["id"] == vip["id"]


async def test_a_kiosk_cannot_grant_priority(api: HallApi) -> None:
    await api.open("5")
    reply = await api.request("POST", "/tickets", role="kiosk", json={"service": "SOC", "priority": "vip"})
    assert_error(reply, 403, "wrong_role")
    own = await api.issue("SOC", role="kiosk")
    assert own["number"] == "A001"  # the refusal took no number
    assert own.get("channel") == "kiosk"


async def test_a_second_ticket_for_the_same_person_and_service_is_refused(api: HallApi) -> None:
    await api.open("5")
    person = make_id_number(date(1988, 8, 8), seq=321)
    first = await api.issue("SOC", id_number=person)
    reply = await api.request("POST", "/tickets", role="guide", json={"service": "SOC", "id_number": person})
    error = assert_error(reply, 409, "duplicate_ticket")
    assert first["number"] in error["message"]
    assert "社保医保" in error["message"]  # the service as people know it, not its code
    assert "SOC" not in error["message"]
    english = await api.request("POST", "/tickets", role="guide", json={"service": "SOC", "id_number": person},
                                headers={"Accept-Language": "en"})
    assert "Social security" in assert_error(english, 409, "duplicate_ticket")["message"]
    other_service = await api.issue("HUK", id_number=person)
    assert other_service["number"] == "B001"
    await api.ok("POST", f"/tickets/{first['id']}/cancel", role="guide")
    again = await api.issue("SOC", id_number=person)  # once the first is gone, the person may take a new one
    assert again["number"] == "A002"


async def test_a_bad_phone_number_is_refused(api: HallApi) -> None:
    await api.open("5")
    reply = await api.request("POST", "/tickets", role="guide", json={"service": "SOC", "phone": "12345"})
    error = assert_error(reply, 422, "invalid_request")
    assert [f["field"] for f in error["fields"]] == ["phone"]
    ok = await api.issue("SOC", phone="138 0013 8000")
    assert "phone" not in ok


async def test_responses_never_carry_id_numbers(api: HallApi) -> None:
    await api.open("5")
    person = make_id_number(date(1975, 12, 1), seq=777)
    issued = await api.request("POST", "/tickets", role="guide", json={"service": "SOC", "id_number": person})
    assert issued.status_code == 201
    replies = [issued, await api.request("GET", f"/tickets/{issued.json()['id']}", role=None),
               await api.request("GET", "/snapshot"),
               await api.request("POST", "/windows/5/call-next", role="staff", window="5")]
    for reply in replies:
        assert reply.status_code in (200, 201), reply.text
        assert person not in reply.text
        assert "person" not in all_keys(reply.json())
