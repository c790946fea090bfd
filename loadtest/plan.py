"""What the runner tells the locustfile: a plan, passed as JSON in ``HALLQ_LOAD_PLAN``.

Everything the Locust users decide is derived from it here, in plain Python without locust imported, so it
can be tested and type-checked alone: which hall and window a user owns, what service a citizen asks for,
how long a window takes over it.
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from .workload import CATEGORIES, MINUTE, Category, Rates, Spec, generate, lognormal_params

PLAN_ENV = "HALLQ_LOAD_PLAN"
SECRET_ENV = "HALLQ_LOAD_SECRET"
SERVICES = tuple(dict.fromkeys(c.service for c in CATEGORIES))  # SOC HUK PROP TAX FUND BIZ INFO


@dataclass(frozen=True)
class FloorPlan:
    """The broadcast floor's side: where screens connect and how often the trigger users fire."""

    ports: tuple[int, ...] = ()  # one per broadcaster process
    groups: int = 1  # one group per hall of the scenario
    trigger_rate: float = 0.0  # triggers per second, all trigger users together
    call_share: float = 0.25  # share of triggers that stand for a call (the rest: other events)
    json_rate: float = 0.0  # GET /json per second, all JSON users together


@dataclass(frozen=True)
class Plan:
    halls: tuple[str, ...]
    windows_per_hall: int
    counts: dict[str, int]  # Locust user class name -> users
    time_scale: float = 60.0  # handling and walk-up times are divided by this
    issue_rate: float = 0.0  # tickets per second, all issuers together (rate mode)
    issue_for_s: float | None = None  # issuers and phones stop taking numbers after this long
    day_tickets: int = 0  # > 0: issuers replay a synthetic day (workload.generate) compressed by time_scale
    seed: int = 1
    no_show: float = Rates().no_show  # share of calls nobody answers
    manager_every_s: tuple[float, float] = (2.0, 5.0)
    gate_on_spawn: bool = False  # windows and issuers wait until every screen has connected
    warmup_s: float = 0.0  # after the gate: this long is reported apart, not measured (see Scenario.warmup_s)
    processes: int = 1  # Locust worker processes (each gets a share of every class)
    samples_dir: str = ""  # where each Locust process writes its raw samples
    floor: FloorPlan = field(default_factory=FloorPlan)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data: dict[str, Any] = json.loads(text)
        data["halls"] = tuple(data["halls"])
        data["manager_every_s"] = tuple(data["manager_every_s"])
        floor = data.pop("floor", None) or {}
        floor["ports"] = tuple(floor.get("ports", ()))
        return cls(**data, floor=FloorPlan(**floor))

    @classmethod
    def from_env(cls) -> Plan:
        return cls.from_json(os.environ[PLAN_ENV])

    def rate_per_user(self, total_rate: float, users: int) -> float:
        return total_rate / users if users else 0.0


def global_index(local_index: int, worker_index: int, processes: int) -> int:
    """A user's index over all Locust processes: each process counts its own users of a class, and the
    stride keeps those counts from colliding."""
    return local_index * max(processes, 1) + worker_index


def hall_of(index: int, plan: Plan) -> str:
    """Users of every class are dealt over the halls round-robin: index i lands in hall i mod n. With several
    Locust processes and a hall count divisible by them, a hall's windows and screens share one process,
    which is where a screen can match a call to the call-next response that made it."""
    return plan.halls[index % len(plan.halls)]


def window_of(index: int, plan: Plan) -> tuple[str, str] | None:
    """(hall, window id) owned by the index-th window user, or None if every window is taken."""
    n = len(plan.halls)
    number = index // n + 1
    if number > plan.windows_per_hall:
        return None
    return plan.halls[index % n], str(number)


# -- citizens and windows ----------------------------------------------------------------------
_BY_SERVICE: dict[str, list[Category]] = {}
for _c in CATEGORIES:
    _BY_SERVICE.setdefault(_c.service, []).append(_c)
_PARAMS = {c.name_zh: lognormal_params(c.mean_min, c.p90_min) for c in CATEGORIES}


def pick_service(rng: random.Random) -> str:
    """A service by the county category mix (其他 goes to 咨询取件, as in the workload)."""
    return rng.choices(CATEGORIES, weights=[c.share for c in CATEGORIES])[0].service


RATES = Rates()


def pick_priority(rng: random.Random, rates: Rates = RATES) -> str | None:
    u = rng.random()
    if u < rates.vip:
        return "vip"
    return "green" if u < rates.vip + rates.green else None


def handling_s(rng: random.Random, service: str, time_scale: float) -> float:
    """A window's time with a citizen of this service, scaled: the category is drawn among those the service
    stands for (咨询/取件 or 其他 for INFO), then its lognormal handling time."""
    cats = _BY_SERVICE.get(service) or list(CATEGORIES)
    cat = rng.choices(cats, weights=[c.share for c in cats])[0]
    mu, sigma = _PARAMS[cat.name_zh]
    return rng.lognormvariate(mu, sigma) * MINUTE / time_scale


def walk_up_s(rng: random.Random, time_scale: float) -> float:
    """From the call to the citizen reaching the window (20-60 s, as in the workload), scaled."""
    return rng.uniform(20, 60) / time_scale


@dataclass(frozen=True, slots=True)
class Visit:
    """One ticket of a replayed day: when (seconds after the run starts), what, through which channel."""

    due_s: float
    service: str
    channel: str  # guide | kiosk | appointment
    priority: str | None


def day_schedule(plan: Plan, worker_index: int = 0) -> list[Visit]:
    """The synthetic county day of ``plan.day_tickets`` tickets, compressed by ``plan.time_scale``, starting at
    the first arrival. With several Locust processes each replays every n-th ticket."""
    arrivals = generate(Spec(daily_tickets=plan.day_tickets), plan.seed)
    if not arrivals:
        return []
    first = arrivals[0].at_s
    step = max(plan.processes, 1)
    return [Visit((a.at_s - first) / plan.time_scale, a.service, a.channel, a.priority)
            for a in arrivals[worker_index::step]]


def day_length_s(plan: Plan) -> float:
    """How long the compressed day's arrivals last."""
    arrivals = generate(Spec(daily_tickets=plan.day_tickets), plan.seed)
    return (arrivals[-1].at_s - arrivals[0].at_s) / plan.time_scale if arrivals else 0.0


def users_for_rate(rate: float, per_user: float) -> int:
    """Users needed so that none has to exceed ``per_user`` requests per second."""
    return max(1, math.ceil(rate / per_user)) if rate > 0 else 0
