"""The realtime feed (design.md section 3): calls reach every screen, in stream order, resumable, never private."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from floor.identity import person_key
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.shards import Shards
from tests.server.conftest import (
    NO_SHOW_AT_ONCE,
    HallApi,
    ServerFactory,
    make_id_number,
    recv_events,
    recv_json,
    recv_until,
    write_hall_copy,
    ws_connect,
)

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)


def stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq)


def assert_framing(message: dict[str, Any]) -> None:
    assert {"event_id", "type", "at"} <= set(message), message
    at = datetime.fromisoformat(message["at"])
    assert at.utcoffset() == timedelta(hours=8), message["at"]


def assert_increasing(messages: list[dict[str, Any]]) -> None:
    ids = [stream_id(m["event_id"]) for m in messages]
    assert all(a < b for a, b in itertools.pairwise(ids)), [m["event_id"] for m in messages]


def display_url(api: HallApi, **params: str) -> str:
    return api.server.ws_url("display", api.server.token("display"), **params)


@pytest.fixture
async def hall(live_server: ServerFactory, tmp_path: Path) -> AsyncIterator[HallApi]:
    """A server of the test's own serving "demo", whose windows may mark a no-show at once (every event type is
    played in a few seconds here; the no-show rule has tests of its own)."""
    server = live_server(halls=[write_hall_copy(tmp_path, "demo", NO_SHOW_AT_ONCE)])
    async with server.client() as client:
        yield HallApi(server, client, "demo")


async def open_seen(hall: HallApi, window: str) -> None:
    """Open the window and come back once the server's hub has read it (a display saw it): a socket opened after
    this starts after it. On a cluster the hub reads an event a moment after the reply, woken by the script."""
    async with ws_connect(display_url(hall)) as ws:
        await hall.open(window)
        assert [e["type"] for e in await recv_events(ws, 1)] == ["window.opened"]


async def test_a_display_hears_a_call_with_the_window_name_and_announcement(hall: HallApi) -> None:
    await open_seen(hall, "5")
    async with ws_connect(display_url(hall)) as ws:
        issued = await hall.issue("SOC")
        await hall.window_op("5", "call-next")
        await hall.window_op("5", "recall")
        events = await recv_events(ws, 3)
    assert [e["type"] for e in events] == ["ticket.issued", "ticket.called", "ticket.recalled"]
    for event in events:
        assert_framing(event)
    assert_increasing(events)
    assert events[0]["number"] == "A001"
    for call in events[1:]:
        assert call["number"] == "A001"
        assert call["window"] == "5"
        assert call["window_name"] == "5号窗口"
        assert call["announcement"] == "请A001号到5号窗口"
    for event in events:  # a lobby screen shows the number: the ticket id (the phone page's key) never reaches it
        assert "ticket" not in event, event
        assert issued["id"] not in orjson.dumps(event).decode()


async def test_every_event_type_in_stream_order(hall: HallApi) -> None:
    async with ws_connect(display_url(hall)) as ws:
        await hall.open("5", "7")
        a1, a2, a3 = [await hall.issue("SOC") for _ in range(3)]
        await hall.window_op("5", "call-next")
        await hall.window_op("5", "recall")
        await hall.window_op("5", "start")
        await hall.window_op("5", "finish", {"outcome": "done"})
        await hall.window_op("5", "call-next")
        await hall.window_op("5", "no-show")
        await hall.window_op("5", "call-next")
        await hall.window_op("5", "transfer", {"to_window": "7", "reason": "复杂业务"})
        a4 = await hall.issue("SOC")
        await hall.ok("POST", f"/tickets/{a4['id']}/cancel", role="guide")
        await hall.window_op("5", "pause", {"reason": "系统维护"})
        await hall.window_op("5", "resume")
        called_at_7 = (await hall.window_op("7", "call-next"))["ticket"]
        await hall.window_op("7", "finish", {"outcome": "pickup"})
        await hall.window_op("5", "close")
        stream = hall.server.events()
        messages = await recv_until(ws, stream[-1][0])
    assert [(m["event_id"], m["type"]) for m in messages] == stream
    assert [m["type"] for m in messages] == [
        "window.opened", "window.opened", "ticket.issued", "ticket.issued", "ticket.issued",
        "ticket.called", "ticket.recalled", "ticket.serving", "ticket.finished",
        "ticket.called", "ticket.missed", "ticket.called", "ticket.transferred",
        "ticket.issued", "ticket.cancelled", "window.paused", "window.resumed",
        "ticket.called", "ticket.finished", "window.closed",
    ]
    for message in messages:
        assert_framing(message)
    assert_increasing(messages)
    calls = [m for m in messages if m["type"] == "ticket.called"]
    assert [(c["number"], c["window"]) for c in calls] == [("A001", "5"), ("A002", "5"), ("A003", "5"),
                                                             ("A003", "7")]
    assert calls[-1]["announcement"] == "请A003号到7号窗口"
    assert calls[-1]["window_name"] == "7号窗口"
    assert called_at_7["id"] == a3["id"]
    assert {t["number"] for t in (a1, a2, a3, a4)} == {m.get("number") for m in messages} - {None}
    for message in messages:  # the display has numbers, never ticket ids, the reasons staff typed, or who acted
        assert not {"ticket", "reason", "by"} & set(message), message
        assert not {a1["id"], a2["id"], a3["id"], a4["id"], "复杂业务", "系统维护"} & set(message.values()), message


async def test_resume_with_since_gets_exactly_the_missed_events_then_live_ones(hall: HallApi) -> None:
    await hall.open("5")
    since = (await hall.snapshot())["event_id"]
    assert since is not None
    async with ws_connect(display_url(hall, since=since)) as ws:
        for _ in range(3):
            await hall.issue("SOC")
        first = await recv_events(ws, 3)
    assert [m["type"] for m in first] == ["ticket.issued"] * 3
    assert [(m["event_id"], m["type"]) for m in first] == hall.server.events(since=since)
    last_seen = first[-1]["event_id"]

    # While the screen is away: more tickets, a call, a start.
    await hall.issue("HUK")
    await hall.issue("SOC")
    await hall.window_op("5", "call-next")
    await hall.window_op("5", "start")
    missed = hall.server.events(since=last_seen)
    assert [t for _, t in missed] == ["ticket.issued", "ticket.issued", "ticket.called", "ticket.serving"]

    async with ws_connect(display_url(hall, since=last_seen)) as ws:
        backlog = await recv_events(ws, len(missed))
        assert [(m["event_id"], m["type"]) for m in backlog] == missed
        await hall.window_op("5", "finish", {"outcome": "done"})
        live = await recv_events(ws, 1)
    assert [(m["event_id"], m["type"]) for m in live] == hall.server.events(since=missed[-1][0])
    everything = [*first, *backlog, *live]
    assert_increasing(everything)
    assert len({m["event_id"] for m in everything}) == len(everything)
    assert [(m["event_id"], m["type"]) for m in everything] == hall.server.events(since=since)


async def test_resume_from_the_very_start(hall: HallApi) -> None:
    await hall.open("5", "6")
    await hall.issue("SOC")
    stream = hall.server.events()
    async with ws_connect(display_url(hall, since="0-0")) as ws:
        backlog = await recv_events(ws, len(stream))
        await hall.issue("SOC")
        live = await recv_events(ws, 1)
    assert [(m["event_id"], m["type"]) for m in [*backlog, *live]] == hall.server.events()


async def test_resume_over_a_backlog_of_many_pages(hall: HallApi, shards: Shards, demo_hall: HallConfig) -> None:
    await hall.open("1", "2")
    since = (await hall.snapshot())["event_id"]
    engine = Engine(shards, demo_hall, prefix=hall.server.key_prefix)
    for batch in range(13):  # 1,234 events: more than two pages of backlog
        await asyncio.gather(*(engine.issue(("SOC", "HUK")[(batch + i) % 2]) for i in range(100 if batch < 12 else 34)))
    stream = hall.server.events(since=since)
    assert len(stream) == 1234
    async with ws_connect(display_url(hall, since=since)) as ws:
        backlog = await recv_until(ws, stream[-1][0], within_s=30)
        await hall.issue("SOC")
        live = await recv_events(ws, 1)
    received = [(m["event_id"], m["type"]) for m in [*backlog, *live]]
    assert received == hall.server.events(since=since)
    assert len(set(received)) == 1235


async def test_heartbeats_carry_the_last_event_id(live_server: ServerFactory) -> None:
    server = live_server(heartbeat_s=0.3)
    async with server.client() as client:
        hall = HallApi(server, client, "demo")
        async with ws_connect(display_url(hall)) as ws:
            quiet = await recv_json(ws)  # nothing has happened since we connected
            assert quiet["type"] == "heartbeat"
            assert quiet["event_id"] is None
            assert_framing(quiet)
            await hall.open("5")
            opened = await recv_events(ws, 1)
            beats: list[dict[str, Any]] = []
            while len(beats) < 2:
                message = await recv_json(ws)
                assert message["type"] == "heartbeat", message  # nothing else happened
                beats.append(message)
        for beat in beats:
            assert_framing(beat)
            assert beat["event_id"] == opened[0]["event_id"]
        async with ws_connect(display_url(hall, since=opened[0]["event_id"])) as ws:
            beat = await recv_json(ws)
        assert beat["type"] == "heartbeat"
        assert beat["event_id"] == opened[0]["event_id"]


async def test_screens_get_plain_frames_even_when_they_ask_for_compression(hall: HallApi) -> None:
    """Browsers offer permessage-deflate; the server declines it (its zlib state per screen costs more than
    compressing 300-byte frames on a LAN saves)."""
    await open_seen(hall, "5")
    async with ws_connect(display_url(hall), compression="deflate") as ws:
        assert ws.request is not None
        assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
        assert ws.protocol.extensions == []
        await hall.issue("SOC")
        events = await recv_events(ws, 1)
    assert events[0]["type"] == "ticket.issued"


async def test_a_client_that_sends_something_stays_connected(hall: HallApi) -> None:
    """Screens may send keep-alives, text or binary: the feed drops what it reads and keeps sending."""
    await open_seen(hall, "5")
    async with ws_connect(display_url(hall)) as ws:
        await ws.send("ping")
        await ws.send(b"\x00\x01keep-alive")
        issued = await hall.issue("SOC")
        events = await recv_events(ws, 1)
    assert events[0]["type"] == "ticket.issued"
    assert events[0]["number"] == issued["number"]
    assert "ticket" not in events[0]  # a display matches by number: it never has the ticket id


async def test_person_keys_and_idempotency_keys_never_reach_a_socket(hall: HallApi) -> None:
    await hall.open("5")
    since = (await hall.snapshot())["event_id"]
    id_number = make_id_number(date(1948, 5, 20), seq=888)
    secret_key = person_key(hall.server.secret, id_number)
    async with ws_connect(display_url(hall)) as live:
        reply = await hall.request("POST", "/tickets", role="guide", json={"service": "SOC", "id_number": id_number},
                                   headers={"Idempotency-Key": "desk-3-0001"})
        assert reply.status_code == 201, reply.text
        await hall.window_op("5", "call-next")
        live_raw = [await asyncio.wait_for(live.recv(), 10) for _ in range(2)]
    async with ws_connect(display_url(hall, since=since)) as resumed:
        backlog_raw = [await asyncio.wait_for(resumed.recv(), 10) for _ in range(2)]
    manager = hall.server.token("manager")
    async with ws_connect(hall.server.ws_url("dashboard", manager, since=since)) as dashboard:
        dashboard_raw = [await asyncio.wait_for(dashboard.recv(), 10) for _ in range(2)]
    for raw in [*live_raw, *backlog_raw, *dashboard_raw]:
        text = raw if isinstance(raw, str) else raw.decode()
        message = orjson.loads(text)
        assert message["type"] in ("ticket.issued", "ticket.called"), message
        assert "person" not in message
        assert "idempotency_key" not in message
        assert id_number not in text
        assert secret_key not in text
        assert "desk-3-0001" not in text
    # The event itself is there, just not the person: the display's number, the dashboard's priority too.
    assert orjson.loads(live_raw[0])["number"] == reply.json()["number"]
    assert orjson.loads(dashboard_raw[0])["priority"] == "green"


async def test_console_and_dashboard_carry_the_same_events(hall: HallApi) -> None:
    await open_seen(hall, "5")
    server = hall.server
    urls = [display_url(hall), server.ws_url("console", server.token("staff", "5"), window="5"),
            server.ws_url("dashboard", server.token("manager")),
            server.ws_url("display", server.token("manager"))]
    async with ws_connect(urls[0]) as a, ws_connect(urls[1]) as b, ws_connect(urls[2]) as c, \
            ws_connect(urls[3]) as d:
        issued = await hall.issue("SOC")
        await hall.window_op("5", "call-next")
        stream = server.events()
        received = [await recv_until(ws, stream[-1][0]) for ws in (a, b, c, d)]
    for messages in received:
        for message in messages:
            assert_framing(message)
        assert [(m["event_id"], m["type"]) for m in messages] == stream[-2:]
        assert (messages[-1]["number"], messages[-1]["window"]) == ("A001", "5")
    display, console, dashboard, managers_display = received
    for messages in (display, managers_display):  # a display is a display, whoever's token opened it
        assert messages[-1]["announcement"] == "请A001号到5号窗口"
        assert all("ticket" not in m for m in messages)
    # Window 5's console has its own call's ticket id; the dashboard every ticket's.
    assert console[-1]["ticket"] == dashboard[-1]["ticket"] == issued["id"]


def slow_socket(port: int) -> socket.socket:
    """A connected TCP socket with the smallest receive buffer the kernel allows."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


async def test_a_slow_client_does_not_delay_the_others(hall: HallApi, shards: Shards,
                                                     demo_hall: HallConfig) -> None:
    await hall.open("1", "2", "3", "4", "5", "6")
    since = (await hall.snapshot())["event_id"]
    # ~3,000 events, written to the hall's stream by an engine of our own (HTTP at this volume would take long):
    # the server's hub reads the stream, whoever wrote it.
    engine = Engine(shards, demo_hall, prefix=hall.server.key_prefix)
    services = ["SOC", "HUK", "TAX", "FUND", "BIZ", "INFO"]
    slow: ClientConnection
    async with ws_connect(display_url(hall), sock=slow_socket(hall.server.port), max_queue=1) as slow, \
            ws_connect(display_url(hall)) as reader:
        for batch in range(30):
            await asyncio.gather(*(engine.issue(services[(batch + i) % 6]) for i in range(100)))
        stream = hall.server.events(since=since)
        assert len(stream) == 3000
        # The reader hears every event, in order, while the other socket reads nothing.
        heard = await recv_until(reader, stream[-1][0], within_s=30)
        assert [(m["event_id"], m["type"]) for m in heard] == stream

        # The slow one now reads: what it gets is the stream without a gap, then either all of it or the end of
        # the connection (4008 if the close frame gets through, else an abnormal close: it never read, so the
        # server had to drop it), after which it resumes with since=<its last id>.
        got: list[tuple[str, str]] = []
        code: int | None = None
        closed = False
        try:
            while len(got) < len(stream):
                message = await recv_json(slow, within_s=15)
                if message["type"] != "heartbeat":
                    got.append((message["event_id"], message["type"]))
        except ConnectionClosed as exc:
            closed = True
            code = exc.rcvd.code if exc.rcvd else None
        assert got == stream[: len(got)]
        assert len(got) == len(stream) or (closed and code in (None, 4008)), (len(got), code)
    if len(got) < len(stream):
        resume_from = got[-1][0] if got else since
        async with ws_connect(display_url(hall, since=resume_from)) as again:
            rest = await recv_until(again, stream[-1][0], within_s=30)
        assert [*got, *((m["event_id"], m["type"]) for m in rest)] == stream


async def test_tokens_never_reach_the_server_log(live_server: ServerFactory) -> None:
    """Websocket URLs carry the token; the server's log must show the URL without it."""
    server = live_server()
    token = server.token("display")
    async with ws_connect(server.ws_url("display", token)) as ws:
        async with server.client() as client:
            await client.post("/api/v1/halls/demo/windows/5/open", headers=server.auth("staff", "5"))
        await asyncio.wait_for(ws.recv(), 5)
    log = server.stderr()
    assert "WebSocket /api/v1/halls/demo/ws/display" in log
    assert token not in log
    assert token.split(".")[2] not in log
