"""The roll-up rules of a region's report (``floor.regions.rollup``), pure: groups add up to the total, averages are
weighted by tickets (never an average of the halls' averages), rates are worked out again from the summed counts,
and every figure is what one hall report of the same tickets gives (``floor.reports.rules.figures``)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from floor.ratings.rules import SCORES
from floor.regions.rollup import (
    FIELDS,
    LEVEL_NAMES,
    NO_LEVEL,
    Sums,
    Tally,
    average_s,
    groups,
    microseconds,
    report,
    tally,
)
from floor.regions.summaries import SUMMED, ReportDayServiceRow, row_of, tally_of
from floor.reports.rules import CaseFact, DateRange, TicketFact, figures, mean
from queue_engine.config import HallConfig
from queue_engine.policy import GREEN_REASONS

DAY = date(2026, 11, 23)
RNG = DateRange(DAY, DAY + timedelta(days=2))
REGION = {"region": "demo-county", "name": "示范县"}
# What a hall report and a roll-up both give (p90 does not add up; waited and handled are the roll-up's weights).
SAME = ("issued", "served", "missed", "cancelled", "unfinished", "avg_wait_s", "avg_handling_s", "no_show_rate",
        "over_target", "green", "green_total", "appointments", "appointment_no_shows", "ratings", "rating_shares",
        "rated", "good", "good_rate", "satisfaction", "bad", "cases")


ADDITIVE = ("issued", "served", "missed", "cancelled", "unfinished", "waited", "handled", "over_target", "green_total",
            "appointments", "appointment_no_shows", "rated", "good", "bad")


def fact(n: int, *, service: str = "SOC", status: str = "done", wait_s: float | None = 60.0,
         handling_s: float | None = 300.0, day: date = DAY, **extra: Any) -> TicketFact:
    issued = datetime(2026, 11, 23, 1, tzinfo=UTC) + timedelta(minutes=n)
    values: dict[str, Any] = {"id": f"t{n}", "day": day, "service": service, "status": status, "channel": "guide",
                              "priority": None, "green_reason": None, "window": "1", "staff": None,
                              "issued_at": issued, "wait_s": wait_s, "handling_s": handling_s, "target_s": 900}
    return TicketFact(**(values | extra))


def same(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The figures where a region's and a hall report's answers differ (nothing, when all is well)."""
    return {k: (a[k], b[k]) for k in SAME if a[k] != b[k]}


def hall(demo_hall: HallConfig, hall_id: str, level: str | None, services: tuple[str, ...] | None = None
         ) -> HallConfig:
    kept = demo_hall.services if services is None else tuple(s for s in demo_hall.services if s.code in services)
    return demo_hall.model_copy(update={"id": hall_id, "name": f"大厅{hall_id}", "level": level, "services": kept})


# -- weighted averages and rates from sums -----------------------------------------------------------
def test_the_average_wait_is_weighted_by_tickets_not_an_average_of_the_halls_averages(demo_hall: HallConfig) -> None:
    a, b = hall(demo_hall, "a", "town_centre"), hall(demo_hall, "b", "village_station")
    sums = Sums()
    sums.add_facts("a", [fact(1, wait_s=100.0)])  # one ticket waited 100 s
    sums.add_facts("b", [fact(2 + i, wait_s=10.0) for i in range(3)])  # three waited 10 s each
    data = report(REGION, [a, b], RNG, "hall", sums)
    assert [row["avg_wait_s"] for row in data["rows"]] == [100, 10]
    assert data["totals"]["avg_wait_s"] == 32  # 130 s over 4 tickets = 32.5, rounded as Python rounds (to even)
    assert data["totals"]["avg_wait_s"] == mean([100.0, 10.0, 10.0, 10.0])  # not (100 + 10) / 2 = 55
    assert (data["totals"]["waited"], data["totals"]["handled"]) == (4, 4)


def test_rates_are_worked_out_again_from_the_summed_counts(demo_hall: HallConfig) -> None:
    a, b = hall(demo_hall, "a", "town_centre"), hall(demo_hall, "b", "town_centre")
    sums = Sums()
    sums.add_facts("a", [fact(1), fact(2, status="missed", handling_s=None)])  # 50% no-shows
    sums.add_facts("b", [fact(10 + i) for i in range(9)])  # none
    sums.add_facts("a", [fact(30, score=5), fact(31, score=1)])  # 好评率 50%
    sums.add_facts("b", [fact(40 + i, score=5) for i in range(8)])  # 好评率 100%
    totals = report(REGION, [a, b], RNG, "level", sums)["totals"]
    assert totals["no_show_rate"] == 0.0476  # 1 missed of 21 settled (1 / 21), not (0.5 + 0) / 2 = 0.25
    assert totals["good_rate"] == 0.9  # 9 of 10, not (0.5 + 1) / 2
    assert totals["satisfaction"] == 9.0  # (9 x 10 + 0) / 10 points
    assert totals["rating_shares"] == {"5": 0.9, "4": 0.0, "3": 0.0, "2": 0.0, "1": 0.1}
    assert (totals["bad"], totals["good"], totals["rated"]) == (1, 9, 10)


def test_satisfaction_and_shares_round_half_up_as_the_hall_report_does() -> None:
    scores = [5, 5, 5, 5, 5, 5, 5, 2]  # 7 x 10 + 3 = 73 points over 8 = 9.125: 9.13 half up (9.12 to even)
    t = tally([fact(i, score=s) for i, s in enumerate(scores)])
    assert t.figures()["satisfaction"] == 9.13
    assert same(t.figures(), figures([fact(i, score=s) for i, s in enumerate(scores)], 0)) == {}
    third = tally([fact(1, score=5), fact(2, score=5), fact(3, score=4)])  # 28/3 = 9.333.. -> 9.33
    assert third.figures()["satisfaction"] == 9.33
    assert third.figures()["rating_shares"]["4"] == 0.3333


def test_durations_add_as_whole_microseconds_and_round_as_the_hall_report_rounds() -> None:
    for seconds in (0.000001, 59.999999, 121.347, 86399.5, 1e6 + 0.25):
        assert microseconds(seconds) / 1e6 == seconds
    assert average_s(0, 0) is None
    assert [average_s(us, 1) for us in (500_000, 1_500_000, 2_500_000, 2_500_001)] == [0, 2, 2, 3]
    assert [mean([s]) for s in (0.5, 1.5, 2.5, 2.500001)] == [0, 2, 2, 3]  # the same rounding


# -- groups and totals ------------------------------------------------------------------------------
def random_facts(rand: random.Random, services: list[str], first_id: int, n: int) -> list[TicketFact]:
    found = []
    for i in range(n):
        status = rand.choice(("done", "done", "done", "missed", "cancelled", "waiting", "called", "serving"))
        called = status not in ("waiting", "cancelled") or rand.random() < 0.1
        green = rand.random() < 0.2
        found.append(fact(
            first_id + i, service=rand.choice(services), status=status,
            day=RNG.first + timedelta(days=rand.randrange(3)),
            wait_s=rand.uniform(0, 3600) if called else None,
            handling_s=rand.uniform(30, 1800) if status == "done" and rand.random() < 0.95 else None,
            channel=rand.choice(("guide", "kiosk", "appointment")), priority="green" if green else None,
            green_reason=rand.choice((*GREEN_REASONS, None, "unknown")) if green else None,
            target_s=rand.choice((None, 300, 900)),
            score=rand.choice(SCORES) if status == "done" and rand.random() < 0.5 else None,
            case=CaseFact(open=rand.random() < 0.5, overdue=rand.random() < 0.3) if rand.random() < 0.1 else None))
    return found


@pytest.mark.parametrize("seed", range(12))
def test_every_grouping_adds_up_to_what_one_report_of_all_the_tickets_gives(demo_hall: HallConfig, seed: int
                                                                           ) -> None:
    rand = random.Random(seed)
    halls = [hall(demo_hall, "county", "county_centre"), hall(demo_hall, "town", "town_centre", ("SOC", "HUK")),
             hall(demo_hall, "village", "village_station", ("SOC", "INFO")), hall(demo_hall, "kiosk", None, ("TAX",))]
    sums = Sums()
    facts: dict[str, list[TicketFact]] = {}
    for i, h in enumerate(halls):
        facts[h.id] = random_facts(rand, [s.code for s in h.services] + ["GONE"], i * 1000, rand.randrange(0, 60))
        sums.add_facts(h.id, facts[h.id])
    no_shows = {h.id: rand.randrange(3) for h in halls}
    for h in halls:
        if no_shows[h.id]:
            sums.add(h.id, h.services[0].code, RNG.first, Tally(appointment_no_shows=no_shows[h.id]))
    everything = [f for found in facts.values() for f in found]

    by_hall = report(REGION, halls, RNG, "hall", sums)
    assert same(by_hall["totals"], figures(everything, sum(no_shows.values()))) == {}
    for row, h in zip(by_hall["rows"], halls, strict=True):
        assert (row["key"], row["name"], row["halls"]) == (h.id, h.name, 1)
        assert same(row, figures(facts[h.id], no_shows[h.id])) == {}, h.id
    for by in ("level", "service"):
        data = report(REGION, halls, RNG, by, sums)
        assert same(data["totals"], by_hall["totals"]) == {}, by
        for key in ADDITIVE:  # and the rows add up to the total row
            assert sum(row[key] for row in data["rows"]) == data["totals"][key], (by, key)
        for key in ("green", "ratings", "cases"):
            assert {k: sum(row[key][k] for row in data["rows"]) for k in data["totals"][key]} == data["totals"][key]
    by_level = {row["key"]: row for row in report(REGION, halls, RNG, "level", sums)["rows"]}
    assert list(by_level) == ["county_centre", "town_centre", "village_station", None]
    assert (by_level[None]["name"], by_level[None]["name_en"]) == NO_LEVEL
    assert same(by_level["town_centre"], figures(facts["town"], no_shows["town"])) == {}
    by_service = {row["key"]: row for row in report(REGION, halls, RNG, "service", sums)["rows"]}
    soc = [f for f in everything if f.service == "SOC"]
    assert same(by_service["SOC"], figures(soc, sum(no_shows[h.id] for h in halls if h.services[0].code == "SOC"))
                ) == {}
    days = report(REGION, halls, RNG, "hall", sums)["days"]
    assert [d["day"] for d in days] == [d.isoformat() for d in RNG.days]
    for d in days:
        of_day = [f for f in everything if f.day.isoformat() == d["day"]]
        assert d["issued"] == len(of_day)
        assert d["avg_wait_s"] == mean([f.wait_s for f in of_day if f.wait_s is not None])


def test_groups_list_every_hall_level_and_service_a_quiet_one_with_zeroes(demo_hall: HallConfig) -> None:
    town = hall(demo_hall, "town", "town_centre", ("SOC", "HUK"))
    village = hall(demo_hall, "village", "village_station", ("INFO", "SOC"))
    sums = Sums()
    sums.add_facts("town", [fact(1, service="OLD")])  # a service the configuration no longer names
    by_service = groups([town, village], "service", sums)
    names = {s.code: s.name_zh for s in demo_hall.services}
    assert [(g.key, g.name) for g in by_service] == [("SOC", names["SOC"]), ("HUK", names["HUK"]),
                                                     ("INFO", names["INFO"]), ("OLD", "OLD")]
    assert [(g.key, g.name, g.halls) for g in groups([town, village], "level", sums)] == [
        ("town_centre", LEVEL_NAMES["town_centre"][0], ("town",)),
        ("village_station", LEVEL_NAMES["village_station"][0], ("village",))]
    rows = report(REGION, [town, village], RNG, "hall", sums)["rows"]
    assert rows[1]["key"] == "village"
    assert (rows[1]["issued"], rows[1]["avg_wait_s"], rows[1]["no_show_rate"], rows[1]["satisfaction"]) == (
        0, None, None, None)


def test_live_facts_are_kept_per_service_and_day() -> None:
    sums = Sums()
    sums.add_facts("a", [fact(1), fact(2, service="HUK"), fact(3, day=DAY + timedelta(days=1))])
    assert sorted(sums.cells) == [("a", "HUK"), ("a", "SOC")]
    assert (sums.cells[("a", "SOC")]["issued"], sums.days[DAY]["issued"], sums.days[DAY + timedelta(days=1)]["issued"]
            ) == (2, 2, 1)


def test_a_tally_goes_into_a_summary_row_and_comes_back_whole() -> None:
    t = tally(random_facts(random.Random(3), ["SOC"], 0, 200))
    t.counts[FIELDS.index("unfinished")] = 0  # a settled day: nothing unfinished, and no case or no-show stored
    for name in ("cases_open", "cases_closed", "cases_overdue", "appointment_no_shows"):
        t.counts[FIELDS.index(name)] = 0
    row = row_of("a", DAY, "SOC", 900, t)
    assert {c.name for c in ReportDayServiceRow.__table__.columns} == {"hall", "day", "service", "target_s",
                                                                       *SUMMED}
    assert tally_of([row[name] for name in SUMMED]) == t
