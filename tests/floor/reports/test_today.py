"""Today's figures: half-hour bins in the hall's own time, the reports' counts per service and window, and what the
dashboard and the console add to them. Pure: facts in, figures out (the record's side is tests/server's)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from floor.catalog.search_terms import search_terms
from floor.reports.rules import TicketFact
from floor.reports.rules import figures as report_figures
from floor.reports.today import figures, half_hours, summarize
from queue_engine.config import HallConfig
from tests.conftest import SHANGHAI

DAY = "20261123"


def local(hh: int, mm: int, ss: int = 0) -> datetime:
    """A time of the test day in Shanghai, handed over as UTC like the record does."""
    return datetime(2026, 11, 23, hh, mm, ss, tzinfo=SHANGHAI).astimezone(UTC)


def ticket(issued: datetime, *, called: datetime | None = None, service: str = "SOC", status: str = "waiting",
           window: str | None = None, outcome: str | None = None, handling_s: float | None = None,
           priority: str | None = None, target_s: int = 900) -> TicketFact:
    wait = None if called is None else (called - issued).total_seconds()
    return TicketFact(id=f"t{issued.timestamp()}", day=date(2026, 11, 23), service=service, status=status,
                      channel="guide", priority=priority, green_reason=None, window=window, staff=None,
                      issued_at=issued, wait_s=wait, handling_s=handling_s, target_s=target_s, outcome=outcome)


def test_bins_span_the_opening_hours_in_local_time(demo_hall: HallConfig) -> None:
    bins = half_hours([], demo_hall, DAY)
    assert bins[0]["start"] == "08:30"
    assert bins[-1]["start"] == "17:00"
    assert len(bins) == 18  # 08:30 to 17:30, lunch included: a chart with a gap is honest
    assert all(b["arrivals"] == 0 and b["avg_wait_s"] is None for b in bins)


def test_arrivals_count_by_issue_time_and_waits_by_first_call_time(demo_hall: HallConfig) -> None:
    tickets = [
        ticket(local(9, 5), called=local(9, 15)),          # 600 s wait, first called in the 09:00 bin
        ticket(local(9, 20), called=local(9, 40)),         # 1200 s wait, 09:30 bin
        ticket(local(9, 29, 59)),                          # still waiting
        ticket(local(9, 30), called=local(9, 35)),         # 300 s, 09:30 bin
    ]
    bins = {b["start"]: b for b in half_hours(tickets, demo_hall, DAY)}
    assert bins["09:00"]["arrivals"] == 3
    assert bins["09:30"]["arrivals"] == 1
    assert (bins["09:00"]["called"], bins["09:00"]["avg_wait_s"], bins["09:00"]["max_wait_s"]) == (1, 600, 600)
    assert (bins["09:30"]["called"], bins["09:30"]["avg_wait_s"], bins["09:30"]["max_wait_s"]) == (2, 750, 1200)


def test_bins_widen_for_tickets_outside_opening_hours(demo_hall: HallConfig) -> None:
    bins = half_hours([ticket(local(7, 50)), ticket(local(18, 10))], demo_hall, DAY)
    assert bins[0]["start"] == "07:30"
    assert bins[-1]["start"] == "18:00"
    assert sum(b["arrivals"] for b in bins) == 2


def test_figures_waits_p90_handling_outcomes_and_over_target() -> None:
    base = local(9, 0)
    tickets = [ticket(base, called=base + timedelta(seconds=60 * i), status="done", outcome="done",
                      handling_s=100 * i, target_s=400) for i in range(1, 11)]
    tickets.append(ticket(base, status="missed", called=base + timedelta(seconds=30)))
    tickets.append(ticket(base, status="cancelled", priority="green"))
    tickets[0] = ticket(base, called=base + timedelta(seconds=60), status="done", outcome="consult", handling_s=100)
    f = figures(tickets)
    assert (f["issued"], f["served"], f["missed"], f["cancelled"], f["green"]) == (12, 10, 1, 1, 1)
    assert f["outcomes"] == {"consult": 1, "done": 9}
    waits = [60 * i for i in range(1, 11)] + [30]
    assert f["avg_wait_s"] == round(sum(waits) / len(waits))
    assert f["p90_wait_s"] == 540  # the 10th of 11 sorted waits
    assert f["avg_handling_s"] == 550
    assert f["over_target"] == 4  # 420, 480, 540 and 600 s


def test_the_dashboard_counts_as_the_report_counts() -> None:
    """The dashboard's and the console's figures are the reports' own counts of the same tickets, plus a few."""
    base = local(9, 0)
    tickets = [ticket(base, called=base + timedelta(seconds=90), status="done", outcome="done", handling_s=300),
               ticket(base, called=base + timedelta(seconds=700), status="missed"),
               ticket(base, called=base + timedelta(seconds=50), status="serving"),
               ticket(base)]
    ours, theirs = figures(tickets), report_figures(tickets)
    shared = ("issued", "served", "missed", "cancelled", "unfinished", "avg_wait_s", "p90_wait_s", "avg_handling_s",
              "p90_handling_s", "no_show_rate", "over_target")
    assert {k: ours[k] for k in shared} == {k: theirs[k] for k in shared}
    assert (ours["missed"], ours["waiting"], ours["unfinished"]) == (1, 1, 2)


def test_summary_splits_by_the_service_issued_for_and_the_window(demo_hall: HallConfig) -> None:
    tickets = [ticket(local(9, 0), called=local(9, 10), service="SOC", window="1", status="done", outcome="done"),
               ticket(local(9, 1), service="TAX"),
               ticket(local(9, 2), called=local(9, 3), service="TAX", window="5", status="serving")]
    summary = summarize(tickets, demo_hall, DAY)
    services: dict[str, Any] = {s["code"]: s for s in summary["services"]}
    windows: dict[str, Any] = {w["id"]: w for w in summary["windows"]}
    assert summary["totals"]["issued"] == 3
    assert (services["SOC"]["issued"], services["TAX"]["issued"], services["PROP"]["issued"]) == (1, 2, 0)
    assert services["TAX"]["waiting"] == 1
    assert (windows["1"]["served"], windows["5"]["served"], windows["5"]["issued"]) == (1, 0, 1)
    assert [s["code"] for s in summary["services"]] == [s.code for s in demo_hall.services]


def test_search_terms_give_pinyin_and_initials() -> None:
    assert search_terms("社保医保") == {"pinyin": "shebaoyibao", "initials": "sbyb"}
    assert search_terms("不动产登记")["initials"] == "bdcdj"
    assert search_terms("企业开办")["pinyin"] == "qiyekaiban"
