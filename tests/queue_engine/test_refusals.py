"""Every refusal, on the model and on the engine: the right exception and code, a message a person can act
on (in English and in Chinese), and nothing changed: events, snapshot, windows and the tickets involved."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, cast

import pytest

from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from tests.conftest import SHANGHAI
from tests.queue_engine.conftest import Build, mark_no_show, with_returning

WINDOWS = [str(i) for i in range(1, 13)]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


async def fingerprint(impl: Any, tickets: Sequence[str] = ()) -> tuple[Any, ...]:
    """Everything a refusal must leave alone."""
    events = await impl.events()
    snapshot = await impl.snapshot()
    windows = [await impl.window(w) for w in WINDOWS]
    statuses = [await impl.ticket(t) for t in tickets]
    return [(e.id, e.type) for e in events], snapshot, windows, statuses


def assert_actionable(exc: errors.DomainError) -> None:
    en, zh = str(exc), exc.message("zh")
    assert en.strip(), "the English message is empty"
    assert "{" not in en, f"unfilled template: {en!r}"
    assert en == exc.message("en")
    assert zh.strip(), "the Chinese message is empty"
    assert "{" not in zh, f"unfilled template: {zh!r}"
    assert CHINESE.search(zh), f"the Chinese message has no Chinese in it: {zh!r}"


async def assert_refused(
    impl: Any,
    action: Callable[[], Awaitable[Any]],
    error: type[errors.DomainError],
    code: str,
    *,
    tickets: Sequence[str] = (),
) -> errors.DomainError:
    before = await fingerprint(impl, tickets)
    with pytest.raises(errors.DomainError) as info:
        await action()
    exc = info.value
    assert type(exc) is error, f"expected {error.__name__}, got {type(exc).__name__}: {exc}"
    assert exc.code == code
    after = await fingerprint(impl, tickets)
    assert after == before, "a refused operation changed the hall"
    assert_actionable(exc)
    return exc


async def called_ticket(impl: Any, window: str, service: str = "SOC", **issue: Any) -> str:
    """Issue a ticket and have ``window`` call it; its id."""
    issued = await impl.issue(service, **issue)
    called = await impl.call_ticket(window, issued.ticket.id, "test set-up")
    assert called.status == "called"
    return str(called.id)


# -- unknown things ---------------------------------------------------------------------------------


async def test_issue_for_unknown_service_refused(impl: Any) -> None:
    await impl.open_window("1")
    exc = await assert_refused(impl, lambda: impl.issue("NOPE"), errors.UnknownService, "unknown_service")
    assert exc.details["service"] == "NOPE"
    assert "NOPE" in str(exc)
    assert (await impl.issue("SOC")).ticket.number == "A001"


async def test_transfer_to_unknown_service_refused(impl: Any) -> None:
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    await assert_refused(
        impl, lambda: impl.transfer("1", to_service="NOPE"), errors.UnknownService, "unknown_service", tickets=[tid]
    )


@pytest.mark.parametrize(
    "operation",
    ["open_window", "close_window", "call_next", "recall", "start", "finish", "no_show", "resume", "window"],
)
async def test_unknown_window_refused(impl: Any, operation: str) -> None:
    await impl.open_window("1")
    exc = await assert_refused(impl, lambda: getattr(impl, operation)("99"), errors.UnknownWindow, "unknown_window")
    assert exc.details["window"] == "99"


async def test_unknown_window_refused_for_pause_transfer_and_set_services(impl: Any) -> None:
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    await assert_refused(impl, lambda: impl.pause("99", "lunch"), errors.UnknownWindow, "unknown_window")
    await assert_refused(impl, lambda: impl.set_services("99", ["SOC"]), errors.UnknownWindow, "unknown_window")
    await assert_refused(
        impl, lambda: impl.transfer("1", to_window="99"), errors.UnknownWindow, "unknown_window", tickets=[tid]
    )


@pytest.mark.parametrize("operation", ["ticket", "cancel", "pin", "requeue", "call_ticket"])
async def test_unknown_ticket_refused(impl: Any, operation: str) -> None:
    await impl.open_window("1")
    await impl.issue("SOC")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "ticket": lambda: impl.ticket("20261123-000000000000"),
        "cancel": lambda: impl.cancel("20261123-000000000000"),
        "pin": lambda: impl.pin("20261123-000000000000", "manager"),
        "requeue": lambda: impl.requeue("20261123-000000000000"),
        "call_ticket": lambda: impl.call_ticket("1", "20261123-000000000000", "late"),
    }
    exc = await assert_refused(impl, calls[operation], errors.UnknownTicket, "unknown_ticket")
    assert exc.details["ticket"] == "20261123-000000000000"


# -- issuing --------------------------------------------------------------------------------------


async def test_duplicate_waiting_ticket_for_same_person_and_service_refused(impl: Any) -> None:
    await impl.open_window("1")
    first = await impl.issue("SOC", person="id-hash-1")
    exc = await assert_refused(
        impl, lambda: impl.issue("SOC", person="id-hash-1"), errors.DuplicateTicket, "duplicate_ticket",
        tickets=[first.ticket.id],
    )
    assert exc.details["number"] == "A001"
    assert "A001" in str(exc)
    assert "A001" in exc.message("zh")
    # The refusal took no number; another person and another service are fine.
    assert (await impl.issue("SOC", person="id-hash-2")).ticket.number == "A002"
    assert (await impl.issue("TAX", person="id-hash-1")).ticket.number == "D001"


async def test_duplicate_refused_while_called(impl: Any) -> None:
    """A ticket that has been called but not finished is still that person's live ticket."""
    await impl.open_window("1")
    tid = await called_ticket(impl, "1", person="id-hash-1")
    await assert_refused(
        impl, lambda: impl.issue("SOC", person="id-hash-1"), errors.DuplicateTicket, "duplicate_ticket", tickets=[tid]
    )


@pytest.mark.parametrize("ending", ["finish", "cancel", "no_show"])
async def test_same_person_may_take_new_ticket_after_the_old_one_ends(impl: Any, ending: str) -> None:
    await impl.open_window("1")
    first = await impl.issue("SOC", person="id-hash-1")
    if ending == "cancel":
        await impl.cancel(first.ticket.id)
    else:
        await impl.call_next("1")
        await (mark_no_show(impl, "1") if ending == "no_show" else impl.finish("1"))
    again = await impl.issue("SOC", person="id-hash-1")
    assert again.replay is False
    assert again.ticket.id != first.ticket.id
    assert again.ticket.number == "A002"
    assert again.ticket.status == "waiting"


async def test_issue_refused_when_no_open_window_for_service(impl: Any, clock: ManualClock) -> None:
    """09:00 Monday: the hall is open (08:30-12:00) but no window is open for SOC: 请前往人工导引台咨询."""
    exc = await assert_refused(impl, lambda: impl.issue("SOC"), errors.NoWindowForService, "no_window_for_service")
    assert exc.details["service"] == "SOC"
    assert "导引台" in exc.message("zh")


async def test_issue_refused_when_only_other_services_have_open_windows(impl: Any, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=SHANGHAI))
    await impl.open_window("9")  # PROP only
    await assert_refused(impl, lambda: impl.issue("SOC"), errors.NoWindowForService, "no_window_for_service")
    assert (await impl.issue("PROP")).ticket.number == "C001"


async def test_issue_refused_when_no_open_window_in_afternoon_session(impl: Any, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=SHANGHAI))
    await assert_refused(impl, lambda: impl.issue("TAX"), errors.NoWindowForService, "no_window_for_service")


async def test_issue_refused_after_closing_time_without_open_window(impl: Any, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 23, 18, 30, tzinfo=SHANGHAI))
    await assert_refused(impl, lambda: impl.issue("SOC"), errors.NoWindowForService, "no_window_for_service")


async def test_issue_refused_after_last_window_for_service_closes(impl: Any, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=SHANGHAI))
    await impl.open_window("9")
    assert (await impl.issue("PROP")).ticket.number == "C001"
    await impl.close_window("9")
    await assert_refused(impl, lambda: impl.issue("PROP"), errors.NoWindowForService, "no_window_for_service")


@pytest.mark.parametrize(
    "when",
    [datetime(2026, 11, 23, 12, 30, tzinfo=SHANGHAI), datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI)],
    ids=["lunch-12:30", "before-opening-08:00"],
)
async def test_issue_allowed_without_open_window_before_a_session(
    impl: Any, clock: ManualClock, when: datetime
) -> None:
    clock.set(when)
    issued = await impl.issue("SOC")
    assert issued.ticket.number == "A001"
    assert issued.ticket.status == "waiting"
    assert issued.ticket.day == when.strftime("%Y%m%d")
    assert issued.ahead == 0


@pytest.mark.parametrize("channel", ["fax", "GUIDE"])
async def test_issue_with_bad_channel_refused(impl: Any, channel: str) -> None:
    await impl.open_window("1")
    await assert_refused(impl, lambda: impl.issue("SOC", channel=channel), errors.InvalidRequest, "invalid_request")
    assert (await impl.issue("SOC")).ticket.number == "A001"


@pytest.mark.parametrize("priority", ["gold", "pinned"])
async def test_issue_with_bad_priority_refused(impl: Any, priority: str) -> None:
    await impl.open_window("1")
    await assert_refused(impl, lambda: impl.issue("SOC", priority=priority), errors.InvalidRequest, "invalid_request")
    assert (await impl.issue("SOC")).ticket.number == "A001"


# -- calling --------------------------------------------------------------------------------------


async def test_call_next_on_closed_window_refused(impl: Any) -> None:
    await impl.open_window("1")
    await impl.issue("SOC")
    exc = await assert_refused(impl, lambda: impl.call_next("2"), errors.WindowClosed, "window_closed")
    assert exc.details["window"] == "2"


async def test_call_next_on_paused_window_refused(impl: Any) -> None:
    await impl.open_window("1")
    await impl.issue("SOC")
    await impl.pause("1", "break")
    await assert_refused(impl, lambda: impl.call_next("1"), errors.WindowPaused, "window_paused")


@pytest.mark.parametrize("state", ["calling", "serving"])
async def test_call_next_on_busy_window_refused(impl: Any, state: str) -> None:
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    await impl.issue("SOC")
    if state == "serving":
        await impl.start("1")
    exc = await assert_refused(impl, lambda: impl.call_next("1"), errors.WindowBusy, "window_busy", tickets=[tid])
    assert exc.details["number"] == "A001"


@pytest.mark.parametrize("state", ["calling", "serving", "paused", "closed"])
async def test_call_ticket_on_window_not_ready_refused(impl: Any, state: str) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    waiting = (await impl.issue("SOC")).ticket.id
    expected: dict[str, tuple[type[errors.DomainError], str]] = {
        "calling": (errors.WindowBusy, "window_busy"), "serving": (errors.WindowBusy, "window_busy"),
        "paused": (errors.WindowPaused, "window_paused"), "closed": (errors.WindowClosed, "window_closed"),
    }
    if state in ("calling", "serving"):
        await called_ticket(impl, "1")
        if state == "serving":
            await impl.start("1")
    elif state == "paused":
        await impl.pause("1", "break")
    else:
        await impl.close_window("1")
    error, code = expected[state]
    await assert_refused(impl, lambda: impl.call_ticket("1", waiting, "chosen"), error, code, tickets=[waiting])


@pytest.mark.parametrize("operation", ["start", "finish", "no_show"])
async def test_window_operation_on_idle_window_refused(impl: Any, operation: str) -> None:
    await impl.open_window("1")
    waiting = (await impl.issue("SOC")).ticket.id
    exc = await assert_refused(
        impl, lambda: getattr(impl, operation)("1"), errors.WindowIdle, "window_idle", tickets=[waiting]
    )
    assert exc.details["window"] == "1"


@pytest.mark.parametrize("operation", ["start", "finish", "no_show", "recall"])
async def test_window_operation_on_closed_window_refused(impl: Any, operation: str) -> None:
    await impl.open_window("1")
    await impl.issue("SOC")
    await assert_refused(impl, lambda: getattr(impl, operation)("2"), errors.WindowClosed, "window_closed")


@pytest.mark.parametrize("operation", ["start", "no_show"])
async def test_start_or_no_show_while_serving_refused(impl: Any, operation: str) -> None:
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    await impl.start("1")
    await assert_refused(impl, lambda: getattr(impl, operation)("1"), errors.WindowBusy, "window_busy", tickets=[tid])


async def test_recall_with_nothing_called_refused(impl: Any) -> None:
    await impl.open_window("1")
    await impl.issue("SOC")
    exc = await assert_refused(impl, lambda: impl.recall("1"), errors.NothingToRecall, "nothing_to_recall")
    assert exc.details["window"] == "1"


async def test_recall_while_serving_refused(impl: Any) -> None:
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    await impl.start("1")
    await assert_refused(impl, lambda: impl.recall("1"), errors.NothingToRecall, "nothing_to_recall", tickets=[tid])


async def test_recall_limit_refused(impl: Any) -> None:
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    for n in (1, 2, 3):
        assert (await impl.recall("1")).recalls == n
    exc = await assert_refused(impl, lambda: impl.recall("1"), errors.RecallLimit, "recall_limit", tickets=[tid])
    assert exc.details["recalls"] == 3
    assert exc.details["number"] == "A001"
    # the citizen can still be marked a no-show
    assert (await mark_no_show(impl, "1")).status == "missed"


async def test_call_ticket_not_skilled_for_refused(impl: Any) -> None:
    await impl.open_window("1")
    await impl.open_window("9")
    prop = (await impl.issue("PROP")).ticket.id
    exc = await assert_refused(
        impl, lambda: impl.call_ticket("1", prop, "chosen"), errors.NotForThisWindow, "not_for_this_window",
        tickets=[prop],
    )
    assert exc.details == {"window": "1", "number": "C001"}


@pytest.mark.parametrize("status", ["called", "done", "cancelled"])
async def test_call_ticket_of_non_waiting_ticket_refused(impl: Any, status: str) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    tid = (await impl.issue("SOC")).ticket.id
    if status == "cancelled":
        await impl.cancel(tid)
    else:
        await impl.call_next("2")
        if status == "done":
            await impl.finish("2")
    exc = await assert_refused(
        impl, lambda: impl.call_ticket("1", tid, "chosen"), errors.TicketNotWaiting, "ticket_not_waiting",
        tickets=[tid],
    )
    assert exc.details["status"] == status


async def test_call_ticket_of_another_windows_miss_refused(impl: Any) -> None:
    """Only the window that marked the no-show may serve the late arrival directly."""
    await impl.open_window("1")
    await impl.open_window("2")
    tid = await called_ticket(impl, "2")
    await mark_no_show(impl, "2")
    exc = await assert_refused(
        impl, lambda: impl.call_ticket("1", tid, "late"), errors.TicketNotWaiting, "ticket_not_waiting",
        tickets=[tid],
    )
    assert exc.details["status"] == "missed"


# -- managing tickets -------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["cancel", "pin"])
@pytest.mark.parametrize("status", ["called", "serving", "done", "missed", "cancelled"])
async def test_cancel_or_pin_of_non_waiting_ticket_refused(impl: Any, operation: str, status: str) -> None:
    await impl.open_window("1")
    tid = (await impl.issue("SOC")).ticket.id
    if status == "cancelled":
        await impl.cancel(tid)
    else:
        await impl.call_next("1")
        if status == "serving":
            await impl.start("1")
        elif status == "done":
            await impl.finish("1")
        elif status == "missed":
            await mark_no_show(impl, "1")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "cancel": lambda: impl.cancel(tid), "pin": lambda: impl.pin(tid, "manager"),
    }
    exc = await assert_refused(impl, calls[operation], errors.TicketNotWaiting, "ticket_not_waiting", tickets=[tid])
    assert exc.details == {"number": "A001", "status": status}


@pytest.mark.parametrize("status", ["waiting", "called", "serving", "done", "cancelled"])
async def test_requeue_of_non_missed_ticket_refused(impl: Any, status: str) -> None:
    await impl.open_window("1")
    tid = (await impl.issue("SOC")).ticket.id
    if status == "cancelled":
        await impl.cancel(tid)
    elif status != "waiting":
        await impl.call_next("1")
        if status == "serving":
            await impl.start("1")
        elif status == "done":
            await impl.finish("1")
    exc = await assert_refused(impl, lambda: impl.requeue(tid), errors.TicketNotMissed, "ticket_not_missed",
                               tickets=[tid])
    assert exc.details["status"] == status


async def test_requeue_on_another_day_refused(build: Build, demo_hall: HallConfig, clock: ManualClock) -> None:
    impl = await build(with_returning(demo_hall, "requeue"))
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    await mark_no_show(impl, "1")
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI))
    exc = await assert_refused(impl, lambda: impl.requeue(tid), errors.RequeueNotAllowed, "requeue_not_allowed",
                               tickets=[tid])
    assert exc.details["why"] == "another_day"
    assert "不是当天的号" in exc.message("zh")


async def test_requeue_after_end_of_day_refused_next_day(build: Build, demo_hall: HallConfig,
                                                         clock: ManualClock) -> None:
    impl = await build(with_returning(demo_hall, "requeue"))
    await impl.open_window("1")
    tid = (await impl.issue("SOC")).ticket.id
    await impl.end_day()
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI))
    assert (await impl.ticket(tid)).ticket.status == "missed"
    exc = await assert_refused(impl, lambda: impl.requeue(tid), errors.RequeueNotAllowed, "requeue_not_allowed",
                               tickets=[tid])
    assert exc.details["why"] == "another_day"


# -- transfers ----------------------------------------------------------------------------------------


async def test_transfer_to_closed_window_refused(impl: Any) -> None:
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    exc = await assert_refused(
        impl, lambda: impl.transfer("1", to_window="2"), errors.WindowClosed, "window_closed", tickets=[tid]
    )
    assert exc.details["window"] == "2"


async def test_transfer_to_window_not_skilled_for_service_refused(impl: Any) -> None:
    await impl.open_window("1")
    await impl.open_window("9")  # PROP only
    tid = await called_ticket(impl, "1")
    exc = await assert_refused(
        impl, lambda: impl.transfer("1", to_window="9"), errors.NotForThisWindow, "not_for_this_window",
        tickets=[tid],
    )
    assert exc.details == {"window": "9", "number": "A001"}


async def test_transfer_to_same_window_refused(impl: Any) -> None:
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    await assert_refused(
        impl, lambda: impl.transfer("1", to_window="1"), errors.InvalidRequest, "invalid_request", tickets=[tid]
    )


async def test_transfer_to_service_without_open_window_refused(impl: Any) -> None:
    await impl.open_window("1")  # does not serve PROP; windows 7-11 closed
    tid = await called_ticket(impl, "1")
    exc = await assert_refused(
        impl, lambda: impl.transfer("1", to_service="PROP"), errors.NoWindowForService, "no_window_for_service",
        tickets=[tid],
    )
    assert exc.details["service"] == "PROP"


@pytest.mark.parametrize("targets", [{"to_service": "TAX", "to_window": "2"}, {}], ids=["both", "neither"])
async def test_transfer_needs_exactly_one_target(impl: Any, targets: dict[str, str]) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    tid = await called_ticket(impl, "1")
    await assert_refused(
        impl, lambda: impl.transfer("1", **targets), errors.InvalidRequest, "invalid_request", tickets=[tid]
    )


async def test_transfer_from_idle_window_refused(impl: Any) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    await assert_refused(impl, lambda: impl.transfer("1", to_window="2"), errors.WindowIdle, "window_idle")


# -- finishing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["great", "missed"])
async def test_finish_with_bad_outcome_refused(impl: Any, outcome: str) -> None:
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    await impl.start("1")
    await assert_refused(impl, lambda: impl.finish("1", outcome), errors.InvalidRequest, "invalid_request",
                         tickets=[tid])


# -- windows ----------------------------------------------------------------------------------------


async def test_set_services_with_unknown_service_refused(impl: Any) -> None:
    await impl.open_window("1")
    exc = await assert_refused(
        impl, lambda: impl.set_services("1", ["SOC", "NOPE"], ["SOC"]), errors.UnknownService, "unknown_service"
    )
    assert exc.details["service"] == "NOPE"


async def test_set_services_with_primary_outside_services_refused(impl: Any) -> None:
    await impl.open_window("1")
    await assert_refused(
        impl, lambda: impl.set_services("1", ["SOC", "HUK"], ["TAX"]), errors.InvalidRequest, "invalid_request"
    )


async def test_set_services_with_no_service_refused(impl: Any) -> None:
    await impl.open_window("1")
    await assert_refused(impl, lambda: impl.set_services("1", []), errors.InvalidRequest, "invalid_request")


async def test_open_window_twice_refused(impl: Any) -> None:
    await impl.open_window("1")
    await assert_refused(impl, lambda: impl.open_window("1"), errors.WindowAlreadyOpen, "window_already_open")


async def test_close_closed_window_refused(impl: Any) -> None:
    await assert_refused(impl, lambda: impl.close_window("1"), errors.WindowClosed, "window_closed")


@pytest.mark.parametrize("state", ["calling", "serving"])
async def test_close_busy_window_refused(impl: Any, state: str) -> None:
    await impl.open_window("1")
    tid = await called_ticket(impl, "1")
    if state == "serving":
        await impl.start("1")
    await assert_refused(impl, lambda: impl.close_window("1"), errors.WindowBusy, "window_busy", tickets=[tid])


async def test_pause_busy_or_paused_window_refused(impl: Any) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    tid = await called_ticket(impl, "1")
    await assert_refused(impl, lambda: impl.pause("1", "break"), errors.WindowBusy, "window_busy", tickets=[tid])
    await impl.pause("2", "break")
    await assert_refused(impl, lambda: impl.pause("2", "again"), errors.WindowPaused, "window_paused")
    await assert_refused(impl, lambda: impl.pause("3", "break"), errors.WindowClosed, "window_closed")


async def test_resume_window_not_paused_refused(impl: Any) -> None:
    await impl.open_window("1")
    await assert_refused(impl, lambda: impl.resume("1"), errors.WindowNotPaused, "window_not_paused")


def test_an_id_echoed_from_the_request_is_cut_short_but_a_reason_is_not() -> None:
    long_window = errors.UnknownWindow(window="9" * 3000)
    assert len(long_window.message("en")) < 120
    assert "9" * errors.ECHO_MAX + "…" in long_window.message("zh")
    assert errors.InvalidRequest(why="w" * 300, why_zh="z").message("en") == "w" * 300


# -- ticket details (sub-item, green channel, holder) --------------------------------------------------


@pytest.mark.parametrize(("service", "item"), [("SOC", "NOPE"), ("SOC", "PROP-MORTGAGE"), ("RESTO", "BIZ-LLC")])
async def test_issue_for_unknown_or_another_services_item_refused(impl: Any, service: str, item: str) -> None:
    await impl.open_window("7")
    exc = await assert_refused(impl, lambda: impl.issue(service, item=item), errors.UnknownItem, "unknown_item")
    assert exc.status == 422
    assert exc.details == {"item": item, "service": service}
    assert item in str(exc)
    assert item in exc.message("zh")
    assert (await impl.issue(service)).ticket.number.endswith("001")


@pytest.mark.parametrize("priority", [None, "vip"])
async def test_green_reason_without_green_channel_refused(impl: Any, priority: str | None) -> None:
    await impl.open_window("1")
    exc = await assert_refused(impl, lambda: impl.issue("SOC", priority=priority, green_reason="elderly"),
                               errors.InvalidRequest, "invalid_request")
    assert exc.status == 422
    assert "green" in str(exc)
    assert "绿色通道" in exc.message("zh")


async def test_unknown_green_reason_refused(impl: Any) -> None:
    await impl.open_window("1")
    exc = await assert_refused(impl, lambda: impl.issue("SOC", priority="green", green_reason="tired"),
                               errors.InvalidRequest, "invalid_request")
    assert "elderly" in str(exc)


@pytest.mark.parametrize("holder", ["", "张" + "*" * 15 + "三"])
async def test_holder_of_wrong_length_refused(impl: Any, holder: str) -> None:
    await impl.open_window("1")
    await assert_refused(impl, lambda: impl.issue("SOC", holder=holder), errors.InvalidRequest, "invalid_request")


async def test_call_ticket_for_sub_item_window_does_not_serve_refused(impl: Any) -> None:
    await impl.open_window("11")
    issued = await impl.issue("PROP", item="PROP-TRANSFER")
    exc = await assert_refused(impl, lambda: impl.call_ticket("11", issued.ticket.id, "out of order"),
                               errors.NotForThisWindow, "not_for_this_window", tickets=[issued.ticket.id])
    assert exc.details == {"window": "11", "number": "C001"}


async def test_transfer_to_window_not_serving_the_sub_item_refused(impl: Any) -> None:
    await impl.open_window("9")
    await impl.open_window("11")
    tid = await called_ticket(impl, "9", "PROP", item="PROP-TRANSFER")
    await assert_refused(impl, lambda: impl.transfer("9", to_window="11", reason="mortgage desk"),
                         errors.NotForThisWindow, "not_for_this_window", tickets=[tid])


async def test_set_services_with_bundle_but_not_its_members_refused(impl: Any) -> None:
    exc = await assert_refused(impl, lambda: impl.set_services("1", ["BIZ", "TAX", "RESTO"]),
                               errors.InvalidRequest, "invalid_request")
    assert "FOOD" in str(exc)


async def test_set_services_with_item_of_unserved_service_refused(impl: Any) -> None:
    exc = await assert_refused(impl, lambda: impl.set_services("9", ["PROP"], [], ["SOC-REG"]),
                               errors.InvalidRequest, "invalid_request")
    assert "SOC-REG" in str(exc)


# -- ratings ---------------------------------------------------------------------------------------------


async def finished_ticket(impl: Any, window: str = "1") -> str:
    tid = await called_ticket(impl, window)
    await impl.finish(window)
    return tid


@pytest.mark.parametrize("status", ["waiting", "called", "serving", "missed", "cancelled"])
async def test_rating_of_unfinished_ticket_refused(impl: Any, status: str) -> None:
    await impl.open_window("1")
    issued = await impl.issue("SOC")
    tid = issued.ticket.id
    if status != "waiting" and status != "cancelled":
        await impl.call_next("1")
    if status == "serving":
        await impl.start("1")
    elif status == "missed":
        await mark_no_show(impl, "1")
    elif status == "cancelled":
        await impl.cancel(tid)
    exc = await assert_refused(impl, lambda: impl.rate(tid, 5, "pad"), errors.NotFinished, "not_finished",
                               tickets=[tid])
    assert (exc.status, exc.details) == (409, {"number": "A001", "status": status})


async def test_second_rating_refused(impl: Any) -> None:
    await impl.open_window("1")
    tid = await finished_ticket(impl)
    await impl.rate(tid, 4, "pad")
    exc = await assert_refused(impl, lambda: impl.rate(tid, 1, "qr"), errors.AlreadyRated, "already_rated",
                               tickets=[tid])
    assert exc.status == 409


async def test_second_late_rating_refused(impl: Any) -> None:
    def late() -> Awaitable[Any]:
        return cast(Awaitable[Any], impl.rate_archived("20261120-abcdef", number="A017", service="SOC", window="2",
                                                       day="20261120", score=2, source="phone"))

    await late()
    await assert_refused(impl, late, errors.AlreadyRated, "already_rated")


async def test_rating_after_the_rating_period_refused(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    tid = await finished_ticket(impl)
    clock.advance(8 * 24 * 3600)
    exc = await assert_refused(impl, lambda: impl.rate(tid, 5, "qr"), errors.RatingClosed, "rating_closed",
                               tickets=[tid])
    assert exc.status == 409


async def test_rating_of_unknown_ticket_refused(impl: Any) -> None:
    await assert_refused(impl, lambda: impl.rate("20261123-000000000000", 5, "qr"), errors.UnknownTicket,
                         "unknown_ticket")


@pytest.mark.parametrize(("score", "source", "comment", "field"), [
    (0, "pad", None, "score"),
    (6, "pad", None, "score"),
    (True, "pad", None, "score"),
    (5, "sms", None, "source"),
    (5, "pad", "x" * 201, "200"),
    (5, "pad", "很好\n很快", "control"),
    (5, "pad", "nul\x00", "control"),
])
async def test_rating_with_bad_arguments_refused(impl: Any, score: Any, source: str, comment: str | None,
                                                 field: str) -> None:
    await impl.open_window("1")
    tid = await finished_ticket(impl)
    exc = await assert_refused(impl, lambda: impl.rate(tid, score, source, comment), errors.InvalidRequest,
                               "invalid_request", tickets=[tid])
    assert field in str(exc)
    await assert_refused(
        impl, lambda: impl.rate_archived("20261120-abcdef", number="A017", service="SOC", window=None,
                                         day="20261120", score=score, source=source, comment=comment),
        errors.InvalidRequest, "invalid_request")


@pytest.mark.parametrize(("number", "day"), [("A017", "2026-11-20"), ("A017", "yesterday"), ("", "20261120"),
                                             ("A" * 17, "20261120")])
async def test_late_rating_of_malformed_record_refused(impl: Any, number: str, day: str) -> None:
    await assert_refused(
        impl, lambda: impl.rate_archived("20261120-abcdef", number=number, service="SOC", window=None, day=day,
                                         score=3, source="qr"),
        errors.InvalidRequest, "invalid_request")
