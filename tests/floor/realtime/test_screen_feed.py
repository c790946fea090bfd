"""A screen's side of the hub: each event once and in order around a backlog, heartbeats only when quiet."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from floor.http.feed import ScreenFeed
from floor.realtime.hub import Event
from queue_engine.config import HallConfig
from tests.sockets import RecordingSocket


def render(_hall: str, view: str, event_id: str, payload: dict[str, Any]) -> str | None:
    """The screen's view "screen" gets e<ms> of each event but those marked hidden; other views get nothing."""
    return f"e{event_id.split('-')[0]}" if view == "screen" and not payload.get("hidden") else None


def event(event_id: str, *, hidden: bool = False) -> Event:
    return Event(event_id, {"hidden": hidden}, "demo", render)


def screen(hall: HallConfig, *, held: bool, view: str = "screen") -> tuple[ScreenFeed, RecordingSocket]:
    sock = RecordingSocket()
    return ScreenFeed(hall, view, sock.outbox(held=held)), sock


async def test_events_the_backlog_sent_ahead_of_the_hub_are_not_sent_twice(demo_hall: HallConfig) -> None:
    feed, sock = screen(demo_hall, held=True)
    feed.offer([event("100-0")])  # held while the backlog is read
    sock.sent += ["e100", "e101", "e102"]  # the backlog: the stream had two more than the hub had offered
    feed.caught_up("102-0")
    feed.offer([event("101-0")])  # the hub catches up, an event at a time
    feed.offer([event("102-0"), event("103-0")])  # or several at once, straddling the backlog's end
    feed.offer([event("104-0")])
    await asyncio.sleep(0)
    assert sock.sent == ["e100", "e101", "e102", "e103", "e104"]
    assert feed.last == "104-0"


async def test_a_heartbeat_only_after_a_quiet_interval_and_with_the_last_event_id(demo_hall: HallConfig) -> None:
    feed, sock = screen(demo_hall, held=False)
    feed.beat()  # nothing happened yet: a heartbeat with no id
    feed.offer([event("7-1")])
    feed.beat()  # something was sent since the last beat: no heartbeat
    feed.beat()
    beats = [orjson.loads(text) for text in sock.sent if text != "e7"]
    assert sock.sent[1] == "e7"
    assert [(b["type"], b["event_id"]) for b in beats] == [("heartbeat", None), ("heartbeat", "7-1")]


async def test_a_held_screen_sends_no_heartbeat_into_its_backlog(demo_hall: HallConfig) -> None:
    feed, sock = screen(demo_hall, held=True)
    feed.beat()
    feed.beat()
    feed.caught_up(None)
    await asyncio.sleep(0)
    assert sock.sent == []


async def test_events_the_view_gets_nothing_of_send_nothing_and_leave_the_screen_quiet(demo_hall: HallConfig) -> None:
    feed, sock = screen(demo_hall, held=False)
    feed.offer([event("5-0"), event("6-0", hidden=True)])
    assert (feed.last, feed.quiet) == ("6-0", False)
    feed.beat()  # e5 was sent since the last beat: no heartbeat
    feed.offer([event("7-0", hidden=True)])  # nothing of it for this view: not sent, the screen stays quiet
    assert (feed.last, feed.quiet) == ("7-0", True)
    feed.beat()  # quiet: a heartbeat with where the screen stands, so a resume skips what was not for it
    other, other_sock = screen(demo_hall, held=False, view="elsewhere")
    other.offer([event("8-0")])
    assert (other.last, other.quiet) == ("8-0", True)
    await asyncio.sleep(0)
    assert sock.sent[0] == "e5"
    assert [(b["type"], b["event_id"]) for b in map(orjson.loads, sock.sent[1:])] == [("heartbeat", "7-0")]
    assert other_sock.sent == []
