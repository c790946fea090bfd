"""Reports: a hall's figures per day and per date range, grouped by service, window or member of staff, and the
monthly star rating of its windows. Pure: facts in (``floor.reports.facts`` reads them from the SQL record),
figures out.

How each figure is counted:

- A ticket belongs to the business day it was issued on, to the **service it was issued for** (a transferred
  ticket stays with the service the citizen queued for), to the **window it was last called to** (tickets
  never called form a row of their own, key null), and to the **member of staff** named by the token of the
  ``ticket.finished`` (or ``ticket.missed``) event that ended it at that window; when that event names nobody
  (an older token, a manager's hand, the end of the day) it goes to whoever opened the window last before it.
- issued: every ticket of the day. served: finished (any outcome). cancelled. unfinished: still waiting, called or
  being served. Each ticket is in exactly one of served, missed, cancelled and unfinished.
- **missed (过号)**: a ticket marked no-show and neither called back, requeued nor served since, i.e. one whose
  status is missed when counted (``is_missed``). Tickets are counted, not no-show marks: a citizen who came back
  and was served counts as served only, one requeued and waiting again as unfinished, and a ticket marked twice
  once. The window's console (``GET /windows/{w}/today``), the dashboard (``GET /stats/today``) and the reports
  all count it here (``counts``), so a morning shows the same 过号 on every screen.
- wait: issued -> first called, of every ticket ever called (a ticket called back, recalled or transferred keeps
  its first call). handling: serving -> finished (called -> finished for a ticket finished without being
  started), of finished tickets. Average and p90 in whole seconds. **p90 is the nearest-rank 90th percentile**
  (the value at rank ceil(0.9 n) of the sorted durations), computed here in Python from the fetched durations, so
  SQLite and PostgreSQL give the same figure.
- no-show rate: missed / (served + missed), the share of tickets settled at a window that nobody came for.
- over target (超时件): called tickets whose wait passed their service's ``target_wait_s``.
- green channel: tickets with priority green, by reason (elderly, disabled, pregnant, military; ``other``
  when the record has no reason, as before issue 8).
- appointments: tickets issued by checking in a booking (channel ``appointment``); appointment no-shows:
  bookings of the day that were never checked in (void), per service only (a booking never reached a window).
- ratings (好差评): each rated ticket's score 5..1 (非常满意..非常不满意), counted per level with each level's share
  of the rated tickets (the five-level distribution of the national 好差评 scheme). 差评 are 不满意 and
  非常不满意 (``floor.ratings.rules.is_bad``); 好评率 (good_rate) is the share of rated tickets that are not 差评.
  Satisfaction is the average of 10/8/6/3/0 points over rated tickets, out of 10, two decimals: one 非常满意 and
  one 非常不满意 make 5.00 of 10 and a 好评率 of 50%, which is why the pages show it beside 好评率 and the
  distribution, never alone. Shares and rates are rounded half up (四舍五入), as a person rounds, not to even.
  差评 cases are counted as open (the loop not closed yet), closed (closed or reviewed) and overdue (as the cases
  page says it: a callback or fix past its deadline and not done yet, at the time of the report).
- per staff: the hall's own staff by their full names (reports are for its managers); citizens' names are never
  in a report.

Monthly stars of a window (``stars``), from its month's satisfaction score and its 差评 cases:

    5 stars: satisfaction >= 9.5      4 stars: >= 9.0      3 stars: >= 8.0      2 stars: >= 6.0      1 star: below
    capped at 4 stars while any of its month's 差评 cases is still open,
    capped at 3 stars if any of them is overdue;
    no stars (null) for a window with no rating in the month.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, Literal

from floor.ratings.rules import LEVELS, SCORES, is_bad
from queue_engine.config import HallConfig
from queue_engine.policy import GREEN_REASONS

Grouping = Literal["service", "window", "staff"]
GROUPINGS: tuple[Grouping, ...] = ("service", "window", "staff")
MAX_DAYS = 366  # a year, leap day included: a longer range is a data export, not a report
CHARTS = ("hourly", "waits", "ratings")  # drawn by floor.reports.charts
GREEN_KEYS = (*GREEN_REASONS, "other")
CASE_KEYS = ("open", "closed", "overdue")
STAR_STEPS = ((9.5, 5), (9.0, 4), (8.0, 3), (6.0, 2))  # (lowest satisfaction, stars), best first
STARS_IF_OPEN = 4  # an open 差评 case caps a window's stars here
STARS_IF_OVERDUE = 3  # an overdue one here
STAR_RULE = {
    "zh": "满意度≥9.5为五星，≥9.0四星，≥8.0三星，≥6.0二星，其余一星；当月差评件未办结的最高四星，"
          "有超期差评件的最高三星；当月无评价不评星。",
    "en": "5 stars at a satisfaction score of 9.5 or more, 4 at 9.0, 3 at 8.0, 2 at 6.0, else 1; at most 4 while a "
          "差评 case of the month is open, at most 3 if one is overdue; no stars without a rating in the month.",
}


# -- facts ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CaseFact:
    """A 差评 case as a report counts it."""

    open: bool
    overdue: bool


@dataclass(frozen=True, slots=True)
class TicketFact:
    """One ticket as the reports see it (``floor.reports.facts`` derives it from the record)."""

    id: str
    day: date
    service: str  # the service it was issued for
    status: str
    channel: str
    priority: str | None
    green_reason: str | None
    window: str | None  # the window it was last called to
    staff: str | None  # who served it (see the module's docstring)
    issued_at: datetime
    wait_s: float | None  # issued -> first called
    handling_s: float | None  # serving (or called) -> finished
    target_s: int | None  # its service's target wait
    score: int | None = None  # its rating, 5..1
    case: CaseFact | None = None  # the 差评 case its rating opened
    outcome: str | None = None  # a finished ticket's outcome (done, consult, ...)

    @property
    def over_target(self) -> bool:
        return self.wait_s is not None and self.target_s is not None and self.wait_s > self.target_s

    @property
    def first_called_at(self) -> datetime | None:
        return None if self.wait_s is None else self.issued_at + timedelta(seconds=self.wait_s)


@dataclass(frozen=True, slots=True)
class NoShowFact:
    """A booking of the day never checked in (void): an appointment no-show."""

    day: date
    service: str


@dataclass(frozen=True)
class Facts:
    tickets: list[TicketFact] = field(default_factory=list)
    no_shows: list[NoShowFact] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)  # staff accounts of the hall: username -> display name


@dataclass(frozen=True, slots=True)
class DateRange:
    first: date
    last: date  # inclusive

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("a range ends on or after its first day")

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    @classmethod
    def month(cls, year: int, month: int) -> DateRange:
        first = date(year, month, 1)
        after = date(year + month // 12, month % 12 + 1, 1)
        return cls(first, after - timedelta(days=1))


# -- figures --------------------------------------------------------------------------------------
def mean(values: Sequence[float]) -> int | None:
    return round(sum(values) / len(values)) if values else None


def p90(values: Sequence[float]) -> int | None:
    """Nearest rank: the value at rank ceil(0.9 n) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)])


def share(part: int, whole: int, places: int = 4) -> float | None:
    """part / whole rounded half up (四舍五入) to ``places`` decimals, exactly; None when whole is 0."""
    if not whole:
        return None
    return _half_up(Fraction(part, whole), places)


def _half_up(value: Fraction, places: int) -> float:
    # Python's round() rounds a half to even (8.125 -> 8.12); a hall's figures round it up (8.13), as people do.
    scale: int = 10 ** places
    return math.floor(value * scale + Fraction(1, 2)) / scale  # exact: no float until the end


def satisfaction(scores: Iterable[int]) -> float | None:
    """The average of 10/8/6/3/0 points over the given scores, out of 10, two decimals; None without any."""
    points = [LEVELS[s].points for s in scores]
    return _half_up(Fraction(sum(points), len(points)), 2) if points else None


def good_rate(scores: Sequence[int]) -> float | None:
    """好评率: the share of ratings that are not 差评 (非常满意, 满意, 基本满意); None without any."""
    return share(sum(not is_bad(s) for s in scores), len(scores))


def rating_figures(scores: Sequence[int]) -> dict[str, Any]:
    """The five-level distribution (counts and shares, best first), 好评率, 差评 and satisfaction of some ratings."""
    counted = Counter(scores)
    return {
        "ratings": {str(score): counted.get(score, 0) for score in SCORES},
        "rating_shares": {str(score): share(counted.get(score, 0), len(scores)) for score in SCORES},
        "rated": len(scores),
        "good": sum(not is_bad(s) for s in scores),
        "good_rate": good_rate(scores),
        "satisfaction": satisfaction(scores),
        "bad": sum(is_bad(s) for s in scores),
    }


# The one definition of the counts every screen shows (the module's docstring says why each is what it is).
SERVED = "done"
MISSED = "missed"
UNFINISHED = ("waiting", "called", "serving")


def is_missed(status: str) -> bool:
    """过号: marked no-show and neither called back, requeued nor served since (see the module's docstring)."""
    return status == MISSED


def counts(tickets: Sequence[TicketFact]) -> dict[str, Any]:
    """Tickets issued, served, missed (过号), cancelled and unfinished, their waits and handling times, the no-show
    rate and 超时件: computed here only, for the reports, the dashboard's today and each window's console."""
    waits = [t.wait_s for t in tickets if t.wait_s is not None]
    handling = [t.handling_s for t in tickets if t.handling_s is not None and t.status == SERVED]
    served = sum(t.status == SERVED for t in tickets)
    missed = sum(is_missed(t.status) for t in tickets)
    return {
        "issued": len(tickets),
        "served": served,
        "missed": missed,
        "cancelled": sum(t.status == "cancelled" for t in tickets),
        "unfinished": sum(t.status in UNFINISHED for t in tickets),  # today, so far
        "avg_wait_s": mean(waits),
        "p90_wait_s": p90(waits),
        "avg_handling_s": mean(handling),
        "p90_handling_s": p90(handling),
        "no_show_rate": share(missed, served + missed),
        "over_target": sum(t.over_target for t in tickets),
    }


def figures(tickets: Sequence[TicketFact], no_shows: int | None = None) -> dict[str, Any]:
    """Every figure of a set of tickets (see the module's docstring for what each counts)."""
    green = Counter(t.green_reason if t.green_reason in GREEN_REASONS else "other"
                    for t in tickets if t.priority == "green")
    scores = [t.score for t in tickets if t.score is not None]
    cases = [t.case for t in tickets if t.case is not None]
    return {
        **counts(tickets),
        "green": {key: green.get(key, 0) for key in GREEN_KEYS},
        "green_total": sum(green.values()),
        "appointments": sum(t.channel == "appointment" for t in tickets),
        "appointment_no_shows": no_shows,
        **rating_figures(scores),
        "cases": {"open": sum(c.open for c in cases), "closed": sum(not c.open for c in cases),
                  "overdue": sum(c.overdue for c in cases)},
    }


@dataclass(frozen=True, slots=True)
class Group:
    key: str | None
    name: str
    name_en: str


def _groups(hall: HallConfig, by: Grouping, tickets: Sequence[TicketFact],
            people: dict[str, str] | None = None) -> list[Group]:
    """Every configured service, window or member of staff (so a quiet one shows its zeroes), then keys the
    record has that the configuration no longer names, then the row of tickets with no key (null)."""
    if by == "service":
        known = [Group(s.code, s.name_zh, s.name_en) for s in hall.services]
    elif by == "window":
        known = [Group(w.id, w.name, f"Window {w.id}") for w in hall.windows]
    else:  # the manager's own staff, by their full names: masking is for citizens' names, which no report holds
        known = [Group(m.id, m.name, m.name) for m in hall.staff]
        listed = {m.id for m in hall.staff}
        known += [Group(u, name, name) for u, name in sorted((people or {}).items()) if u not in listed]
    keys = {g.key for g in known}
    seen = {_key(t, by) for t in tickets}
    extra = sorted(k for k in seen - keys if k is not None)
    groups = known + [Group(k, k, k) for k in extra]
    if None in seen:
        none = {"service": ("—", "—"), "window": ("未到窗口", "Never called"), "staff": ("未登记", "Not named")}[by]
        groups.append(Group(None, *none))
    return groups


def _key(t: TicketFact, by: Grouping) -> str | None:
    return t.service if by == "service" else t.window if by == "window" else t.staff


def report(hall: HallConfig, rng: DateRange, by: Grouping, facts: Facts) -> dict[str, Any]:
    """The range's figures per group, the range's totals, and each day's totals."""
    grouped: dict[str | None, list[TicketFact]] = {}
    for t in facts.tickets:
        grouped.setdefault(_key(t, by), []).append(t)
    no_shows = Counter(n.service for n in facts.no_shows)
    rows = []
    for g in _groups(hall, by, facts.tickets, facts.people):
        # Appointment no-shows never reached a window or a member of staff: only services have them.
        missed_bookings = no_shows.get(g.key or "", 0) if by == "service" else None
        rows.append({"key": g.key, "name": g.name, "name_en": g.name_en,
                     **figures(grouped.get(g.key, []), missed_bookings)})
    by_day: dict[date, list[TicketFact]] = {}
    for t in facts.tickets:
        by_day.setdefault(t.day, []).append(t)
    day_no_shows = Counter(n.day for n in facts.no_shows)
    days = [{"day": d.isoformat(), **figures(by_day.get(d, []), day_no_shows.get(d, 0))} for d in rng.days]
    return {"hall": hall.id, "from": rng.first.isoformat(), "to": rng.last.isoformat(), "by": by, "rows": rows,
            "totals": figures(facts.tickets, len(facts.no_shows)), "days": days, "hours": hourly(hall, facts.tickets),
            "targets": {s.code: s.target_wait_s for s in hall.services}}


# -- hours of the day -------------------------------------------------------------------------------
def hourly(hall: HallConfig, tickets: Sequence[TicketFact]) -> list[dict[str, Any]]:
    """Tickets issued and their average wait per hour of the local day (by issue time, summed over the days of
    the range), from the hour of opening to the hour of closing, widened to cover any ticket outside them."""
    first = min(s.start for s in hall.hours).hour
    last = max(s.end for s in hall.hours)
    end = last.hour + (1 if last.minute else 0)
    hours = [t.issued_at.astimezone(hall.zone).hour for t in tickets]
    if hours:
        first, end = min(first, *hours), max(end, max(hours) + 1)
    waits: dict[int, list[float]] = {}
    counts = Counter(hours)
    for t, hour in zip(tickets, hours, strict=True):
        if t.wait_s is not None:
            waits.setdefault(hour, []).append(t.wait_s)
    return [{"hour": f"{h:02d}:00", "issued": counts.get(h, 0), "avg_wait_s": mean(waits.get(h, []))}
            for h in range(first, end)]


# -- monthly stars ----------------------------------------------------------------------------------
def star_count(score: float | None, open_cases: int, overdue_cases: int) -> int | None:
    """The stars of a window's month (the rule in the module's docstring)."""
    if score is None:
        return None
    stars = next((n for lowest, n in STAR_STEPS if score >= lowest), 1)
    if open_cases:
        stars = min(stars, STARS_IF_OPEN)
    if overdue_cases:
        stars = min(stars, STARS_IF_OVERDUE)
    return stars


def stars(hall: HallConfig, rng: DateRange, facts: Facts) -> dict[str, Any]:
    """Each window's stars for the month ``rng`` covers, with the figures they come from."""
    windows = []
    for row in report(hall, rng, "window", facts)["rows"]:
        if row["key"] is None:
            continue
        cases = row["cases"]
        windows.append({"window": row["key"], "name": row["name"], "rated": row["rated"],
                        "ratings": row["ratings"], "rating_shares": row["rating_shares"], "good_rate": row["good_rate"],
                        "satisfaction": row["satisfaction"], "bad": row["bad"], "open_cases": cases["open"],
                        "overdue_cases": cases["overdue"],
                        "stars": star_count(row["satisfaction"], cases["open"], cases["overdue"])})
    return {"hall": hall.id, "month": rng.first.strftime("%Y-%m"), "rule": STAR_RULE, "windows": windows}
