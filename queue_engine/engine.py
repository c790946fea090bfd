"""The ticketing engine: one hall's live day in Redis, one atomic Lua script per operation.

Each method checks what the configuration alone can tell (unknown service, bad arguments),
then runs its script, which checks the live state, changes it and appends the event in one
atomic step. Refusals come back as ``DomainError`` subclasses; nothing was changed then.
``model.HallModel`` is the specification these scripts follow.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import WatchError

from . import errors, policy
from .actor import ACTOR
from .checks import check_archived, check_issue, check_outcome, check_rating, check_skills, check_transfer_target
from .config import HallConfig
from .fcall_pipe import EMPTY, PRIMARY_ONLY, Durability, FunctionCaller, Packed, command, pipe_for
from .keys import DAY_SCOPED_TTL_S, EVENTS_MAXLEN, HallKeys
from .library import FUNCTION_NAMES, LIBRARY, READ_ONLY, standalone_script
from .model import HallModel, initial_window, item_services
from .reconfig import reconfiguration
from .records import Event, Issued, Json, Rating, Ticket, TicketStatus, WindowState, normalize_snapshot
from .shards import Shards, tag_slot

_FIRST_CONFIG = standalone_script("first_config")
Clock = Callable[[], float]  # seconds since the epoch, like time.time
IdMaker = Callable[[str], str]  # business day -> a new ticket id


def random_ticket_id(day: str) -> str:
    """Day first (so a day's tickets sort together), then 48 random bits: not guessable from a number."""
    return f"{day}-{secrets.token_hex(6)}"


_KeysAndArgs = Callable[[Json], tuple[list[str], list[Any]]]


class _Moved(Exception):
    """The ticket changed queue between our read and the script; read again."""


def _id_after(after: str | None, now_ms: int) -> str:
    """A stream id later than ``after``, at the current time where that is later still."""
    if after is None:
        return f"{now_ms}-0"
    ms, _, seq = after.partition("-")
    return f"{now_ms}-0" if now_ms > int(ms) else f"{ms}-{int(seq or 0) + 1}"


class Engine:
    def __init__(
        self,
        redis: Redis | Shards,
        hall: HallConfig,
        *,
        prefix: str = "hq",
        clock: Clock = time.time,
        new_id: IdMaker = random_ticket_id,
        durability: Durability = PRIMARY_ONLY,
    ) -> None:
        # One Redis, or a cluster's primaries: the hall's keys share its hash tag, so one of them holds them all.
        self.shards = redis if isinstance(redis, Shards) else Shards.one(redis)
        self.slot = tag_slot(hall.id)
        self.hall = hall
        self.keys = HallKeys(hall.id, prefix)
        self.clock = clock
        self.new_id = new_id
        self.scripts = FunctionCaller(self.shards, self.slot, LIBRARY, FUNCTION_NAMES, READ_ONLY, durability)
        # The set-up the hall runs on (version 0: none recorded) and where it came from, which a rebuild puts back.
        self.config_version, self.config_source = 0, "live"
        # Told of every event a call of ours appended (stream id, JSON), before the caller hears of the change.
        self.on_written: Callable[[str, list[tuple[str, str | bytes]]], None] | None = None
        self.adopt(hall)

    @property
    def redis(self) -> Redis:
        """The client of the Redis that holds this hall now (on a cluster, the primary of its slot)."""
        return self.shards.at(self.slot)

    def adopt(self, hall: HallConfig, version: int | None = None, source: str = "live") -> None:
        """Work from ``hall`` from now on: what every call sends that only the configuration decides is encoded here,
        once (see wire.py), and again when the hall's set-up changes while it runs."""
        assert hall.id == self.keys.hall
        self.hall = hall
        if version is not None:
            self.config_version, self.config_source = version, source
        k = self.keys
        self._base = Packed.of([k.tickets, k.windows, k.active, k.able, k.ewma, k.people, k.calls, k.events])
        self._last_key = Packed.of([k.idle])  # every script's last key (common.lua), after its own
        codes = [s.code for s in hall.services]
        self._codes = codes
        self._windows = {w.id: w for w in hall.windows}
        self._window_ids = [w.id for w in hall.windows]
        self._handling = {s.code: str(s.handling_s * 1000) for s in hall.services}
        self._planned = {c: hall.planned_windows(c) for c in codes}
        self._targets = {s.code: s.target_wait_s for s in hall.services}
        self._all_queues = Packed.of([k.queue(c) for c in codes] + [k.age(c) for c in codes])
        self._all_ages = Packed.of([k.age(c) for c in codes])
        self._call_next_keys = {w: Packed.of([k.window_queue(w)]) + self._all_queues for w in self._window_ids}
        item_service = item_services(hall)
        self._items_of = {s.code: [i.code for i in s.items] for s in hall.services}
        # Sub-item -> service, for the scripts that apply sub-item skills (policy rule 6).
        item_map: list[str | int] = [len(item_service), *item_service, *item_service.values()]
        self._item_map = Packed.of(item_map)
        self._item_service = item_service
        self._call_next_tail = Packed.of([len(codes), *codes, *(s.target_wait_s for s in hall.services), *item_map])
        self._issue_keys: dict[tuple[str, str], Packed] = {}
        self._day_cache: tuple[int, str, bool] = (-1, "", False)  # the hours may have changed

    # -- plumbing --------------------------------------------------------------------------
    def _now(self) -> tuple[float, int]:
        now_s = self.clock()
        return now_s, int(now_s * 1000)

    def _day(self, now_s: float) -> tuple[str, bool]:
        """(business day, tickets accepted before opening?) — worked out once a second, not once a call."""
        second = int(now_s)
        if self._day_cache[0] != second:
            self._day_cache = (second, self.hall.business_day(now_s), self.hall.accepts_early_tickets(now_s))
        return self._day_cache[1], self._day_cache[2]

    async def _run(self, name: str, keys: Packed, args: Sequence[Any], now_ms: int,
                   tail: Packed = EMPTY) -> tuple[Any, str | None]:
        raw = await self.scripts.call(name, self._base + keys + self._last_key, [now_ms, EVENTS_MAXLEN, *args], tail,
                                      ACTOR.get())
        reply: Json = orjson.loads(raw)
        if "error" in reply:
            if reply["error"] == "moved":
                raise _Moved
            raise errors.refusal(reply["error"], reply["details"] or {})
        written = reply.get("written")
        if written and self.on_written is not None:
            self.on_written(self.hall.id, list(zip(written[::2], written[1::2], strict=True)))
        event_id = reply.get("event_id")
        return reply["ok"], event_id.decode() if isinstance(event_id, bytes) else event_id

    def _check_window(self, window: str) -> None:
        if window not in self._windows:
            raise errors.UnknownWindow(window=window)

    async def _read_ticket(self, ticket_id: str) -> Json:
        raw = await pipe_for(self.redis).call(command("HGET", self.keys.tickets, ticket_id))
        if raw is None:
            raise errors.UnknownTicket(ticket=ticket_id)
        data: Json = orjson.loads(raw)
        return data

    def _queue_key(self, queue: str) -> str:
        kind, _, name = queue.partition(":")
        return self.keys.window_queue(name) if kind == "wq" else self.keys.queue(name)

    async def _on_ticket(self, name: str, ticket_id: str, build: _KeysAndArgs) -> Ticket:
        """Run a script on a ticket whose queue we must read first; retry if it moved in between."""
        for _ in range(5):
            t = await self._read_ticket(ticket_id)
            keys, args = build(t)
            try:
                result, _ = await self._run(name, Packed.of(keys), args, self._now()[1])
            except _Moved:
                continue
            return Ticket.from_json(result)
        raise errors.HallNotReady()

    # -- set-up ---------------------------------------------------------------------------
    async def setup(self) -> None:
        """Seed windows and estimates for a hall Redis does not know yet; live state wins over the file."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for w in self.hall.windows:
                pipe.hsetnx(self.keys.windows, w.id, orjson.dumps(initial_window(w.services, w.primary, w.items)))
            for s in self.hall.services:
                pipe.hsetnx(self.keys.ewma, s.code, s.handling_s * 1000)
            await pipe.execute()
        await self._count_idle_windows()

    async def _count_idle_windows(self) -> None:
        """Count the idle windows of a live day begun before the scripts kept count (an upgrade in the day): once,
        from the windows as they are; the scripts keep the count from then on. Watched, so a script changing a
        window meanwhile makes us count again rather than write a stale count."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(k.windows, k.idle)
                    if await pipe.exists(k.idle):
                        return
                    windows = [orjson.loads(raw) for raw in await pipe.hvals(k.windows)]
                    counts = Counter(s for w in windows if w["state"] == "idle" for s in w["services"])
                    if not counts:  # no window idle: nothing to count, and the scripts start from nothing
                        return
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(k.idle, mapping=dict(counts))
                    await pipe.execute()
                    return
                except WatchError:
                    continue

    async def has_state(self) -> bool:
        """Whether Redis holds this hall's live day (it does not after a restart without persistence)."""
        return bool(await self.redis.exists(self.keys.windows))

    async def load_state(self, model: HallModel, after_event: str | None) -> str:
        """Write a rebuilt hall (``HallModel.replay`` of its stored events) into Redis in one transaction.

        The stream restarts with a ``hall.restored`` event whose id follows ``after_event``, the last id
        stored, so clients resuming from an id they saw before the loss still go forward in order.
        """
        k = self.keys
        now_ms = self._now()[1]
        old_queues = [k.queue(c) for c in self._codes] + [k.window_queue(w) for w in self._window_ids]
        ages = [k.age(c) for c in self._codes]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(k.tickets, k.windows, k.active, k.able, k.idle, k.ewma, k.people, k.calls, *old_queues, *ages)
            if model.tickets:
                pipe.hset(k.tickets, mapping={i: orjson.dumps(t) for i, t in model.tickets.items()})
            pipe.hset(k.windows, mapping={i: orjson.dumps(w) for i, w in model.windows.items()})
            if self.config_version:
                pipe.hset(k.config, mapping={"version": self.config_version, "document": self.hall.model_dump_json(),
                                             "source": self.config_source})
            if model.active:
                pipe.sadd(k.active, *model.active)
            pipe.hset(k.able, mapping={s: n for s, n in model.able.items()})
            pipe.hset(k.idle, mapping={s: model.idle_windows(s) for s in self._codes})
            pipe.hset(k.ewma, mapping={s: ms for s, ms in model.ewma.items()})
            if model.people:
                pipe.hset(k.people, mapping={p: t for p, t in model.people.items()})
            for call in model.calls:
                pipe.rpush(k.calls, orjson.dumps(call))
            for queue, entries in model.queues.items():
                if entries:
                    pipe.zadd(self._queue_key(queue), {tid: score for score, tid in entries})
            for service, waiting_since in model.ages.items():
                if waiting_since:
                    pipe.zadd(k.age(service), dict(waiting_since))
            for (day, service), seq in model.sequences.items():
                pipe.hset(k.sequence(day), service, seq)
                pipe.expire(k.sequence(day), DAY_SCOPED_TTL_S)
            for (day, key), (tid, request) in model.idempotency.items():
                pipe.hset(k.idempotency(day), key, f"{tid}|{request}")
                pipe.expire(k.idempotency(day), DAY_SCOPED_TTL_S)
            for (day, tid), rated_at in model.late_ratings.items():
                pipe.hset(k.late_ratings(day), tid, rated_at)
                pipe.expire(k.late_ratings(day), max(1, self.hall.ratings.late_s))
            event = orjson.dumps({"type": "hall.restored", "at": now_ms, "events": len(model.events)})
            pipe.xadd(k.events, {"e": event}, id=_id_after(after_event, now_ms))
            pipe.spublish(k.events, "restored")  # the hubs' wake-up on a cluster (common.lua); they read the stream
            result = await pipe.execute()
        restored: bytes | str = result[-2]
        return restored.decode() if isinstance(restored, bytes) else restored

    # -- tickets --------------------------------------------------------------------------
    async def issue(
        self,
        service: str,
        *,
        channel: str = "guide",
        priority: str | None = None,
        person: str | None = None,
        appointment_ms: int | None = None,
        idempotency_key: str | None = None,
        item: str | None = None,
        green_reason: str | None = None,
        holder: str | None = None,
    ) -> Issued:
        """Issue a ticket. ``item`` is a sub-item of the service, ``green_reason`` why a green-channel ticket has
        it, ``holder`` the citizen's name already masked (张*三): the engine never sees a full name."""
        svc = check_issue(self.hall, service, channel, priority, item=item, green_reason=green_reason, holder=holder)
        now_s, now_ms = self._now()
        day, early = self._day(now_s)
        keys = self._issue_keys.get((service, day))
        if keys is None:
            if any(d != day for _, d in self._issue_keys):
                self._issue_keys.clear()  # a new business day: yesterday's sequence keys are done with
            k = self.keys
            keys = Packed.of([k.queue(service), k.age(service), k.sequence(day), k.idempotency(day)])
            self._issue_keys[(service, day)] = keys
        for _ in range(5):
            args = [
                day, self.new_id(day), service, svc.letter, channel, priority or "", person or "",
                "" if appointment_ms is None else appointment_ms, idempotency_key or "",
                "1" if early else "0", self._handling[service], DAY_SCOPED_TTL_S, self._planned[service],
                item or "", green_reason or "", holder or "",
            ]
            try:
                result, event_id = await self._run("issue", keys, args, now_ms)
            except errors.DomainError as exc:
                if exc.code == "id_taken":
                    continue
                raise
            return Issued.from_json(result, event_id)
        raise errors.HallNotReady()

    async def ticket(self, ticket_id: str) -> TicketStatus:
        """A ticket with, while it waits, how many are ahead of it and the estimated wait."""
        t = Ticket.from_json(await self._read_ticket(ticket_id))
        if t.status != "waiting" or t.queue is None or t.score is None:
            return TicketStatus(t)
        ahead, handling, able, idle = await pipe_for(self.redis).call_many((
            command("ZRANK", self._queue_key(t.queue), t.id), command("HGET", self.keys.ewma, t.service),
            command("HGET", self.keys.able, t.service), command("HGET", self.keys.idle, t.service)))
        if ahead is None:  # called or moved since we read it
            return await self.ticket(ticket_id)
        wait_ms = policy.estimated_wait_ms(
            ahead, int(handling or self._handling[t.service]), int(able or 0), int(idle or 0), self._planned[t.service])
        return TicketStatus(t, ahead, wait_ms // 1000)

    async def cancel(self, ticket_id: str) -> Ticket:
        def build(t: Json) -> tuple[list[str], list[Any]]:
            queue = t.get("queue") or f"q:{t['service']}"
            return [self._queue_key(queue), self.keys.age(t["service"])], [ticket_id, queue]

        return await self._on_ticket("cancel", ticket_id, build)

    async def pin(self, ticket_id: str, reason: str) -> Ticket:
        def build(t: Json) -> tuple[list[str], list[Any]]:
            queue = t.get("queue") or f"q:{t['service']}"
            return [self._queue_key(queue), self.keys.age(t["service"])], [ticket_id, queue, reason]

        return await self._on_ticket("pin", ticket_id, build)

    async def requeue(self, ticket_id: str) -> Ticket:
        day = self._day(self.clock())[0]

        def build(t: Json) -> tuple[list[str], list[Any]]:
            svc = t["service"]
            return [self.keys.queue(svc), self.keys.age(svc)], [ticket_id, svc, self.hall.policy.requeue_mode, day]

        return await self._on_ticket("requeue", ticket_id, build)

    # -- a window's work ------------------------------------------------------------------
    async def call_next(self, window: str) -> Ticket | None:
        self._check_window(window)
        result, _ = await self._run("call_next", self._call_next_keys[window], [window], self._now()[1],
                                    self._call_next_tail)
        return None if result is None else Ticket.from_json(result)

    async def call_ticket(self, window: str, ticket_id: str, reason: str) -> Ticket:
        """Call one chosen waiting ticket out of order, or one of this window's latest no-shows."""
        self._check_window(window)

        def build(t: Json) -> tuple[list[str], list[Any]]:
            queue = t.get("queue") if t["status"] == "waiting" else None
            queue_key = self._queue_key(queue) if queue else self.keys.queue(t["service"])
            items = self._items_of.get(t["service"], [])
            args = [window, ticket_id, queue or "", reason, self.hall.policy.returning, len(items), *items,
                    *([t["service"]] * len(items))]
            return [queue_key, self.keys.age(t["service"])], args

        return await self._on_ticket("call_ticket", ticket_id, build)

    async def _window_op(self, name: str, window: str, *args: Any) -> Ticket:
        self._check_window(window)
        result, _ = await self._run(name, EMPTY, [window, *args], self._now()[1])
        return Ticket.from_json(result)

    async def recall(self, window: str) -> Ticket:
        return await self._window_op("recall", window, self.hall.policy.recall_limit)

    async def start(self, window: str) -> Ticket:
        return await self._window_op("start", window)

    async def finish(self, window: str, outcome: str = "done") -> Ticket:
        check_outcome(outcome)
        return await self._window_op("finish", window, outcome, self.hall.policy.ewma_alpha)

    async def no_show(self, window: str) -> Ticket:
        """The called citizen did not come (过号): refused (``no_show_too_early``) until the hall's rule allows it."""
        rule = self.hall.policy
        return await self._window_op("no_show", window, rule.missed_serve_direct, rule.no_show_after_recalls,
                                     rule.no_show_after_s)

    async def transfer(
        self, window: str, *, to_service: str | None = None, to_window: str | None = None, reason: str = ""
    ) -> Ticket:
        self._check_window(window)
        check_transfer_target(self.hall, window, to_service, to_window)
        target = self.keys.queue(to_service) if to_service else self.keys.window_queue(to_window or "")
        codes = self._codes
        args = [window, to_service or "", to_window or "", reason, len(codes), *codes]
        result, _ = await self._run("transfer", Packed.of([target]) + self._all_ages, args, self._now()[1],
                                    self._item_map)
        return Ticket.from_json(result)

    # -- windows --------------------------------------------------------------------------
    async def _window_state(self, window: str, action: str, reason: str = "") -> WindowState:
        self._check_window(window)
        result, _ = await self._run("window_state", EMPTY, [window, action, reason], self._now()[1])
        return WindowState.from_json(result)

    async def open_window(self, window: str) -> WindowState:
        return await self._window_state(window, "open")

    async def close_window(self, window: str) -> WindowState:
        return await self._window_state(window, "close")

    async def pause(self, window: str, reason: str) -> WindowState:
        return await self._window_state(window, "pause", reason)

    async def resume(self, window: str) -> WindowState:
        return await self._window_state(window, "resume")

    async def set_services(self, window: str, services: Sequence[str], primary: Sequence[str] = (),
                           items: Sequence[str] | None = None) -> WindowState:
        """Change a window's skills: its services, those it calls first, and (``items``) the only sub-items it
        serves of some of them. Without ``items`` it keeps those of its sub-item skills whose service it still
        serves."""
        self._check_window(window)
        check_skills(self.hall, window, list(services), list(primary), None if items is None else list(items))
        args = [window, orjson.dumps(list(services)), orjson.dumps(list(primary)),
                "" if items is None else orjson.dumps(list(items))]
        result, _ = await self._run("set_services", EMPTY, args, self._now()[1], self._item_map)
        return WindowState.from_json(result)

    async def alert(self, kind: str, **details: Any) -> str:
        """Tell the hall's managers something needs them now (``hall.alert``; e.g. a service no open window can
        serve): an event of the stream, so the dashboard hears it at once and the record keeps it. It changes no
        state, so it needs no script."""
        event = {"type": "hall.alert", "kind": kind, "at": self._now()[1], **details}
        if ACTOR.get():
            event["by"] = ACTOR.get()
        text = orjson.dumps(event)
        async with self.redis.pipeline(transaction=False) as pipe:  # one round trip
            pipe.xadd(self.keys.events, {"e": text}, maxlen=EVENTS_MAXLEN, approximate=True)
            pipe.spublish(self.keys.events, "alert")  # the hubs' wake-up on a cluster (common.lua)
            added: Any = (await pipe.execute())[0]
        event_id = added.decode() if isinstance(added, bytes) else str(added)
        if self.on_written is not None:
            self.on_written(self.hall.id, [(event_id, text)])
        return event_id

    async def live_config(self) -> tuple[int, str | None, str]:
        """The version (0: none yet), document (JSON) and source of the configuration the live day runs on."""
        raw = await self.redis.hmget(self.keys.config, ["version", "document", "source"])
        version, document, source = (v.decode() if isinstance(v, bytes) else v for v in raw)
        return int(version or 0), document, source or "live"

    async def first_config(self, source: str) -> bool:
        """Record this engine's configuration as the hall's first set-up (version 1), unless the hall has one
        already: no event, since nothing of the day comes before it. Whether it was this call that recorded it."""
        written = await self.redis.eval(_FIRST_CONFIG, 1, self.keys.config, self.hall.model_dump_json(), source,
                                        self._now()[1])
        if written:
            self.adopt(self.hall, 1, source)
        else:
            await self.catch_up()
        return bool(written)

    async def catch_up(self) -> None:
        """Adopt the set-up the live day runs on, if Redis holds a newer one than this engine's (a process starting
        while the hall runs)."""
        version, document, source = await self.live_config()
        if document is not None and version > self.config_version:
            self.adopt(HallConfig.model_validate_json(document), version, source)

    def follow(self, event: Json) -> bool:
        """Adopt the set-up a ``hall.configured`` event carries, if it is newer than this engine's: every reader of the
        stream (the web workers' hub, the archiver, the notifier) calls this, so each runs on the set-up the live day
        does from that event on. Whether it changed anything."""
        if event.get("type") != "hall.configured" or event["version"] <= self.config_version:
            return False
        self.adopt(HallConfig.model_validate(event["config"]), event["version"], event.get("source") or "live")
        return True

    async def reconfigure(self, new: HallConfig, from_version: int, changes: Sequence[Json] = (),
                          source: str = "live") -> int:
        """Run the hall on ``new`` from now on, if its set-up is still at ``from_version``: windows and services
        come and go with the live day (``reconfigure.lua``), and the ``hall.configured`` event tells every worker.
        ``changes`` say what changed, for the audit; ``source`` is "live" or "file:<sha256>" of an imported file.
        The new version; this engine has adopted ``new``."""
        change = reconfiguration(self.hall, new)
        k = self.keys
        keys = [k.config, *(k.window_queue(w) for w in change.windows_removed),
                *(key for s in change.services_removed for key in (k.queue(s), k.age(s)))]
        args = [from_version, from_version + 1, orjson.dumps(change.as_json()),
                new.model_dump_json(), orjson.dumps(list(changes)), source]
        await self._run("reconfigure", Packed.of(keys), args, self._now()[1])
        self.adopt(new, from_version + 1, source)
        return from_version + 1

    async def windows(self) -> dict[str, WindowState]:
        """Every window's state, in one read."""
        raw: dict[Any, Any] = await self.redis.hgetall(self.keys.windows)
        return {(k.decode() if isinstance(k, bytes) else k): WindowState.from_json(orjson.loads(v))
                for k, v in raw.items()}

    async def window(self, window: str) -> WindowState:
        self._check_window(window)
        raw = await self.redis.hget(self.keys.windows, window)
        if raw is None:
            raise errors.HallNotReady()
        return WindowState.from_json(orjson.loads(raw))

    async def waiting(self, window: str | None = None, service: str | None = None, limit: int = 100
                      ) -> list[Ticket]:
        """Waiting tickets in calling order: those a window would call (its own queue and its services'),
        one service's line, or (neither given) the whole hall's. Reads only; at most ``limit``."""
        primary: list[str] = []
        items: list[str] = []
        if window is not None:
            state = await self.window(window)
            queues, primary, items = [f"wq:{window}"] + [f"q:{s}" for s in state.services], state.primary, state.items
        elif service is not None:
            if service not in self._handling:
                raise errors.UnknownService(service=service)
            queues = [f"q:{service}"]
        else:
            queues = [f"q:{s}" for s in self._codes] + [f"wq:{w}" for w in self._window_ids]
        async with self.redis.pipeline(transaction=True) as pipe:
            for queue in queues:
                pipe.zrange(self._queue_key(queue), 0, limit - 1, withscores=True)
            heads: list[list[tuple[bytes, float]]] = await pipe.execute()
        ids = [tid for entries in heads for tid, _ in entries]
        if not ids:
            return []
        tickets = {t.id: t for t in (Ticket.from_json(orjson.loads(raw))
                                     for raw in await self.redis.hmget(self.keys.tickets, ids) if raw is not None)}
        restricted = policy.restricted_services(items, self._item_service)
        lines = []
        for queue, entries in zip(queues, heads, strict=True):
            service = queue.partition(":")[2] if queue.startswith("q:") else None
            if service in restricted:  # rule 6: what call-next would look at of this line, and may take
                entries = [(tid, score) for tid, score in entries[:policy.ITEM_SCAN] if tid.decode() in tickets
                           and policy.serves_item(service, tickets[tid.decode()].item, items, restricted)]
            lines.append([policy.Candidate(tid.decode(), tickets[tid.decode()].service, score)
                          for tid, score in entries if tid.decode() in tickets])
        order = policy.call_order(lines, primary, self._targets, self._now()[1])
        return [tickets[c.ticket] for c in order[:limit]]

    # -- ratings (好差评) -------------------------------------------------------------------
    def _rating_args(self, ticket_id: str, score: int, source: str, comment: str | None) -> list[Any]:
        check_rating(score, source, comment)
        return [ticket_id, score, source, comment or "", self.hall.ratings.late_s * 1000, self._day(self.clock())[0]]

    async def rate(self, ticket_id: str, score: int, source: str, comment: str | None = None) -> Rating:
        """The citizen rates a finished ticket the live day holds (5 非常满意 … 1 非常不满意), once: on its own day
        or within the hall's rating period (``ratings.late_s``) after it was finished. Emits ``ticket.rated``."""
        args = self._rating_args(ticket_id, score, source, comment)
        result, _ = await self._run("rate", EMPTY, args, self._now()[1])
        return Rating.from_json(result)

    async def rate_archived(
        self, ticket_id: str, *, number: str, service: str, window: str | None, day: str, score: int, source: str,
        comment: str | None = None,
    ) -> Rating:
        """A late rating of a ticket the live day no longer holds, described by its SQL record; the caller has
        checked from the record that it was finished within the rating period. Once per ticket (kept in Redis for
        that period); emits ``ticket.rated`` with ``late`` true and changes no live state. A ticket still live is
        rated as by ``rate``."""
        args = self._rating_args(ticket_id, score, source, comment)
        check_archived(number, day)
        args += [number, service, window or "", day, self.hall.ratings.late_s]
        result, _ = await self._run("rate_archived", Packed.of([self.keys.late_ratings(day)]), args, self._now()[1])
        return Rating.from_json(result)

    # -- the day --------------------------------------------------------------------------
    async def end_day(self, day: str | None = None) -> Json:
        """Close a business day (by default today's): leftovers missed, windows closed."""
        day = day or self._day(self.clock())[0]
        codes, windows = self._codes, self._window_ids
        keys = self._all_queues + Packed.of([self.keys.window_queue(w) for w in windows])
        args = [day, len(codes), *codes, len(windows), *windows]
        result, _ = await self._run("end_day", keys, args, self._now()[1])
        summary: Json = result
        return summary

    # -- reads ----------------------------------------------------------------------------
    async def snapshot(self) -> Json:
        """Per service waiting, longest wait and estimate; per window state and ticket; the last calls."""
        codes = self._codes
        args = [len(codes), *codes, *(self._handling[c] for c in codes),
                *(self._planned[c] for c in codes), len(self._window_ids), *self._window_ids]
        result, event_id = await self._run("snapshot", self._all_ages, args, self._now()[1])
        snap = normalize_snapshot(result)
        snap["event_id"] = event_id
        return snap

    async def events(self, since: str = "0-0", count: int = 1000) -> list[Event]:
        """Events strictly after ``since``, oldest first."""
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await self.redis.xrange(self.keys.events, min=f"({since}", count=count),
        )
        return [Event.from_stream(eid, orjson.loads(fields[b"e"])) for eid, fields in entries]
