"""Today's figures: half-hour bins in the hall's own time, waits, p90, outcomes, and the one SQL query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from floor.catalog.search_terms import search_terms
from floor.reports.today import DayTicket, figures, half_hours, summarize
from queue_engine.config import HallConfig
from tests.conftest import SHANGHAI

DAY = "20261123"


def local(hh: int, mm: int, ss: int = 0) -> datetime:
    """A time of the test day in Shanghai, handed over as UTC like the record does."""
    return datetime(2026, 11, 23, hh, mm, ss, tzinfo=SHANGHAI).astimezone(UTC)


def ticket(issued: datetime, *, called: datetime | None = None, service: str = "SOC", status: str = "waiting",
           window: str | None = None, outcome: str | None = None, handling_s: float | None = None,
           priority: str | None = None) -> DayTicket:
    return DayTicket(service, status, priority, window, issued, called, None, outcome,
                     None if handling_s is None else int(handling_s * 1000))


def test_bins_span_the_opening_hours_in_local_time(demo_hall: HallConfig) -> None:
    bins = half_hours([], demo_hall, DAY)
    assert bins[0]["start"] == "08:30"
    assert bins[-1]["start"] == "17:00"
    assert len(bins) == 18  # 08:30 to 17:30, lunch included: a chart with a gap is honest
    assert all(b["arrivals"] == 0 and b["avg_wait_s"] is None for b in bins)


def test_arrivals_count_by_issue_time_and_waits_by_call_time(demo_hall: HallConfig) -> None:
    tickets = [
        ticket(local(9, 5), called=local(9, 15)),          # 600 s wait, called in the 09:00 bin
        ticket(local(9, 20), called=local(9, 40)),         # 1200 s wait, called in the 09:30 bin
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
                      handling_s=100 * i) for i in range(1, 11)]
    tickets.append(ticket(base, status="missed", called=base + timedelta(seconds=30)))
    tickets.append(ticket(base, status="cancelled", priority="green"))
    tickets[0] = ticket(base, called=base + timedelta(seconds=60), status="done", outcome="consult", handling_s=100)
    f = figures(tickets, target_s=400)
    assert (f["issued"], f["served"], f["missed"], f["cancelled"], f["green"]) == (12, 10, 1, 1, 1)
    assert f["outcomes"] == {"consult": 1, "done": 9}
    waits = [60 * i for i in range(1, 11)] + [30]
    assert f["avg_wait_s"] == round(sum(waits) / len(waits))
    assert f["p90_wait_s"] == 540  # the 10th of 11 sorted waits
    assert f["avg_handling_s"] == 550
    assert f["over_target"] == 4  # 420, 480, 540 and 600 s


def test_summary_splits_by_service_and_window(demo_hall: HallConfig) -> None:
    tickets = [ticket(local(9, 0), called=local(9, 10), service="SOC", window="1", status="done", outcome="done"),
               ticket(local(9, 1), service="TAX"),
               ticket(local(9, 2), called=local(9, 3), service="TAX", window="5", status="serving")]
    summary = summarize(tickets, demo_hall, DAY)
    services = {s["code"]: s for s in summary["services"]}
    windows = {w["id"]: w for w in summary["windows"]}
    assert summary["totals"]["issued"] == 3
    assert (services["SOC"]["issued"], services["TAX"]["issued"], services["PROP"]["issued"]) == (1, 2, 0)
    assert services["TAX"]["waiting"] == 1
    assert (windows["1"]["served"], windows["5"]["served"], windows["5"]["issued"]) == (1, 0, 1)
    assert [s["code"] for s in summary["services"]] == [s.code for s in demo_hall.services]


def test_search_terms_give_pinyin_and_initials() -> None:
    assert search_terms("社保医保") == {"pinyin": "shebaoyibao", "initials": "sbyb"}
    assert search_terms("不动产登记")["initials"] == "bdcdj"
    assert search_terms("企业开办")["pinyin"] == "qiyekaiban"
