"""A phone's side of the hub (``floor.tickets.phone_line``): the calls of its line forwarded in order, and one fresh
status for a run of events that moved its ticket or its line, read from the engine."""

from __future__ import annotations

import orjson

from floor.realtime.hub import Event
from floor.runtime import HallRuntime
from floor.tickets.phone_line import PhoneLine
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from tests.sockets import RecordingSocket


async def open_all(engine: Engine, hall: HallConfig) -> None:
    for window in hall.windows:
        await engine.open_window(window.id)


async def test_a_run_of_events_forwards_the_lines_calls_and_reads_the_status_once(
        engine: Engine, demo_hall: HallConfig) -> None:
    await open_all(engine, demo_hall)
    first = await engine.issue("SOC")
    mine = await engine.issue("SOC")
    other = await engine.issue("HUK")
    sock = RecordingSocket()
    line = PhoneLine(HallRuntime(demo_hall, engine), mine.ticket.id, "SOC", sock.outbox())
    run: list[Event] = [
        ("1-0", "other issued", {"type": "ticket.issued", "ticket": other.ticket.id, "service": "HUK"}),
        ("2-0", "first called", {"type": "ticket.called", "ticket": first.ticket.id, "service": "SOC"}),
        ("3-0", "first recalled", {"type": "ticket.recalled", "ticket": first.ticket.id, "service": "SOC"}),
        ("4-0", "other called", {"type": "ticket.called", "ticket": other.ticket.id, "service": "HUK"}),
    ]
    line.offer(run)
    assert line.reading is not None
    await line.reading
    assert sock.sent[:2] == ["first called", "first recalled"]  # another line's call is not this phone's business
    statuses = [orjson.loads(text) for text in sock.sent[2:]]
    assert [(s["type"], s["event_id"], s["ticket"]["id"]) for s in statuses] == [
        ("ticket.status", "3-0", mine.ticket.id)]  # one read, as of the last event that moved the line
    assert statuses[0]["ticket"]["status"] == "waiting"
    assert not line.quiet


async def test_a_run_of_other_lines_events_sends_nothing_and_keeps_the_line_quiet(
        engine: Engine, demo_hall: HallConfig) -> None:
    await open_all(engine, demo_hall)
    mine = await engine.issue("SOC")
    sock = RecordingSocket()
    line = PhoneLine(HallRuntime(demo_hall, engine), mine.ticket.id, "SOC", sock.outbox())
    line.offer([("1-0", "x", {"type": "ticket.called", "ticket": "t-other", "service": "HUK"}),
                ("2-0", "y", {"type": "window.paused", "window": "3"})])
    assert line.reading is None
    assert sock.sent == []
    assert line.quiet
