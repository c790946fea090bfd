"""What a ticket says of its citizen, on the model and on the engine: the sub-item (事项) they come for, why they
have the green channel, and their masked name; kept on the ticket, told by its events, and part of what an
Idempotency-Key stands for."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.engine import Engine
from queue_engine.model import issue_request


async def test_issue_keeps_item_green_reason_and_holder(impl: Any) -> None:
    await impl.open_window("8")
    issued = await impl.issue("PROP", priority="green", item="PROP-TRANSFER", green_reason="disabled",
                              holder="欧**明")
    t = issued.ticket
    assert (t.item, t.green_reason, t.holder, t.priority) == ("PROP-TRANSFER", "disabled", "欧**明", "green")
    assert (await impl.ticket(t.id)).ticket == t
    event = (await impl.events())[-1]
    assert event.type == "ticket.issued"
    assert (event.data["item"], event.data["green_reason"], event.data["holder"]) == (
        "PROP-TRANSFER", "disabled", "欧**明")


async def test_ticket_without_details_has_none(impl: Any) -> None:
    await impl.open_window("1")
    t = (await impl.issue("SOC", priority="green")).ticket  # green without a reason: older clients send that
    assert (t.item, t.green_reason, t.holder) == (None, None, None)
    assert not {"item", "green_reason", "holder"} & set((await impl.events())[-1].data)


async def test_called_and_recalled_events_say_whom_to_expect(impl: Any) -> None:
    await impl.open_window("1")
    issued = await impl.issue("SOC", item="SOC-RETIRE", holder="张*三")
    await impl.call_next("1")
    await impl.recall("1")
    called, recalled = (e.data for e in (await impl.events())[-2:])
    for event in (called, recalled):
        assert (event["holder"], event["item"], event["ticket"]) == ("张*三", "SOC-RETIRE", issued.ticket.id)


async def test_called_event_of_a_plain_ticket_has_no_holder_or_item(impl: Any) -> None:
    await impl.open_window("1")
    await impl.issue("SOC")
    await impl.call_next("1")
    assert not {"holder", "item"} & set((await impl.events())[-1].data)


async def test_idempotency_key_replays_the_same_item(impl: Any) -> None:
    await impl.open_window("1")
    first = await impl.issue("SOC", item="SOC-REG", idempotency_key="k1")
    again = await impl.issue("SOC", item="SOC-REG", idempotency_key="k1")
    assert (again.replay, again.ticket.id) == (True, first.ticket.id)


@pytest.mark.parametrize("retry", [
    {"item": "SOC-MED"},
    {"item": None},
    {"item": "SOC-REG", "priority": "green", "green_reason": "military"},
])
async def test_idempotency_key_reused_for_another_item_or_reason_refused(impl: Any, retry: dict[str, Any]) -> None:
    await impl.open_window("1")
    await impl.issue("SOC", item="SOC-REG", idempotency_key="k1")
    with pytest.raises(errors.IdempotencyKeyReused):
        await impl.issue("SOC", idempotency_key="k1", **retry)


async def test_idempotency_key_stored_before_ticket_details_still_replays(engine: Engine, clock: ManualClock) -> None:
    await engine.open_window("1")
    first = await engine.issue("SOC", idempotency_key="old")
    day = engine.hall.business_day(clock())
    # What the engine kept before sub-items existed: "<ticket id>|<request>" in the old format.
    assert issue_request("SOC", None, None, None) == "SOC|||"
    stored = await engine.redis.hget(engine.keys.idempotency(day), "old")
    assert stored == f"{first.ticket.id}|SOC|||".encode()
    again = await engine.issue("SOC", idempotency_key="old")
    assert (again.replay, again.ticket.id) == (True, first.ticket.id)
    with pytest.raises(errors.IdempotencyKeyReused):
        await engine.issue("SOC", item="SOC-REG", idempotency_key="old")


async def test_holder_is_not_part_of_the_idempotent_request(impl: Any) -> None:
    """A retry may come with the name typed again (or not at all): it is the same request."""
    await impl.open_window("1")
    first = await impl.issue("SOC", holder="张*三", idempotency_key="k1")
    again = await impl.issue("SOC", idempotency_key="k1")
    assert (again.replay, again.ticket.id, again.ticket.holder) == (True, first.ticket.id, "张*三")


async def test_ticket_json_in_redis_has_the_details(engine: Engine) -> None:
    await engine.open_window("7")
    issued = await engine.issue("FOOD", item="FOOD-PERMIT", holder="李*")
    raw = await engine.redis.hget(engine.keys.tickets, issued.ticket.id)
    assert raw is not None
    stored = orjson.loads(raw)
    assert (stored["item"], stored["holder"]) == ("FOOD-PERMIT", "李*")
    assert "green_reason" not in stored
