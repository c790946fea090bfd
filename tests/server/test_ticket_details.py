"""Ticket details through the real server: the sub-item (事项), the green-channel reason and the citizen's name,
masked before the engine sees it and never kept whole; sub-item skills set by a manager; the rating on a ticket."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

import sqlalchemy as sa

from queue_engine.config import load_hall
from queue_engine.engine import Engine
from tests.conftest import open_shards
from tests.server.conftest import DEMO_TOML, HallApi, assert_error, make_id_number
from tests.server.test_personal_data import redis_texts, sql_texts

NAME = "欧阳小明"
MASKED = "欧**明"
ARCHIVE_WITHIN_S = 15.0


async def archived_row(api: HallApi, ticket_id: str) -> dict[str, Any]:
    """The ticket's row in the server's SQL record, once the archiver has written it."""
    engine = sa.create_engine(f"sqlite:///{api.server.home / 'hallq.db'}")
    deadline = time.monotonic() + ARCHIVE_WITHIN_S
    try:
        while True:
            with engine.connect() as conn:
                row = conn.execute(sa.text("SELECT * FROM tickets WHERE hall = :h AND id = :t"),
                                   {"h": api.hall, "t": ticket_id}).mappings().first()
            if row is not None:
                return dict(row)
            assert time.monotonic() < deadline, f"ticket {ticket_id} not archived within {ARCHIVE_WITHIN_S} s"
            await asyncio.sleep(0.1)
    finally:
        engine.dispose()


async def test_issue_with_item_green_reason_and_name(api: HallApi) -> None:
    await api.open("8")
    ticket = await api.issue("PROP", item="PROP-TRANSFER", priority="green", green_reason="disabled", name=NAME)
    assert (ticket["item"], ticket["item_name"], ticket["item_name_en"]) == (
        "PROP-TRANSFER", "二手房转移登记", "Resale home transfer registration")
    assert (ticket["green_reason"], ticket["holder"], ticket["priority"]) == ("disabled", MASKED, "green")
    assert ticket["rating"] is None
    again = await api.ok("GET", f"/tickets/{ticket['id']}", role=None)
    assert (again["item"], again["green_reason"], again["holder"]) == ("PROP-TRANSFER", "disabled", MASKED)
    row = await archived_row(api, ticket["id"])
    assert (row["item"], row["green_reason"], row["holder"]) == ("PROP-TRANSFER", "disabled", MASKED)


async def test_the_full_name_is_never_kept_or_logged(api: HallApi) -> None:
    await api.open("5")
    ticket = await api.issue("SOC", name=NAME, item="SOC-RETIRE")
    await api.window_op("5", "call-next")
    await archived_row(api, ticket["id"])
    server = api.server
    for where, text in {**{k: v.decode("utf-8", "replace") for k, v in redis_texts(server.key_prefix).items()},
                        **sql_texts(server), "stdout": server.stdout(), "stderr": server.stderr()}.items():
        assert NAME not in text, f"the full name is in {where}"
    assert MASKED in "".join(sql_texts(server).values())


async def test_a_name_too_long_is_refused_without_repeating_it(api: HallApi) -> None:
    await api.open("5")
    name = "阿卜杜热合曼·买买提江·艾力克木江"
    assert len(name) == 17
    reply = await api.request("POST", "/tickets", role="guide", json={"service": "SOC", "name": name})
    error = assert_error(reply, 422, "invalid_request")
    assert [f["field"] for f in error["fields"]] == ["name"]
    assert name not in reply.text


async def test_a_60_year_old_gets_the_green_channel_as_elderly(api: HallApi) -> None:
    await api.open("5")
    elder = make_id_number(date(1950, 1, 2), seq=456)
    ticket = await api.issue("SOC", id_number=elder)
    assert (ticket["priority"], ticket["green_reason"]) == ("green", "elderly")
    other = make_id_number(date(1951, 3, 4), seq=457)
    stated = await api.issue("SOC", id_number=other, priority="green", green_reason="military")
    assert stated["green_reason"] == "military"  # a reason given at the desk stands


async def test_unknown_item_or_another_services_item_is_refused(api: HallApi) -> None:
    await api.open("5")
    for item in ("NOPE", "PROP-MORTGAGE"):
        reply = await api.request("POST", "/tickets", role="guide", json={"service": "SOC", "item": item})
        error = assert_error(reply, 422, "unknown_item")
        assert "社保医保" in error["message"]
        assert item in error["message"]
    english = await api.request("POST", "/tickets", role="guide", json={"service": "SOC", "item": "NOPE"},
                                headers={"Accept-Language": "en"})
    assert "Social security" in assert_error(english, 422, "unknown_item")["message"]
    assert (await api.issue("SOC"))["number"] == "A001"  # the refusals took no number


async def test_a_green_reason_needs_the_green_channel(api: HallApi) -> None:
    await api.open("5")
    reply = await api.request("POST", "/tickets", role="guide", json={"service": "SOC", "green_reason": "pregnant"})
    assert "绿色通道" in assert_error(reply, 422, "invalid_request")["message"]
    bad = await api.request("POST", "/tickets", role="guide",
                            json={"service": "SOC", "priority": "green", "green_reason": "tired"})
    assert [f["field"] for f in assert_error(bad, 422, "invalid_request")["fields"]] == ["green_reason"]
    kiosk = await api.request("POST", "/tickets", role="kiosk", json={"service": "SOC", "green_reason": "pregnant"})
    assert_error(kiosk, 422, "invalid_request")
    older_client = await api.issue("SOC", priority="green")  # green without a reason, as before
    assert (older_client["priority"], older_client["green_reason"]) == ("green", None)


async def test_an_idempotency_key_reused_for_another_item_is_refused(api: HallApi) -> None:
    await api.open("5")
    headers = {"Idempotency-Key": "press-1"}
    first = await api.ok("POST", "/tickets", 201, role="guide", headers=headers,
                         json={"service": "SOC", "item": "SOC-REG"})
    again = await api.ok("POST", "/tickets", 200, role="guide", headers=headers,
                         json={"service": "SOC", "item": "SOC-REG"})
    assert again["id"] == first["id"]
    other = await api.request("POST", "/tickets", role="guide", headers=headers,
                              json={"service": "SOC", "item": "SOC-MED"})
    assert_error(other, 422, "idempotency_key_reused")


async def test_console_sees_item_and_holder_of_the_called_ticket(api: HallApi) -> None:
    await api.open("5")
    ticket = await api.issue("SOC", item="SOC-MED", name="张小三")
    waiting = await api.ok("GET", "/windows/5/waiting", role="staff", window="5")
    assert [(t["number"], t["item"]) for t in waiting["tickets"]] == [(ticket["number"], "SOC-MED")]
    called = (await api.window_op("5", "call-next"))["ticket"]
    assert (called["item_name"], called["holder"]) == ("医保关系转移接续", "张*三")
    window = await api.ok("GET", "/windows/5", role="staff", window="5")
    assert window["ticket"]["holder"] == "张*三"


async def test_manager_sets_sub_item_skills(api: HallApi) -> None:
    await api.open("9")
    window = await api.ok("POST", "/windows/9/services", json={"services": ["PROP"], "items": ["PROP-MORTGAGE"]})
    assert window["items"] == ["PROP-MORTGAGE"]
    row = next(w for w in (await api.snapshot())["windows"] if w["id"] == "9")
    assert row["items"] == ["PROP-MORTGAGE"]
    transfer = await api.issue("PROP", item="PROP-TRANSFER")
    mortgage = await api.issue("PROP", item="PROP-MORTGAGE")
    assert (await api.window_op("9", "call-next"))["ticket"]["id"] == mortgage["id"]
    await api.window_op("9", "finish", {"outcome": "done"})
    assert (await api.window_op("9", "call-next"))["ticket"] is None
    refused = await api.request("POST", "/windows/9/call", role="staff", window="9",
                                json={"ticket": transfer["id"], "reason": "out of order"})
    assert_error(refused, 403, "not_for_this_window")
    kept = await api.ok("POST", "/windows/9/services", json={"services": ["PROP"], "primary": ["PROP"]})
    assert kept["items"] == ["PROP-MORTGAGE"]  # left out: kept
    bad = await api.request("POST", "/windows/9/services", json={"services": ["PROP"], "items": ["SOC-REG"]})
    assert "SOC-REG" in assert_error(bad, 422, "invalid_request")["message"]


async def test_a_bundle_needs_all_its_members_at_the_window(api: HallApi) -> None:
    await api.open("7")
    bundle = await api.issue("RESTO")
    assert (bundle["number"], bundle["service_name"]) == ("K001", "开餐馆一件事")
    refused = await api.request("POST", "/windows/1/services", json={"services": ["BIZ", "TAX", "RESTO"]})
    assert "FOOD" in assert_error(refused, 422, "invalid_request")["message"]


async def test_a_rated_ticket_shows_its_rating(api: HallApi) -> None:
    await api.open("5")
    ticket = await api.issue("SOC")
    await api.window_op("5", "call-next")
    await api.window_op("5", "finish", {"outcome": "done"})
    hall = load_hall(DEMO_TOML).model_copy(update={"id": api.hall})
    shards = await open_shards()
    try:
        await Engine(shards, hall, prefix=api.server.key_prefix).rate(ticket["id"], 4, "pad")
    finally:
        await shards.aclose()
    rated = await api.ok("GET", f"/tickets/{ticket['id']}", role=None)
    assert (rated["rating"]["score"], rated["rating"]["source"]) == (4, "pad")
    assert rated["rating"]["at"].endswith("+08:00")


async def test_the_record_drops_the_sub_item_when_a_ticket_moves_to_another_service(api: HallApi) -> None:
    await api.open("8")
    ticket = await api.issue("PROP", item="PROP-TRANSFER")
    await api.window_op("8", "call-next")
    await api.window_op("8", "transfer", {"to_service": "TAX", "reason": "先缴契税"})
    assert (await api.ok("GET", f"/tickets/{ticket['id']}", role=None))["item"] is None
    deadline = time.monotonic() + ARCHIVE_WITHIN_S
    while (row := await archived_row(api, ticket["id"]))["service"] != "TAX":
        assert time.monotonic() < deadline, row
        await asyncio.sleep(0.1)
    assert (row["item"], row["transfers"]) == (None, 1)
