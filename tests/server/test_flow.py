"""The acceptance test: a busy hall behind one or two workers, every screen hears every call exactly once, in order.

Four lobby displays follow the hall from a snapshot's event id while a guide desk issues 50 tickets across six
services and five windows call, start and finish in a loop. One display drops out in the middle and comes back
with ``since``. At the end every display holds the hall's whole event stream from the snapshot on, exactly once
and in order; the snapshot shows an empty, idle hall; 50 calls were made for 50 distinct tickets.

``event_log(display)`` gives what a display received as (event id, type) pairs, for comparing with the record
(the Redis stream here; the SQL archive in a later test).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from websockets.asyncio.client import ClientConnection

from floor.sql.db import TicketEventRow, TicketRow, make_sql_engine
from tests.server.conftest import HallApi, LiveServer, ServerFactory, recv_json, ws_connect

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

SERVICES = ("SOC", "HUK", "TAX", "FUND", "BIZ", "INFO")  # what windows 1-5 all serve
ALL_SERVICES = ("SOC", "HUK", "PROP", "TAX", "FUND", "BIZ", "INFO", "FOOD", "RESTO")
WINDOWS = ("1", "2", "3", "4", "5")
TICKETS = 50
DISPLAYS = 4
DROP_AFTER = 40  # display 0 disconnects after this many events ...
AWAY_FOR = 25  # ... and comes back once the hall has moved on by this many (or finished)
DEADLINE_S = 60.0  # only so that a broken server cannot hang the suite


@dataclass
class Display:
    name: str
    events: list[dict[str, Any]] = field(default_factory=list)  # event messages in the order received
    connections: int = 0
    heartbeats: int = 0
    missed_while_away: int = 0  # events the hall made between dropping out and coming back
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def last_id(self) -> str | None:
        return self.events[-1]["event_id"] if self.events else None


def event_log(display: Display) -> list[tuple[str, str]]:
    """(event id, type) of every event the display received, in order, across its reconnections."""
    return [(m["event_id"], m["type"]) for m in display.events]


@dataclass
class HallDay:
    since: str  # the snapshot's event id every display followed from
    displays: list[Display]
    issued: list[dict[str, Any]]
    calls_made: list[dict[str, Any]]  # tickets the windows' call-next returned
    stream: list[tuple[str, str]]  # the hall's Redis stream after ``since``: the record
    snapshot: dict[str, Any]


async def _follow(server: LiveServer, display: Display, since: str, final: asyncio.Future[str], *,
                  drop_after: int | None = None, hall_done: asyncio.Event | None = None) -> None:
    """Read the display feed until ``final`` is known and received; optionally drop out once and resume."""
    token = server.token("display")
    resume_from = since
    deadline = time.monotonic() + DEADLINE_S
    while True:
        ws: ClientConnection
        async with ws_connect(server.ws_url("display", token, since=resume_from)) as ws:
            display.connections += 1
            display.connected.set()
            while not (final.done() and display.last_id == final.result()):
                assert time.monotonic() < deadline, f"{display.name} is still waiting for events"
                try:
                    message = await recv_json(ws, within_s=0.5)
                except TimeoutError:
                    continue
                if message.get("type") == "heartbeat":
                    display.heartbeats += 1
                    continue
                display.events.append(message)
                if drop_after is not None and len(display.events) == drop_after:
                    break
            else:
                return
        # Away: the hall carries on without this screen for a while.
        assert drop_after is not None
        assert hall_done is not None
        drop_after = None
        resume_from = display.last_id or since
        while len(server.events(since=resume_from)) < AWAY_FOR and not hall_done.is_set():
            assert time.monotonic() < deadline, f"{display.name}: the hall stopped moving"
            await asyncio.sleep(0.02)
        display.missed_while_away = len(server.events(since=resume_from))


async def _issue_all(hall: HallApi, issued: list[dict[str, Any]], done: asyncio.Event) -> None:
    for i in range(TICKETS):
        issued.append(await hall.issue(SERVICES[i % len(SERVICES)]))
        await asyncio.sleep(0.005)  # a desk, not a burst: windows call while tickets still come in
    done.set()


async def _work_window(hall: HallApi, window: str, issuing_done: asyncio.Event, calls: list[dict[str, Any]]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        assert time.monotonic() < deadline, f"window {window} is still working"
        everything_issued = issuing_done.is_set()  # read before calling: then null means nothing waits
        ticket = (await hall.window_op(window, "call-next"))["ticket"]
        if ticket is None:
            if everything_issued:
                return
            await asyncio.sleep(0.01)
            continue
        calls.append(ticket)
        assert ticket["window"] == window
        await hall.window_op(window, "start")
        await hall.window_op(window, "finish", {"outcome": "done"})


async def run_hall_day(server: LiveServer) -> HallDay:
    """The scenario; returns what each display received and what the hall recorded."""
    async with server.client() as client:
        hall = HallApi(server, client, "demo")
        await hall.open(*WINDOWS)
        since = (await hall.snapshot())["event_id"]
        assert since is not None
        displays = [Display(f"display-{i}") for i in range(DISPLAYS)]
        final: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        hall_done = asyncio.Event()
        followers = [asyncio.create_task(_follow(server, displays[0], since, final, drop_after=DROP_AFTER,
                                                 hall_done=hall_done))]
        followers += [asyncio.create_task(_follow(server, d, since, final)) for d in displays[1:]]
        try:
            # Every display is subscribed before anything happens (each has connected at least once).
            await asyncio.wait_for(asyncio.gather(*(d.connected.wait() for d in displays)), DEADLINE_S)
            issuing_done = asyncio.Event()
            issued: list[dict[str, Any]] = []
            calls: list[dict[str, Any]] = []
            await asyncio.gather(_issue_all(hall, issued, issuing_done),
                                 *(_work_window(hall, w, issuing_done, calls) for w in WINDOWS))
            hall_done.set()
            stream = server.events(since=since)
            final.set_result(stream[-1][0])
            await asyncio.wait_for(asyncio.gather(*followers), DEADLINE_S)
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
        snapshot = await hall.snapshot()
    return HallDay(since, displays, issued, calls, stream, snapshot)


@pytest.mark.parametrize("workers", [1, 2])
async def test_every_display_hears_every_event_exactly_once_in_order(live_server: ServerFactory,
                                                                       workers: int) -> None:
    server = live_server(workers=workers)
    day = await run_hall_day(server)

    # The record: 50 issued, 50 called, 50 serving, 50 finished, in the stream after the snapshot.
    kinds = Counter(t for _, t in day.stream)
    assert kinds == {"ticket.issued": TICKETS, "ticket.called": TICKETS, "ticket.serving": TICKETS,
                     "ticket.finished": TICKETS}
    assert len({eid for eid, _ in day.stream}) == len(day.stream)

    # Every display: the same full sequence, exactly once, in order (the dropped one included).
    for display in day.displays:
        log = event_log(display)
        assert len(log) == len(set(log)), f"{display.name} got duplicates"
        assert log == day.stream, f"{display.name} differs from the stream"
    assert day.displays[0].connections == 2
    assert day.displays[0].missed_while_away > 0  # it really had to catch up on its return
    assert all(d.connections == 1 for d in day.displays[1:])
    assert event_log(day.displays[0]) == event_log(day.displays[1]) == event_log(day.displays[2]) \
        == event_log(day.displays[3])

    # 50 calls for 50 distinct tickets: every ticket issued, called once, at the window that called it. A display
    # knows a ticket by its number (unique in the hall's day): the ticket id, the phone page's key, never reaches it.
    assert len({t["number"] for t in day.issued}) == TICKETS
    for display in day.displays:
        called = [m for m in display.events if m["type"] == "ticket.called"]
        assert len(called) == TICKETS
        assert len({m["number"] for m in called}) == TICKETS
        assert {m["number"] for m in called} == {t["number"] for t in day.issued}
        assert {(m["number"], m["window"]) for m in called} == {(t["number"], t["window"]) for t in day.calls_made}
        assert all("ticket" not in m for m in display.events), display.name
        for message in called:
            assert message["announcement"] == f"请{message['number']}号到{message['window']}号窗口"
    assert len(day.calls_made) == TICKETS
    assert {t["id"] for t in day.calls_made} == {t["id"] for t in day.issued}

    # The snapshot agrees: no one waiting, the five windows idle, the rest closed, at the stream's last event.
    snapshot = day.snapshot
    assert {s["code"]: s["waiting"] for s in snapshot["services"]} == dict.fromkeys(ALL_SERVICES, 0)
    for window in snapshot["windows"]:
        expected = "idle" if window["id"] in WINDOWS else "closed"
        assert (window["state"], window["ticket"]) == (expected, None), window
    assert snapshot["event_id"] == day.stream[-1][0]
    async with server.client() as client:
        for ticket in day.issued:
            phone = await client.get(f"/api/v1/halls/demo/tickets/{ticket['id']}")
            assert phone.status_code == 200, phone.text
            assert phone.json()["status"] == "done", phone.json()

    # The SQL record agrees: every event of the stream archived exactly once, and each ticket done there too.
    sql = make_sql_engine(f"sqlite:///{server.home / 'hallq.db'}")
    try:
        deadline = time.monotonic() + 15
        while True:
            with Session(sql) as session:
                rows = session.scalars(select(TicketEventRow).where(TicketEventRow.hall == "demo")
                                       .order_by(TicketEventRow.stream_ms, TicketEventRow.stream_seq)).all()
                archived = [(r.stream_id, r.type) for r in rows]
                tickets = {t.id: t for t in session.scalars(select(TicketRow).where(TicketRow.hall == "demo"))}
            if len(archived) >= len(server.events()):
                break
            assert time.monotonic() < deadline, f"the archiver stored {len(archived)} of {len(server.events())}"
            await asyncio.sleep(0.2)
        assert archived == server.events()  # the whole stream, since the windows opened, in order, once
        assert {tid for tid, t in tickets.items() if t.status == "done"} == {t["id"] for t in day.issued}
        assert all(t.called_at is not None and t.finished_at is not None for t in tickets.values())
        staff = [r.actor for r in rows if r.type == "ticket.called"]
        assert all(actor and actor.startswith("staff:") for actor in staff), staff[:3]  # the audit trail
    finally:
        sql.dispose()
