"""Sub-item skills (``queue_engine/policy.py`` rule 6) and theme bundles, on the model and on the engine.

Demo hall: 不动产 PROP (C) has the sub-items PROP-TRANSFER (二手房转移) and PROP-MORTGAGE (抵押); windows 9 and 10
serve all of PROP, window 11 serves PROP (mortgages only) and TAX. The bundle RESTO 开餐馆一件事 (K) covers BIZ,
FOOD and TAX; windows 7 and 8 serve all three and were given it.
"""

from __future__ import annotations

from typing import Any

import pytest

from queue_engine import errors, policy
from queue_engine.clock import ManualClock
from queue_engine.engine import Engine
from tests.drivers import called_id


async def issue_prop(impl: Any, clock: ManualClock, item: str | None, **issue: Any) -> str:
    issued = await impl.issue("PROP", item=item, **issue)
    clock.advance(10)
    return str(issued.ticket.id)


# -- calling ------------------------------------------------------------------------------------------


async def test_item_skills_window_calls_only_its_sub_items(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("11")
    await issue_prop(impl, clock, "PROP-TRANSFER")
    mortgage = await issue_prop(impl, clock, "PROP-MORTGAGE")
    assert await called_id(impl, "11") == mortgage
    assert await called_id(impl, "11") is None  # the transfer waits for a window that does transfers


async def test_item_skills_window_calls_tickets_for_no_sub_item(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("11")
    await issue_prop(impl, clock, "PROP-TRANSFER")
    unspecified = await issue_prop(impl, clock, None)
    assert await called_id(impl, "11") == unspecified


async def test_item_skills_only_restrict_the_services_they_name(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("11")
    await issue_prop(impl, clock, "PROP-TRANSFER")
    tax = await impl.issue("TAX")
    assert await called_id(impl, "11") == tax.ticket.id


async def test_window_without_item_skills_calls_every_sub_item_in_line_order(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("9")
    transfer = await issue_prop(impl, clock, "PROP-TRANSFER")
    mortgage = await issue_prop(impl, clock, "PROP-MORTGAGE")
    assert await called_id(impl, "9") == transfer
    assert await called_id(impl, "9") == mortgage


async def test_item_skills_keep_the_calling_order_among_what_the_window_serves(
    impl: Any, clock: ManualClock
) -> None:
    await impl.open_window("11")
    first = await issue_prop(impl, clock, "PROP-MORTGAGE")
    await issue_prop(impl, clock, "PROP-TRANSFER", priority="green", green_reason="elderly")
    second = await issue_prop(impl, clock, None)
    green = await issue_prop(impl, clock, "PROP-MORTGAGE", priority="green", green_reason="pregnant")
    # The green-channel transfer is not this window's; the green-channel mortgage comes first (rule 2), then the line.
    assert [await called_id(impl, "11") for _ in range(4)] == [green, first, second, None]


async def test_item_skills_scan_only_the_head_of_the_line(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("11")
    await impl.open_window("9")
    for _ in range(policy.ITEM_SCAN):
        await issue_prop(impl, clock, "PROP-TRANSFER")
    mortgage = await issue_prop(impl, clock, "PROP-MORTGAGE")
    assert await called_id(impl, "11") is None  # 51st in line: beyond what window 11 looks at
    await called_id(impl, "9")  # another window takes a transfer off the head
    assert await called_id(impl, "11") == mortgage


async def test_ticket_transferred_to_a_window_is_its_own_whatever_the_sub_item(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("9")
    await impl.open_window("10")
    transfer = await issue_prop(impl, clock, "PROP-TRANSFER")
    assert (await impl.call_next("9")).id == transfer
    await impl.transfer("9", to_window="10", reason="senior colleague")
    await impl.set_services("10", ["PROP"], ["PROP"], ["PROP-MORTGAGE"])
    assert await called_id(impl, "10") == transfer


async def test_item_skills_apply_to_calling_a_chosen_ticket(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("11")
    transfer = await issue_prop(impl, clock, "PROP-TRANSFER")
    mortgage = await issue_prop(impl, clock, "PROP-MORTGAGE")
    with pytest.raises(errors.NotForThisWindow):
        await impl.call_ticket("11", transfer, "out of order")
    assert (await impl.call_ticket("11", mortgage, "out of order")).id == mortgage


async def test_item_skills_apply_to_transfer_to_a_window(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("9")
    await impl.open_window("11")
    transfer = await issue_prop(impl, clock, "PROP-TRANSFER")
    mortgage = await issue_prop(impl, clock, "PROP-MORTGAGE")
    assert (await impl.call_next("9")).id == transfer
    with pytest.raises(errors.NotForThisWindow):
        await impl.transfer("9", to_window="11", reason="mortgage desk")
    await impl.finish("9")
    assert (await impl.call_next("9")).id == mortgage
    moved = await impl.transfer("9", to_window="11", reason="mortgage desk")
    assert (moved.queue, moved.item) == ("wq:11", "PROP-MORTGAGE")


async def test_transfer_to_another_service_leaves_the_sub_item_behind(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("8")
    transfer = await issue_prop(impl, clock, "PROP-TRANSFER")
    assert (await impl.call_next("8")).id == transfer
    moved = await impl.transfer("8", to_service="TAX", reason="pay the deed tax first")
    assert (moved.service, moved.item) == ("TAX", None)
    assert (await impl.ticket(transfer)).ticket.item is None


async def test_transfer_within_the_service_keeps_the_sub_item(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("8")
    mortgage = await issue_prop(impl, clock, "PROP-MORTGAGE")
    assert (await impl.call_next("8")).id == mortgage
    moved = await impl.transfer("8", to_service="PROP", reason="back in line")
    assert moved.item == "PROP-MORTGAGE"


async def test_waiting_list_shows_what_call_next_would_take(engine: Engine, clock: ManualClock) -> None:
    await engine.open_window("11")
    await issue_prop(engine, clock, "PROP-TRANSFER")
    mortgage = await issue_prop(engine, clock, "PROP-MORTGAGE")
    plain = await issue_prop(engine, clock, None)
    assert [t.id for t in await engine.waiting(window="11")] == [mortgage, plain]
    assert len(await engine.waiting(window="9")) == 3


# -- setting sub-item skills ----------------------------------------------------------------------------


async def test_set_services_sets_item_skills_and_records_them(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("9")
    state = await impl.set_services("9", ["PROP"], ["PROP"], ["PROP-TRANSFER"])
    assert state.items == ["PROP-TRANSFER"]
    assert (await impl.window("9")).items == ["PROP-TRANSFER"]
    last = (await impl.events())[-1]
    assert (last.type, last.data["items"]) == ("window.services_changed", ["PROP-TRANSFER"])
    snapshot_row = next(w for w in (await impl.snapshot())["windows"] if w["id"] == "9")
    assert snapshot_row["items"] == ["PROP-TRANSFER"]
    await issue_prop(impl, clock, "PROP-MORTGAGE")
    assert await called_id(impl, "9") is None


async def test_set_services_without_items_keeps_those_of_services_still_served(impl: Any) -> None:
    kept = await impl.set_services("11", ["PROP", "TAX"], ["TAX"])
    assert kept.items == ["PROP-MORTGAGE"]
    dropped = await impl.set_services("11", ["TAX"], ["TAX"])
    assert dropped.items == []
    cleared = await impl.set_services("11", ["PROP", "TAX"], ["PROP"], [])
    assert cleared.items == []


@pytest.mark.parametrize(("items", "why"), [
    (["PROP-MORTGAGE", "SOC-REG"], "SOC"),  # a sub-item of a service the window does not serve
    (["NOPE"], "NOPE"),
    (["PROP-MORTGAGE", "PROP-MORTGAGE"], "twice"),
])
async def test_set_services_refuses_item_skills_that_do_not_fit(impl: Any, items: list[str], why: str) -> None:
    before = await impl.window("11")
    with pytest.raises(errors.InvalidRequest) as info:
        await impl.set_services("11", ["PROP", "TAX"], ["PROP"], items)
    assert why in str(info.value)
    assert info.value.status == 422
    assert await impl.window("11") == before


# -- theme bundles (一件事) ---------------------------------------------------------------------------------


async def test_bundle_ticket_numbered_with_its_own_letter(impl: Any) -> None:
    await impl.open_window("7")
    issued = await impl.issue("RESTO")
    assert issued.ticket.number == "K001"
    assert (await impl.issue("RESTO")).ticket.number == "K002"
    assert (await impl.issue("BIZ")).ticket.number == "F001"


async def test_bundle_served_only_at_windows_serving_every_member(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")  # serves BIZ and TAX, not FOOD: no bundle
    with pytest.raises(errors.NoWindowForService):
        await impl.issue("RESTO")
    await impl.open_window("7")
    bundle = await impl.issue("RESTO")
    assert await impl.call_next("1") is None
    assert (await impl.call_next("7")).id == bundle.ticket.id
    snap = await impl.snapshot()
    resto = next(s for s in snap["services"] if s["code"] == "RESTO")
    assert resto["able_windows"] == 1


async def test_bundle_refused_to_a_window_without_all_its_members(impl: Any) -> None:
    before = await impl.window("1")
    with pytest.raises(errors.InvalidRequest) as info:
        await impl.set_services("1", ["BIZ", "TAX", "RESTO"], ["BIZ"])
    assert "FOOD" in str(info.value)
    assert "FOOD" in info.value.message("zh")
    assert await impl.window("1") == before
    state = await impl.set_services("1", ["BIZ", "TAX", "FOOD", "RESTO"], ["RESTO"])
    assert state.services == ["BIZ", "TAX", "FOOD", "RESTO"]


async def test_dropping_a_member_while_keeping_the_bundle_refused(impl: Any) -> None:
    with pytest.raises(errors.InvalidRequest):
        await impl.set_services("7", ["BIZ", "TAX", "RESTO"], ["BIZ"])
    assert "RESTO" in (await impl.window("7")).services
