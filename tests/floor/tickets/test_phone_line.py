"""A phone's side of the hub (``floor.tickets.phone_line``): the calls of its line forwarded in order, and one fresh
status for a run of events that moved its ticket or its line, read from the engine."""

from __future__ import annotations

from typing import Any

import orjson

from floor.http.feed import render_for
from floor.realtime.hub import Event
from floor.runtime import HallRuntime
from floor.tickets.phone_line import CHANNEL, VIEW, PhoneLine
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from tests.sockets import RecordingSocket

AT = 1795393000000


async def open_all(engine: Engine, hall: HallConfig) -> None:
    for window in hall.windows:
        await engine.open_window(window.id)


def phone_of(engine: Engine, hall: HallConfig, ticket_id: str, service: str = "SOC") -> tuple[PhoneLine,
                                                                                              RecordingSocket]:
    """The phone line of ``ticket_id``, in line for ``service``, and the socket it writes to."""
    sock = RecordingSocket()
    return PhoneLine(HallRuntime(engine), ticket_id, service, sock.outbox()), sock


def events(hall: HallConfig, *payloads: dict[str, Any]) -> list[Event]:
    """Events 1-0, 2-0, ... of the payloads, rendered for the phone as the server renders them."""
    render = render_for({hall.id: hall}.__getitem__, {VIEW: CHANNEL})
    return [Event(f"{n}-0", {"at": AT, **payload}, hall.id, render) for n, payload in enumerate(payloads, 1)]


async def test_a_run_of_events_forwards_the_lines_calls_and_reads_the_status_once(
        engine: Engine, demo_hall: HallConfig) -> None:
    await open_all(engine, demo_hall)
    first = await engine.issue("SOC")
    mine = await engine.issue("SOC")
    other = await engine.issue("HUK")
    line, sock = phone_of(engine, demo_hall, mine.ticket.id)
    called = {"ticket": first.ticket.id, "number": first.ticket.number, "service": "SOC", "window": "2",
              "holder": "张*三", "reason": "老人优先", "by": "staff:2@abc", "item": "SOC-REG"}
    run = events(
        demo_hall,
        {"type": "ticket.issued", "ticket": other.ticket.id, "number": other.ticket.number, "service": "HUK"},
        {"type": "ticket.called", **called},
        {"type": "ticket.recalled", **called, "recalls": 1},
        {"type": "ticket.called", "ticket": other.ticket.id, "number": other.ticket.number, "service": "HUK",
         "window": "3"},
    )
    line.offer(run)
    assert line.reading is not None
    await line.reading
    calls = [orjson.loads(text) for text in sock.sent[:2]]  # another line's call is not this phone's business
    # Of a call, what the lobby screens show: never the called ticket's id, holder, reason, item or staff.
    assert calls == [{"type": kind, "event_id": event_id, "at": "2026-11-23T08:16:40.000+08:00",
                      "number": first.ticket.number, "service": "SOC", "window": "2", "window_name": "2号窗口"}
                     for kind, event_id in (("ticket.called", "2-0"), ("ticket.recalled", "3-0"))]
    statuses = [orjson.loads(text) for text in sock.sent[2:]]
    assert [(s["type"], s["event_id"], s["ticket"]["id"]) for s in statuses] == [
        ("ticket.status", "3-0", mine.ticket.id)]  # one read, as of the last event that moved the line
    assert statuses[0]["ticket"]["status"] == "waiting"
    assert not line.quiet


async def test_a_run_of_other_lines_events_sends_nothing_and_keeps_the_line_quiet(
        engine: Engine, demo_hall: HallConfig) -> None:
    await open_all(engine, demo_hall)
    mine = await engine.issue("SOC")
    line, sock = phone_of(engine, demo_hall, mine.ticket.id)
    line.offer(events(demo_hall, {"type": "ticket.called", "ticket": "t-other", "number": "B001", "service": "HUK",
                                  "window": "3"},
                      {"type": "window.paused", "window": "3", "reason": "系统维护"}))
    assert line.reading is None
    assert sock.sent == []
    assert line.quiet


async def test_events_of_its_line_that_are_not_calls_move_the_status_but_send_nothing_of_themselves(
        engine: Engine, demo_hall: HallConfig) -> None:
    """A transfer into the line, a pin, another's finish: the phone hears of them only through its next status."""
    await open_all(engine, demo_hall)
    mine = await engine.issue("SOC")
    line, sock = phone_of(engine, demo_hall, mine.ticket.id)
    line.offer(events(
        demo_hall,
        {"type": "ticket.transferred", "ticket": "t-other", "number": "B002", "service": "SOC", "from_service": "HUK",
         "from_window": "3", "reason": "复杂业务"},
        {"type": "ticket.pinned", "ticket": "t-third", "number": "A009", "service": "SOC", "reason": "老人"},
        {"type": "ticket.finished", "ticket": "t-fourth", "number": "A008", "service": "SOC", "window": "1",
         "outcome": "done"},
    ))
    assert line.reading is not None
    await line.reading
    assert [orjson.loads(text)["type"] for text in sock.sent] == ["ticket.status"]
    assert orjson.loads(sock.sent[0])["event_id"] == "3-0"
    for leaked in ("t-other", "t-third", "t-fourth", "复杂业务", "老人"):
        assert leaked not in sock.sent[0]
