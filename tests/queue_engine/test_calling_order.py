"""The calling order, one test per rule of ``queue_engine/policy.py``, on the model and on the engine.

Demo hall: windows 1-2 primary SOC (A), 3-4 HUK (B), 5 TAX (D), 6 FUND (E), 7 BIZ (F), 8 PROP (C);
windows 1-6 serve SOC HUK TAX FUND BIZ INFO, 7-8 those and PROP; 9-10 only PROP; 11 PROP+TAX;
12 INFO (primary), SOC, HUK. Targets: SOC/HUK 900 s, TAX/FUND 1200 s, PROP/BIZ 1800 s, INFO 600 s.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.records import Ticket
from tests.conftest import SHANGHAI
from tests.drivers import called_id


def at_ms(clock: ManualClock, offset_s: float = 0) -> int:
    """A time in ms, ``offset_s`` from now (for appointment slots)."""
    return int((clock() + offset_s) * 1000)


async def transferred_in(impl: Any, service: str, *, via_window: str, from_service: str = "TAX") -> str:
    """A ticket of ``from_service`` called at ``via_window`` and transferred to ``service``."""
    issued = await impl.issue(from_service)
    called = await impl.call_next(via_window)
    assert called is not None
    assert called.id == issued.ticket.id
    moved = await impl.transfer(via_window, to_service=service, reason="wrong queue")
    assert moved.status == "waiting"
    return str(issued.ticket.id)


# -- rule 1: within one line, first come first called ---------------------------------------------------


async def test_tickets_of_one_line_issued_in_the_same_millisecond_are_called_in_the_order_issued(
        impl: Any, clock: ManualClock) -> None:
    """A guide and a kiosk can issue in one millisecond; Redis orders equal scores by member (the random ticket
    id), so the line must not hold equal scores."""
    await impl.open_window("1")
    issued = [await impl.issue("SOC") for _ in range(6)]  # the clock stands still
    pinned_at_same_ms = [await impl.issue("SOC", priority="green", green_reason="elderly") for _ in range(2)]
    order = [await called_id(impl, "1") for _ in range(8)]
    assert order == [t.ticket.id for t in pinned_at_same_ms + issued]
    assert [t.ticket.number for t in issued] == ["A001", "A002", "A003", "A004", "A005", "A006"]


# -- rule 2: the urgent classes, in order -------------------------------------------------------------


async def test_vip_called_before_green_channel(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    green = await impl.issue("SOC", priority="green")
    clock.advance(60)
    vip = await impl.issue("SOC", priority="vip")
    assert await called_id(impl, "1") == vip.ticket.id
    assert await called_id(impl, "1") == green.ticket.id


async def test_green_channel_called_before_pinned(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    pinned = await impl.issue("SOC")
    await impl.pin(pinned.ticket.id, "manager: citizen came back from another hall")
    clock.advance(60)
    green = await impl.issue("SOC", priority="green")
    assert await called_id(impl, "1") == green.ticket.id
    assert await called_id(impl, "1") == pinned.ticket.id


async def test_pinned_called_before_transferred(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.open_window("5")
    moved = await transferred_in(impl, "SOC", via_window="5")
    clock.advance(60)
    pinned = await impl.issue("SOC")
    await impl.pin(pinned.ticket.id, "manager")
    assert await called_id(impl, "1") == pinned.ticket.id
    assert await called_id(impl, "1") == moved


async def test_transferred_called_before_appointment(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.open_window("5")
    appointment = await impl.issue("SOC", channel="appointment", appointment_ms=at_ms(clock, -1800))
    clock.advance(60)
    moved = await transferred_in(impl, "SOC", via_window="5")
    assert await called_id(impl, "1") == moved
    assert await called_id(impl, "1") == appointment.ticket.id


async def test_appointment_called_before_walk_in(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    walk_in = await impl.issue("SOC")
    clock.advance(600)
    appointment = await impl.issue("SOC", channel="appointment", appointment_ms=at_ms(clock))
    assert await called_id(impl, "1") == appointment.ticket.id
    assert await called_id(impl, "1") == walk_in.ticket.id


async def test_early_appointment_still_called_before_walk_in(impl: Any, clock: ManualClock) -> None:
    """An appointment is ahead of walk-ins even before its slot starts (it came early)."""
    await impl.open_window("1")
    walk_in = await impl.issue("SOC")
    clock.advance(600)
    early = await impl.issue("SOC", channel="appointment", appointment_ms=at_ms(clock, 3600))
    assert await called_id(impl, "1") == early.ticket.id
    assert await called_id(impl, "1") == walk_in.ticket.id


async def test_full_urgent_order_vip_green_pinned_transferred_appointment_walk_in(
    impl: Any, clock: ManualClock
) -> None:
    """All six classes waiting at once, each issued later than the class below it."""
    await impl.open_window("1")
    await impl.open_window("5")
    walk_in = await impl.issue("SOC")
    clock.advance(10)
    appointment = await impl.issue("SOC", channel="appointment", appointment_ms=at_ms(clock))
    clock.advance(10)
    moved = await transferred_in(impl, "SOC", via_window="5")
    clock.advance(10)
    pinned = await impl.issue("SOC")
    await impl.pin(pinned.ticket.id, "manager")
    clock.advance(10)
    green = await impl.issue("SOC", priority="green")
    clock.advance(10)
    vip = await impl.issue("SOC", priority="vip")
    order = [await called_id(impl, "1") for _ in range(6)]
    assert order == [vip.ticket.id, green.ticket.id, pinned.ticket.id, moved, appointment.ticket.id,
                     walk_in.ticket.id]
    assert await impl.call_next("1") is None


# -- rule 2 across services -------------------------------------------------------------------------


async def test_urgent_classes_win_across_services_over_primary(impl: Any, clock: ManualClock) -> None:
    """Window 1 (primary SOC): a VIP of TAX is called before SOC walk-ins that waited long."""
    await impl.open_window("1")
    soc = await impl.issue("SOC")
    clock.advance(1800)
    vip_tax = await impl.issue("TAX", priority="vip")
    assert await called_id(impl, "1") == vip_tax.ticket.id
    assert await called_id(impl, "1") == soc.ticket.id


async def test_green_channel_of_other_service_called_before_primary_walk_in(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    soc = await impl.issue("SOC")
    clock.advance(1800)
    green_huk = await impl.issue("HUK", priority="green")
    assert await called_id(impl, "1") == green_huk.ticket.id
    assert await called_id(impl, "1") == soc.ticket.id


async def test_pinned_of_other_service_called_before_primary_walk_in(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    soc = await impl.issue("SOC")
    clock.advance(600)
    fund = await impl.issue("FUND")
    await impl.pin(fund.ticket.id, "manager")
    assert await called_id(impl, "1") == fund.ticket.id
    assert await called_id(impl, "1") == soc.ticket.id


async def test_transferred_to_other_service_called_before_primary_appointment(
    impl: Any, clock: ManualClock
) -> None:
    await impl.open_window("1")
    await impl.open_window("5")
    appointment = await impl.issue("SOC", channel="appointment", appointment_ms=at_ms(clock, -600))
    clock.advance(60)
    moved = await transferred_in(impl, "HUK", via_window="5")
    assert await called_id(impl, "1") == moved
    assert await called_id(impl, "1") == appointment.ticket.id


async def test_vip_of_other_service_called_before_green_of_primary(impl: Any, clock: ManualClock) -> None:
    """The class decides before the window's primary service does."""
    await impl.open_window("1")
    green_soc = await impl.issue("SOC", priority="green")
    clock.advance(60)
    vip_info = await impl.issue("INFO", priority="vip")
    assert await called_id(impl, "1") == vip_info.ticket.id
    assert await called_id(impl, "1") == green_soc.ticket.id


# -- rule 3: primary services first ---------------------------------------------------------------


async def test_primary_service_called_before_other_services(impl: Any, clock: ManualClock) -> None:
    """Window 5 (primary TAX) calls a fresh TAX walk-in before a SOC walk-in far over its target."""
    await impl.open_window("5")
    soc = await impl.issue("SOC")
    clock.advance(3600)
    tax = await impl.issue("TAX")
    assert await called_id(impl, "5") == tax.ticket.id
    assert await called_id(impl, "5") == soc.ticket.id


async def test_primary_service_walk_in_called_before_other_service_appointment(
    impl: Any, clock: ManualClock
) -> None:
    """Rule 3 decides before rule 4: an appointment of another service waits for the primary queue."""
    await impl.open_window("5")
    appointment = await impl.issue("SOC", channel="appointment", appointment_ms=at_ms(clock, -600))
    clock.advance(60)
    tax = await impl.issue("TAX")
    assert await called_id(impl, "5") == tax.ticket.id
    assert await called_id(impl, "5") == appointment.ticket.id


async def test_primary_service_depends_on_window(impl: Any, clock: ManualClock) -> None:
    """The same two tickets: window 1 (SOC) and window 3 (HUK) each take their own primary."""
    await impl.open_window("1")
    await impl.open_window("3")
    huk = await impl.issue("HUK")
    clock.advance(30)
    soc = await impl.issue("SOC")
    first = await impl.call_next("1")
    second = await impl.call_next("3")
    assert first is not None
    assert second is not None
    assert first.id == soc.ticket.id
    assert second.id == huk.ticket.id


# -- rule 4: appointments by slot, before walk-ins ----------------------------------------------------


async def test_appointments_ordered_by_slot_due_before_early(impl: Any, clock: ManualClock) -> None:
    """An early arrival for 11:00 took its ticket first; the one whose 08:45 slot is due is called first."""
    await impl.open_window("1")
    early = await impl.issue("SOC", channel="appointment", appointment_ms=at_ms(clock, 2 * 3600))
    clock.advance(300)
    due = await impl.issue("SOC", channel="appointment", appointment_ms=at_ms(clock, -20 * 60))
    assert await called_id(impl, "1") == due.ticket.id
    assert await called_id(impl, "1") == early.ticket.id


async def test_appointments_before_walk_ins_of_other_services(impl: Any, clock: ManualClock) -> None:
    """Among non-primary services an appointment beats a walk-in that waited much longer."""
    await impl.open_window("1")
    tax = await impl.issue("TAX")
    clock.advance(3000)
    appointment = await impl.issue("FUND", channel="appointment", appointment_ms=at_ms(clock))
    assert await called_id(impl, "1") == appointment.ticket.id
    assert await called_id(impl, "1") == tax.ticket.id


# -- rule 5: relative wait among other services ---------------------------------------------------------


async def test_largest_relative_wait_chosen_among_other_services(impl: Any, clock: ManualClock) -> None:
    """TAX (target 1200 s) waited 700 s = 0.58; INFO (target 600 s) waited 400 s = 0.67: INFO first,
    although the TAX ticket is older."""
    await impl.open_window("1")
    tax = await impl.issue("TAX")
    clock.advance(300)
    info = await impl.issue("INFO")
    clock.advance(400)
    assert await called_id(impl, "1") == info.ticket.id
    assert await called_id(impl, "1") == tax.ticket.id


async def test_relative_wait_prefers_older_ticket_when_its_ratio_is_larger(impl: Any, clock: ManualClock) -> None:
    """TAX waited 900 s of 1200 = 0.75; INFO waited 100 s of 600 = 0.17: TAX first."""
    await impl.open_window("1")
    tax = await impl.issue("TAX")
    clock.advance(800)
    info = await impl.issue("INFO")
    clock.advance(100)
    assert await called_id(impl, "1") == tax.ticket.id
    assert await called_id(impl, "1") == info.ticket.id


async def test_relative_wait_uses_each_services_target(impl: Any, clock: ManualClock) -> None:
    """Equal absolute waits: the service with the shorter target (INFO 600 s) is further over it."""
    await impl.open_window("5")  # primary TAX, so SOC (900 s) and INFO (600 s) are both non-primary
    soc = await impl.issue("SOC")
    info = await impl.issue("INFO")
    clock.advance(500)
    assert await called_id(impl, "5") == info.ticket.id
    assert await called_id(impl, "5") == soc.ticket.id


async def test_relative_wait_tie_goes_to_service_listed_first(impl: Any, clock: ManualClock) -> None:
    """SOC and HUK (both 900 s) issued in the same instant: the window's own service order decides."""
    await impl.open_window("5")
    huk = await impl.issue("HUK")
    soc = await impl.issue("SOC")
    clock.advance(120)
    assert await called_id(impl, "5") == soc.ticket.id  # window 5 lists SOC before HUK
    assert await called_id(impl, "5") == huk.ticket.id
    await impl.set_services("5", ["HUK", "SOC", "TAX"], ["TAX"])
    soc2 = await impl.issue("SOC")
    huk2 = await impl.issue("HUK")
    clock.advance(120)
    assert await called_id(impl, "5") == huk2.ticket.id
    assert await called_id(impl, "5") == soc2.ticket.id


# -- within one service -------------------------------------------------------------------------------


async def test_walk_ins_within_a_service_called_by_issue_time(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    issued = []
    for _ in range(4):
        issued.append((await impl.issue("SOC")).ticket)
        clock.advance(5)
    order = [await called_id(impl, "1") for _ in range(4)]
    assert order == [t.id for t in issued]
    assert [t.number for t in issued] == ["A001", "A002", "A003", "A004"]
    assert await impl.call_next("1") is None


# -- transfer to one window -------------------------------------------------------------------------


async def test_ticket_transferred_to_window_called_only_by_that_window(impl: Any, clock: ManualClock) -> None:
    for w in ("1", "2", "3"):
        await impl.open_window(w)
    issued = await impl.issue("SOC")
    called = await impl.call_next("1")
    assert called is not None
    assert called.id == issued.ticket.id
    moved = await impl.transfer("1", to_window="2", reason="needs the 社保 specialist")
    assert moved.status == "waiting"
    assert moved.number == "A001"
    # Neither window 3 nor window 1 can take it, by calling next or by choosing it.
    assert await impl.call_next("3") is None
    assert await impl.call_next("1") is None
    with pytest.raises(errors.NotForThisWindow) as refused:
        await impl.call_ticket("3", issued.ticket.id, "taking it anyway")
    assert refused.value.code == "not_for_this_window"
    got = await impl.call_next("2")
    assert got is not None
    assert got.id == issued.ticket.id
    assert got.window == "2"


async def test_ticket_transferred_to_window_called_ahead_of_walk_ins(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    first = await impl.issue("SOC")
    clock.advance(10)
    walk_ins = []
    for _ in range(3):
        walk_ins.append((await impl.issue("SOC")).ticket.id)
        clock.advance(1)
    called = await impl.call_next("1")
    assert called is not None
    assert called.id == first.ticket.id
    clock.advance(600)
    await impl.transfer("1", to_window="2", reason="specialist")
    assert await called_id(impl, "2") == first.ticket.id
    assert await called_id(impl, "2") == walk_ins[0]


async def test_window_queue_not_seen_by_other_windows_even_when_idle(impl: Any, clock: ManualClock) -> None:
    """Window 2's own queue does not leak into window 1's choice, though 1 is idle and skilled."""
    await impl.open_window("1")
    await impl.open_window("2")
    await impl.open_window("3")
    issued = await impl.issue("HUK")
    called = await impl.call_next("3")
    assert called is not None
    await impl.transfer("3", to_window="2", reason="specialist")
    walk_in = await impl.issue("HUK")
    assert await called_id(impl, "1") == walk_in.ticket.id
    assert await called_id(impl, "2") == issued.ticket.id


# -- skills -------------------------------------------------------------------------------------------


async def test_window_never_calls_service_it_is_not_skilled_for(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")  # keeps SOC and TAX issuable
    await impl.open_window("9")  # PROP only
    await impl.open_window("12")  # INFO, SOC, HUK: no TAX
    soc = await impl.issue("SOC", priority="vip")
    tax = await impl.issue("TAX", priority="vip")
    assert await impl.call_next("9") is None
    got = await impl.call_next("12")
    assert got is not None
    assert got.id == soc.ticket.id
    await impl.finish("12")
    assert await impl.call_next("12") is None
    status = await impl.ticket(tax.ticket.id)
    assert status.ticket.status == "waiting"
    assert await called_id(impl, "1") == tax.ticket.id


async def test_two_windows_never_get_the_same_ticket(impl: Any, clock: ManualClock) -> None:
    for w in ("1", "2"):
        await impl.open_window(w)
    only = await impl.issue("SOC")
    a = await impl.call_next("1")
    b = await impl.call_next("2")
    assert a is not None
    assert a.id == only.ticket.id
    assert b is None


async def test_windows_calling_at_once_get_distinct_tickets(impl: Any, clock: ManualClock) -> None:
    windows = [str(i) for i in range(1, 9)]
    for w in windows:
        await impl.open_window(w)
    issued = {(await impl.issue("SOC")).ticket.id for _ in range(5)}
    results: list[Ticket | None] = list(await asyncio.gather(*(impl.call_next(w) for w in windows)))
    got = [t.id for t in results if t is not None]
    assert len(got) == 5
    assert set(got) == issued
    snap = await impl.snapshot()
    calling = [w for w in snap["windows"] if w["state"] == "calling"]
    assert len(calling) == 5
    assert len({w["ticket_id"] for w in calling}) == 5


async def test_set_services_changes_what_a_window_calls(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.open_window("9")
    soc = await impl.issue("SOC")
    prop = await impl.issue("PROP")
    assert await impl.call_next("1") is not None  # takes the SOC ticket
    await impl.finish("1")
    soc2 = await impl.issue("SOC")
    state = await impl.set_services("9", ["SOC"], ["SOC"])
    assert state.services == ["SOC"]
    assert state.primary == ["SOC"]
    assert await called_id(impl, "9") == soc2.ticket.id
    # and it no longer calls PROP
    assert await impl.call_next("9") is None
    assert (await impl.ticket(prop.ticket.id)).ticket.status == "waiting"
    assert soc.ticket.id != soc2.ticket.id


async def test_set_services_changes_primary(impl: Any, clock: ManualClock) -> None:
    """Making TAX window 1's primary service puts TAX before an older SOC ticket."""
    await impl.open_window("1")
    soc = await impl.issue("SOC")
    clock.advance(60)
    tax = await impl.issue("TAX")
    await impl.set_services("1", ["SOC", "TAX"], ["TAX"])
    assert await called_id(impl, "1") == tax.ticket.id
    assert await called_id(impl, "1") == soc.ticket.id


async def test_set_services_removing_a_service_stops_calling_it(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    soc = await impl.issue("SOC")
    await impl.set_services("1", ["TAX"], [])
    assert await impl.call_next("1") is None
    assert await called_id(impl, "2") == soc.ticket.id


# -- numbering ----------------------------------------------------------------------------------------


async def test_numbers_are_per_service_daily_sequences_of_three_digits(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.open_window("8")
    numbers = [(await impl.issue(s)).ticket.number for s in ("SOC", "SOC", "TAX", "SOC", "PROP", "TAX", "INFO")]
    assert numbers == ["A001", "A002", "D001", "A003", "C001", "D002", "G001"]


async def test_vip_number_has_v_prefix(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    assert (await impl.issue("SOC")).ticket.number == "A001"
    vip = await impl.issue("SOC", priority="vip")
    assert vip.ticket.number == "VA002"
    green = await impl.issue("SOC", priority="green")
    assert green.ticket.number == "A003"  # green channel has no prefix of its own


async def test_appointment_number_has_y_prefix(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    assert (await impl.issue("HUK")).ticket.number == "B001"
    appt = await impl.issue("HUK", channel="appointment", appointment_ms=at_ms(clock, 600))
    assert appt.ticket.number == "YB002"
    assert appt.ticket.appointment_ms == at_ms(clock, 600)
    assert (await impl.issue("HUK")).ticket.number == "B003"


async def test_a999_is_followed_by_a1000(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    numbers = [(await impl.issue("SOC")).ticket.number for _ in range(1001)]
    assert numbers[0] == "A001"
    assert numbers[98] == "A099"
    assert numbers[998] == "A999"
    assert numbers[999] == "A1000"
    assert numbers[1000] == "A1001"
    assert len(set(numbers)) == 1001


async def test_numbering_resets_on_next_local_business_day(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    assert (await impl.issue("SOC")).ticket.number == "A001"
    assert (await impl.issue("TAX")).ticket.number == "D001"
    # 23:59:59 Shanghai is still Monday (15:59 UTC) ...
    clock.set(datetime(2026, 11, 23, 23, 59, 59, tzinfo=SHANGHAI))
    late = await impl.issue("SOC")
    assert late.ticket.number == "A002"
    assert late.ticket.day == "20261123"
    # ... and two seconds later it is Tuesday in Shanghai, though still Monday in UTC.
    clock.advance(2)
    assert datetime.fromtimestamp(clock(), SHANGHAI).date() == (MONDAY + timedelta(days=1)).date()
    tuesday = await impl.issue("SOC")
    assert tuesday.ticket.number == "A001"
    assert tuesday.ticket.day == "20261124"
    assert (await impl.issue("TAX")).ticket.number == "D001"


MONDAY = datetime(2026, 11, 23, tzinfo=SHANGHAI)
