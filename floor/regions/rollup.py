"""A region's report added up from its halls: per hall, per level of hall or per service, with a total row and
each day's totals. Pure: tallies in, figures out (``floor.regions.summaries`` reads the tallies from SQL).

Every figure means what it means in a hall's report (``floor.reports.rules``: its docstring says how each is
counted), and a group's figure is what one hall report of all the group's tickets would give:

- counts (issued, served, missed, cancelled, unfinished, 超时件, green channel per reason, appointments, appointment
  no-shows, ratings per level, 差评, 差评 cases open/closed/overdue) are sums;
- averages are weighted by what they average: the average wait is the sum of every wait over the number of tickets
  that waited (``waited``), the average handling the sum of handling times over the tickets handled (``handled``),
  never an average of the halls' averages. Durations are added as whole microseconds, exactly; the average is
  rounded to whole seconds as the hall report rounds its own (Python's ``round``). (The hall report adds floats of
  seconds: only an average lying exactly on a half second could round the other way there.)
- rates and shares (no-show rate, 好评率, each level's share, satisfaction) are worked out again from the summed
  counts, rounded half up as the hall report does, never averaged.

The 90th percentiles (``p90_wait_s``, ``p90_handling_s``) are **not** in a roll-up: a percentile does not add up,
and the exact one needs every duration of every ticket of the region, the very read the per-day summaries exist to
avoid; an estimate from histograms would be a third figure that matches neither the halls' p90 nor the truth. Each
hall's p90 stays in its own report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from operator import add
from typing import Any, Literal

from floor.ratings.rules import LEVELS, SCORES, is_bad
from floor.reports.rules import GREEN_KEYS, SERVED, UNFINISHED, DateRange, TicketFact, is_missed, share
from queue_engine.config import HallConfig
from queue_engine.policy import GREEN_REASONS

RegionGrouping = Literal["hall", "level", "service"]
REGION_GROUPINGS: tuple[RegionGrouping, ...] = ("hall", "level", "service")
LEVEL_NAMES: dict[str, tuple[str, str]] = {  # HallConfig.level -> (zh, en), in the order a county lists them
    "county_centre": ("县级政务服务中心", "County centre"),
    "town_centre": ("乡镇（街道）便民服务中心", "Town centre"),
    "village_station": ("村（社区）便民服务站", "Village station"),
    "bank_outlet": ("银行便民点", "Bank outlet"),
    "self_service": ("24小时自助区", "Self-service zone"),
}
NO_LEVEL = ("未定层级", "No level")
US = 1_000_000  # microseconds in a second


GREEN_FIELDS = tuple(f"green_{key}" for key in GREEN_KEYS)
SCORE_FIELDS = tuple(f"rated_{score}" for score in SCORES)  # 5 (非常满意) first
FIELDS = ("issued", "served", "missed", "cancelled", "unfinished",
          "waited",  # tickets ever called: the weight of the average wait
          "wait_us",  # the sum of their waits, microseconds
          "handled",  # served tickets with a handling time: the weight of the average handling
          "handling_us", "over_target", *GREEN_FIELDS, "appointments", "appointment_no_shows", *SCORE_FIELDS,
          "cases_open", "cases_closed", "cases_overdue")
AT = {name: i for i, name in enumerate(FIELDS)}
_GREEN_AT = {key: AT[f"green_{key}"] for key in GREEN_KEYS}
_SCORE_AT = {score: AT[f"rated_{score}"] for score in SCORES}
(ISSUED, SERVED_AT, MISSED, CANCELLED, UNFINISHED_AT, WAITED, WAIT_US, HANDLED, HANDLING_US, OVER_TARGET) = range(10)
APPOINTMENTS, CASES_OPEN = AT["appointments"], AT["cases_open"]


class Tally:
    """The additive figures of some tickets, what adds up across halls, days and services: a count per name of
    ``FIELDS`` (durations in microseconds). A flat list, so adding two is one pass: a county's month adds
    thousands."""

    __slots__ = ("counts",)

    def __init__(self, counts: list[int] | None = None, **named: int) -> None:
        self.counts = counts if counts is not None else [0] * len(FIELDS)
        for name, n in named.items():
            self.counts[AT[name]] += n

    def __getitem__(self, name: str) -> int:
        return self.counts[AT[name]]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tally) and self.counts == other.counts

    def __hash__(self) -> int:
        return hash(tuple(self.counts))

    def __repr__(self) -> str:
        return f"Tally({', '.join(f'{n}={c}' for n, c in zip(FIELDS, self.counts, strict=True) if c)})"

    def add(self, other: Tally) -> Tally:
        self.counts = list(map(add, self.counts, other.counts))
        return self

    def copy(self) -> Tally:
        return Tally(list(self.counts))

    @property
    def rated(self) -> int:
        return sum(self[name] for name in SCORE_FIELDS)

    def figures(self) -> dict[str, Any]:
        """The hall report's figures (``floor.reports.rules.figures``) but the p90s, and the two weights."""
        c = self.counts
        counted = {score: c[i] for score, i in _SCORE_AT.items()}
        rated = sum(counted.values())
        good = sum(n for s, n in counted.items() if not is_bad(s))
        points = sum(LEVELS[s].points * n for s, n in counted.items())
        green = {key: c[i] for key, i in _GREEN_AT.items()}
        served, missed = c[SERVED_AT], c[MISSED]
        return {
            "issued": c[ISSUED], "served": served, "missed": missed, "cancelled": c[CANCELLED],
            "unfinished": c[UNFINISHED_AT],
            "avg_wait_s": average_s(c[WAIT_US], c[WAITED]), "waited": c[WAITED],
            "avg_handling_s": average_s(c[HANDLING_US], c[HANDLED]), "handled": c[HANDLED],
            "no_show_rate": share(missed, served + missed),
            "over_target": c[OVER_TARGET],
            "green": green, "green_total": sum(green.values()),
            "appointments": c[APPOINTMENTS], "appointment_no_shows": self["appointment_no_shows"],
            "ratings": {str(s): n for s, n in counted.items()},
            "rating_shares": {str(s): share(n, rated) for s, n in counted.items()},
            "rated": rated, "good": good, "good_rate": share(good, rated),
            "satisfaction": share(points, rated, 2),  # the average of 10/8/6/3/0, half up as the hall's
            "bad": rated - good,
            "cases": {"open": self["cases_open"], "closed": self["cases_closed"], "overdue": self["cases_overdue"]},
        }


def average_s(total_us: int, n: int) -> int | None:
    """Whole seconds of ``total_us / n`` (Python's rounding, as ``floor.reports.rules.mean``); None for none."""
    return round(Fraction(total_us, n * US)) if n else None


def microseconds(seconds: float) -> int:
    """A fact's duration (a float of seconds, from a ``timedelta``) back to the whole microseconds it came from."""
    return round(seconds * US)


def count(c: list[int], status: str, wait_us: int | None, handling_us: int | None, target_s: int | None,
          priority: str | None, green_reason: str | None, channel: str, score: int | None) -> None:
    """Count one ticket into the counts ``c`` (a tally's), as ``floor.reports.rules.figures`` counts it: the one
    place both the facts (``tally``) and the record's rows (``floor.regions.summaries``) are counted."""
    c[ISSUED] += 1
    if status == SERVED:
        c[SERVED_AT] += 1
        if handling_us is not None:
            c[HANDLED] += 1
            c[HANDLING_US] += handling_us
    elif is_missed(status):
        c[MISSED] += 1
    elif status == "cancelled":
        c[CANCELLED] += 1
    elif status in UNFINISHED:
        c[UNFINISHED_AT] += 1
    if wait_us is not None:
        c[WAITED] += 1
        c[WAIT_US] += wait_us
        if target_s is not None and wait_us > target_s * US:  # 超时件: TicketFact.over_target, in whole microseconds
            c[OVER_TARGET] += 1
    if priority == "green":
        c[_GREEN_AT[green_reason if green_reason in GREEN_REASONS else "other"]] += 1
    if channel == "appointment":
        c[APPOINTMENTS] += 1
    if score is not None:
        c[_SCORE_AT[score]] += 1


def tally(tickets: Iterable[TicketFact]) -> Tally:
    """The tally of some ticket facts (``floor.reports.facts``), counted as ``floor.reports.rules.figures`` counts
    them; their 差评 cases too, if the facts carry them."""
    c = [0] * len(FIELDS)
    for f in tickets:
        count(c, f.status, None if f.wait_s is None else microseconds(f.wait_s),
              None if f.handling_s is None or f.status != SERVED else microseconds(f.handling_s), f.target_s,
              f.priority, f.green_reason, f.channel, f.score)
        if f.case is not None:
            c[CASES_OPEN + (0 if f.case.open else 1)] += 1
            c[CASES_OPEN + 2] += f.case.overdue
    return Tally(c)


def total(tallies: Iterable[Tally]) -> Tally:
    out = Tally()
    for t in tallies:
        out.add(t)
    return out


@dataclass
class Sums:
    """A region's tallies, per (hall, service) over the whole range, and per day over every hall."""

    cells: dict[tuple[str, str], Tally] = field(default_factory=dict)
    days: dict[date, Tally] = field(default_factory=dict)

    def add_cell(self, hall: str, service: str, t: Tally) -> None:
        cell = self.cells.get((hall, service))
        if cell is None:
            self.cells[(hall, service)] = t.copy()
        else:
            cell.add(t)

    def add_day(self, day: date, t: Tally) -> None:
        today = self.days.get(day)
        if today is None:
            self.days[day] = t.copy()
        else:
            today.add(t)

    def add(self, hall: str, service: str, day: date, t: Tally) -> None:
        self.add_cell(hall, service, t)
        self.add_day(day, t)

    def merge(self, other: Sums) -> None:
        for (hall, service), t in other.cells.items():
            self.add_cell(hall, service, t)
        for day, t in other.days.items():
            self.add_day(day, t)

    def add_facts(self, hall: str, tickets: Iterable[TicketFact]) -> None:
        """Tickets counted live (today, or a day not settled yet): per service and day, as a summary row is."""
        grouped: dict[tuple[str, date], list[TicketFact]] = {}
        for f in tickets:
            grouped.setdefault((f.service, f.day), []).append(f)
        for (service, day), group in grouped.items():
            self.add(hall, service, day, tally(group))


@dataclass(frozen=True, slots=True)
class RegionGroup:
    key: str | None
    name: str
    name_en: str
    halls: tuple[str, ...]  # the halls whose tickets may be in it


def groups(halls: Sequence[HallConfig], by: RegionGrouping, sums: Sums) -> list[RegionGroup]:
    """Every hall, every level a hall of the region has (then halls of no level), or every service a hall of the
    region offers (in the order the halls list them, the first to list one naming it), then the services the record
    has that no configuration names any longer: so a quiet one shows its zeroes."""
    if by == "hall":
        return [RegionGroup(h.id, h.name, h.id, (h.id,)) for h in halls]
    if by == "level":
        levels = [*LEVEL_NAMES, None]
        found = []
        for level in levels:
            members = tuple(h.id for h in halls if h.level == level)
            if members:
                zh, en = LEVEL_NAMES[level] if level is not None else NO_LEVEL
                found.append(RegionGroup(level, zh, en, members))
        return found
    services: dict[str, RegionGroup] = {}
    for h in halls:
        for s in h.services:
            if s.code not in services:
                services[s.code] = RegionGroup(s.code, s.name_zh, s.name_en, ())
    extra = sorted({service for _, service in sums.cells} - set(services))
    return [*services.values(), *(RegionGroup(code, code, code, ()) for code in extra)]


def _group_of(by: RegionGrouping, levels: dict[str, str | None]) -> Any:
    if by == "hall":
        return lambda hall, service: hall
    if by == "level":
        return lambda hall, service: levels.get(hall)
    return lambda hall, service: service


def report(region: dict[str, str], halls: Sequence[HallConfig], rng: DateRange, by: RegionGrouping,
           sums: Sums) -> dict[str, Any]:
    """The region's figures per group, its totals (the sum of every group) and each day's totals (every hall)."""
    key_of = _group_of(by, {h.id: h.level for h in halls})
    grouped: dict[str | None, Tally] = {}
    for (hall, service), t in sums.cells.items():
        key = key_of(hall, service)
        grouped[key] = grouped.get(key, Tally()).add(t)
    rows = []
    for g in groups(halls, by, sums):
        row: dict[str, Any] = {"key": g.key, "name": g.name, "name_en": g.name_en}
        if by != "service":
            row["halls"] = len(g.halls)
        rows.append(row | grouped.get(g.key, Tally()).figures())
    days = [{"day": d.isoformat(), **sums.days.get(d, Tally()).figures()} for d in rng.days]
    return {**region, "from": rng.first.isoformat(), "to": rng.last.isoformat(), "by": by,
            "halls": [h.id for h in halls], "rows": rows, "totals": total(sums.cells.values()).figures(),
            "days": days}
