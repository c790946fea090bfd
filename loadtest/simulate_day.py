"""A simulated day of the demo county hall, run through the real engine on real Redis.

A discrete-event simulation: a heap of timed events (citizens arriving, staff calling, citizens
walking up, handling ending) drives the real ``Engine`` with a ``ManualClock`` moved to each
event's time, so a whole morning runs in seconds and every state change goes through the Lua
scripts exactly as it would on the day. Usage: ``python -m loadtest.simulate_day --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import random
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dt_time
from pathlib import Path

from redis.asyncio import Redis

from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig, load_hall
from queue_engine.engine import Engine
from queue_engine.records import Ticket

from . import report
from .report import CallLog, DayResult, TicketLog, WindowLog
from .workload import Spec, generate, hhmm

DEMO_HALL = Path(__file__).resolve().parent.parent / "floor" / "halls" / "demo.toml"
POLL_S = 30.0  # an idle window looks at the queue again after this long
NO_SHOW_RECALL_S = 60.0  # a called citizen who does not come is announced once more ...
NO_SHOW_GIVE_UP_S = 120.0  # ... then marked 过号
# Mid-morning pauses (window, from, minutes, reason): staff step away, as the dashboard's pause time shows.
PAUSES: tuple[tuple[str, str, int, str], ...] = (
    ("4", "10:05", 10, "临时离岗（AB岗顶岗）"),
    ("8", "10:40", 8, "系统故障报修"),
    ("3", "15:10", 12, "业务会商"),
)


@dataclass(frozen=True, slots=True)
class SimConfig:
    tickets: int = 300
    seed: int = 20261124
    day: date = date(2026, 11, 24)  # a Tuesday: no Monday or after-holiday surge
    start: str = "08:00"
    until: str = "12:00"
    redis_url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "hqdemo"
    hall_path: Path = DEMO_HALL


DEFAULTS = SimConfig()


def seconds(t: dt_time) -> int:
    """A time of day as seconds since midnight."""
    return t.hour * 3600 + t.minute * 60 + t.second


def think_s(rng: random.Random) -> float:
    """Staff time between one citizen leaving and calling the next."""
    return rng.uniform(5, 20)


class Simulator:
    def __init__(self, engine: Engine, clock: ManualClock, cfg: SimConfig, midnight: float) -> None:
        self.engine, self.clock, self.cfg, self.hall = engine, clock, cfg, engine.hall
        self.midnight = midnight
        self.rng = random.Random(f"staff-{cfg.seed}")  # staff draws apart from the workload's own stream
        self.heap: list[tuple[float, int, str, str]] = []
        self.seq = 0
        self.arrivals = generate(Spec(daily_tickets=cfg.tickets), cfg.seed)
        self.by_index: dict[int, TicketLog] = {}
        self.by_id: dict[str, TicketLog] = {}
        self.at_window: dict[str, TicketLog] = {}
        self.pauses = {w: (midnight + hhmm(at), mins * 60.0, why) for w, at, mins, why in PAUSES}
        self.result = DayResult(
            hall_name=self.hall.name, date=cfg.day.isoformat(), daily_tickets=cfg.tickets, seed=cfg.seed,
            start_s=clock(), end_s=midnight + hhmm(cfg.until), zone=self.hall.zone,
            opening_s=midnight + seconds(self.hall.hours[0].start),
            service_names={s.code: s.name_zh for s in self.hall.services},
            targets={s.code: s.target_wait_s for s in self.hall.services},
            windows=[WindowLog(w.id, w.name) for w in self.hall.windows],
        )
        self.windows = {w.id: w for w in self.result.windows}
        self.handlers: dict[str, Callable[[str], Awaitable[None]]] = {
            "arrive": self.on_arrive, "open": self.on_open, "call": self.on_call, "start": self.on_start,
            "recall": self.on_recall, "no_show": self.on_no_show, "finish": self.on_finish,
            "transfer": self.on_transfer, "resume": self.on_resume, "abandon": self.on_abandon,
        }

    # -- the event loop -------------------------------------------------------------------
    def at(self, when: float, kind: str, key: str) -> None:
        self.seq += 1  # ties run in the order scheduled, so a seed replays exactly
        heapq.heappush(self.heap, (when, self.seq, kind, key))

    def now(self) -> float:
        return self.clock()

    def session_end(self) -> float | None:
        """End of the session under way now, or None between sessions."""
        t = self.hall.local(self.now()).time()
        ends = [s.end for s in self.hall.hours if s.start <= t < s.end]
        return self.midnight + seconds(ends[0]) if ends else None

    async def run(self) -> DayResult:
        for a in self.arrivals:
            if self.midnight + a.at_s >= self.result.start_s:
                self.at(self.midnight + a.at_s, "arrive", str(a.index))
        for s in self.hall.hours:
            for w in self.hall.windows:  # staff log in over the first half minute
                self.at(self.midnight + seconds(s.start) + self.rng.uniform(0, 30), "open", w.id)
        while self.heap and self.heap[0][0] <= self.result.end_s:
            when, _, kind, key = heapq.heappop(self.heap)
            self.clock.advance(max(when - self.now(), 0))
            await self.handlers[kind](key)
        self.clock.advance(max(self.result.end_s - self.now(), 0))
        await self.wrap_up()
        return self.result

    async def wrap_up(self) -> None:
        end = self.now()
        for w in self.result.windows:
            if w.busy_since is not None:
                w.busy_s += end - w.busy_since
            if w.opened_at is not None:
                w.open_s += end - w.opened_at
        for t in self.result.tickets:
            t.status = (await self.engine.ticket(t.ticket_id)).ticket.status
        self.result.snapshot = await self.engine.snapshot()

    # -- citizens -------------------------------------------------------------------------
    async def on_arrive(self, key: str) -> None:
        a = self.arrivals[int(key)]
        slot_ms = None if a.appointment_s is None else int((self.midnight + a.appointment_s) * 1000)
        try:
            issued = await self.engine.issue(a.service, channel=a.channel, priority=a.priority,
                                             person=f"sim-{a.index}", appointment_ms=slot_ms)
        except errors.DomainError:
            self.result.refused += 1  # e.g. no open window for the service: sent to the guide desk
            return
        t = issued.ticket
        log = TicketLog(a, t.id, t.number, t.service, self.now(), issued.estimated_wait_s, self.now(), t.service)
        self.by_index[a.index], self.by_id[t.id] = log, log
        self.result.tickets.append(log)
        self.at(self.now() + a.patience_s, "abandon", key)

    async def on_abandon(self, key: str) -> None:
        log = self.by_index[int(key)]
        if log.first_called_s is None:  # still not called: gives up and leaves (the ticket is cancelled)
            await self.engine.cancel(log.ticket_id)
            log.left_s = self.now()

    # -- a window's day -------------------------------------------------------------------
    async def on_open(self, window: str) -> None:
        if (await self.engine.window(window)).state != "closed":
            return  # still finishing the last session's queue
        await self.engine.open_window(window)
        self.windows[window].opened_at = self.now()
        self.at(self.now(), "call", window)

    async def on_call(self, window: str) -> None:
        if await self.maybe_pause(window):
            return
        called = await self.engine.call_next(window)
        if called is None:
            end = self.session_end()
            if end is None:  # session over and nobody left for this window: it closes
                await self.close(window)
            else:
                self.at(self.now() + POLL_S, "call", window)
            return
        self.called(window, called)

    def called(self, window: str, t: Ticket) -> None:
        log = self.by_id[t.id]
        first = log.first_called_s is None
        self.log_call(window, log, self.now() - log.queued_s, log.estimate_s if first else None, self.note(log))
        if first:
            log.first_called_s = self.now()
        self.at_window[window] = log
        self.windows[window].busy_since = self.now()
        if first and log.arrival.no_show:
            self.at(self.now() + NO_SHOW_RECALL_S, "recall", window)
            self.at(self.now() + NO_SHOW_GIVE_UP_S, "no_show", window)
        else:
            self.at(self.now() + log.arrival.walk_up_s, "start", window)

    def note(self, log: TicketLog) -> str:
        if log.transferred:
            return "转窗 transferred"
        if log.arrival.priority == "vip":
            return "VIP"
        if log.arrival.priority == "green":
            return "绿色通道 green"
        return "预约 appointment" if log.arrival.appointment_s is not None else ""

    def log_call(self, window: str, log: TicketLog, waited: float | None, est: int | None, note: str) -> None:
        name = self.windows[window].name
        svc = self.result.service_names[log.final_service]
        self.result.calls.append(CallLog(self.now(), log.number, name, svc, waited, est, note))

    async def on_recall(self, window: str) -> None:
        await self.engine.recall(window)
        self.log_call(window, self.at_window[window], None, None, "重呼 recall")

    async def on_no_show(self, window: str) -> None:
        await self.engine.no_show(window)
        self.windows[window].no_shows += 1
        self.release(window)

    async def on_start(self, window: str) -> None:
        await self.engine.start(window)
        log = self.at_window[window]
        log.serving_s = self.now()
        a = log.arrival
        if a.transfer_to is not None and not log.transferred:
            self.at(self.now() + a.transfer_after_s, "transfer", window)
        else:
            self.at(self.now() + (a.transfer_service_s if log.transferred else a.service_s), "finish", window)

    async def on_finish(self, window: str) -> None:
        log = self.at_window[window]
        await self.engine.finish(window, self.outcome(log))
        log.handling_s = self.now() - (log.serving_s or self.now())
        self.windows[window].served += 1
        self.release(window)

    def outcome(self, log: TicketLog) -> str:
        if log.final_service != "INFO":
            return "done"
        if log.arrival.category == "其他":
            return "other"
        return self.rng.choice(("consult", "pickup"))

    async def on_transfer(self, window: str) -> None:
        log = self.at_window[window]
        target = log.arrival.transfer_to or log.service
        reason = f"非本业务，转{self.result.service_names[target]}"
        await self.engine.transfer(window, to_service=target, reason=reason)
        log.transferred, log.final_service, log.queued_s = True, target, self.now()
        self.windows[window].transfers += 1
        self.release(window)

    def release(self, window: str) -> None:
        """The citizen has left the window: count the busy time, and the staff call again after a moment."""
        w = self.windows[window]
        if w.busy_since is not None:
            w.busy_s += self.now() - w.busy_since
        w.busy_since = None
        self.at_window.pop(window, None)
        self.at(self.now() + think_s(self.rng), "call", window)

    async def maybe_pause(self, window: str) -> bool:
        """Take the window's planned break if it is due (only an idle window can pause)."""
        plan = self.pauses.get(window)
        if plan is None or plan[0] > self.now() or self.session_end() is None:
            return False
        del self.pauses[window]
        _, seconds, reason = plan
        await self.engine.pause(window, reason)
        w = self.windows[window]
        w.pauses.append(f"{self.result.clock(self.now())[:5]} {reason}")
        w.paused_s += seconds
        self.at(self.now() + seconds, "resume", window)
        return True

    async def on_resume(self, window: str) -> None:
        await self.engine.resume(window)
        self.at(self.now(), "call", window)

    async def close(self, window: str) -> None:
        await self.engine.close_window(window)
        w = self.windows[window]
        if w.opened_at is not None:
            w.open_s += self.now() - w.opened_at
        w.opened_at = None


# -- running it -------------------------------------------------------------------------------
async def clear_prefix(redis: Redis, prefix: str) -> int:
    """Delete every key under the prefix (SCAN, never KEYS, so a shared Redis is not blocked)."""
    deleted = 0
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        deleted += await redis.delete(key)
    return deleted


async def simulate(cfg: SimConfig, redis: Redis, hall: HallConfig | None = None) -> DayResult:
    """Run one day from a clean slate under ``cfg.prefix``; the keys stay for inspection afterwards."""
    hall = hall or load_hall(cfg.hall_path)
    midnight = datetime.combine(cfg.day, datetime.min.time(), hall.zone).timestamp()
    clock = ManualClock(datetime.fromtimestamp(midnight + hhmm(cfg.start), hall.zone))
    await clear_prefix(redis, cfg.prefix)
    counter = iter(range(1, 1_000_000))
    # Sequential ids instead of random ones: queue ties (two appointments on one slot) then break
    # by issue order, so one seed always replays the same day.
    engine = Engine(redis, hall, prefix=cfg.prefix, clock=clock, new_id=lambda day: f"{day}-{next(counter):06d}")
    await engine.setup()
    return await Simulator(engine, clock, cfg, midnight).run()


def parse_args(argv: Sequence[str] | None) -> tuple[SimConfig, bool]:
    p = argparse.ArgumentParser(prog="python -m loadtest.simulate_day", description=__doc__.split("\n")[0])
    p.add_argument("--tickets", type=int, default=DEFAULTS.tickets, help="expected tickets over the whole day")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed)
    p.add_argument("--until", default=DEFAULTS.until, help="stop at this local time, HH:MM (17:30: whole day)")
    p.add_argument("--date", type=date.fromisoformat, default=DEFAULTS.day, help="business day, YYYY-MM-DD")
    p.add_argument("--redis-url", default=DEFAULTS.redis_url)
    p.add_argument("--prefix", default=DEFAULTS.prefix, help="Redis key prefix; cleared before the run")
    p.add_argument("--quiet", action="store_true", help="print only the summary tables, not the call log")
    a = p.parse_args(argv)
    if hhmm(a.until) <= hhmm(DEFAULTS.start):
        p.error(f"--until must be after {DEFAULTS.start}")
    cfg = SimConfig(tickets=a.tickets, seed=a.seed, day=a.date, until=a.until, redis_url=a.redis_url,
                    prefix=a.prefix)
    return cfg, a.quiet


async def amain(cfg: SimConfig, quiet: bool) -> int:
    redis = Redis.from_url(cfg.redis_url)
    try:
        began = time.perf_counter()
        result = await simulate(cfg, redis)
        text = report.render(result, calls=not quiet)
        print(text)
        print(f"\n(simulated {(result.end_s - result.start_s) / 3600:.1f} h of hall time in "
              f"{time.perf_counter() - began:.1f} s of real time; keys under {cfg.prefix}:)")
    finally:
        await redis.aclose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    cfg, quiet = parse_args(argv)
    return asyncio.run(amain(cfg, quiet))


if __name__ == "__main__":
    sys.exit(main())
