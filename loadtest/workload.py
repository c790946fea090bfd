"""A seedable synthetic day of citizens for a county hall, from the domain notes' "Synthetic workload" assumptions.

Pure: no I/O, no clock, no engine. Times are seconds since the hall's local midnight, so the same
workload drives the discrete-event simulation and, later, the Locust suite. One ``random.Random(seed)``
makes every draw, so a seed names a day exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

HOUR = 3600
MINUTE = 60
Z90 = NormalDist().inv_cdf(0.9)  # standard normal 90th percentile, ~1.2816


def hhmm(text: str) -> int:
    """'08:30' -> seconds since midnight."""
    hours, _, minutes = text.partition(":")
    return int(hours) * HOUR + int(minutes or 0) * MINUTE


@dataclass(frozen=True, slots=True)
class Bin:
    """A stretch of the day and the share of the day's tickets taken in it."""

    start_s: int
    end_s: int
    share: float


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of business citizens come for, mapped onto one of the demo hall's services."""

    name_zh: str
    service: str
    share: float
    mean_min: float  # handling time, lognormal with this mean ...
    p90_min: float  # ... and this 90th percentile


# Hourly shares of the day's tickets (8:30-17:30; none over lunch 12-14). Each hour is split evenly
# into half hours: the sources give hours only, and a flat half hour is the least-assuming guess.
HOURLY_SHARES: tuple[tuple[str, str, float], ...] = (
    ("08:30", "09:00", 0.08), ("09:00", "10:00", 0.22), ("10:00", "11:00", 0.20), ("11:00", "12:00", 0.12),
    ("14:00", "15:00", 0.15), ("15:00", "16:00", 0.13), ("16:00", "17:00", 0.08), ("17:00", "17:30", 0.02),
)
# The crowd waiting at the door takes its numbers in the last 20 minutes before opening.
DOOR = ("08:10", "08:30")
DOOR_SHARE = 0.04  # domain: 3-5% of the day

CATEGORIES: tuple[Category, ...] = (
    Category("社保/医保", "SOC", 0.25, 8, 15),
    Category("户籍", "HUK", 0.15, 8, 14),
    Category("不动产", "PROP", 0.15, 35, 60),
    Category("税务", "TAX", 0.10, 12, 25),
    Category("公积金", "FUND", 0.08, 10, 20),
    Category("企业开办", "BIZ", 0.07, 25, 45),
    Category("咨询/取件", "INFO", 0.15, 4, 8),
    # 其他 has no desk of its own: the comprehensive front desks take it under 咨询取件, with its own times.
    Category("其他", "INFO", 0.05, 10, 20),
)

# Where a citizen in the wrong queue is sent (转窗): the usual hops between related desks.
TRANSFER_TO: dict[str, str] = {
    "SOC": "FUND", "FUND": "SOC", "HUK": "SOC", "PROP": "TAX", "TAX": "PROP", "BIZ": "TAX", "INFO": "HUK",
}


@dataclass(frozen=True, slots=True)
class Rates:
    """Share of citizens with each flag (domain ranges, middle values)."""

    green: float = 0.04  # 绿色通道: elderly, disabled, pregnant, military
    vip: float = 0.0075  # 0.5-1%
    appointment: float = 0.10
    no_show: float = 0.075  # walk-ins who are not there when called: 5-10%
    transfer: float = 0.04  # 3-5% turn out to need another desk
    kiosk: float = 0.6  # the rest take their number at the guide desk


@dataclass(frozen=True, slots=True)
class Spec:
    daily_tickets: int = 300
    rates: Rates = Rates()
    categories: tuple[Category, ...] = CATEGORIES
    bins: tuple[Bin, ...] = ()  # empty: half_hour_bins()
    slot_s: int = 30 * MINUTE  # appointment slots start on the half hour
    opening_s: int = hhmm("08:30")  # no appointment slot starts before the hall opens

    def day_bins(self) -> tuple[Bin, ...]:
        return self.bins or half_hour_bins()


@dataclass(frozen=True, slots=True)
class Arrival:
    """One citizen: when they take a number, for what, and how things will go at the window."""

    index: int
    at_s: float  # seconds since local midnight
    category: str
    service: str
    channel: str  # guide | kiosk | appointment
    priority: str | None  # vip | green | None
    appointment_s: int | None  # the booked slot's start, seconds since midnight
    service_s: float  # handling time once at the window
    walk_up_s: float  # from the call to reaching the window
    no_show: bool
    transfer_to: str | None  # service the window sends them on to, if any
    transfer_after_s: float  # how long the first window takes to find out
    transfer_service_s: float  # handling time at the second desk
    patience_s: float  # gives up (cancels) if still not called after this long


def half_hour_bins(door_share: float = DOOR_SHARE) -> tuple[Bin, ...]:
    """The day's bins: the door crowd, then every opening hour split into half hours; shares sum to 1."""
    scale = 1 - door_share  # the door crowd is part of the day's volume, so the hours give way to it
    bins = [Bin(hhmm(DOOR[0]), hhmm(DOOR[1]), door_share)]
    for start, end, share in HOURLY_SHARES:
        s, e = hhmm(start), hhmm(end)
        halves = max((e - s) // (30 * MINUTE), 1)
        step = (e - s) // halves
        bins.extend(Bin(s + i * step, s + (i + 1) * step, share * scale / halves) for i in range(halves))
    return tuple(bins)


def lognormal_params(mean: float, p90: float) -> tuple[float, float]:
    """(mu, sigma) of the lognormal with this mean and 90th percentile.

    mean = exp(mu + sigma^2/2) and p90 = exp(mu + z*sigma) give sigma^2/2 - z*sigma + ln(p90/mean) = 0.
    Of its two roots we take the smaller: the larger one also fits but puts the median far below the
    mean with an absurd tail (a few citizens at the window for hours).
    """
    gap = math.log(p90 / mean)
    disc = Z90 * Z90 - 2 * gap
    if mean <= 0 or disc < 0:
        raise ValueError(f"no lognormal has mean {mean} and P90 {p90} (needs p90/mean <= {math.exp(Z90**2 / 2):.2f})")
    sigma = Z90 - math.sqrt(disc)
    return math.log(mean) - sigma * sigma / 2, sigma


def poisson_times(rng: random.Random, rate_per_s: float, start_s: float, end_s: float) -> list[float]:
    """Arrival times of a Poisson process on [start, end): exponential gaps, so counts are Poisson too."""
    times: list[float] = []
    if rate_per_s <= 0:
        return times
    t = start_s + rng.expovariate(rate_per_s)
    while t < end_s:
        times.append(t)
        t += rng.expovariate(rate_per_s)
    return times


def arrival_times(rng: random.Random, spec: Spec) -> list[float]:
    times: list[float] = []
    for b in spec.day_bins():
        expected = spec.daily_tickets * b.share
        times.extend(poisson_times(rng, expected / (b.end_s - b.start_s), b.start_s, b.end_s))
    return times


def _pick_category(rng: random.Random, categories: Sequence[Category]) -> Category:
    return rng.choices(categories, weights=[c.share for c in categories])[0]


def _draw_minutes(rng: random.Random, category: Category) -> float:
    mu, sigma = lognormal_params(category.mean_min, category.p90_min)
    return rng.lognormvariate(mu, sigma) * MINUTE


def _slot(at_s: float, slot_s: int, first_s: int) -> int:
    """The booked slot: the one starting next after arrival (citizens come a little early), not before opening."""
    return max(math.ceil(at_s / slot_s) * slot_s, first_s)


def _priority(rng: random.Random, rates: Rates) -> str | None:
    u = rng.random()
    if u < rates.vip:
        return "vip"
    return "green" if u < rates.vip + rates.green else None


def make_arrival(rng: random.Random, spec: Spec, index: int, at_s: float) -> Arrival:
    """One citizen; draws happen in a fixed order so a seed always yields the same day."""
    rates = spec.rates
    cat = _pick_category(rng, spec.categories)
    priority = _priority(rng, rates)
    booked = rng.random() < rates.appointment
    channel = "appointment" if booked else "kiosk" if rng.random() < rates.kiosk else "guide"
    # Booked citizens come for their slot; the no-show rate here is for walk-ins called and not present.
    no_show = not booked and rng.random() < rates.no_show
    transfer_to = TRANSFER_TO.get(cat.service) if rng.random() < rates.transfer else None
    second = next(c for c in spec.categories if c.service == (transfer_to or cat.service))
    return Arrival(
        index=index, at_s=at_s, category=cat.name_zh, service=cat.service, channel=channel, priority=priority,
        appointment_s=_slot(at_s, spec.slot_s, spec.opening_s) if booked else None,
        service_s=_draw_minutes(rng, cat), walk_up_s=rng.uniform(20, 60), no_show=no_show,
        transfer_to=transfer_to, transfer_after_s=rng.uniform(60, 180), transfer_service_s=_draw_minutes(rng, second),
        # Domain: abandonment rises after an hour's wait; few leave earlier.
        patience_s=60 * MINUTE + rng.expovariate(1 / (30 * MINUTE)),
    )


def generate(spec: Spec, seed: int) -> list[Arrival]:
    """The whole day's citizens in order of arrival."""
    rng = random.Random(seed)
    times = sorted(arrival_times(rng, spec))
    return [make_arrival(rng, spec, i, t) for i, t in enumerate(times)]
