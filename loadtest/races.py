"""Thirty windows racing: calling, recalling, starting, finishing, marking no-shows, transferring (to a service or
a window) and calling back their own late no-shows at random, all at once, while guides issue (some for the same
person, some retried with their Idempotency-Key), cancel and requeue late arrivals; then the invariants, from the
event stream and from Redis.

Each window is a task of its own on its own connection (through the engine, or over HTTP to a real server),
picking its next operation at random whatever its state, so many are refused: a refusal must be a clean
domain error (a 4xx), never anything else. A checker follows the hall's event stream while the race runs
(the stream is capped, a long run outgrows it) and afterwards compares what it saw with Redis:

- no ticket is called by a window while another window holds it, and a window acts only on its own ticket;
- numbers go 1, 2, 3 ... per service per day: none twice, none skipped;
- every ticket is in exactly one place: one queue (waiting), one window (called or serving), or none (done);
- the pure model (``queue_engine.model``) folded over the stream equals the engine's whole state.

Usage: ``python -m loadtest.races --minutes N`` prints operations by kind, refusals by code and the
violations found (exit status 1 if any). The suite runs the same race for seconds
(``tests/reliability/test_races.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, cast
from zoneinfo import ZoneInfo

import httpx
import orjson
from redis.asyncio import Redis

from queue_engine import errors, policy
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.keys import HallKeys
from queue_engine.model import HallModel
from queue_engine.records import Issued, Ticket, WindowState

from .simulate_day import clear_prefix

WINDOWS = 30
GUIDES = 4
SERVICES = (("SOC", "A"), ("HUK", "B"), ("TAX", "D"), ("FUND", "E"), ("INFO", "G"))
# How often a window picks each operation: calls and finishes outweigh the rest, so tickets flow.
WINDOW_OPS: dict[str, int] = {
    "call_next": 6, "recall": 2, "start": 4, "finish": 5, "no_show": 2, "transfer_service": 2, "transfer_window": 2,
    "call_missed": 1,  # one of the window's own latest no-shows, who turned up late: refused under returning = requeue
}
PEOPLE = 40  # person keys the guides draw from: the same person twice is refused (duplicate_ticket)
WAITING_CAP = 400  # guides pause above this many waiting, so a long run does not grow without end
MONDAY_9AM = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
_SNAKE = re.compile(r"[a-z][a-z0-9_]*")


def race_hall_data(hall_id: str = "races", windows: int = WINDOWS) -> dict[str, Any]:
    """Comprehensive windows (综合窗口): each serves every service, with a primary one of its own."""
    codes = [c for c, _ in SERVICES]
    return {
        "id": hall_id,
        "name": "并发测试大厅",
        "hours": ["00:00-23:59"],  # open whenever a race runs over HTTP, on the server's own clock
        # No-shows at once (a race lasts seconds, not a morning), and a late arrival put back in line by a guide, the
        # path that races the windows' calls. A window calling its late no-show back directly is then refused
        # (no_show_not_served), a domain refusal the race counts like any other.
        "policy": {"no_show_after_recalls": 0, "no_show_after_s": 0, "returning": "requeue"},
        "services": [{"code": c, "letter": letter, "name_zh": c, "name_en": c, "handling_s": 300, "target_wait_s": 900}
                     for c, letter in SERVICES],
        "windows": [{"id": str(i), "name": f"{i}号窗口", "services": codes, "primary": [codes[i % len(codes)]]}
                    for i in range(1, windows + 1)],
    }


def race_hall(hall_id: str = "races", windows: int = WINDOWS) -> HallConfig:
    return HallConfig.model_validate(race_hall_data(hall_id, windows))


def race_hall_toml(hall_id: str = "races", windows: int = WINDOWS) -> str:
    """The same hall as a hall file, for ``hallq serve``."""
    data = race_hall_data(hall_id, windows)
    lines = [f"{k} = {orjson.dumps(data[k]).decode()}" for k in ("id", "name", "hours")]
    lines += ["", "[policy]", *(f"{k} = {orjson.dumps(v).decode()}" for k, v in data["policy"].items())]
    for s in data["services"]:
        lines += ["", "[[services]]", *(f"{k} = {orjson.dumps(v).decode()}" for k, v in s.items())]
    for w in data["windows"]:
        lines += ["", "[[windows]]", *(f"{k} = {orjson.dumps(v).decode()}" for k, v in w.items())]
    return "\n".join(lines) + "\n"


# -- what happened ------------------------------------------------------------------------------------


@dataclass
class Tally:
    operations: Counter[str] = field(default_factory=Counter)  # "call_next" / "call_next:none" when nothing waited
    refusals: Counter[str] = field(default_factory=Counter)  # "window_idle" ...
    violations: list[str] = field(default_factory=list)
    events: int = 0

    def violation(self, text: str) -> None:
        if len(self.violations) < 200:  # one broken invariant can repeat thousands of times
            self.violations.append(text)

    def render(self, seconds: float) -> str:
        lines = [f"race: {WINDOWS} windows, {GUIDES} guides, {seconds:.0f} s, {self.events} events checked", "",
                 f"{'operation':<24}{'done':>10}"]
        lines += [f"{op:<24}{n:>10}" for op, n in sorted(self.operations.items())]
        lines += ["", f"{'refused (code)':<24}{'times':>10}"]
        lines += [f"{code:<24}{n:>10}" for code, n in self.refusals.most_common()]
        lines += ["", f"violations: {len(self.violations)}", *(f"  {v}" for v in self.violations)]
        return "\n".join(lines)


# -- the actors: through the engine or over HTTP --------------------------------------------------------


class Hall(Protocol):
    """One hall as the racers see it. Each call records its outcome in the tally and returns the ticket's id,
    or None when refused or nothing came back."""

    async def window(self, window: str, op: str, arg: str) -> str | None: ...
    async def issue(self, service: str, priority: str | None, person: str | None, key: str | None) -> str | None: ...
    async def cancel(self, ticket: str) -> str | None: ...
    async def requeue(self, ticket: str) -> str | None: ...
    async def close(self) -> None: ...


class EngineHall:
    """Every window and guide on a connection of its own, as separate server processes would be."""

    def __init__(self, redis_url: str, hall: HallConfig, prefix: str, clock: Callable[[], float], tally: Tally):
        self.redis_url, self.hall, self.prefix, self.clock, self.tally = redis_url, hall, prefix, clock, tally
        self._engines: dict[str, Engine] = {}

    def engine(self, actor: str) -> Engine:
        if actor not in self._engines:
            redis = Redis.from_url(self.redis_url)
            self._engines[actor] = Engine(redis, self.hall, prefix=self.prefix, clock=self.clock)
        return self._engines[actor]

    async def _run(self, op: str, call: Awaitable[Ticket | Issued | None]) -> str | None:
        try:
            outcome = await call
        except errors.DomainError as exc:
            if exc.status >= 500:
                self.tally.violation(f"{op}: {exc.code} ({exc.status}) is not a clean refusal")
            self.tally.refusals[exc.code] += 1
            return None
        except Exception as exc:  # anything but a domain error is a defect the race has found
            self.tally.violation(f"{op}: {exc!r}")
            return None
        if isinstance(outcome, Issued):
            self.tally.operations["issue:replay" if outcome.replay else "issue"] += 1
            return outcome.ticket.id
        self.tally.operations[op if outcome is not None else f"{op}:none"] += 1
        return None if outcome is None else outcome.id

    async def window(self, window: str, op: str, arg: str) -> str | None:
        e = self.engine(f"w{window}")
        calls: dict[str, Callable[[], Awaitable[Ticket | None]]] = {
            "call_next": lambda: e.call_next(window),
            "recall": lambda: e.recall(window),
            "start": lambda: e.start(window),
            "finish": lambda: e.finish(window, "done"),
            "no_show": lambda: e.no_show(window),
            "transfer_service": lambda: e.transfer(window, to_service=arg, reason="race"),
            "transfer_window": lambda: e.transfer(window, to_window=arg, reason="race"),
            "call_missed": lambda: e.call_ticket(window, arg, "late arrival"),
        }
        return await self._run(op, calls[op]())

    async def issue(self, service: str, priority: str | None, person: str | None, key: str | None) -> str | None:
        guides = self.engine("guides")
        return await self._run("issue", guides.issue(service, priority=priority, person=person, idempotency_key=key))

    async def cancel(self, ticket: str) -> str | None:
        return await self._run("cancel", self.engine("guides").cancel(ticket))

    async def requeue(self, ticket: str) -> str | None:
        return await self._run("requeue", self.engine("guides").requeue(ticket))

    async def close(self) -> None:
        for e in self._engines.values():
            await e.redis.aclose()


class HttpHall:
    """The same operations over HTTP to a running ``hallq serve``; ``token(role, window)`` makes the tokens."""

    PATHS: ClassVar[dict[str, str]] = {
        "call_next": "call-next", "recall": "recall", "start": "start", "finish": "finish", "no_show": "no-show",
        "transfer_service": "transfer", "transfer_window": "transfer", "call_missed": "call",
    }

    def __init__(self, base_url: str, hall_id: str, token: Callable[[str, str | None], str], tally: Tally):
        self.hall_id, self.token, self.tally = hall_id, token, tally
        limits = httpx.Limits(max_connections=WINDOWS + GUIDES + 4)
        self.client = httpx.AsyncClient(base_url=base_url, timeout=30.0, trust_env=False, limits=limits)

    async def _post(self, op: str, path: str, role: str, window: str | None, body: Any,
                    headers: dict[str, str] | None = None) -> str | None:
        auth = {"Authorization": f"Bearer {self.token(role, window)}", **(headers or {})}
        try:
            reply = await self.client.post(f"/api/v1/halls/{self.hall_id}{path}", json=body, headers=auth)
        except httpx.HTTPError as exc:
            self.tally.violation(f"{op}: no answer ({exc!r})")
            return None
        if reply.status_code < 300:
            data = reply.json()
            ticket = data.get("ticket", data)  # window operations wrap the ticket
            kind = "replay" if reply.status_code == 200 and op == "issue" else "none" if ticket is None else ""
            self.tally.operations[f"{op}:{kind}" if kind else op] += 1
            return cast(str, ticket["id"]) if ticket else None
        self.tally.refusals[self._refusal_code(op, reply)] += 1
        return None

    def _refusal_code(self, op: str, reply: httpx.Response) -> str:
        """The error's code; a violation unless it is a 4xx in api.md's error shape with a sentence."""
        try:
            body = reply.json()
            error = body["error"]
            code, message = error["code"], error["message"]
        except (ValueError, KeyError, TypeError):
            self.tally.violation(f"{op}: {reply.status_code} without the error shape: {reply.text[:200]}")
            return f"http_{reply.status_code}"
        if not 400 <= reply.status_code < 500:
            self.tally.violation(f"{op}: {reply.status_code} {code}: {message}")
        if not (isinstance(code, str) and _SNAKE.fullmatch(code) and isinstance(message, str) and message.strip()):
            self.tally.violation(f"{op}: malformed error {body}")
        return str(code)

    async def window(self, window: str, op: str, arg: str) -> str | None:
        body: Any = None
        if op == "finish":
            body = {"outcome": "done"}
        elif op == "transfer_service":
            body = {"to_service": arg, "reason": "race"}
        elif op == "transfer_window":
            body = {"to_window": arg, "reason": "race"}
        elif op == "call_missed":
            body = {"ticket": arg, "reason": "late arrival"}
        return await self._post(op, f"/windows/{window}/{self.PATHS[op]}", "staff", window, body)

    async def issue(self, service: str, priority: str | None, person: str | None, key: str | None) -> str | None:
        # Over HTTP a person is an ID number; the engine race covers duplicate people, so none are sent here.
        body: dict[str, Any] = {"service": service}
        if priority:
            body["priority"] = priority
        return await self._post("issue", "/tickets", "guide", None, body, {"Idempotency-Key": key} if key else None)

    async def cancel(self, ticket: str) -> str | None:
        return await self._post("cancel", f"/tickets/{ticket}/cancel", "guide", None, None)

    async def requeue(self, ticket: str) -> str | None:
        return await self._post("requeue", f"/tickets/{ticket}/requeue", "guide", None, None)

    async def close(self) -> None:
        await self.client.aclose()


# -- the racers -------------------------------------------------------------------------------------------


async def window_loop(hall: Hall, config: HallConfig, window: str, until: float, rng: random.Random,
                      missed: list[str]) -> None:
    """``missed`` is shared with the guides: the no-shows they may put back in line."""
    ops, weights = list(WINDOW_OPS), list(WINDOW_OPS.values())
    codes = [s.code for s in config.services]
    others = [w.id for w in config.windows if w.id != window]
    own_misses: list[str] = []
    while time.monotonic() < until:
        op = rng.choices(ops, weights)[0]
        if op == "call_missed" and not own_misses:
            op = "call_next"
        choices = others if op == "transfer_window" else own_misses if op == "call_missed" else codes
        arg = rng.choice(choices)
        ticket = await hall.window(window, op, arg)
        if op == "no_show" and ticket is not None:
            own_misses = [ticket, *own_misses][:config.policy.missed_serve_direct]
            missed[:] = [ticket, *missed][:100]


async def guide_loop(hall: Hall, config: HallConfig, guide: int, until: float, rng: random.Random,
                     waiting: Callable[[], Awaitable[int]], missed: list[str]) -> None:
    codes = [s.code for s in config.services]
    issued: list[tuple[str, str, str | None]] = []  # (ticket id, key, service): for retries and cancels
    n = 0
    while time.monotonic() < until:
        n += 1
        if n % 50 == 0 and await waiting() > WAITING_CAP:
            await asyncio.sleep(0.2)
            continue
        roll = rng.random()
        if roll < 0.03 and missed:  # a late arrival asks at the desk to be put back in line
            await hall.requeue(rng.choice(missed))
            continue
        if roll < 0.06 and issued:
            await hall.cancel(rng.choice(issued)[0])
            continue
        if roll < 0.13 and issued:  # a retry of an earlier press: same key, same request
            _, key, service = rng.choice(issued)
            await hall.issue(service or codes[0], None, None, key)
            continue
        service = rng.choice(codes)
        priority = rng.choice(("vip", "green")) if roll > 0.95 else None
        person = f"person-{rng.randrange(PEOPLE)}" if roll > 0.8 else None
        key = f"g{guide}-{n}"
        ticket = await hall.issue(service, priority, person, key)
        if ticket is not None and person is None and priority is None:
            issued = [*issued[-49:], (ticket, key, service)]


# -- the checker ----------------------------------------------------------------------------------------


class StreamChecker:
    """Follows the event stream: who holds which ticket, numbering, and the pure model folded over it all."""

    def __init__(self, config: HallConfig, tally: Tally) -> None:
        self.tally = tally
        self.model = HallModel(config)
        self.holder: dict[str, str] = {}  # ticket -> window calling or serving it
        self.holding: dict[str, str] = {}  # window -> its ticket
        self.last_seq: dict[tuple[str, str], int] = {}
        self.numbers: set[tuple[str, str]] = set()  # (day, number)
        self.last_id = "0-0"
        self.broken = False

    def check(self, event_id: str, e: dict[str, Any]) -> None:
        kind, tid = e["type"], e.get("ticket", "")
        if kind == "ticket.issued":
            self._numbered(event_id, e)
        elif kind == "ticket.called":
            if tid in self.holder:
                self.tally.violation(f"{event_id}: {e['number']} called by window {e['window']} while window "
                                     f"{self.holder[tid]} holds it")
            if e["window"] in self.holding:
                self.tally.violation(f"{event_id}: window {e['window']} called {e['number']} while holding another")
            self.holder[tid], self.holding[e["window"]] = e["window"], tid
        elif kind in ("ticket.recalled", "ticket.serving"):
            self._held_by(event_id, e, e["window"], release=False)
        elif kind in ("ticket.finished", "ticket.missed") and e.get("window") is not None:
            self._held_by(event_id, e, e["window"], release=True)
        elif kind == "ticket.transferred":
            self._held_by(event_id, e, e["from_window"], release=True)
        elif kind in ("ticket.cancelled", "ticket.requeued") and tid in self.holder:
            self.tally.violation(f"{event_id}: {e['number']} {kind} while window {self.holder[tid]} holds it")
        try:
            self.model.apply(e)
        except Exception as exc:  # the stream says something the specification cannot do
            self.tally.violation(f"{event_id}: the model cannot apply {kind} ({exc!r})")
            self.broken = True
        self.tally.events += 1
        self.last_id = event_id

    def _numbered(self, event_id: str, e: dict[str, Any]) -> None:
        key = (e["day"], e["service"])
        seq = policy.sequence_of(e["number"])
        expected = self.last_seq.get(key, 0) + 1
        if seq != expected:
            self.tally.violation(f"{event_id}: {e['service']} issued {e['number']} after number {expected - 1}")
        if (e["day"], e["number"]) in self.numbers:
            self.tally.violation(f"{event_id}: number {e['number']} issued twice on {e['day']}")
        self.numbers.add((e["day"], e["number"]))
        self.last_seq[key] = max(seq, self.last_seq.get(key, 0))

    def _held_by(self, event_id: str, e: dict[str, Any], window: str, *, release: bool) -> None:
        tid = e["ticket"]
        if self.holder.get(tid) != window:
            self.tally.violation(f"{event_id}: {e['type']} of {e['number']} by window {window}, "
                                 f"held by {self.holder.get(tid)}")
        if release:
            self.holder.pop(tid, None)
            if self.holding.get(window) == tid:
                del self.holding[window]

    async def follow(self, redis: Redis, keys: HallKeys, stop: asyncio.Event) -> None:
        """Read the stream as it grows until ``stop`` is set and the stream's end is reached; then make sure
        nothing was trimmed away unread (the stream is capped: a checker far behind would miss events)."""
        while True:
            stopping = stop.is_set()
            entries = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
                           await redis.xread({keys.events: self.last_id}, count=5000, block=200))
            for _, batch in entries:
                for eid, fields in batch:
                    self.check(eid.decode(), orjson.loads(fields[b"e"]))
            if stopping and not entries:
                break
        info = await redis.xinfo_stream(keys.events)
        if info["entries-added"] != self.tally.events:
            self.tally.violation(f"the stream took {info['entries-added']} events but {self.tally.events} were "
                                 f"checked: the rest were trimmed before the checker read them")
            self.broken = True


async def check_state(redis: Redis, keys: HallKeys, config: HallConfig, checker: StreamChecker) -> None:
    """After the race: Redis against the model folded over the stream, and each ticket in exactly one place."""
    tally, model = checker.tally, checker.model
    async with redis.pipeline(transaction=True) as pipe:
        for method, key in (("hgetall", keys.tickets), ("hgetall", keys.windows), ("hgetall", keys.able),
                            ("hgetall", keys.people), ("smembers", keys.active), ("hgetall", keys.ewma)):
            getattr(pipe, method)(key)
        pipe.lrange(keys.calls, 0, -1)
        raw_tickets, raw_windows, able, people, active, ewma, calls = await pipe.execute()
    tickets = {i.decode(): orjson.loads(v) for i, v in raw_tickets.items()}
    windows = {i.decode(): orjson.loads(v) for i, v in raw_windows.items()}
    queues: dict[str, list[tuple[float, str]]] = {}
    for name in [f"q:{s.code}" for s in config.services] + [f"wq:{w.id}" for w in config.windows]:
        kind, _, what = name.partition(":")
        members = cast(list[tuple[bytes, float]], await redis.zrange(
            keys.window_queue(what) if kind == "wq" else keys.queue(what), 0, -1, withscores=True))
        queues[name] = [(s, m.decode()) for m, s in members]  # with the places of ties within a ms

    def differs(what: str, redis_side: Any, model_side: Any) -> None:
        if redis_side != model_side:
            tally.violation(f"the model folded over the stream disagrees with Redis on {what}")

    if not checker.broken:
        differs("tickets", {i: Ticket.from_json(t) for i, t in tickets.items()},
                {i: Ticket.from_json(t) for i, t in model.tickets.items()})
        differs("windows", {i: WindowState.from_json(w) for i, w in windows.items()},
                {i: WindowState.from_json(w) for i, w in model.windows.items()})
        differs("queues", {q: e for q, e in queues.items() if e}, {q: e for q, e in model.queues.items() if e})
        differs("open windows per service", {s.decode(): int(n) for s, n in able.items() if int(n)},
                {s: n for s, n in model.able.items() if n})
        differs("people", {p.decode(): t.decode() for p, t in people.items()}, model.people)
        differs("active tickets", {t.decode() for t in active}, model.active)
        differs("handling estimates", {s.decode(): int(float(n)) for s, n in ewma.items()}, model.ewma)
        differs("recent calls", [orjson.loads(c) for c in calls], model.calls)
        for (day, service), seq in model.sequences.items():
            stored = await redis.hget(keys.sequence(day), service)
            differs(f"the number sequence of {service}", int(stored or 0), seq)
        for day in {d for d, _ in model.idempotency}:
            stored_keys = cast(dict[bytes, bytes], await redis.hgetall(keys.idempotency(day)))
            differs(f"the idempotency keys of {day}", {k.decode(): v.decode() for k, v in stored_keys.items()},
                    {k: f"{tid}|{request}" for (d, k), (tid, request) in model.idempotency.items() if d == day})

    # Each ticket in exactly one place, read from Redis alone.
    in_queues: Counter[str] = Counter(tid for entries in queues.values() for _, tid in entries)
    at_windows: Counter[str] = Counter(w["ticket"] for w in windows.values() if w.get("ticket"))
    for tid, t in tickets.items():
        places = in_queues[tid] + at_windows[tid]
        if t["status"] == "waiting":
            right = in_queues[tid] == 1 and at_windows[tid] == 0 and any(
                tid == m for _, m in queues.get(t.get("queue", ""), []))
        elif t["status"] in ("called", "serving"):
            w = windows.get(t.get("window", ""), {})
            right = places == 1 and w.get("ticket") == tid and w.get("state") == (
                "calling" if t["status"] == "called" else "serving")
        else:
            right = places == 0
        if not right:
            tally.violation(f"{t['number']} is {t['status']} but in {in_queues[tid]} queues and at "
                            f"{at_windows[tid]} windows")
    for tid in set(in_queues) | set(at_windows):
        if tid not in tickets:
            tally.violation(f"a queue or window holds {tid}, which is no ticket")
    by_window = {w: d["ticket"] for w, d in windows.items() if d.get("ticket")}
    if not checker.broken and by_window != checker.holding:
        tally.violation("the windows' tickets in Redis differ from those the stream left them holding")


# -- one race -----------------------------------------------------------------------------------------


async def run_race(hall: Hall, redis: Redis, config: HallConfig, keys: HallKeys, seconds: float,
                   tally: Tally, seed: int = 7) -> StreamChecker:
    """Race for ``seconds`` (every window must be open), then check; the tally holds what was found."""
    checker = StreamChecker(config, tally)
    stop = asyncio.Event()
    follower = asyncio.create_task(checker.follow(redis, keys, stop))
    until = time.monotonic() + seconds

    async def waiting() -> int:
        counts = [await redis.zcard(keys.queue(s.code)) for s in config.services]
        return sum(counts)

    missed: list[str] = []
    racers = [window_loop(hall, config, w.id, until, random.Random(f"{seed}-w{w.id}"), missed)
              for w in config.windows]
    racers += [guide_loop(hall, config, g, until, random.Random(f"{seed}-g{g}"), waiting, missed)
               for g in range(GUIDES)]
    try:
        await asyncio.gather(*racers)
    finally:
        stop.set()
        await follower
    await check_state(redis, keys, config, checker)
    return checker


def offset_clock(start: datetime) -> Callable[[], float]:
    """Real time, moved to ``start``: the hall is open whenever the race runs."""
    offset = start.timestamp() - time.time()
    return lambda: time.time() + offset


async def engine_race(redis_url: str, seconds: float, *, prefix: str | None = None, seed: int = 7) -> Tally:
    """The race through the engine on a fresh hall under its own key prefix (deleted afterwards)."""
    prefix = prefix or f"hqraces-{uuid.uuid4().hex[:10]}"
    config, tally = race_hall(), Tally()
    redis = Redis.from_url(redis_url)
    hall = EngineHall(redis_url, config, prefix, offset_clock(MONDAY_9AM), tally)
    try:
        setup = hall.engine("guides")
        await setup.setup()
        for w in config.windows:
            await setup.open_window(w.id)
        await run_race(hall, redis, config, setup.keys, seconds, tally, seed)
    finally:
        await hall.close()
        await clear_prefix(redis, prefix)
        await redis.aclose()
    return tally


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtest.races", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=3.0, help="how long the windows race")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    seconds = args.minutes * 60
    tally = asyncio.run(engine_race(args.redis_url, seconds, seed=args.seed))
    print(tally.render(seconds))
    return 1 if tally.violations else 0


if __name__ == "__main__":
    sys.exit(main())
