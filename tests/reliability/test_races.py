"""Thirty windows calling, recalling, starting, finishing, marking no-shows, transferring and calling back late
arrivals at once while guides issue, retry, cancel and requeue, through the engine and over HTTP to a server of
two workers; then the invariants (``loadtest/races.py`` says which).
``python -m loadtest.races --minutes N`` is the long version. The checker itself is tested too: it must find
a ticket called twice, a skipped number and a ticket in two places.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from loadtest.races import (
    MONDAY_9AM,
    WINDOW_OPS,
    HttpHall,
    StreamChecker,
    Tally,
    check_state,
    engine_race,
    offset_clock,
    race_hall,
    race_hall_toml,
    run_race,
)
from queue_engine.config import load_hall
from queue_engine.engine import Engine
from queue_engine.keys import HallKeys
from tests.conftest import REDIS_URL
from tests.server.conftest import ServerFactory

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

ENGINE_RACE_S = 12.0
HTTP_RACE_S = 8.0
HALL_ID = "races"
BRIEFED_OPS = ("call_next", "recall", "start", "finish", "no_show", "transfer_service", "transfer_window", "issue")


def _every_operation_ran(tally: Tally, ops: tuple[str, ...] | list[str]) -> None:
    """A race where some operation never succeeded proves nothing about it."""
    for op in ops:
        assert tally.operations[op] > 0, f"{op} never succeeded: {tally.operations}"
    assert tally.refusals["window_busy"] > 0, tally.refusals
    assert tally.refusals["window_idle"] > 0, tally.refusals


async def test_thirty_windows_race_through_the_engine(key_prefix: str) -> None:
    tally = await engine_race(REDIS_URL, ENGINE_RACE_S, prefix=key_prefix)
    print(tally.render(ENGINE_RACE_S))
    assert tally.violations == [], tally.render(ENGINE_RACE_S)
    # The race hall puts late arrivals back in line (returning = requeue): a window's direct call-back is refused.
    served_ops = [op for op in WINDOW_OPS if op != "call_missed"]
    _every_operation_ran(tally, [*served_ops, "issue", "issue:replay", "cancel", "requeue"])
    assert tally.refusals["no_show_not_served"] > 0, tally.refusals
    assert tally.refusals["duplicate_ticket"] > 0  # the same person twice, from two guides at once
    assert tally.events > 2000, tally.render(ENGINE_RACE_S)


async def test_thirty_windows_race_over_http(live_server: ServerFactory, tmp_path: Path, redis: Redis) -> None:
    hall_file = tmp_path / f"{HALL_ID}.toml"
    hall_file.write_text(race_hall_toml(HALL_ID), encoding="utf-8")
    config = load_hall(hall_file)
    assert config == race_hall(HALL_ID)
    server = live_server(halls=[hall_file], hall_ids=[HALL_ID], workers=2)  # two processes racing, as deployed
    tally = Tally()
    hall = HttpHall(server.base_url, HALL_ID, lambda role, window: server.token(role, window, HALL_ID), tally)
    try:
        for w in config.windows:
            reply = await hall.client.post(f"/api/v1/halls/{HALL_ID}/windows/{w.id}/open",
                                           headers=server.auth("manager", hall=HALL_ID))
            assert reply.status_code == 200, reply.text
        await run_race(hall, redis, config, HallKeys(HALL_ID, server.key_prefix), HTTP_RACE_S, tally)
    finally:
        await hall.close()
    print(tally.render(HTTP_RACE_S))
    assert tally.violations == [], tally.render(HTTP_RACE_S)
    # Over HTTP the rarer paths (late arrivals, requeues) may not come up in seconds; the engine race has them.
    _every_operation_ran(tally, BRIEFED_OPS)
    assert "Traceback" not in server.stderr()


# -- the checker finds what it looks for -------------------------------------------------------------


def _called(ticket: str, number: str, window: str) -> dict[str, object]:
    return {"type": "ticket.called", "ticket": ticket, "number": number, "service": "SOC", "window": window, "at": 2}


def _issued(ticket: str, number: str) -> dict[str, object]:
    return {"type": "ticket.issued", "ticket": ticket, "number": number, "service": "SOC", "tier": 5,
            "channel": "guide", "day": "20261123", "at": 1}


def test_the_checker_finds_a_ticket_called_by_two_windows() -> None:
    tally = Tally()
    checker = StreamChecker(race_hall(), tally)
    for i, e in enumerate([
        {"type": "window.opened", "window": "1", "at": 0}, {"type": "window.opened", "window": "2", "at": 0},
        _issued("t1", "A001"), _called("t1", "A001", "1"), _called("t1", "A001", "2"),
    ]):
        checker.check(f"{i + 1}-0", e)
    assert any("called by window 2 while window 1 holds it" in v for v in tally.violations), tally.violations


def test_the_checker_finds_a_skipped_number_and_a_repeated_one() -> None:
    tally = Tally()
    checker = StreamChecker(race_hall(), tally)
    for i, e in enumerate([_issued("t1", "A001"), _issued("t2", "A003"), _issued("t3", "A003")]):
        checker.check(f"{i + 1}-0", e)
    assert any("issued A003 after number 1" in v for v in tally.violations), tally.violations
    assert any("number A003 issued twice" in v for v in tally.violations), tally.violations


async def test_the_checker_finds_a_ticket_in_two_places_and_a_state_the_stream_does_not_explain(
    redis: Redis, key_prefix: str
) -> None:
    config, tally = race_hall(), Tally()
    engine = Engine(redis, config, prefix=key_prefix, clock=offset_clock(MONDAY_9AM))
    await engine.setup()
    await engine.open_window("1")
    await engine.issue("SOC")
    waiting = (await engine.issue("HUK")).ticket
    called = await engine.call_next("1")
    assert called is not None

    async def check() -> list[str]:
        tally.violations.clear()
        checker = StreamChecker(config, tally)
        for event in await engine.events(count=100):
            checker.check(event.id, event.data)
        await check_state(redis, engine.keys, config, checker)
        return tally.violations

    assert await check() == []
    # The called ticket also back in its queue: two places at once.
    await redis.zadd(engine.keys.queue(called.service), {called.id: called.score or 0})
    found = await check()
    assert any(f"{called.number} is called but in 1 queues and at 1 windows" in v for v in found), found
    assert any("disagrees with Redis on queues" in v for v in found), found
    await redis.zrem(engine.keys.queue(called.service), called.id)
    # A ticket changed behind the stream's back.
    raw = await redis.hget(engine.keys.tickets, waiting.id)
    assert raw is not None
    await redis.hset(engine.keys.tickets, waiting.id, orjson.dumps({**orjson.loads(raw), "number": "B999"}))
    assert any("disagrees with Redis on tickets" in v for v in await check())


async def test_the_engine_race_leaves_nothing_behind(key_prefix: str, redis: Redis) -> None:
    prefix = f"{key_prefix}-{uuid.uuid4().hex[:4]}"
    tally = await engine_race(REDIS_URL, 1.0, prefix=prefix)
    assert tally.violations == []
    assert [key async for key in redis.scan_iter(match=f"{prefix}:*")] == []

