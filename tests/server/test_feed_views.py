"""What each reader of the live feeds gets of an event: its view, never the same full text for everybody.

A security review found a phone's socket (``/ws/ticket/{id}``) getting other tickets' calls with their ticket id,
masked name, call reason and the staff token that acted; the lobby display's socket getting full ``ticket.rated``
comments, the reasons staff typed (pause, transfer, pin, call) and every ticket id; a window's console getting
other windows' ticket ids. Each test here drives a hall over real HTTP and reads its sockets live and, where a
feed has one, in a ``since=0-0`` replay, which is rendered by another path (``Hub.backlog``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection

from floor.app import CHANNELS
from floor.http.feed import ScreenFeed, render_for
from floor.identity import person_key
from floor.realtime.hub import SLICE, Hub
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.keys import HallKeys
from queue_engine.shards import Shards
from tests.conftest import sync_redis
from tests.server.conftest import HallApi, make_id_number, ws_connect
from tests.sockets import RecordingSocket

# What staff and citizens typed, each findable in any text a socket gets.
PIN_REASON = "置顶原因-老人腿脚不便"
CALL_REASON = "叫号原因-预约优先"
OTHER_CALL_REASON = "叫号原因-材料已补齐"
TRANSFER_REASON = "转办原因-需不动产窗口"
PAUSE_REASON = "暂停原因-系统维护"
COMMENT = "评价内容-等太久了"
OTHER_COMMENT = "评价内容-态度很好"
IDEMPOTENCY_KEY = "desk-9-0042"
REASONS = (PIN_REASON, CALL_REASON, OTHER_CALL_REASON, TRANSFER_REASON, PAUSE_REASON)

Message = tuple[dict[str, Any], str]  # a socket's message, and its text as sent


# -- reading sockets -----------------------------------------------------------------------------
def feed_url(api: HallApi, channel: str, role: str, window: str | None = None, **params: str) -> str:
    if window is not None:
        params["window"] = window
    return api.server.ws_url(channel, api.server.token(role, window, api.hall), hall=api.hall, **params)


def phone_url(api: HallApi, ticket_id: str) -> str:
    return f"ws://127.0.0.1:{api.server.port}/api/v1/halls/{api.hall}/ws/ticket/{ticket_id}"


async def read_through(ws: ClientConnection, last_id: str, within_s: float = 15.0) -> list[Message]:
    """Event messages up to and including the one with ``last_id``, heartbeats skipped."""
    messages: list[Message] = []
    while True:
        raw = await asyncio.wait_for(ws.recv(), within_s)
        text = raw if isinstance(raw, str) else raw.decode()
        message = orjson.loads(text)
        if message["type"] == "heartbeat":
            continue
        messages.append((message, text))
        if message.get("event_id") == last_id:
            return messages


async def replay(url: str, last_id: str) -> list[Message]:
    async with ws_connect(f"{url}&since=0-0") as ws:
        return await read_through(ws, last_id)


def kinds(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m["event_id"], m["type"]) for m, _ in messages]


def stream_payloads(api: HallApi) -> list[tuple[str, dict[str, Any]]]:
    """(event id, payload as stored) of the hall's stream: what the views are made from."""
    client = sync_redis()
    try:
        entries: Any = client.xrange(HallKeys(api.hall, api.server.key_prefix).events)
    finally:
        client.close()
    return [(eid.decode(), orjson.loads(fields[b"e"])) for eid, fields in entries]


# -- what happens in the hall ----------------------------------------------------------------------
@dataclass
class BusyDay:
    """One of everything a screen must not see: a real-name ticket with a person and an idempotency key, a pin,
    a call and a transfer with reasons, a pause, a rating with a comment; then a ticket issued last that every
    hall-wide feed gets, to read through."""

    id_number: str
    tickets: dict[str, dict[str, Any]]  # a, b (SOC, named), c (HUK, pinned), last
    stream: list[tuple[str, str]]

    @property
    def last_id(self) -> str:
        return self.stream[-1][0]

    @property
    def ticket_ids(self) -> set[str]:
        return {t["id"] for t in self.tickets.values()}


async def busy_day(api: HallApi) -> BusyDay:
    await api.open("1", "2", "3")
    id_number = make_id_number(date(1980, 3, 14), seq=317)
    reply = await api.request("POST", "/tickets", role="guide", headers={"Idempotency-Key": IDEMPOTENCY_KEY},
                              json={"service": "SOC", "name": "张三丰", "id_number": id_number})
    assert reply.status_code == 201, reply.text
    a = reply.json()
    b = await api.issue("SOC", name="李小四")
    c = await api.issue("HUK")
    await api.ok("POST", f"/tickets/{c['id']}/pin", json={"reason": PIN_REASON})
    await api.window_op("1", "call", {"ticket": b["id"], "reason": CALL_REASON})
    await api.window_op("1", "start")
    await api.window_op("1", "finish", {"outcome": "done"})
    await api.window_op("2", "call", {"ticket": a["id"], "reason": OTHER_CALL_REASON})
    await api.window_op("2", "start")
    await api.window_op("2", "transfer", {"to_window": "3", "reason": TRANSFER_REASON})
    await api.window_op("1", "pause", {"reason": PAUSE_REASON})
    await rate(api, b, COMMENT)
    last = await api.issue("INFO")
    stream = api.server.events(hall=api.hall)
    assert {"ticket.pinned", "ticket.called", "ticket.transferred", "window.paused", "ticket.rated"} <= {
        t for _, t in stream}
    assert stream[-1][1] == "ticket.issued"
    return BusyDay(id_number, {"a": a, "b": b, "c": c, "last": last}, stream)


async def busy_day_read_by(api: HallApi, channel: str, role: str) -> tuple[BusyDay, list[Message], list[Message]]:
    """A busy day, and what a reader of ``channel`` got of it: live, and replayed with ``since=0-0``."""
    url = feed_url(api, channel, role)
    async with ws_connect(url) as ws:
        day = await busy_day(api)
        live = await read_through(ws, day.last_id)
    return day, live, await replay(url, day.last_id)


async def rate(api: HallApi, ticket: dict[str, Any], comment: str, score: int = 1) -> None:
    """Rate as the citizen does: with the key the issuing answer gave (the QR code's), no token."""
    await api.ok("POST", f"/tickets/{ticket['id']}/rating", 201, role=None, headers={"X-Ticket-Key": ticket["key"]},
                 json={"score": score, "comment": comment})


# -- the lobby display ---------------------------------------------------------------------------
async def test_a_display_never_gets_a_ticket_id_a_reason_who_acted_or_any_rating(api: HallApi) -> None:
    day, live, replayed = await busy_day_read_by(api, "display", "display")
    unrated = [(eid, t) for eid, t in day.stream if t != "ticket.rated"]
    for messages in (live, replayed):
        assert kinds(messages) == unrated  # everything else, each once and in order: a rating, not at all
        for message, text in messages:
            assert not {"ticket", "reason", "by", "comment", "score", "person", "idempotency_key"} & set(message), \
                message
            for secret in (*day.ticket_ids, *REASONS, COMMENT, "staff:", day.id_number, IDEMPOTENCY_KEY):
                assert secret not in text, (secret, text)
        by_type = {m["type"]: m for m, _ in messages}
        # The reason-bearing events still show what a screen shows: the window paused, the ticket moved.
        assert by_type["window.paused"]["window"] == "1"
        assert by_type["ticket.pinned"]["number"] == day.tickets["c"]["number"]
        assert by_type["ticket.transferred"]["number"] == day.tickets["a"]["number"]
        calls = [m for m, _ in messages if m["type"] == "ticket.called"]
        assert [(m["number"], m["window"], m["holder"], m["announcement"]) for m in calls] == [
            (day.tickets["b"]["number"], "1", "李*四", f"请{day.tickets['b']['number']}号到1号窗口"),
            (day.tickets["a"]["number"], "2", "张*丰", f"请{day.tickets['a']['number']}号到2号窗口")]


# -- the manager's dashboard ---------------------------------------------------------------------
async def test_the_dashboard_still_gets_everything_but_the_person_and_the_idempotency_key(api: HallApi) -> None:
    day, live, replayed = await busy_day_read_by(api, "dashboard", "manager")
    stored = dict(stream_payloads(api))
    secret_key = person_key(api.server.secret, day.id_number)
    for messages in (live, replayed):
        assert kinds(messages) == day.stream
        for message, text in messages:
            payload = stored[message["event_id"]]
            # Every field the event has, as it is, but the two that never leave the server.
            expected = {k: v for k, v in payload.items() if k not in ("person", "idempotency_key", "at")}
            assert {k: v for k, v in message.items() if k not in ("event_id", "at")} == expected
            for secret in (day.id_number, secret_key, IDEMPOTENCY_KEY):
                assert secret not in text
        by_type = {m["type"]: m for m, _ in messages}
        assert by_type["ticket.rated"]["comment"] == COMMENT
        assert by_type["window.paused"]["reason"] == PAUSE_REASON
        assert by_type["ticket.pinned"]["reason"] == PIN_REASON
        assert by_type["ticket.transferred"]["reason"] == TRANSFER_REASON
        assert [(m["ticket"], m["reason"]) for m, _ in messages if m["type"] == "ticket.called"] == [
            (day.tickets["b"]["id"], CALL_REASON), (day.tickets["a"]["id"], OTHER_CALL_REASON)]
        assert all(m["by"].startswith("staff:") for m, _ in messages if m["type"] == "ticket.called")
        assert by_type["ticket.issued"]["ticket"] == day.tickets["last"]["id"]
    # A display of the same hall at the same time: none of what the dashboard alone may read.
    shown = "".join(text for _, text in await replay(feed_url(api, "display", "display"), day.last_id))
    for secret in (COMMENT, PAUSE_REASON, PIN_REASON, TRANSFER_REASON, CALL_REASON, day.tickets["b"]["id"]):
        assert secret not in shown


# -- windows: consoles and rating pads -------------------------------------------------------------
@dataclass
class TwoWindows:
    p: dict[str, Any]  # served and rated at window 1
    q: dict[str, Any]  # served and rated at window 2
    stream: list[tuple[str, str]]
    payloads: list[tuple[str, dict[str, Any]]]

    def event_id(self, kind: str, ticket: dict[str, Any]) -> str:
        """The id of the one event of ``kind`` about ``ticket``."""
        (found,) = [eid for eid, payload in self.payloads
                    if payload["type"] == kind and payload.get("ticket") == ticket["id"]]
        return found


async def two_windows(api: HallApi) -> TwoWindows:
    """Window 1 serves p, window 2 serves q, each called with a reason; q is rated, then p; a ticket is issued
    last for hall-wide feeds to read through."""
    await api.open("1", "2")
    p = await api.issue("SOC", name="王小明")
    q = await api.issue("SOC", name="赵六")
    for window, ticket, reason in (("1", p, CALL_REASON), ("2", q, OTHER_CALL_REASON)):
        await api.window_op(window, "call", {"ticket": ticket["id"], "reason": reason})
        await api.window_op(window, "start")
        await api.window_op(window, "finish", {"outcome": "done"})
    await rate(api, q, OTHER_COMMENT, score=5)
    await rate(api, p, COMMENT, score=2)
    await api.issue("INFO")
    return TwoWindows(p, q, api.server.events(hall=api.hall), stream_payloads(api))


@pytest.mark.parametrize(("window", "own", "other"), [("1", "p", "q"), ("2", "q", "p")])
async def test_a_console_sees_its_own_tickets_but_not_another_window_s_ids_or_ratings(
        api: HallApi, window: str, own: str, other: str) -> None:
    url = feed_url(api, "console", "staff", window)
    async with ws_connect(url) as ws:
        day = await two_windows(api)
        live = await read_through(ws, day.stream[-1][0])
    replayed = await replay(url, day.stream[-1][0])
    mine, theirs = getattr(day, own), getattr(day, other)
    theirs_rated = day.event_id("ticket.rated", theirs)
    for messages in (live, replayed):
        assert kinds(messages) == [(eid, t) for eid, t in day.stream if eid != theirs_rated]
        # Its own window's events carry the ticket, and all a console needs of it: whom it called and why.
        assert {m["type"] for m, _ in messages if m.get("ticket") == mine["id"]} == {
            "ticket.called", "ticket.serving", "ticket.finished", "ticket.rated"}
        own_call = next(m for m, _ in messages if m["type"] == "ticket.called" and m["window"] == window)
        assert (own_call["number"], own_call["holder"]) == (mine["number"], mine["holder"])
        # Its own rating, its score only: a 差评's text goes to the supervisor.
        assert [(m["ticket"], m["score"]) for m, _ in messages if m["type"] == "ticket.rated"] == [
            (mine["id"], 2 if own == "p" else 5)]
        # The other window: what the lobby screens show, the number at that window, never its ticket.
        their_call = next(m for m, _ in messages if m["type"] == "ticket.called" and m["window"] != window)
        assert their_call["number"] == theirs["number"]
        assert not {"ticket", "holder", "reason", "by"} & set(their_call), their_call
        their_reason = OTHER_CALL_REASON if own == "p" else CALL_REASON
        for message, text in messages:
            assert "comment" not in message
            for secret in (theirs["id"], theirs["holder"], their_reason, COMMENT, OTHER_COMMENT):
                assert secret not in text, (secret, text)


@pytest.mark.parametrize(("window", "own"), [("1", "p"), ("2", "q")])
async def test_a_rating_pad_gets_only_its_own_window_s_finished_tickets_and_their_ratings(
        api: HallApi, window: str, own: str) -> None:
    url = feed_url(api, "pad", "pad", window)
    async with ws_connect(url) as ws:
        day = await two_windows(api)
        mine = getattr(day, own)
        rated = day.event_id("ticket.rated", mine)
        live = await read_through(ws, rated)
    replayed = await replay(url, rated)
    finished = day.event_id("ticket.finished", mine)
    for messages in (live, replayed):
        assert [{k: v for k, v in m.items() if k != "at"} for m, _ in messages] == [
            {"event_id": finished, "type": "ticket.finished", "ticket": mine["id"], "number": mine["number"],
             "service": "SOC", "window": window},
            {"event_id": rated, "type": "ticket.rated", "ticket": mine["id"], "window": window,
             "score": 2 if own == "p" else 5}]


# -- the citizen's phone ---------------------------------------------------------------------------
async def test_a_phone_gets_the_calls_of_its_line_but_never_another_ticket_s_id_holder_or_reason(
        api: HallApi) -> None:
    await api.open("1", "2")
    mine = await api.issue("SOC", name="王五")
    other = await api.issue("SOC", name="李小四")
    elsewhere = await api.issue("HUK", name="钱七")
    texts: list[str] = []

    async def next_message(ws: ClientConnection) -> dict[str, Any]:
        while True:
            raw = await asyncio.wait_for(ws.recv(), 10)
            text = raw if isinstance(raw, str) else raw.decode()
            message: dict[str, Any] = orjson.loads(text)
            if message["type"] != "heartbeat":
                texts.append(text)
                return message

    async def until_status(ws: ClientConnection, status: str) -> list[dict[str, Any]]:
        """Messages up to a status of ``mine`` with the given status."""
        got = []
        while True:
            message = await next_message(ws)
            got.append(message)
            if message["type"] == "ticket.status" and message["ticket"]["status"] == status:
                return got

    async with ws_connect(phone_url(api, mine["id"])) as ws:
        first = await next_message(ws)
        assert (first["type"], first["ticket"]["id"]) == ("ticket.status", mine["id"])
        await api.ok("POST", f"/tickets/{other['id']}/pin", json={"reason": PIN_REASON})
        await api.window_op("1", "call", {"ticket": other["id"], "reason": CALL_REASON})
        await api.window_op("1", "recall")
        await api.window_op("2", "call", {"ticket": elsewhere["id"], "reason": OTHER_CALL_REASON})  # another line
        await api.window_op("2", "start")
        await api.window_op("2", "transfer", {"to_service": "SOC", "reason": TRANSFER_REASON})  # into mine
        await api.window_op("1", "start")
        await api.window_op("1", "finish", {"outcome": "done"})
        await api.window_op("1", "call", {"ticket": mine["id"], "reason": "叫号原因-本人"})
        messages = [first, *await until_status(ws, "called")]
    calls = [m for m in messages if m["type"] != "ticket.status"]
    # The calls of its line, each as the lobby shows it: the number and the window's name, nothing else.
    assert [{k: v for k, v in m.items() if k not in ("event_id", "at")} for m in calls] == [
        {"type": kind, "number": number, "service": "SOC", "window": "1", "window_name": "1号窗口"}
        for kind, number in (("ticket.called", other["number"]), ("ticket.recalled", other["number"]),
                             ("ticket.called", mine["number"]))]
    assert {m["type"] for m in messages} == {"ticket.status", "ticket.called", "ticket.recalled"}
    assert all(m["ticket"]["id"] == mine["id"] for m in messages if m["type"] == "ticket.status")
    assert len(texts) == len(messages)
    for text in texts:
        for secret in (other["id"], other["holder"], elsewhere["id"], elsewhere["holder"], *REASONS, "staff:"):
            assert secret not in text, (secret, text)


# -- the hub: one rendering per view ---------------------------------------------------------------
async def test_the_hub_renders_each_event_once_per_view_however_many_listen(
        shards: Shards, engine: Engine, demo_hall: HallConfig) -> None:
    real = render_for({demo_hall.id: demo_hall}.__getitem__, CHANNELS)
    renders: Counter[tuple[str, str]] = Counter()

    def counting(hall: str, view: str, event_id: str, payload: dict[str, Any]) -> str | None:
        renders[event_id, view] += 1
        return real(hall, view, event_id, payload)

    hub = Hub(shards, {demo_hall.id: engine.keys.events}, counting, block_ms=100)
    views = ("display", "console:1")
    # More listeners than a slice (SLICE): an event's offers span several turns of the loop, its texts do not.
    screens = [(view, RecordingSocket()) for view in itertools.islice(itertools.cycle(views), 2 * SLICE + 50)]
    for view, sock in screens:
        hub.subscribe(ScreenFeed(demo_hall, view, sock.outbox()))
    reader = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(0.2)
        await engine.open_window("1")
        issued = await engine.issue("SOC", holder="张*三")
        await engine.call_next("1")
        await engine.start("1")
        events = 4
        for _ in range(200):
            if all(len(sock.sent) == events for _, sock in screens):
                break
            await asyncio.sleep(0.05)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    assert all(len(sock.sent) == events for _, sock in screens), [len(sock.sent) for _, sock in screens]
    assert len({eid for eid, _ in renders}) == events
    assert renders == dict.fromkeys(((eid, view) for eid, _ in renders for view in views), 1)  # 2 per event
    by_view = {view: [sock.sent for v, sock in screens if v == view] for view in views}
    for view, sent in by_view.items():
        assert len(sent) == SLICE + 25
        assert all(texts == sent[0] for texts in sent), view  # one rendering, the same text, for all its readers
    display_call, console_call = (orjson.loads(by_view[view][0][2]) for view in views)
    assert display_call["type"] == console_call["type"] == "ticket.called"
    assert "ticket" not in display_call
    assert console_call["ticket"] == issued.ticket.id


# -- the snapshot ----------------------------------------------------------------------------------
async def test_the_snapshot_tells_why_a_window_paused_to_staff_never_to_a_screen_citizens_read(
        api: HallApi) -> None:
    await api.open("1", "2")
    await api.window_op("1", "pause", {"reason": PAUSE_REASON})
    called = await api.issue("SOC", name="李小四")
    await api.window_op("2", "call", {"ticket": called["id"], "reason": CALL_REASON})
    for role, window, reason in (("display", None, None), ("kiosk", None, None), ("pad", "1", None),
                                 ("manager", None, PAUSE_REASON), ("staff", "2", PAUSE_REASON)):
        snapshot = await api.ok("GET", "/snapshot", role=role, window=window)
        windows = {w["id"]: w for w in snapshot["windows"]}
        assert (windows["1"]["state"], windows["1"]["reason"]) == ("paused", reason), role
        assert (windows["2"]["state"], windows["2"]["ticket"], windows["2"]["reason"]) == (
            "calling", called["number"], None), role  # a window shows the number it calls
        text = orjson.dumps(snapshot).decode()
        assert called["id"] not in text, role  # never the ticket id, nor why it was called
        assert CALL_REASON not in text, role
        if reason is None:
            assert PAUSE_REASON not in text, role
