"""Every event records who caused it, written in the same atomic step as the change."""

from __future__ import annotations

from typing import Any

from queue_engine.actor import ACTOR


async def test_events_record_the_actor_of_each_request(impl: Any) -> None:
    token = ACTOR.set("staff:5:abc123")
    try:
        await impl.open_window("5")
        await impl.issue("SOC")
        await impl.call_next("5")
    finally:
        ACTOR.reset(token)
    await impl.issue("HUK")  # outside any request: the system acts, nobody is named
    events = await impl.events()
    assert [e.data.get("by") for e in events] == ["staff:5:abc123"] * 3 + [None]
