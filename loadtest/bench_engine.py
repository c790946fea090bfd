"""Engine throughput and latency against a real Redis, next to the floor of a trivial Lua script.

Run: ``.venv/bin/python -m loadtest.bench_engine`` (``--quick`` for a fast smoke run).

Three parts, one table:

1. The raw floor: EVALSHA/s of a trivial script doing INCR, HSET and ZADD on hash-tagged keys,
   from the same ``redis.asyncio`` client the engine uses, sequential and with 50 tasks.
2. The engine API on a bench hall of 60 windows that all serve every demo service: issue,
   call_next, start and finish, sequential and with 50 tasks, and the issue+call_next cycle,
   whose rate is compared with the raw EVALSHA rate.
3. call_next and finish latency with 100, 10,000 and 100,000 tickets waiting, the queue kept at
   its length by re-issuing one ticket per call.

Everything lives under a key prefix of its own (``hqbench-<random>``), deleted at the end, also
after an error. Measuring: a "region" is timed with ``perf_counter_ns``; around it we read the
process CPU time and Redis' ``INFO commandstats`` (script execution time of EVALSHA), which gives
the client CPU and the server time per operation. Operations that a window needs between two calls
(start, finish, the refill of the queue) run outside the regions of the other operations.

The raw floor and the cycle are measured in alternating slices, and so are the three depths: on a
shared machine a load that comes and goes then weighs on both sides of a ratio alike. The output
ends with how much CPU this process, Redis and everything else used during the run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import os
import platform
import secrets
import shlex
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import redis as redis_pkg
from redis.asyncio import Redis
from redis.utils import HIREDIS_AVAILABLE

from queue_engine.config import HallConfig, Window, load_hall
from queue_engine.engine import Engine
from queue_engine.records import Ticket

DEMO_HALL = Path(__file__).resolve().parent.parent / "floor" / "halls" / "demo.toml"
CONCURRENCY = 50
BENCH_WINDOWS = 60
DEPTHS = (100, 10_000, 100_000)
QUICK_DEPTHS = (100, 10_000)
FILL_WORKERS = 50  # redis.asyncio's pool allows 100 connections by default
CYCLE_TARGET = 0.50
SLICES = 5  # raw floor and cycle alternate this many times
DEPTH_TARGET = 2.0
# A Monday morning in the demo hall's zone: the bench clock starts here and then runs in real time,
# so every run sees the same business day and is inside opening hours.
START = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

TRIVIAL_LUA = """
local n = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], 'last', ARGV[1])
redis.call('ZADD', KEYS[3], n, n % 1000)
return n
"""

T = TypeVar("T")


# -- plumbing ----------------------------------------------------------------------------------
class RunningClock:
    """Starts at ``START`` and follows the monotonic clock: real time passing, a fixed day."""

    def __init__(self) -> None:
        self._origin = time.perf_counter()

    def __call__(self) -> float:
        return START.timestamp() + (time.perf_counter() - self._origin)


class Interrupted(Exception):
    """A signal asked the run to stop."""


class StopFlag:
    """Set by SIGINT/SIGTERM. Measuring loops check it: cancelling the main task alone was seen not to
    stop the run (the cancel got lost inside a redis-py call under Python 3.11)."""

    def __init__(self) -> None:
        self.set = False

    def check(self) -> None:
        if self.set:
            raise Interrupted()


STOP = StopFlag()


class Budget:
    """How long a phase runs: until a number of operations is taken, or until a deadline."""

    def __init__(self, seconds: float | None, ops: int | None) -> None:
        self.seconds = seconds
        self.ops = ops
        self._deadline = 0.0
        self._left = 0

    def begin(self) -> Budget:
        self._deadline = time.perf_counter() + self.seconds if self.seconds is not None else float("inf")
        self._left = self.ops if self.ops is not None else sys.maxsize
        return self

    def take(self, n: int = 1) -> bool:
        """Claim ``n`` operations; False once the count or the time is used up."""
        STOP.check()
        if self._left <= 0 or time.perf_counter() >= self._deadline:
            return False
        self._left -= n
        return True


@dataclass
class Row:
    """One line of the table: an operation at a concurrency, with everything measured around it."""

    section: str
    label: str
    concurrency: int
    lat_ns: list[int] = field(default_factory=list)
    ops: int = 0
    busy_ns: int = 0  # wall time inside the regions
    cpu_ns: int = 0  # this process' CPU time inside the regions
    server_us: int | None = 0  # Redis' EVALSHA execution time inside the regions
    evalsha: int = 0

    @property
    def rate(self) -> float:
        return self.ops / (self.busy_ns / 1e9) if self.busy_ns else 0.0

    def pct_us(self, q: float) -> float:
        if not self.lat_ns:
            return float("nan")
        ordered = sorted(self.lat_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000

    @property
    def p50(self) -> float:
        return self.pct_us(0.50)

    @property
    def p99(self) -> float:
        return self.pct_us(0.99)


class Meter:
    """Times regions: wall (perf_counter_ns), process CPU, and Redis' own EVALSHA time."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def _evalsha_stats(self) -> tuple[int, int]:
        """Script calls and their time in Redis: the floor runs EVALSHA, the engine FCALL (Redis functions)."""
        info: dict[str, Any] = await self.redis.info("commandstats")
        stats = [info.get("cmdstat_evalsha") or {}, info.get("cmdstat_fcall") or {}]
        return sum(int(s.get("calls", 0)) for s in stats), sum(int(s.get("usec", 0)) for s in stats)

    async def region(self, row: Row, ops: int, body: Callable[[], Awaitable[None]], *, server: bool = True) -> None:
        calls0, usec0 = await self._evalsha_stats() if server else (0, 0)
        cpu0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        await body()
        t1 = time.perf_counter_ns()
        cpu1 = time.process_time_ns()
        row.ops += ops
        row.busy_ns += t1 - t0
        row.cpu_ns += cpu1 - cpu0
        if server and row.server_us is not None:
            calls1, usec1 = await self._evalsha_stats()
            row.server_us += usec1 - usec0
            row.evalsha += calls1 - calls0
        else:
            row.server_us = None


async def timed(lat: list[int], op: Awaitable[T]) -> T:
    t0 = time.perf_counter_ns()
    result = await op
    lat.append(time.perf_counter_ns() - t0)
    return result


def called(ticket: Ticket | None) -> Ticket:
    if ticket is None:
        raise RuntimeError("call_next found no ticket: the bench queue ran dry")
    return ticket


def bench_hall(hall_id: str) -> HallConfig:
    """The demo's services and hours, with 60 comprehensive windows that all serve every service."""
    demo = load_hall(DEMO_HALL)
    codes = tuple(s.code for s in demo.services)
    windows = tuple(
        Window(id=str(i), name=f"bench {i}", services=codes, primary=(codes[(i - 1) % len(codes)],))
        for i in range(1, BENCH_WINDOWS + 1)
    )
    return HallConfig(
        id=hall_id, name=f"hallq bench {hall_id}", timezone=demo.timezone, hours=demo.hours,
        services=demo.services, windows=windows, policy=demo.policy,
    )


class Issuer:
    """Issues tickets round-robin over the hall's services."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.codes = [s.code for s in engine.hall.services]
        self.n = 0

    def next_service(self) -> str:
        self.n += 1
        return self.codes[self.n % len(self.codes)]

    async def issue(self) -> None:
        await self.engine.issue(self.next_service())

    async def fill(self, count: int) -> None:
        """Issue ``count`` tickets with FILL_WORKERS tasks in flight."""
        left = count

        async def worker() -> None:
            nonlocal left
            while left > 0:
                STOP.check()
                left -= 1
                await self.issue()

        await asyncio.gather(*(worker() for _ in range(FILL_WORKERS)))


async def waiting(engine: Engine) -> int:
    async with engine.redis.pipeline(transaction=False) as pipe:
        for s in engine.hall.services:
            pipe.zcard(engine.keys.queue(s.code))
        counts: list[int] = await pipe.execute()
    return sum(counts)


async def new_engine(redis: Redis, prefix: str, hall_id: str) -> Engine:
    engine = Engine(redis, bench_hall(hall_id), prefix=prefix, clock=RunningClock())
    await engine.setup()
    for w in engine.hall.windows:
        await engine.open_window(w.id)
    return engine


def proc_text(name: str) -> str:
    """A file of /proc, or "" where there is none (not Linux)."""
    try:
        return Path("/proc", name).read_text()
    except OSError:
        return ""


def cpu_times_s() -> tuple[float, float, float]:
    """Machine-wide CPU seconds since boot: busy in processes (user, nice, system, irq), in softirq
    (where the kernel does loopback networking, for Redis and us too), and stolen by the hypervisor."""
    try:
        f = [int(x) for x in proc_text("stat").split("\n", 1)[0].split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        return (f[0] + f[1] + f[2] + f[5]) / hz, f[6] / hz, f[7] / hz
    except (ValueError, IndexError):
        return 0.0, 0.0, 0.0


class CpuShare:
    """Who used the machine's CPUs during the run: this process, Redis, the kernel, everything else."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._start: tuple[float, ...] = ()

    async def _sample(self) -> tuple[float, ...]:
        info: dict[str, Any] = await self.redis.info("cpu")
        redis_cpu = float(info.get("used_cpu_user", 0.0)) + float(info.get("used_cpu_sys", 0.0))
        return time.perf_counter(), *cpu_times_s(), time.process_time(), redis_cpu

    async def start(self) -> None:
        self._start = await self._sample()

    async def report(self) -> str:
        end = await self._sample()
        wall, busy, softirq, steal, own, red = (b - a for a, b in zip(self._start, end, strict=True))
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        others = max(busy - own - red, 0.0)
        return (f"CPU during the run ({wall:.0f}s, {cores} cores, in % of one core): this process {own / wall:.0%}, "
                f"redis-server {red / wall:.0%}, softirq {softirq / wall:.0%}, other processes {others / wall:.0%}, "
                f"steal {steal / wall:.0%}; load average at the end {(proc_text('loadavg') or '?').split()[0]}")


def progress(text: str) -> None:
    print(f"  .. {text}", file=sys.stderr, flush=True)


# -- 1. the raw floor ---------------------------------------------------------------------------
class RawFloor:
    """The trivial script, run from the same client as the engine; a row per concurrency."""

    def __init__(self, redis: Redis, meter: Meter, prefix: str) -> None:
        self.script = redis.register_script(TRIVIAL_LUA)
        self.keys = [f"{prefix}:{{raw}}:n", f"{prefix}:{{raw}}:h", f"{prefix}:{{raw}}:z"]
        self.meter = meter
        self.rows = {c: Row("floor", "trivial EVALSHA (INCR+HSET+ZADD)", c) for c in (1, CONCURRENCY)}

    async def warm_up(self) -> None:
        for _ in range(20):  # loads the script and opens the connections the 50 tasks will use
            await asyncio.gather(*(self.script(keys=self.keys, args=["x"]) for _ in range(CONCURRENCY)))

    async def run(self, concurrency: int, budget: Budget) -> None:
        """One slice: ``concurrency`` tasks calling the script back to back until the budget is used."""
        row = self.rows[concurrency]

        async def task() -> None:
            while budget.take():
                await timed(row.lat_ns, self.script(keys=self.keys, args=["x"]))

        async def body() -> None:
            budget.begin()
            await asyncio.gather(*(task() for _ in range(concurrency)))

        ops_before = len(row.lat_ns)
        await self.meter.region(row, 0, body)
        row.ops += len(row.lat_ns) - ops_before


# -- 2. the engine API --------------------------------------------------------------------------
async def bench_issue(engine: Engine, meter: Meter, budget: Budget) -> tuple[Row, Row]:
    issuer = Issuer(engine)
    seq = Row("engine", "issue", 1)

    async def run_seq() -> None:
        budget.begin()
        while budget.take():
            await timed(seq.lat_ns, engine.issue(issuer.next_service()))

    progress("issue, sequential")
    await meter.region(seq, 0, run_seq)
    seq.ops = len(seq.lat_ns)

    conc = Row("engine", "issue", CONCURRENCY)

    async def task() -> None:
        while budget.take():
            await timed(conc.lat_ns, engine.issue(issuer.next_service()))

    async def run_conc() -> None:
        budget.begin()
        await asyncio.gather(*(task() for _ in range(CONCURRENCY)))

    progress(f"issue, {CONCURRENCY} tasks")
    await meter.region(conc, 0, run_conc)
    conc.ops = len(conc.lat_ns)
    return seq, conc


async def each(windows: Sequence[str], concurrent: bool, op: Callable[[str], Awaitable[None]]) -> None:
    """Run ``op`` on every window: one after another, or all at once (one task per window)."""
    if concurrent:
        await asyncio.gather(*(op(w) for w in windows))
    else:
        for w in windows:
            await op(w)


async def bench_window_ops(engine: Engine, meter: Meter, budget: Budget, concurrency: int) -> list[Row]:
    """Rounds over the windows: call_next on all, start on all, finish on all, each its own region.

    Between rounds the queue gets back what was called (untimed), so its length stays put.
    """
    windows = [w.id for w in engine.hall.windows][: BENCH_WINDOWS if concurrency == 1 else concurrency]
    conc = concurrency > 1
    issuer = Issuer(engine)
    rows = {name: Row("engine", name, concurrency) for name in ("call_next", "start", "finish")}

    async def call(w: str) -> None:
        called(await timed(rows["call_next"].lat_ns, engine.call_next(w)))

    async def start(w: str) -> None:
        await timed(rows["start"].lat_ns, engine.start(w))

    async def finish(w: str) -> None:
        await timed(rows["finish"].lat_ns, engine.finish(w, "done"))

    progress(f"call_next/start/finish, {'sequential' if not conc else f'{concurrency} tasks'}")
    budget.begin()
    while budget.take(len(windows)):
        for name, op in (("call_next", call), ("start", start), ("finish", finish)):
            await meter.region(rows[name], len(windows), functools.partial(each, windows, conc, op))
        await asyncio.gather(*(issuer.issue() for _ in windows))
    return list(rows.values())


class Cycles:
    """The issue+call_next cycle on the bench hall, a row per concurrency.

    With one task the cycles run one after another over the 60 windows; with 50, each task has a
    window of its own. The finish that frees the windows again runs between the timed regions.
    """

    def __init__(self, engine: Engine, meter: Meter) -> None:
        self.engine = engine
        self.meter = meter
        self.issuer = Issuer(engine)
        self.rows = {c: Row("engine", "issue+call_next cycle", c) for c in (1, CONCURRENCY)}

    async def run(self, concurrency: int, budget: Budget) -> None:
        engine = self.engine
        windows = [w.id for w in engine.hall.windows][: BENCH_WINDOWS if concurrency == 1 else concurrency]
        row = self.rows[concurrency]

        async def cycle(w: str) -> None:
            t0 = time.perf_counter_ns()
            await self.issuer.issue()
            called(await engine.call_next(w))
            row.lat_ns.append(time.perf_counter_ns() - t0)

        async def finish(w: str) -> None:
            await engine.finish(w, "done")

        budget.begin()
        while budget.take(len(windows)):
            await self.meter.region(row, len(windows), functools.partial(each, windows, concurrency > 1, cycle))
            await each(windows, True, finish)


async def floor_and_cycles(raw: RawFloor, cycles: Cycles, budget: Budget, slices: int) -> None:
    """Raw floor and cycle in alternating slices, so that both see the same machine: a load that
    comes and goes on a shared host then weighs on both sides of the ratio alike."""
    part = Budget(budget.seconds / slices if budget.seconds is not None else None,
                  max(1, budget.ops // slices) if budget.ops is not None else None)
    for concurrency in (1, CONCURRENCY):
        progress(f"raw EVALSHA and issue+call_next cycle, {slices} alternating slices, "
                 f"{'sequential' if concurrency == 1 else f'{concurrency} tasks'}")
        for _ in range(slices):
            await raw.run(concurrency, part)
            await cycles.run(concurrency, part)


# -- 3. call_next against the queue's length ----------------------------------------------------
class Depth:
    """One hall holding ``depth`` waiting tickets; call_next and finish timed one after another."""

    def __init__(self, engine: Engine, depth: int) -> None:
        self.engine = engine
        self.depth = depth
        self.issuer = Issuer(engine)
        self.windows = [w.id for w in engine.hall.windows]
        self.calls = Row("depth", f"call_next @ {depth:,} waiting", 1, server_us=None)
        self.finishes = Row("depth", f"finish @ {depth:,} waiting", 1, server_us=None)
        self.n = 0
        self.waiting_before = 0

    @classmethod
    async def build(cls, redis: Redis, prefix: str, depth: int) -> Depth:
        self = cls(await new_engine(redis, prefix, f"depth{depth}"), depth)
        progress(f"filling {depth:,} tickets")
        t0 = time.perf_counter()
        await self.issuer.fill(depth)
        progress(f"filled {depth:,} in {time.perf_counter() - t0:.1f}s")
        for w in self.windows[:10]:  # warm-up: every script loaded, nothing counted
            await self.issuer.issue()
            called(await self.engine.call_next(w))
            await self.engine.finish(w, "done")
        self.waiting_before = await waiting(self.engine)
        return self

    async def run(self, budget: Budget) -> None:
        engine, calls, finishes = self.engine, self.calls, self.finishes
        budget.begin()
        while budget.take():
            w = self.windows[self.n % len(self.windows)]
            self.n += 1
            await self.issuer.issue()  # one in for the one called: `depth` wait when call_next runs
            t0 = time.perf_counter_ns()
            called(await engine.call_next(w))
            t1 = time.perf_counter_ns()
            await engine.finish(w, "done")
            t2 = time.perf_counter_ns()
            calls.lat_ns.append(t1 - t0)
            finishes.lat_ns.append(t2 - t1)
            calls.busy_ns += t1 - t0
            finishes.busy_ns += t2 - t1
        calls.ops, finishes.ops = len(calls.lat_ns), len(finishes.lat_ns)


async def bench_depths(redis: Redis, prefix: str, depths: Sequence[int], budget: Budget, slices: int) -> list[Depth]:
    """Fill one hall per depth, then measure them in alternating slices (the same machine for all)."""
    halls = [await Depth.build(redis, prefix, d) for d in depths]
    part = Budget(budget.seconds / slices if budget.seconds is not None else None,
                  max(1, budget.ops // slices) if budget.ops is not None else None)
    progress(f"call_next at {', '.join(f'{d:,}' for d in depths)} waiting, {slices} alternating slices")
    for _ in range(slices):
        for hall in halls:
            await hall.run(part)
    return halls


# -- reporting ----------------------------------------------------------------------------------
def machine(server: dict[str, Any]) -> list[str]:
    cpuinfo = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in proc_text("cpuinfo").splitlines()[:30])
    )
    cpu = cpuinfo.get("model name") or platform.processor() or "unknown"
    if "cpu MHz" in cpuinfo:
        cpu += f" @ {float(cpuinfo['cpu MHz']):.0f} MHz"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    hiredis = importlib.util.find_spec("hiredis") is not None
    return [
        f"cpu        : {cpu}",
        f"nproc      : {affinity} (cpu_count {os.cpu_count()})",
        f"python     : {platform.python_version()} ({platform.python_implementation()}) on {platform.platform()}",
        f"redis-py   : {redis_pkg.__version__}",
        f"hiredis    : {'yes' if hiredis else 'no'} (parser in use: {'hiredis' if HIREDIS_AVAILABLE else 'python'})",
        f"redis      : {server.get('redis_version', '?')} ({server.get('redis_mode', '?')}, "
        f"{server.get('multiplexing_api', '?')}, io-threads {server.get('io_threads_active', '?')})",
    ]


def fmt_num(x: float | None, digits: int = 0) -> str:
    if x is None or x != x:  # None or NaN
        return "-"
    return f"{x:,.{digits}f}"


def table(rows: Sequence[Row]) -> list[str]:
    head = ("part", "operation", "tasks", "ops", "ops/s", "p50 µs", "p99 µs", "py CPU µs/op", "redis µs/op")
    body = []
    for r in rows:
        cpu = r.cpu_ns / r.ops / 1000 if r.ops and r.cpu_ns else None
        srv = r.server_us / r.ops if r.ops and r.server_us is not None and r.evalsha else None
        body.append((r.section, r.label, str(r.concurrency), fmt_num(r.ops), fmt_num(r.rate), fmt_num(r.p50),
                     fmt_num(r.p99), fmt_num(cpu, 1), fmt_num(srv, 1)))
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(cells))

    out = [line(head), "  ".join("-" * w for w in widths)]
    last = ""
    for r, b in zip(rows, body, strict=True):
        if last and r.section != last:
            out.append("")
        last = r.section
        out.append(line(b))
    return out


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# -- main ---------------------------------------------------------------------------------------
async def delete_prefix(redis: Redis, prefix: str) -> int:
    deleted = 0
    while True:
        batch: list[bytes] = []
        found = 0
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            found += 1
            if len(batch) >= 500:
                deleted += await redis.delete(*batch)
                batch = []
        if batch:
            deleted += await redis.delete(*batch)
        if not found:
            return deleted


async def run(args: argparse.Namespace, command: str) -> int:
    budget = Budget(args.seconds, args.ops)
    depth_sizes = QUICK_DEPTHS if args.quick else DEPTHS
    prefix = f"hqbench-{secrets.token_hex(5)}"
    redis = Redis.from_url(args.redis_url)
    main_task = asyncio.current_task()

    def on_signal() -> None:  # Ctrl-C or a kill: stop measuring, still clean up in `finally`
        STOP.set = True
        if main_task is not None:
            main_task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, on_signal)
    try:
        server: dict[str, Any] = await redis.info("server")
        header = [f"hallq engine bench — {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
                  f"command    : {command}", *machine(server),
                  f"sizing     : {f'{args.ops} ops' if args.ops else f'{args.seconds}s'} per phase"
                  f"{' (--quick)' if args.quick else ''}; key prefix {prefix}",
                  f"load avg   : {proc_text('loadavg').strip() or '?'} (at start)"]
        print("\n".join(header), flush=True)
        meter = Meter(redis)
        share = CpuShare(redis)
        await share.start()
        started = time.perf_counter()

        engine = await new_engine(redis, prefix, "bench")
        warm = Issuer(engine)
        for w in [w.id for w in engine.hall.windows][:10]:  # loads every script used below
            await warm.issue()
            called(await engine.call_next(w))
            await engine.start(w)
            await engine.finish(w, "done")
        raw = RawFloor(redis, meter, prefix)
        await raw.warm_up()
        issue_seq, issue_conc = await bench_issue(engine, meter, budget)
        # The window rounds need tickets in hand: top the queue up to a fixed length first.
        depth_before_calls = await waiting(engine)
        if depth_before_calls < 2_000:
            await warm.fill(2_000 - depth_before_calls)
        phase2_depth = await waiting(engine)
        ops_seq = await bench_window_ops(engine, meter, budget, 1)
        ops_conc = await bench_window_ops(engine, meter, budget, CONCURRENCY)
        cycles = Cycles(engine, meter)
        await floor_and_cycles(raw, cycles, budget, 2 if args.quick else SLICES)
        raw_seq, raw_conc = raw.rows[1], raw.rows[CONCURRENCY]
        cycle_seq, cycle_conc = cycles.rows[1], cycles.rows[CONCURRENCY]

        depths = await bench_depths(redis, prefix, depth_sizes, budget, 2 if args.quick else SLICES)
        depth_rows = [row for d in depths for row in (d.calls, d.finishes)]
        p50_at = {d.depth: d.calls.p50 for d in depths}
        depth_notes = [f"{d.depth:,}: {d.waiting_before:,} waiting before, {await waiting(d.engine):,} after"
                       for d in depths]

        by_label = {(r.label, r.concurrency): r for r in [*ops_seq, *ops_conc]}
        rows = [
            raw_seq, raw_conc, issue_seq, issue_conc,
            by_label["call_next", 1], by_label["call_next", CONCURRENCY],
            by_label["start", 1], by_label["start", CONCURRENCY],
            by_label["finish", 1], by_label["finish", CONCURRENCY],
            cycle_seq, cycle_conc, *depth_rows,
        ]
        out = ["", *table(rows), ""]
        out.append("ops/s: operations over the wall time spent inside the measured regions; py CPU: this process'")
        out.append("CPU time per op; redis µs/op: script time in Redis per op (INFO commandstats, EVALSHA + FCALL).")
        out.append(f"Engine hall: {BENCH_WINDOWS} windows x {len(engine.hall.services)} services, all open; "
                   f"call_next/start/finish measured with ~{phase2_depth:,} tickets waiting.")
        out.append("Depth: sequential call_next then finish, one ticket re-issued per call (untimed); queue kept at "
                   + "; ".join(depth_notes) + ".")
        out.append("A cycle is two EVALSHA round trips, so cycle/raw = 0.50 would mean that issue and call_next")
        out.append("together cost no more than two trivial scripts.")
        out.append("Floor and cycle ran in alternating slices, as did the depths: passing load weighs on both alike.")
        out.append("")
        ratio_seq = cycle_seq.rate / raw_seq.rate if raw_seq.rate else 0.0
        ratio_conc = cycle_conc.rate / raw_conc.rate if raw_conc.rate else 0.0
        out.append(f"cycle/raw, sequential   : {cycle_seq.rate:,.0f} cycles/s / {raw_seq.rate:,.0f} EVALSHA/s "
                   f"= {ratio_seq:.3f}  (target >= {CYCLE_TARGET:.2f})  {verdict(ratio_seq >= CYCLE_TARGET)}")
        out.append(f"cycle/raw, {CONCURRENCY} tasks     : {cycle_conc.rate:,.0f} cycles/s / {raw_conc.rate:,.0f} "
                   f"EVALSHA/s = {ratio_conc:.3f}  (target >= {CYCLE_TARGET:.2f})  "
                   f"{verdict(ratio_conc >= CYCLE_TARGET)}")
        if 100 in p50_at and 10_000 in p50_at:
            r = p50_at[10_000] / p50_at[100]
            out.append(f"call_next p50 10,000/100: {p50_at[10_000]:,.0f} µs / {p50_at[100]:,.0f} µs = {r:.2f}  "
                       f"(target <= {DEPTH_TARGET:.2f})  {verdict(r <= DEPTH_TARGET)}")
        if 100 in p50_at and 100_000 in p50_at:
            r = p50_at[100_000] / p50_at[100]
            out.append(f"call_next p50 100,000/100: {p50_at[100_000]:,.0f} µs / {p50_at[100]:,.0f} µs = {r:.2f}  "
                       "(for information)")
        else:
            out.append("call_next at 100,000 waiting: skipped (--quick)")
        out.append(f"total run time {time.perf_counter() - started:.1f}s")
        out.append(await share.report())
        print("\n".join(out), flush=True)
        return 0
    finally:
        deleted = await delete_prefix(redis, prefix)
        print(f"cleaned up: {deleted:,} keys under {prefix}:*", flush=True)
        await redis.aclose()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtest.bench_engine", description=__doc__.split("\n\n")[0])
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="Redis to run against (default %(default)s)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--seconds", type=float, help="length of each measured phase (default 5, 0.3 with --quick)")
    size.add_argument("--ops", type=int, help="operations per measured phase instead of a duration")
    p.add_argument("--quick", action="store_true", help="short phases and no 100,000-ticket queue: a smoke run")
    args = p.parse_args(argv)
    if args.ops is not None and args.ops < 1:
        p.error("--ops must be at least 1")
    if args.seconds is not None and args.seconds <= 0:
        p.error("--seconds must be positive")
    if args.ops is None and args.seconds is None:
        args.seconds = 0.3 if args.quick else 5.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    shown = sys.argv[1:] if argv is None else list(argv)
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    command = shlex.join([python, "-m", "loadtest.bench_engine", *shown])
    try:
        return asyncio.run(run(args, command))
    except (KeyboardInterrupt, asyncio.CancelledError, Interrupted):
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
