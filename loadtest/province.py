"""A province's halls on one Redis and on a Redis Cluster: ``python -m loadtest.province``.

2,000 halls in the proportions of a province's counties (each: one county centre, twelve town centres, village
stations and bank outlets), every hall an engine of its own in this process, as a server's workers hold them. Two
set-ups, interleaved round by round on this shared machine: the machine's Redis, and the local cluster of
``scripts/redis-cluster`` (3 primaries, 3 replicas). Each round runs two phases on each set-up:

- **peak**: tickets arrive at a fixed rate (open loop), each hall's share by its daily tickets; each arrival is
  issued, and a window of its hall finishes what it holds and calls the next. Issue and call-next latency, p50/p99.
- **saturation**: ``--tasks`` callers run the same cycle as fast as they get answers (closed loop): how many
  engine calls a second the set-up takes, and what each costs the Redis servers in CPU.

Then the memory a hall-day takes per level (MEMORY USAGE of each key of sampled halls, after the run), and what a
province of 5,000 halls needs, worked out from the figures. The figures go to ``loadtest/results/province.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis as redis_sync
from redis.asyncio import Redis

from queue_engine.config import HallConfig, load_hall
from queue_engine.engine import Engine
from queue_engine.shards import Shards, tag_slot

from .faults.services import NO_PERSISTENCE, PrivateRedis, wait_until
from .machine import describe, git_commit
from .report import percentile

ROOT = Path(__file__).resolve().parent.parent
SINGLE = "redis://127.0.0.1:6379/0"
RESULT = ROOT / "loadtest" / "results" / "province.md"
BASE_S = 1_795_568_400.0  # Mon 2026-11-23 09:00 +08: the demo hall is open; the clock moves on from there


@dataclass(frozen=True)
class Level:
    name: str
    per_county: int  # halls of this level in each county
    daily: int  # tickets on an ordinary day (domain figures: county 400-1,200, town 30-150, village 5-30)
    windows: int  # windows open at the peak
    mix: dict[str, int]  # services and their shares of the tickets


COUNTY_MIX = {"SOC": 25, "HUK": 15, "PROP": 15, "TAX": 10, "FUND": 8, "BIZ": 7, "INFO": 20}
SMALL_MIX = {"SOC": 40, "HUK": 25, "TAX": 10, "FUND": 10, "BIZ": 5, "INFO": 10}  # what window 1 serves
LEVELS = (
    Level("county", 1, 700, 12, COUNTY_MIX),
    Level("town", 12, 90, 4, SMALL_MIX),
    Level("village", 47, 15, 1, SMALL_MIX),
    Level("outlet", 20, 20, 1, SMALL_MIX),
)
PEAK_HOUR_SHARE = 0.22  # 9-10 o'clock's share of a day's tickets
BUSY_DAY = 1.15 * 1.5  # a Monday after a holiday
CALLS_PER_TICKET = 4  # issue, call-next, start, finish


@dataclass
class Hall:
    engine: Engine
    level: Level
    windows: list[str]
    locks: dict[str, asyncio.Lock]
    services: list[str]
    weights: list[int]
    issued: int = 0


@dataclass
class Phase:
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    calls: int = 0
    seconds: float = 0.0
    redis_cpu_s: dict[str, float] = field(default_factory=dict)  # node -> CPU seconds in the phase
    refused: Counter[str] = field(default_factory=Counter)


def counties(halls: int) -> int:
    per_county = sum(level.per_county for level in LEVELS)
    return max(1, halls // per_county)


def daily_tickets(n_counties: int) -> int:
    return n_counties * sum(level.per_county * level.daily for level in LEVELS)


def peak_rate(n_counties: int) -> float:
    """Tickets a second over the province in the busiest hour of a busy day."""
    return daily_tickets(n_counties) * PEAK_HOUR_SHARE * BUSY_DAY / 3600


class Setup:
    """One Redis or the cluster, with every hall of the province set up on it."""

    def __init__(self, name: str, url: str, prefix: str) -> None:
        self.name, self.url, self.prefix = name, url, prefix
        self.shards = Shards.from_url(url, lambda u, **kw: Redis.from_url(u, max_connections=64, **kw))
        self.halls: list[Hall] = []
        self.phases: dict[str, list[Phase]] = defaultdict(list)
        self.nodes: dict[str, Redis] = {}
        self.roles: dict[str, str] = {}
        self.idle: dict[str, float] = {}  # node -> CPU seconds a second with no call at all (its timers)

    async def open(self, template: HallConfig, n_counties: int) -> None:
        await self.shards.start()
        t0 = time.time()

        def clock() -> float:
            return BASE_S + time.time() - t0

        for c in range(n_counties):
            for level in LEVELS:
                for n in range(level.per_county):
                    hall = template.model_copy(update={"id": f"p{c:02d}-{level.name}-{n:02d}"})
                    engine = Engine(self.shards, hall, prefix=self.prefix, clock=clock)
                    windows = [w.id for w in hall.windows][:level.windows]
                    self.halls.append(Hall(engine, level, windows, {w: asyncio.Lock() for w in windows},
                                           list(level.mix), list(level.mix.values())))
        turns = asyncio.Semaphore(32)

        async def prepare(hall: Hall) -> None:
            async with turns:
                await hall.engine.setup()
                for window in hall.windows:
                    await hall.engine.open_window(window)

        await asyncio.gather(*(prepare(hall) for hall in self.halls))
        await self.find_nodes()

    def halls_per_node(self) -> Counter[str]:
        return Counter(address(self.shards.at(tag_slot(h.engine.hall.id))) for h in self.halls)

    async def find_nodes(self) -> None:
        """Every server of the set-up, replicas too (their CPU is the price of replication), and its role."""
        first = self.shards.clients()[0]
        if not self.shards.is_cluster:
            self.nodes, self.roles = {address(first): first}, {address(first): "primary"}
            info = await first.info("replication")
            for n in range(int(info.get("connected_slaves", 0))):
                replica = info[f"slave{n}"]
                name = f"{replica['ip']}:{replica['port']}"
                self.nodes[name], self.roles[name] = Redis(host=replica["ip"], port=int(replica["port"])), "replica"
            return
        listing = (await first.execute_command("CLUSTER", "NODES")).decode()  # type: ignore[no-untyped-call]
        for line in listing.splitlines():
            _, endpoint, flags, *_ = line.split()
            host, _, port = endpoint.partition("@")[0].rpartition(":")
            name = f"{host}:{port}"
            self.nodes[name] = Redis(host=host, port=int(port))
            self.roles[name] = "primary" if "master" in flags.split(",") else "replica"

    async def measure_idle(self, seconds: float) -> None:
        before = await self.cpu()
        await asyncio.sleep(seconds)
        after = await self.cpu()
        self.idle = {node: (after[node] - before[node]) / seconds for node in after}

    async def cpu(self) -> dict[str, float]:
        out = {}
        for name, client in self.nodes.items():
            info = await client.info("cpu")
            out[name] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        return out

    async def close(self) -> None:
        for client in self.shards.clients():
            async for key in client.scan_iter(match=f"{self.prefix}:*", count=1000):
                await client.delete(key)
        await self.shards.aclose()
        for client in self.nodes.values():
            if client not in self.shards.clients():
                await client.aclose()


class PrivatePair:
    """A Redis of its own with a replica, both without persistence, as the cluster's nodes: what one Redis costs
    when, like each primary of the cluster, it feeds a replica."""

    def __init__(self) -> None:
        self.primary = PrivateRedis()
        self.replica: PrivateRedis | None = None

    @property
    def url(self) -> str:
        return self.primary.url

    def start(self) -> PrivatePair:
        self.primary.start()
        self.replica = PrivateRedis(options=(*NO_PERSISTENCE, "--replicaof", "127.0.0.1", str(self.primary.port)))
        self.replica.start()
        replica = self.replica

        def linked() -> bool:
            client = replica.client()
            try:
                return bool(client.info("replication").get("master_link_status") == "up")
            except redis_sync.RedisError:
                return False
            finally:
                client.close()

        wait_until(linked, "the replica of the private Redis")
        return self

    def close(self) -> None:
        for server in (self.replica, self.primary):
            if server is not None:
                server.close()


async def cycle(hall: Hall, phase: Phase, rng: random.Random) -> None:
    """A citizen arrives at ``hall``; one of its windows finishes what it holds and calls the next."""
    service = rng.choices(hall.services, hall.weights)[0]
    started = time.perf_counter()
    try:
        await hall.engine.issue(service)
    except Exception as exc:
        phase.refused[type(exc).__name__] += 1
        return
    phase.latency["issue"].append(time.perf_counter() - started)
    phase.calls += 1
    hall.issued += 1
    window = rng.choice(hall.windows)
    async with hall.locks[window]:
        state = await hall.engine.window(window)
        phase.calls += 1
        if state.ticket is not None:
            await hall.engine.start(window)
            await hall.engine.finish(window, "done")
            phase.calls += 2
        started = time.perf_counter()
        await hall.engine.call_next(window)
        phase.latency["call_next"].append(time.perf_counter() - started)
        phase.calls += 1


async def metered(setup: Setup, name: str, run: Callable[[Phase], Awaitable[None]]) -> Phase:
    phase = Phase()
    before = await setup.cpu()
    started = time.perf_counter()
    await run(phase)
    phase.seconds = time.perf_counter() - started
    after = await setup.cpu()
    # What the calls cost: the servers' timers tick as much with no call at all (``Setup.idle``).
    phase.redis_cpu_s = {node: after[node] - before[node] - setup.idle.get(node, 0.0) * phase.seconds
                         for node in after}
    setup.phases[name].append(phase)
    return phase


async def peak(setup: Setup, rate: float, seconds: float, seed: int) -> Phase:
    rng = random.Random(seed)
    weights = [h.level.daily for h in setup.halls]

    async def run(phase: Phase) -> None:
        pending: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        n = 0
        while (due := start + n / rate) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            hall = rng.choices(setup.halls, weights)[0]
            task = asyncio.create_task(cycle(hall, phase, rng))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
        await asyncio.gather(*pending)

    return await metered(setup, "peak", run)


async def saturation(setup: Setup, tasks: int, seconds: float, seed: int) -> Phase:
    rng = random.Random(seed)
    weights = [h.level.daily for h in setup.halls]

    async def run(phase: Phase) -> None:
        stop = time.perf_counter() + seconds

        async def caller() -> None:
            while time.perf_counter() < stop:
                await cycle(rng.choices(setup.halls, weights)[0], phase, rng)

        await asyncio.gather(*(caller() for _ in range(tasks)))

    return await metered(setup, "saturation", run)


async def hall_bytes(setup: Setup, hall: Hall) -> int:
    client = setup.shards.for_tag(hall.engine.hall.id)
    total = 0
    async for key in client.scan_iter(match=f"{setup.prefix}:{{{hall.engine.hall.id}}}*", count=1000):
        total += int(await client.memory_usage(key, samples=0) or 0)
    return total


def sampled(setup: Setup, per_level: int) -> list[Hall]:
    rng = random.Random(7)
    out = []
    for level in LEVELS:
        halls = [h for h in setup.halls if h.level is level]
        out += rng.sample(halls, min(per_level, len(halls)))
    return out


async def memory(setup: Setup, before: dict[str, int]) -> dict[str, tuple[float, float]]:
    """Per level: (bytes of a hall set up with its windows open and no ticket yet, bytes each ticket adds since),
    from the sampled halls read before the phases (``before``) and now."""
    grown: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for hall in (h for h in setup.halls if h.engine.hall.id in before):
        grown[hall.level.name].append((hall.issued, await hall_bytes(setup, hall) - before[hall.engine.hall.id]))
    out = {}
    for level in LEVELS:
        empty = statistics.mean(before[h.engine.hall.id] for h in setup.halls
                                if h.level is level and h.engine.hall.id in before)
        issued = sum(n for n, _ in grown[level.name])
        out[level.name] = (empty, sum(b for _, b in grown[level.name]) / issued if issued else float("nan"))
    return out


def address(client: Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}"


def _ms(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (seconds) in ms, by nearest rank (``loadtest.report.percentile``)."""
    found = percentile(values, q)
    return found * 1000 if found is not None else float("nan")


def _pool(phases: list[Phase]) -> Phase:
    pooled = Phase()
    for p in phases:
        for op, values in p.latency.items():
            pooled.latency[op].extend(values)
        pooled.calls += p.calls
        pooled.seconds += p.seconds
        for node, cpu in p.redis_cpu_s.items():
            pooled.redis_cpu_s[node] = pooled.redis_cpu_s.get(node, 0.0) + cpu
        pooled.refused.update(p.refused)
    return pooled


def report(setups: list[Setup], mem: dict[str, dict[str, tuple[float, float]]], args: argparse.Namespace,
           rate: float, n_counties: int, command: str) -> str:
    machine = describe(SINGLE)
    lines = [
        f"# A province on Redis Cluster: {len(setups[0].halls):,} halls on one Redis and on 3 primaries",
        "",
        f"Command: `{command}`",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; code: `{git_commit(ROOT)}`",
        f"- machine: {'; '.join(f'{k} {v}' for k, v in machine.items() if k != 'locust')}",
        f"- halls: {len(setups[0].halls):,} ({n_counties} counties of "
        + ", ".join(f"{level.per_county} {level.name}" for level in LEVELS)
        + f"); {daily_tickets(n_counties):,} tickets on an ordinary day",
        f"- the province's peak: {peak_rate(n_counties):.1f} tickets/s (9-10 o'clock, {PEAK_HOUR_SHARE:.0%} of the "
        f"day, on a Monday after a holiday, x{BUSY_DAY:.2f}); the peak phase runs at {rate:.0f} tickets/s "
        f"(x{rate / peak_rate(n_counties):.0f}, so that a p99 has a few thousand samples)",
        f"- {args.rounds} rounds, the set-ups interleaved; peak {args.seconds:g} s, saturation {args.seconds:g} s with "
        f"{args.tasks} callers; one client process (this one) holds every hall's engine",
        "",
        "## Latency at the peak phase's rate (open loop), ms",
        "",
        "| set-up | operation | samples | p50 | p90 | p99 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for s in setups:
        pooled = _pool(s.phases["peak"])
        for op in ("issue", "call_next"):
            v = pooled.latency[op]
            lines.append(f"| {s.name} | {op} | {len(v):,} | {_ms(v, .5):.2f} | {_ms(v, .9):.2f} | {_ms(v, .99):.2f} |")
    lines += ["", "## What each engine call costs Redis", "",
              "CPU of the Redis servers (INFO cpu, user + system) over each phase, less what each spent idle "
              f"over {args.idle:g} s before the rounds, per engine call. At saturation "
              "one Redis takes many calls per read from its socket, each primary of three a third as many: the "
              "peak phase's rate, where no server batches much, is the fairer comparison.", "",
              "| set-up | primaries | calls/s at saturation | primaries' CPU at saturation (cores) | "
              "µs per call at saturation | µs per call at the peak rate | replicas' µs per call (peak rate) | "
              "capacity on paper, x one Redis (peak-rate cost) | refused |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base_us = 0.0
    for s in setups:
        sat, pk = _pool(s.phases["saturation"]), _pool(s.phases["peak"])

        def cost(phase: Phase, role: str, s: Setup = s) -> float:
            return sum(cpu for node, cpu in phase.redis_cpu_s.items() if s.roles[node] == role) / phase.calls * 1e6

        primaries = sum(1 for role in s.roles.values() if role == "primary")
        base_us = base_us or cost(pk, "primary")
        # Each primary is one thread: a set-up takes its primaries' worth of calls at its cost per call.
        lines.append(f"| {s.name} | {primaries} | {sat.calls / sat.seconds:,.0f} | "
                     f"{cost(sat, 'primary') * sat.calls / sat.seconds / 1e6:.2f} | {cost(sat, 'primary'):.1f} | "
                     f"{cost(pk, 'primary'):.1f} | {cost(pk, 'replica'):.1f} | "
                     f"{primaries * base_us / cost(pk, 'primary'):.2f} | "
                     f"{sum(sat.refused.values()) + sum(pk.refused.values())} |")
    lines += ["", "Per node (saturation, all rounds): CPU seconds, share of the primaries' CPU, halls whose slot it "
              "serves.", "", "| set-up | node | role | CPU s | share | halls |", "|---|---|---|---:|---:|---:|"]
    for s in setups:
        pooled = _pool(s.phases["saturation"])
        prim_total = sum(cpu for node, cpu in pooled.redis_cpu_s.items() if s.roles[node] == "primary")
        for node, cpu in sorted(pooled.redis_cpu_s.items()):
            role = s.roles[node]
            share = f"{cpu / prim_total:.0%}" if role == "primary" and prim_total else ""
            lines.append(f"| {s.name} | {node} | {role} | {cpu:.2f} | {share} | "
                         f"{s.halls_per_node().get(node, 0):,} |")
    lines += ["", "## Memory a hall-day takes (cluster, MEMORY USAGE of every key of "
              f"{args.sample} sampled halls per level, before the phases and after)", "",
              "| level | empty hall, KiB | per ticket, bytes | tickets a day | hall-day, KiB |",
              "|---|---:|---:|---:|---:|"]
    cluster_mem = mem[setups[-1].name]
    day_bytes = 0.0
    for level in LEVELS:
        empty, per_ticket = cluster_mem[level.name]
        hall_day = empty + per_ticket * level.daily
        day_bytes += hall_day * level.per_county * n_counties
        lines.append(f"| {level.name} | {empty / 1024:.1f} | {per_ticket:,.0f} | {level.daily} | "
                     f"{hall_day / 1024:.1f} |")
    lines.append(f"\nThe province's {len(setups[0].halls):,} halls: {day_bytes / 2**20:,.0f} MiB for a day's live "
                 f"state, {day_bytes / 2**20 / 3:,.0f} MiB per primary of three.")
    return "\n".join(lines) + "\n"


async def main_async(args: argparse.Namespace, command: str) -> None:
    started = await asyncio.to_thread(subprocess.run, [str(ROOT / "scripts" / "redis-cluster"), "start"], check=True,
                                      capture_output=True, text=True)
    template = load_hall(ROOT / "floor" / "halls" / "demo.toml")
    n_counties = counties(args.halls)
    prefix = f"hqprov-{uuid.uuid4().hex[:8]}"
    pair = await asyncio.to_thread(PrivatePair().start)
    setups = [Setup("one Redis", SINGLE, f"{prefix}-one"), Setup("one Redis + replica", pair.url, f"{prefix}-two"),
              Setup("cluster", started.stdout.strip(), f"{prefix}-cl")]
    rate = args.rate or peak_rate(n_counties) * args.speed
    try:
        for s in setups:
            t = time.perf_counter()
            await s.open(template, n_counties)
            print(f"{s.name}: {len(s.halls):,} halls set up in {time.perf_counter() - t:.1f} s", flush=True)
        for s in setups:
            await s.measure_idle(args.idle)
        before = {s.name: {h.engine.hall.id: await hall_bytes(s, h) for h in sampled(s, args.sample)}
                  for s in setups}
        for r in range(args.rounds):
            for s in setups:
                p = await peak(s, rate, args.seconds, seed=r)
                q = await saturation(s, args.tasks, args.seconds, seed=r)
                print(f"round {r + 1} {s.name}: peak issue p99 {_ms(p.latency['issue'], .99):.2f} ms, "
                      f"saturation {q.calls / q.seconds:,.0f} calls/s", flush=True)
        mem = {s.name: await memory(s, before[s.name]) for s in setups}
        text = report(setups, mem, args, rate, n_counties, command)
    finally:
        for s in setups:
            await s.close()
        pair.close()
    print(text)
    if args.write:
        write(text)
        print(f"written to {RESULT.relative_to(ROOT)}")


KEPT_FROM = "## What it means for a province"  # the hand-written reading below the figures stays as it is


def write(text: str) -> None:
    kept = ""
    if RESULT.exists():
        _, found, tail = RESULT.read_text(encoding="utf-8").partition(KEPT_FROM)
        kept = f"\n{found}{tail}" if found else ""
    RESULT.write_text(text + kept, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtest.province", description=__doc__.splitlines()[0])
    parser.add_argument("--halls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0, help="each phase, each round, each set-up")
    parser.add_argument("--speed", type=float, default=25.0, help="the peak phase's rate as a multiple of the peak")
    parser.add_argument("--rate", type=float, default=0.0, help="tickets/s in the peak phase (overrides --speed)")
    parser.add_argument("--tasks", type=int, default=48, help="callers in the saturation phase")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds each set-up's idle CPU is read over")
    parser.add_argument("--sample", type=int, default=40, help="halls per level whose memory is read")
    parser.add_argument("--write", action="store_true", help=f"write {RESULT.relative_to(ROOT)}")
    args = parser.parse_args()
    command = " ".join(["python -m loadtest.province", *sys.argv[1:]])
    asyncio.run(main_async(args, command))


if __name__ == "__main__":
    main()
