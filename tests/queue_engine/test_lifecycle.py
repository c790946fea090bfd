"""A ticket's and a window's life, on the model and on the engine: statuses, events and reads at each step."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from queue_engine import errors, policy
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.records import Event
from tests.conftest import SHANGHAI
from tests.queue_engine.conftest import Build, mark_no_show, with_returning


def now_ms(clock: ManualClock) -> int:
    return int(clock() * 1000)


def event_order(event: Event) -> tuple[int, int]:
    ms, _, seq = event.id.partition("-")
    return int(ms), int(seq)


async def events_after(impl: Any, mark: int) -> list[Event]:
    events: list[Event] = await impl.events()
    return events[mark:]


def service_row(snapshot: dict[str, Any], code: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [s for s in snapshot["services"] if s["code"] == code]
    assert len(rows) == 1
    return rows[0]


def window_row(snapshot: dict[str, Any], window: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [w for w in snapshot["windows"] if w["id"] == window]
    assert len(rows) == 1
    return rows[0]


def with_requeue(hall: HallConfig, mode: str) -> HallConfig:
    """The hall whose rule puts late arrivals back in line, ``mode`` saying where ("none": it asks for a new number)."""
    if mode == "none":
        return with_returning(hall, "new_ticket")
    return with_returning(hall, "requeue", requeue=mode)


# -- issue -> call -> recall -> start -> finish ---------------------------------------------------


async def test_issue_call_recall_start_finish(impl: Any, clock: ManualClock) -> None:
    opened = await impl.open_window("1")
    assert opened.state == "idle"
    t0 = now_ms(clock)

    issued = await impl.issue("SOC", channel="kiosk")
    tid = issued.ticket.id
    assert issued.replay is False
    assert issued.ticket.number == "A001"
    assert issued.ticket.status == "waiting"
    assert issued.ticket.tier == policy.TIER_WALK_IN
    assert issued.ticket.channel == "kiosk"
    assert issued.ticket.issued_at == t0
    assert issued.ticket.day == "20261123"
    assert (await impl.ticket(tid)).ticket.status == "waiting"

    clock.advance(30)
    called = await impl.call_next("1")
    assert called is not None
    assert called.id == tid
    assert called.status == "called"
    assert called.window == "1"
    assert called.called_at == t0 + 30_000
    assert called.recalls == 0
    assert (await impl.ticket(tid)).ticket.status == "called"
    w = await impl.window("1")
    assert (w.state, w.ticket) == ("calling", tid)

    clock.advance(20)
    recalled = await impl.recall("1")
    assert recalled.status == "called"
    assert recalled.recalls == 1
    assert (await impl.ticket(tid)).ticket.recalls == 1

    clock.advance(10)
    serving = await impl.start("1")
    assert serving.status == "serving"
    assert serving.serving_at == t0 + 60_000
    assert (await impl.ticket(tid)).ticket.status == "serving"
    w = await impl.window("1")
    assert (w.state, w.ticket) == ("serving", tid)

    clock.advance(300)
    done = await impl.finish("1", "consult")
    assert done.status == "done"
    assert done.outcome == "consult"
    assert done.finished_at == t0 + 360_000
    stored = (await impl.ticket(tid)).ticket
    assert (stored.status, stored.outcome, stored.window) == ("done", "consult", "1")
    w = await impl.window("1")
    assert w.state == "idle"
    assert w.ticket is None

    events = await impl.events()
    assert [e.type for e in events] == [
        "window.opened", "ticket.issued", "ticket.called", "ticket.recalled", "ticket.serving", "ticket.finished",
    ]
    assert [event_order(e) for e in events] == sorted({event_order(e) for e in events})
    assert [e.at for e in events] == [t0, t0, t0 + 30_000, t0 + 50_000, t0 + 60_000, t0 + 360_000]
    opened_e, issued_e, called_e, recalled_e, serving_e, finished_e = (e.data for e in events)
    assert opened_e["window"] == "1"
    assert {k: issued_e[k] for k in ("ticket", "number", "service", "tier", "channel")} == {
        "ticket": tid, "number": "A001", "service": "SOC", "tier": policy.TIER_WALK_IN, "channel": "kiosk",
    }
    for e in (called_e, recalled_e, serving_e, finished_e):
        assert (e["ticket"], e["number"], e["service"], e["window"]) == (tid, "A001", "SOC", "1")
    assert recalled_e["recalls"] == 1
    assert finished_e["outcome"] == "consult"
    assert finished_e["handling_ms"] == 300_000


async def test_finish_without_start_measures_from_the_call(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.issue("SOC")
    await impl.call_next("1")
    clock.advance(90)
    done = await impl.finish("1", "pickup")
    assert (done.status, done.outcome) == ("done", "pickup")
    last = (await impl.events())[-1]
    assert last.type == "ticket.finished"
    assert last.data["handling_ms"] == 90_000


async def test_finish_teaches_the_wait_estimate(impl: Any, clock: ManualClock) -> None:
    """SOC starts at 480 s; one 300 s case at alpha 0.2 makes it 0.2*300 + 0.8*480 = 444 s. A newcomer waits for
    the one window only while it is busy: one case of the estimate then, none while it stands idle."""
    await impl.open_window("1")
    assert service_row(await impl.snapshot(), "SOC")["estimated_wait_s"] == 0
    await impl.issue("SOC")
    await impl.call_next("1")
    assert service_row(await impl.snapshot(), "SOC")["estimated_wait_s"] == 480
    await impl.start("1")
    clock.advance(300)
    await impl.finish("1")
    assert service_row(await impl.snapshot(), "SOC")["estimated_wait_s"] == 0
    await impl.issue("SOC")
    await impl.call_next("1")
    assert service_row(await impl.snapshot(), "SOC")["estimated_wait_s"] == 444


# -- no-show, late arrival, requeue -----------------------------------------------------------------


async def test_no_show_then_window_serves_late_arrival_directly(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    ids = []
    for _ in range(4):
        ids.append((await impl.issue("SOC")).ticket.id)
        clock.advance(1)
    for tid in ids:
        called = await impl.call_next("1")
        assert called is not None
        assert called.id == tid
        clock.advance(60)
        missed = await mark_no_show(impl, "1")
        assert missed.status == "missed"
        assert (await impl.ticket(tid)).ticket.status == "missed"
    w = await impl.window("1")
    assert w.state == "idle"
    assert w.misses == [ids[3], ids[2], ids[1]]  # the latest three, newest first
    missed_events = [e for e in await impl.events() if e.type == "ticket.missed"]
    assert [e.data["ticket"] for e in missed_events] == ids
    assert all(e.data["window"] == "1" for e in missed_events)

    # The fourth-latest miss is too old to serve directly.
    with pytest.raises(errors.TicketNotWaiting) as refused:
        await impl.call_ticket("1", ids[0], "came back late")
    assert refused.value.code == "ticket_not_waiting"

    clock.advance(30)
    late = await impl.call_ticket("1", ids[1], "came back late")
    assert late.id == ids[1]
    assert late.status == "called"
    assert late.window == "1"
    assert late.finished_at is None
    assert (await impl.window("1")).misses == [ids[3], ids[2]]
    last = (await impl.events())[-1]
    assert (last.type, last.data["ticket"], last.data["reason"]) == ("ticket.called", ids[1], "came back late")
    await impl.start("1")
    done = await impl.finish("1")
    assert done.status == "done"


async def test_late_arrival_keeps_duplicate_guard_when_served_directly(impl: Any) -> None:
    await impl.open_window("1")
    tid = (await impl.issue("SOC", person="p-1")).ticket.id
    await impl.call_next("1")
    await mark_no_show(impl, "1")
    await impl.call_ticket("1", tid, "came back")
    with pytest.raises(errors.DuplicateTicket):
        await impl.issue("SOC", person="p-1")


async def test_a_ticket_missed_twice_at_one_window_is_remembered_once(
    build: Build, demo_hall: HallConfig, clock: ManualClock
) -> None:
    """Missed, requeued, missed again at the same window: one place in its misses, the newest, so the window's list
    names it once and the engine and the model agree on what the window still remembers."""
    impl = await build(with_requeue(demo_hall, "original"))
    await impl.open_window("1")
    twice = (await impl.issue("SOC")).ticket.id
    clock.advance(1)
    other = (await impl.issue("SOC")).ticket.id
    await impl.call_next("1")
    await mark_no_show(impl, "1")
    await impl.call_next("1")
    await mark_no_show(impl, "1")
    assert (await impl.window("1")).misses == [other, twice]
    await impl.requeue(twice)
    await impl.call_next("1")
    await mark_no_show(impl, "1")
    assert (await impl.window("1")).misses == [twice, other]
    assert (await impl.requeue(twice)).status == "waiting"


@pytest.mark.parametrize("mode", ["original", "end"])
async def test_requeue_puts_late_arrival_back_by_policy(
    build: Build, demo_hall: HallConfig, clock: ManualClock, mode: str
) -> None:
    impl = await build(with_requeue(demo_hall, mode))
    await impl.open_window("1")
    ids = []
    for _ in range(3):
        ids.append((await impl.issue("SOC")).ticket.id)
        clock.advance(10)
    original_score = (await impl.ticket(ids[0])).ticket.score
    called = await impl.call_next("1")
    assert called is not None
    assert called.id == ids[0]
    await mark_no_show(impl, "1")
    clock.advance(120)
    mark = len(await impl.events())

    back = await impl.requeue(ids[0])
    assert back.status == "waiting"
    assert back.number == "A001"
    assert back.queue == "q:SOC"
    assert back.window is None
    assert back.finished_at is None
    status = await impl.ticket(ids[0])
    if mode == "original":
        assert back.score == original_score
        assert status.ahead == 0
        expected = [ids[0], ids[1], ids[2]]
    else:
        assert back.tier == policy.TIER_WALK_IN
        assert back.score == policy.score(policy.TIER_WALK_IN, now_ms(clock))
        assert status.ahead == 2
        expected = [ids[1], ids[2], ids[0]]
    new = await events_after(impl, mark)
    assert [e.type for e in new] == ["ticket.requeued"]
    assert (new[0].data["ticket"], new[0].data["number"]) == (ids[0], "A001")
    order = []
    for _ in range(3):
        t = await impl.call_next("1")
        assert t is not None
        order.append(t.id)
        await impl.finish("1")
    assert order == expected


async def test_the_demo_serves_late_arrivals_at_their_window_and_puts_none_back_in_line(
    impl: Any, clock: ManualClock
) -> None:
    """The demo hall's rule (returning = serve): the window that called a no-show serves them when they come back;
    nobody puts them back in line, so a guide's requeue is refused with the rule in its sentence."""
    assert impl.hall.policy.returning == "serve"
    await impl.open_window("1")
    first = (await impl.issue("SOC")).ticket.id
    clock.advance(10)
    await impl.issue("SOC")
    await impl.call_next("1")
    await mark_no_show(impl, "1")
    clock.advance(300)
    with pytest.raises(errors.RequeueNotAllowed) as refused:
        await impl.requeue(first)
    assert refused.value.details == {"number": "A001", "why": "serve"}
    assert "叫号窗口直接办理" in refused.value.message("zh")
    assert (await impl.ticket(first)).ticket.status == "missed"
    assert (await impl.call_ticket("1", first, "came back late")).status == "called"


@pytest.mark.parametrize("returning", ["requeue", "new_ticket"])
async def test_a_rule_that_does_not_serve_late_arrivals_refuses_to_call_them_back(
    build: Build, demo_hall: HallConfig, returning: str
) -> None:
    """The window still lists its no-shows (its console offers what the rule says), but calling one back directly
    is refused with what the rule asks instead."""
    impl = await build(with_returning(demo_hall, returning))
    await impl.open_window("1")
    tid = (await impl.issue("SOC")).ticket.id
    await impl.call_next("1")
    await mark_no_show(impl, "1")
    assert (await impl.window("1")).misses == [tid]
    before = len(await impl.events())
    with pytest.raises(errors.NoShowNotServed) as refused:
        await impl.call_ticket("1", tid, "came back late")
    assert (refused.value.code, refused.value.status) == ("no_show_not_served", 409)
    assert refused.value.details == {"number": "A001", "returning": returning}
    assert ("重新排队" if returning == "requeue" else "重新取号") in refused.value.message("zh")
    assert len(await impl.events()) == before
    assert (await impl.window("1")).misses == [tid]


async def test_requeue_none_refuses_and_late_arrival_takes_new_number(
    build: Build, demo_hall: HallConfig, clock: ManualClock
) -> None:
    impl = await build(with_requeue(demo_hall, "none"))
    await impl.open_window("1")
    tid = (await impl.issue("SOC", person="p-1")).ticket.id
    await impl.call_next("1")
    await mark_no_show(impl, "1")
    before = len(await impl.events())
    with pytest.raises(errors.RequeueNotAllowed) as refused:
        await impl.requeue(tid)
    assert refused.value.code == "requeue_not_allowed"
    assert len(await impl.events()) == before
    assert (await impl.ticket(tid)).ticket.status == "missed"
    again = await impl.issue("SOC", person="p-1")
    assert again.ticket.number == "A002"


# -- windows ----------------------------------------------------------------------------------------


async def test_pause_and_resume_with_reason(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    clock.advance(60)
    paused = await impl.pause("1", "午休")
    assert paused.state == "paused"
    assert paused.reason == "午休"
    assert paused.since == now_ms(clock)
    snap = await impl.snapshot()
    assert window_row(snap, "1")["state"] == "paused"
    assert window_row(snap, "1")["reason"] == "午休"
    # A paused window is still open: its services can be issued and count it.
    assert service_row(snap, "SOC")["able_windows"] == 1
    tid = (await impl.issue("SOC")).ticket.id
    with pytest.raises(errors.WindowPaused):
        await impl.call_next("1")
    clock.advance(600)
    resumed = await impl.resume("1")
    assert resumed.state == "idle"
    assert resumed.reason is None
    assert resumed.since == now_ms(clock)
    assert "reason" not in window_row(await impl.snapshot(), "1")
    events = await impl.events()
    assert [e.type for e in events] == ["window.opened", "window.paused", "ticket.issued", "window.resumed"]
    assert events[1].data["reason"] == "午休"
    assert events[1].data["window"] == "1"
    got = await impl.call_next("1")
    assert got is not None
    assert got.id == tid


async def test_close_refused_while_busy_then_allowed(impl: Any) -> None:
    await impl.open_window("1")
    await impl.issue("SOC")
    await impl.call_next("1")
    await impl.start("1")
    with pytest.raises(errors.WindowBusy) as refused:
        await impl.close_window("1")
    assert refused.value.details["number"] == "A001"
    assert (await impl.window("1")).state == "serving"
    await impl.finish("1")
    closed = await impl.close_window("1")
    assert closed.state == "closed"
    assert service_row(await impl.snapshot(), "SOC")["able_windows"] == 0
    assert (await impl.events())[-1].type == "window.closed"


async def test_open_and_close_count_able_windows(impl: Any) -> None:
    await impl.open_window("1")
    await impl.open_window("9")
    snap = await impl.snapshot()
    assert service_row(snap, "SOC")["able_windows"] == 1
    assert service_row(snap, "PROP")["able_windows"] == 1
    await impl.open_window("8")
    snap = await impl.snapshot()
    assert service_row(snap, "SOC")["able_windows"] == 2
    assert service_row(snap, "PROP")["able_windows"] == 2
    await impl.close_window("1")
    snap = await impl.snapshot()
    assert service_row(snap, "SOC")["able_windows"] == 1
    assert service_row(snap, "INFO")["able_windows"] == 1


async def test_set_services_is_an_event_and_moves_able_counts(impl: Any) -> None:
    await impl.open_window("9")
    state = await impl.set_services("9", ["PROP", "TAX"], ["TAX"])
    assert (state.services, state.primary) == (["PROP", "TAX"], ["TAX"])
    assert (await impl.window("9")).services == ["PROP", "TAX"]
    snap = await impl.snapshot()
    assert service_row(snap, "TAX")["able_windows"] == 1
    assert window_row(snap, "9")["primary"] == ["TAX"]
    last = (await impl.events())[-1]
    assert (last.type, last.data["window"], last.data["services"], last.data["primary"]) == (
        "window.services_changed", "9", ["PROP", "TAX"], ["TAX"],
    )
    await impl.set_services("9", ["PROP"], ["PROP"])
    assert service_row(await impl.snapshot(), "TAX")["able_windows"] == 0


async def test_set_services_on_closed_window_takes_effect_when_it_opens(impl: Any) -> None:
    await impl.set_services("10", ["FUND"], ["FUND"])
    snap = await impl.snapshot()
    assert service_row(snap, "FUND")["able_windows"] == 0
    assert window_row(snap, "10")["state"] == "closed"
    await impl.open_window("10")
    snap = await impl.snapshot()
    assert service_row(snap, "FUND")["able_windows"] == 1
    assert service_row(snap, "PROP")["able_windows"] == 0
    await impl.close_window("10")
    assert service_row(await impl.snapshot(), "FUND")["able_windows"] == 0


# -- transfer -----------------------------------------------------------------------------------------


async def test_transfer_to_service_keeps_number_and_waits_in_new_queue(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.open_window("5")
    tid = (await impl.issue("SOC")).ticket.id
    await impl.call_next("1")
    await impl.start("1")
    clock.advance(120)
    moved = await impl.transfer("1", to_service="TAX", reason="需先办税务")
    assert moved.id == tid
    assert moved.number == "A001"
    assert moved.service == "TAX"
    assert moved.status == "waiting"
    assert moved.queue == "q:TAX"
    assert moved.tier == policy.TIER_TRANSFERRED
    assert moved.window is None
    w = await impl.window("1")
    assert (w.state, w.ticket) == ("idle", None)
    status = await impl.ticket(tid)
    assert status.ticket.service == "TAX"
    assert status.ahead == 0
    snap = await impl.snapshot()
    assert service_row(snap, "SOC")["waiting"] == 0
    assert service_row(snap, "TAX")["waiting"] == 1
    last = (await impl.events())[-1]
    assert last.type == "ticket.transferred"
    assert {k: last.data.get(k) for k in ("ticket", "number", "service", "from_service", "from_window", "reason",
                                            "to_window")} == {
        "ticket": tid, "number": "A001", "service": "TAX", "from_service": "SOC", "from_window": "1",
        "reason": "需先办税务", "to_window": None,
    }
    # A transfer takes no TAX number, and the TAX window calls the transferred ticket.
    assert (await impl.issue("TAX")).ticket.number == "D001"
    got = await impl.call_next("5")
    assert got is not None
    assert (got.id, got.number, got.service) == (tid, "A001", "TAX")


async def test_transfer_to_window_records_target(impl: Any) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    tid = (await impl.issue("SOC")).ticket.id
    await impl.call_next("1")
    moved = await impl.transfer("1", to_window="2", reason="专人办理")
    assert (moved.status, moved.queue, moved.service, moved.number) == ("waiting", "wq:2", "SOC", "A001")
    last = (await impl.events())[-1]
    assert (last.type, last.data["to_window"], last.data["from_window"]) == ("ticket.transferred", "2", "1")
    assert service_row(await impl.snapshot(), "SOC")["waiting"] == 1
    assert (await impl.ticket(tid)).ahead == 0


async def test_transfer_moves_the_duplicate_guard_to_the_new_service(impl: Any) -> None:
    await impl.open_window("1")
    await impl.issue("SOC", person="p-1")
    await impl.call_next("1")
    await impl.transfer("1", to_service="TAX", reason="税务")
    with pytest.raises(errors.DuplicateTicket) as refused:
        await impl.issue("TAX", person="p-1")
    assert refused.value.details["number"] == "A001"
    assert (await impl.issue("SOC", person="p-1")).ticket.number == "A002"


# -- idempotency, cancel, pin -------------------------------------------------------------------------


async def test_idempotency_key_returns_same_ticket_without_new_number(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    first = await impl.issue("SOC", idempotency_key="kiosk-7-req-1")
    mark = len(await impl.events())
    clock.advance(5)
    again = await impl.issue("SOC", idempotency_key="kiosk-7-req-1")
    assert again.replay is True
    assert again.ticket.id == first.ticket.id
    assert again.ticket.number == "A001"
    assert again.ahead == 0
    assert len(await impl.events()) == mark
    assert service_row(await impl.snapshot(), "SOC")["waiting"] == 1
    assert (await impl.issue("SOC", idempotency_key="kiosk-7-req-2")).ticket.number == "A002"
    assert (await impl.issue("SOC")).ticket.number == "A003"


async def test_idempotency_replay_after_call_returns_current_state(impl: Any) -> None:
    await impl.open_window("1")
    first = await impl.issue("SOC", idempotency_key="k")
    await impl.call_next("1")
    again = await impl.issue("SOC", idempotency_key="k")
    assert again.replay is True
    assert again.ticket.id == first.ticket.id
    assert again.ticket.status == "called"
    assert again.ahead is None


async def test_cancel_withdraws_a_waiting_ticket(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    tid = (await impl.issue("SOC", person="p-1")).ticket.id
    clock.advance(45)
    cancelled = await impl.cancel(tid)
    assert cancelled.status == "cancelled"
    assert cancelled.finished_at == now_ms(clock)
    assert (await impl.ticket(tid)).ticket.status == "cancelled"
    assert service_row(await impl.snapshot(), "SOC")["waiting"] == 0
    assert await impl.call_next("1") is None
    last = (await impl.events())[-1]
    assert (last.type, last.data["ticket"], last.data["number"]) == ("ticket.cancelled", tid, "A001")
    assert (await impl.issue("SOC", person="p-1")).ticket.number == "A002"


async def test_pin_moves_ticket_to_front_of_its_queue(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    ids = []
    for _ in range(3):
        ids.append((await impl.issue("SOC")).ticket.id)
        clock.advance(10)
    pinned = await impl.pin(ids[2], "投诉件优先")
    assert pinned.pinned == "投诉件优先"
    assert pinned.tier == policy.TIER_PINNED
    assert pinned.status == "waiting"
    assert (await impl.ticket(ids[2])).ahead == 0
    assert (await impl.ticket(ids[0])).ahead == 1
    last = (await impl.events())[-1]
    assert (last.type, last.data["ticket"], last.data["reason"]) == ("ticket.pinned", ids[2], "投诉件优先")
    order = []
    for _ in range(3):
        t = await impl.call_next("1")
        assert t is not None
        order.append(t.id)
        await impl.finish("1")
    assert order == [ids[2], ids[0], ids[1]]


async def test_pin_leaves_vip_in_its_place(impl: Any) -> None:
    await impl.open_window("1")
    vip = await impl.issue("SOC", priority="vip")
    pinned = await impl.pin(vip.ticket.id, "manager")
    assert pinned.tier == policy.TIER_VIP
    assert pinned.pinned == "manager"
    assert pinned.score == vip.ticket.score


# -- end of day -------------------------------------------------------------------------------------


async def test_end_day_closes_everything(impl: Any, clock: ManualClock) -> None:
    for w in ("1", "2", "3", "4"):
        await impl.open_window(w)
    ids: list[str] = []
    for _ in range(5):
        ids.append((await impl.issue("SOC", person=f"p-{len(ids)}")).ticket.id)
        clock.advance(1)
    await impl.call_next("1")  # ids[0], then done
    await impl.finish("1")
    await impl.call_next("1")  # ids[1], serving
    await impl.start("1")
    await impl.call_next("2")  # ids[2], called
    await impl.call_next("4")  # ids[3], sent on to window 2's own queue
    await impl.transfer("4", to_window="2", reason="specialist")
    await impl.pause("3", "meeting")  # ids[4] still waits in the SOC queue
    assert [(await impl.ticket(t)).ticket.queue for t in ids[3:]] == ["wq:2", "q:SOC"]
    clock.set(datetime(2026, 11, 23, 17, 40, tzinfo=SHANGHAI))
    mark = len(await impl.events())

    summary = await impl.end_day()
    assert summary == {"day": "20261123", "missed": 3, "finished": 1}
    statuses = {tid: (await impl.ticket(tid)).ticket for tid in ids}
    assert (statuses[ids[0]].status, statuses[ids[0]].outcome) == ("done", "done")
    assert (statuses[ids[1]].status, statuses[ids[1]].outcome) == ("done", "other")
    assert [statuses[t].status for t in ids[2:]] == ["missed", "missed", "missed"]
    assert all(statuses[t].queue is None for t in ids)
    assert all(statuses[t].finished_at == now_ms(clock) for t in ids[1:])
    for w in ("1", "2", "3", "4"):
        state = await impl.window(w)
        assert state.state == "closed"
        assert state.ticket is None
        assert state.reason is None
        assert state.misses == []
    snap = await impl.snapshot()
    assert all(s["waiting"] == 0 and s["able_windows"] == 0 for s in snap["services"])
    assert all(w["state"] == "closed" for w in snap["windows"])

    new = await events_after(impl, mark)
    assert Counter(e.type for e in new) == Counter(
        {"ticket.missed": 3, "ticket.finished": 1, "window.closed": 4, "day.closed": 1}
    )
    assert new[-1].type == "day.closed"
    assert all(e.data.get("reason") == "end_of_day" for e in new[:-1])
    finished = next(e for e in new if e.type == "ticket.finished")
    assert (finished.data["ticket"], finished.data["outcome"]) == (ids[1], "other")
    assert {e.data["window"] for e in new if e.type == "window.closed"} == {"1", "2", "3", "4"}

    # The next business day starts again at 001, and yesterday's holders may take numbers.
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI))
    tuesday = await impl.issue("SOC", person="p-3")
    assert tuesday.ticket.number == "A001"
    assert tuesday.ticket.day == "20261124"
    # Nothing of Monday is left in any queue: window 2 opens and finds only Tuesday's ticket.
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI))
    await impl.open_window("2")
    got = await impl.call_next("2")
    assert got is not None
    assert got.id == tuesday.ticket.id
    assert service_row(await impl.snapshot(), "SOC")["waiting"] == 0


async def test_end_day_leaves_next_days_tickets_alone(impl: Any, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI))
    early = (await impl.issue("SOC")).ticket.id
    summary = await impl.end_day("20261123")
    assert summary == {"day": "20261123", "missed": 0, "finished": 0}
    status = await impl.ticket(early)
    assert status.ticket.status == "waiting"
    assert status.ahead == 0


# -- reads --------------------------------------------------------------------------------------------


async def test_snapshot_fields(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    await impl.open_window("9")
    for _ in range(3):
        await impl.issue("SOC")
        clock.advance(100)
    await impl.issue("TAX")
    clock.advance(200)
    snap = await impl.snapshot()
    assert [s["code"] for s in snap["services"]] == [
        "SOC", "HUK", "PROP", "TAX", "FUND", "BIZ", "INFO", "FOOD", "RESTO"]
    soc = service_row(snap, "SOC")
    # A newcomer has the 3 waiting ahead; windows 1 and 2 stand idle and take two of them at once, so the newcomer
    # waits for 2 of 480 s each, shared by the 2 windows.
    assert soc == {"code": "SOC", "waiting": 3, "longest_wait_s": 500, "estimated_wait_s": 480, "able_windows": 2}
    tax = service_row(snap, "TAX")
    # 1 waiting, 2 idle windows: the newcomer is called at once too.
    assert (tax["waiting"], tax["longest_wait_s"], tax["estimated_wait_s"]) == (1, 200, 0)
    prop = service_row(snap, "PROP")
    assert (prop["waiting"], prop["longest_wait_s"], prop["able_windows"], prop["estimated_wait_s"]) == (0, 0, 1, 0)
    assert [w["id"] for w in snap["windows"]] == [str(i) for i in range(1, 13)]
    assert [w["state"] for w in snap["windows"]][:3] == ["idle", "idle", "closed"]
    assert window_row(snap, "9")["state"] == "idle"
    assert window_row(snap, "12")["services"] == ["INFO", "SOC", "HUK"]
    assert window_row(snap, "12")["primary"] == ["INFO"]
    assert snap["recent_calls"] == []
    assert snap["event_id"] == (await impl.events())[-1].id

    called = await impl.call_next("1")
    assert called is not None
    snap = await impl.snapshot()
    row = window_row(snap, "1")
    assert (row["state"], row["ticket"], row["ticket_id"]) == ("calling", "A001", called.id)
    assert service_row(snap, "SOC")["waiting"] == 2
    assert service_row(snap, "SOC")["longest_wait_s"] == 400
    assert service_row(snap, "SOC")["estimated_wait_s"] == 480  # 2 ahead, window 2 idle: (2 + 1 - 1) x 480 / 2
    assert snap["recent_calls"] == [{"ticket": called.id, "number": "A001", "window": "1", "at": now_ms(clock)}]


async def test_snapshot_recent_calls_newest_first_capped_at_ten(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.open_window("12")
    numbers = []
    for i in range(12):
        await impl.issue("SOC")
        window = "1" if i % 2 == 0 else "12"
        t = await impl.call_next(window)
        assert t is not None
        numbers.append((t.number, window, now_ms(clock)))
        await impl.finish(window)
        clock.advance(30)
    calls = (await impl.snapshot())["recent_calls"]
    assert len(calls) == 10
    assert [(c["number"], c["window"], c["at"]) for c in calls] == list(reversed(numbers))[:10]
    assert calls[0]["number"] == "A012"


async def test_ticket_gives_ahead_and_estimated_wait_while_waiting(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    issued = []
    for _ in range(3):
        issued.append(await impl.issue("SOC"))
        clock.advance(1)
    # At issue: position and estimate as they were then (480 s a case, 2 windows, both idle: the first two are
    # called at once, the third waits for one case shared by the 2 windows).
    assert [(i.ahead, i.estimated_wait_s) for i in issued] == [(0, 0), (1, 0), (2, 240)]
    statuses = [await impl.ticket(i.ticket.id) for i in issued]
    assert [(s.ahead, s.estimated_wait_s) for s in statuses] == [(0, 0), (1, 0), (2, 240)]
    await impl.call_next("1")
    first, second, third = [await impl.ticket(i.ticket.id) for i in issued]
    assert (first.ticket.status, first.ahead, first.estimated_wait_s) == ("called", None, None)
    assert (second.ahead, second.estimated_wait_s) == (0, 0)  # window 2 is still idle
    assert (third.ahead, third.estimated_wait_s) == (1, 240)
    await impl.close_window("2")
    assert (await impl.ticket(issued[2].ticket.id)).estimated_wait_s == 960  # one window left
