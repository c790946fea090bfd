"""The load scenarios of issue 6, as data. Sizes are chosen to run on a 2-core machine where the server and
Locust share the CPU (server on core 0, Locust on core 1 for one worker), with handling times compressed so
that a few minutes exercise what a hall sees in hours.

Issuing rates are real time; windows' handling and walk-up times are the workload's divided by
``time_scale``, so that ``windows`` windows keep up with the tickets within the run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .plan import day_length_s


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    about: str
    halls: int
    windows_per_hall: int
    displays_per_hall: int
    phones_per_hall: int
    guides: int
    kiosks: int
    managers: int
    time_scale: float
    duration_s: float  # Locust's run time, spawning included
    issue_rate: float = 0.0  # tickets/s from guides and kiosks together (rate mode)
    issue_for_s: float | None = None  # then they stop and the windows drain the queue
    day_tickets: int = 0  # > 0: replay a synthetic day instead of a rate
    spawn_rate: float = 0.0  # users started per second; 0: all at once
    gate_on_spawn: bool = False  # windows and issuers start once every screen is connected; stats reset then
    # The first seconds after the gate, reported apart ("Warm-up") and not in the figures judged against the targets:
    # a load that starts on empty queues is not yet the steady load the scenario stands for.
    warmup_s: float = 0.0
    workers: int = 1  # hallq serve --workers (the runner's --workers overrides)
    locust_processes: int = 1
    no_show: float = 0.075
    rps_target: float | None = None  # the HTTP p99 targets are stated at this request rate (one worker)
    connections_target: int | None = None  # live websocket connections that must all stay up

    @property
    def displays(self) -> int:
        return self.halls * self.displays_per_hall

    @property
    def phones(self) -> int:
        return self.halls * self.phones_per_hall

    @property
    def windows(self) -> int:
        return self.halls * self.windows_per_hall

    @property
    def users(self) -> int:
        return self.windows + self.displays + self.phones + self.guides + self.kiosks + self.managers

    def counts(self) -> dict[str, int]:
        counts = {"Window": self.windows, "Guide": self.guides, "Kiosk": self.kiosks, "Display": self.displays,
                  "Phone": self.phones, "Manager": self.managers}
        return {k: v for k, v in counts.items() if v > 0}


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario(
        name="opening-surge", title="Opening surge (开门高峰)",
        about="One county hall at 08:30: 300 tickets in the first minute (guide desk and kiosks) while 40 windows "
              "call; then the windows work the queue down. Handling times compressed 60x (mean ~15 s).",
        halls=1, windows_per_hall=40, displays_per_hall=5, phones_per_hall=10, guides=2, kiosks=8, managers=2,
        time_scale=60, duration_s=150, issue_rate=5.0, issue_for_s=60, spawn_rate=20, gate_on_spawn=True),
    Scenario(
        name="county-day", title="A county hall's day, compressed 60x",
        about="The synthetic county day of domain.md (700 tickets, the hourly shares, the door crowd at 08:10, "
              "no tickets over lunch) replayed 60x faster, with 40 windows, 5 displays, phone pages, managers.",
        halls=1, windows_per_hall=40, displays_per_hall=5, phones_per_hall=4, guides=2, kiosks=4, managers=2,
        time_scale=60, duration_s=0, day_tickets=700, spawn_rate=20, gate_on_spawn=True),
    Scenario(
        name="city-platform", title="A city platform: 200 halls at once",
        about="200 halls on one server, each with 4 windows, 5 lobby displays and a phone page; 230 tickets/s over "
              "all halls, handling compressed 240x, so the whole platform makes ~1,000 HTTP requests/s.",
        halls=200, windows_per_hall=4, displays_per_hall=5, phones_per_hall=1, guides=10, kiosks=40, managers=20,
        time_scale=240, duration_s=170, issue_rate=230.0, spawn_rate=100, gate_on_spawn=True, rps_target=1000,
        # Every queue is empty at the gate, so 800 idle windows poll call-next (2-3 a second each, the workload's
        # pause compressed 240x): for ~20 s the platform gets well over its 1,000 requests/s, mostly empty calls.
        warmup_s=20,
        # Two load processes (both on Locust's one core): with one, a response it had received waited for its turn
        # in a loop serving 2,070 users and ~5,000 screen messages a second, and that wait dominated the tail.
        locust_processes=2),
    Scenario(
        name="fanout-1k", title="Fan-out: 1,000 screens on one server process",
        about="1,000 lobby displays of one hall; 4 windows call about once a second (1 ticket/s), so every "
              "display receives ~4 events/s.",
        halls=1, windows_per_hall=4, displays_per_hall=1000, phones_per_hall=0, guides=0, kiosks=2, managers=0,
        time_scale=240, duration_s=100, issue_rate=1.0, spawn_rate=100, gate_on_spawn=True),
    Scenario(
        name="fanout-3k", title="Fan-out: 3,000 screens on one server process",
        about="As fanout-1k with 3,000 displays of one hall.",
        halls=1, windows_per_hall=4, displays_per_hall=3000, phones_per_hall=0, guides=0, kiosks=2, managers=0,
        time_scale=240, duration_s=120, issue_rate=1.0, spawn_rate=100, gate_on_spawn=True),
    Scenario(
        name="fanout-10k", title="10,000 live websockets across 2 server workers",
        about="10 halls with 1,000 displays each on `hallq serve --workers 2` (both cores, no pinning), held by "
              "2 Locust processes; 2 windows per hall, 1 ticket/s over all halls. None may drop.",
        halls=10, windows_per_hall=2, displays_per_hall=1000, phones_per_hall=0, guides=0, kiosks=2, managers=0,
        time_scale=240, duration_s=150, issue_rate=1.0, spawn_rate=200, gate_on_spawn=True, workers=2,
        locust_processes=2, connections_target=10_000),
)}


def with_duration(s: Scenario) -> Scenario:
    """A replayed day runs as long as the compressed day, plus time for the windows to finish."""
    if s.duration_s or not s.day_tickets:
        return s
    from .plan import Plan

    plan = Plan(halls=("x",), windows_per_hall=1, counts={}, time_scale=s.time_scale, day_tickets=s.day_tickets)
    return replace(s, duration_s=round(day_length_s(plan) + 60))


def smoke(s: Scenario) -> Scenario:
    """Seconds, a low rate, a handful of users: does everything work end to end (CI)."""
    return replace(s, halls=1, windows_per_hall=3, displays_per_hall=2, phones_per_hall=2, guides=1, kiosks=1,
                   managers=1, time_scale=600, duration_s=8, issue_rate=3.0, issue_for_s=None, day_tickets=0,
                   spawn_rate=0, gate_on_spawn=False, warmup_s=0, workers=1, locust_processes=1, no_show=0.2,
                   rps_target=None, connections_target=None)
