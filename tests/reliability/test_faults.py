"""Faults under load, short versions: the runner's own code (``loadtest.faults``) for a few seconds each.

Each test starts ``hallq serve --workers 2`` on a private Redis and a database of its own on a private PostgreSQL,
loads it (guides issuing with Idempotency-Keys, four windows calling, three displays resuming with ``since``),
injects its fault while the load runs, and then demands what a hall must keep through it: every acknowledged
ticket exists as far along as acknowledged, no number issued twice, no ticket called by two windows, every display
got every call, SQL holds the stream event for event; no 5xx but 503, every 503 with Retry-After, no request
past the clients' 10 s timeout. The long versions and their figures: ``python -m loadtest.faults all``.
"""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.faults.invariants import Evidence, check_all
from loadtest.faults.load import AckedTicket, DisplayLog, LoadRecord
from loadtest.faults.run import DEFAULT_DURATION_S, Deployment, Outcome, Plan, run_fault

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)


def _tracebacks(log: str) -> list[str]:
    return [chunk[-1500:] for chunk in log.split("Traceback (most recent call last):")[1:3]]


def assert_survived(outcome: Outcome) -> None:
    load = outcome.load
    for check, violations in outcome.violations.items():
        assert not violations, (f"{check}: {violations[:5]}\nfigures: {outcome.figures}\n"
                                f"server log, last lines: {outcome.server_log[-2000:]}")
    assert not load.server_errors, (load.server_errors[:5], _tracebacks(outcome.server_log))
    assert not load.hangs, load.hangs
    # The load really ran through the fault: tickets before it and after it were acknowledged and called.
    fault_at = outcome.faults_at[-1]
    assert any(t.acked_at < outcome.faults_at[0] for t in load.tickets.values()), (outcome.figures,
                                                                                  outcome.server_log[-2000:])
    assert any(t.acked_at > fault_at for t in load.tickets.values()), (outcome.figures, outcome.server_log[-2000:])
    assert load.calls, outcome.figures
    assert not load.unavailable_without_retry_after, load.unavailable_without_retry_after[:5]


async def test_a_worker_killed_with_sigkill_is_replaced_and_its_screens_resume(fault_deployment: Deployment) -> None:
    outcome = await run_fault(Plan("worker-kill", displays=6, after_s=4.0), fault_deployment)
    assert_survived(outcome)
    assert "a new worker was up" in outcome.fault_notes[0]
    assert "died" in outcome.server_log  # uvicorn saw it go


async def test_redis_restarted_empty_is_rebuilt_without_losing_or_reissuing_a_number(
        fault_deployment: Deployment) -> None:
    outcome = await run_fault(Plan("redis-restart", faults=2, every_s=4.0, down_s=1.5, after_s=4.0), fault_deployment)
    assert_survived(outcome)
    # Redis was really gone under load: requests got 503 with Retry-After meanwhile, then the hall came back.
    assert outcome.load.unavailable >= 1, outcome.figures
    assert f"hall {outcome.hall}: Redis had lost the live day" in outcome.server_log
    assert outcome.figures["max time to recover_s"] < 30, outcome.figures


async def test_postgres_down_keeps_the_hall_working_and_the_archiver_catches_up(fault_deployment: Deployment) -> None:
    outcome = await run_fault(Plan("postgres-outage", down_s=4.0, after_s=4.0), fault_deployment)
    assert_survived(outcome)
    # The hall never noticed: calling and issuing do not touch SQL, so no request failed at all.
    assert outcome.load.unavailable == 0, outcome.figures
    assert not outcome.load.unanswered, outcome.figures
    assert "could not write events to SQL" in outcome.server_log  # the archiver did see the outage


async def test_screens_cut_off_resume_and_miss_no_call(fault_deployment: Deployment) -> None:
    outcome = await run_fault(Plan("ws-drop", faults=3, every_s=1.5), fault_deployment)
    assert_survived(outcome)
    assert all(d.connects >= 4 for d in outcome.load.displays), [(d.name, d.connects) for d in outcome.load.displays]


# -- the checks themselves can fail --------------------------------------------------------------------
def _evidence(live: dict[str, dict[str, Any]], events: list[tuple[str, dict[str, Any]]],
              sql: list[tuple[str, dict[str, Any]]] | None = None) -> Evidence:
    stored = events if sql is None else sql
    statuses = {tid: t["status"] for tid, t in live.items()}
    return Evidence(live, events, stored, statuses, 0.0)


def _issued(eid: str, ticket: str, number: str) -> tuple[str, dict[str, Any]]:
    return eid, {"type": "ticket.issued", "at": 1, "ticket": ticket, "number": number, "service": "SOC",
                 "day": "20261123"}


def _called(eid: str, ticket: str, window: str) -> tuple[str, dict[str, Any]]:
    return eid, {"type": "ticket.called", "at": 2, "ticket": ticket, "number": "A001", "service": "SOC",
                 "window": window}


def _ticket(tid: str, number: str, status: str) -> dict[str, Any]:
    return {"id": tid, "number": number, "service": "SOC", "day": "20261123", "status": status}


def test_the_checks_report_what_a_fault_could_break() -> None:
    t1, t2, t3 = "20261123-t1", "20261123-t2", "20261123-t3"
    load = LoadRecord(displays=[DisplayLog("display-0", called={"1-2": t1})])
    load.tickets = {t1: AckedTicket(t1, "A001", "SOC", "serving", 0.0),
                    t2: AckedTicket(t2, "A002", "SOC", "waiting", 0.0)}
    load.calls = [(t1, "1"), (t3, "2")]
    live = {t1: _ticket(t1, "A001", "called"), t3: _ticket(t3, "A002", "called")}
    events = [_issued("1-0", t1, "A001"), _issued("1-1", t3, "A002"), _called("1-2", t1, "1"),
              _called("1-3", t3, "2"), _called("1-4", t3, "3")]
    found = check_all(load, _evidence(live, events, sql=events[:4]))
    assert len(found["tickets lost"]) == 2  # t2 is gone; t1 was acknowledged serving but is only called
    assert found["duplicate numbers"] == [f"number A002 of SOC on 20261123 was given to 2 tickets: {[t2, t3]}"]
    assert found["double calls"] == [f"ticket {t3} was called by windows ['2', '3'] (recorded calls: "
                                     "['2 at 1-3', '3 at 1-4']; acknowledged calls: ['2'])"]
    assert found["calls a display missed"] == [f"display-0 missed 2 of 3 calls, first ('1-3', '{t3}')"]
    assert [v for v in found["SQL differs from the stream"] if "1-4" in v]  # the last event never reached SQL


def test_the_checks_pass_a_hall_that_kept_everything() -> None:
    t1 = "20261123-t1"
    load = LoadRecord(displays=[DisplayLog("display-0", called={"1-1": t1})])
    load.tickets = {t1: AckedTicket(t1, "A001", "SOC", "called", 0.0)}
    load.calls = [(t1, "1")]
    events = [_issued("1-0", t1, "A001"), _called("1-1", t1, "1")]
    found = check_all(load, _evidence({t1: _ticket(t1, "A001", "serving")}, events))
    assert found == {name: [] for name in found}


@pytest.mark.parametrize("fault", ["worker-kill", "redis-restart", "postgres-outage", "ws-drop"])
def test_the_long_plans_fit_the_runner_budget(fault: str) -> None:
    """``all`` at its default duration finishes in about ten minutes; each long plan has a fault in it."""
    plan = Plan.long(fault, DEFAULT_DURATION_S)
    assert plan.faults >= 1
    assert plan.before_s + (plan.faults - 1) * plan.every_s + plan.after_s + plan.down_s <= DEFAULT_DURATION_S
