"""Redis lost a moment after it acknowledged changes that no hub had read yet: the worker that acknowledged them
still holds them, and the rebuilt hall has them."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace
from typing import Any, cast

import orjson
from sqlalchemy import Engine as SqlEngine

from floor.record.recovery import Recovery
from floor.runtime import HallRuntime, Runtime
from floor.settings import Settings
from queue_engine.clock import ManualClock
from queue_engine.engine import Engine
from tests.conftest import delete_prefix
from tests.floor.conftest import busy_morning, stored_events


async def _stream(engine: Engine, after: str = "-") -> list[tuple[str, Any]]:
    entries: Any = await engine.redis.xrange(engine.keys.events, min=after)
    return [(eid.decode(), orjson.loads(fields[b"e"])) for eid, fields in entries]


async def test_every_event_a_call_appends_is_handed_to_the_caller_as_written(
        engine: Engine, clock: ManualClock) -> None:
    before = await _stream(engine)
    written: list[tuple[str, str | bytes]] = []
    engine.on_written = lambda hall, events: written.extend(events)
    await busy_morning(engine, clock)
    await engine.alert("no_window", service="TAX")
    await engine.reconfigure(engine.hall.model_copy(update={"name": "改名的大厅"}), engine.config_version)
    appended = (await _stream(engine))[len(before):]
    assert len(appended) > 30
    assert [(eid, orjson.loads(text)) for eid, text in written] == appended


async def test_changes_no_hub_read_before_redis_was_lost_come_back(
        engine: Engine, clock: ManualClock, sql_engine: SqlEngine, key_prefix: str) -> None:
    hub = SimpleNamespace(recent={engine.hall.id: deque()}, shards=engine.shards)  # it read nothing in time
    runtime = Runtime(Settings(secret=b"recovery"), engine.shards, {engine.hall.id: HallRuntime(engine)},
                      hub=cast(Any, hub))
    recovery = Recovery(runtime, sql_engine)
    recovery.watch()
    ids = await busy_morning(engine, clock)  # acknowledged; the archiver never ran
    snapshot = await engine.snapshot() | {"event_id": None}
    tickets = {i: await engine.ticket(i) for i in ids.values()}
    assert not stored_events(sql_engine)

    await delete_prefix(engine.redis, key_prefix)  # what SHUTDOWN NOSAVE and a restart leave
    await recovery.bring_back_halls()

    assert await engine.snapshot() | {"event_id": None} == snapshot
    assert {i: await engine.ticket(i) for i in ids.values()} == tickets
    assert (await engine.issue("SOC")).ticket.number == "A006"  # no number issued twice
