"""The realtime hub: one reader per process over every hall's event stream, fanned out to local listeners.

Each event is offered to every listener of its hall. A listener reads it through its view (a lobby screen's, a
window's console, a phone's): the event's text for a view is rendered once, when the first listener of that view
is offered it, so a thousand screens of one view cost one rendering, and a view may get nothing of an event. Offering
never waits: a listener hands the text to its socket's ``Outbox``, which sends it at once when the socket
can take it and otherwise queues it behind the send in flight, so one bad screen can never delay a call
to the others. A socket too far behind is closed and reconnects with ``since=<last id>`` to get what it
missed from the stream.

Offering an event to thousands of screens takes tens of milliseconds, and a window calls the next citizen
the moment it finishes the last: the call must not wait for the finish to reach every screen before its
own fan-out begins. So offering goes in slices of ``SLICE`` listeners, the reader offers the first slice
itself (a hall of a few screens costs no extra turn of the loop) and reads on while another task offers
the rest, and an event read mid-pass joins it: each listener is offered everything it is owed, in the
stream's order, and those passed before the event came get it in the next pass (``HallFan``). What that
gains is measured by the fan-out scenarios of ``loadtest/`` (their results and history: ``loadtest/results/``).

Any number of processes can run behind a load balancer: each reads the streams itself, so nothing
passes through process memory between workers. On a Redis Cluster one XREAD cannot name streams of several
slots, and a blocking read per hall would hold a connection per hall: there the hub listens on one connection per
primary to the wake-ups the scripts send with each event (SPUBLISH on the channel named as the hall's stream, in
the hall's slot), reads the woken halls' streams then, and every ``block_ms`` reads them all (a wake-up is not
kept for a listener that was reconnecting). The halls are grouped again when slots move.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, cast

import orjson
from redis.asyncio import Redis

from floor.cancellation import raise_if_cancelled
from queue_engine.fcall_pipe import Packed, Pipe, bulk
from queue_engine.shards import Shards

log = logging.getLogger("hallq.hub")

Entries = list[tuple[bytes, dict[bytes, bytes]]]
# (hall, view, event id, payload) -> the websocket text that view's readers get, or None: nothing for them
Render = Callable[[str, str, str, dict[str, Any]], str | None]
SLICE = 100  # listeners offered what they are owed between two turns of the event loop
RECENT_MS = 60_000  # events kept per hall, by age: far more than the archiver trails by (a fraction of a second)
RECENT_MAX = 2000  # and by count, for a hall busier than any


def keep_recent(kept: deque[tuple[str, Any]], event_id: str, raw: Any) -> None:
    """Add an event (stream id, its JSON) to ``kept`` and forget those more than ``RECENT_MS`` older than it."""
    kept.append((event_id, raw))
    oldest_ms = int(event_id.partition("-")[0]) - RECENT_MS
    while int(kept[0][0].partition("-")[0]) < oldest_ms:
        kept.popleft()


class Event:
    """One event of a hall's stream: its id, its payload as stored (private keys included), and its text per view,
    each rendered the first time a listener of that view asks for it."""

    __slots__ = ("_hall", "_render", "_texts", "id", "payload")

    def __init__(self, event_id: str, payload: dict[str, Any], hall: str, render: Render) -> None:
        self.id = event_id
        self.payload = payload
        self._hall = hall
        self._render = render
        self._texts: dict[str, str | None] = {}

    def text(self, view: str) -> str | None:
        texts = self._texts
        if view in texts:
            return texts[view]
        text = texts[view] = self._render(self._hall, view, self.id, self.payload)
        return text


class Listener(Protocol):
    """A socket's side of the hub; both methods run in the hub's loop and must never wait."""

    hall: str

    def offer(self, events: Sequence[Event]) -> None:
        """Events of the listener's hall, oldest first, at least one. Several come together when they were read
        while the hub was busy: a socket then writes them at once."""

    def beat(self) -> None:
        """Called every half heartbeat interval: send a heartbeat unless something was sent since the last call."""


class Hub:
    def __init__(self, shards: Shards | Redis, streams: dict[str, str], render: Render, *, heartbeat_s: float = 15.0,
                 block_ms: int = 2000) -> None:
        # Backlog reads; each XREAD BLOCK holds a connection of its node's pool for good.
        self.shards = shards if isinstance(shards, Shards) else Shards.one(shards)
        self.streams = streams  # hall -> stream key
        self.render = render
        self.heartbeat_s = heartbeat_s
        self.block_ms = block_ms
        self.fans = {hall: HallFan() for hall in streams}
        self.owing: dict[str, None] = {}  # halls with events not yet offered to every listener, in the order read
        self.passing: HallFan | None = None  # the hall whose listeners are being offered what they are owed
        self.pass_left: deque[Listener] = deque()  # and those of them not offered yet in this pass
        self.more = asyncio.Event()  # the reader left offers for the offering task
        self.delivered = 0  # events read and handed to the fan-out
        # The events read in the last minute per hall, as stored (JSON): the record may trail the stream by a fraction
        # of a second, and if Redis is lost meanwhile these are the only copy of that tail (see Runtime.record_tails).
        self.recent: dict[str, deque[tuple[str, bytes]]] = {hall: deque(maxlen=RECENT_MAX) for hall in streams}
        # Run when the hub loses Redis (``on_outage``), and when Redis answers again (``after_outage``): it may have
        # come back empty, and nothing else would notice before a window's next call (the citizens' phones only read).
        self.on_outage: Callable[[], Awaitable[None]] | None = None
        self.after_outage: Callable[[], Awaitable[None]] | None = None
        # Given every event as it is read, before any view renders it: a worker adopts a new set-up here, so the
        # event announcing it and every later one render in it.
        self.on_event: Callable[[str, dict[str, Any]], object] | None = None
        # Set once every reader reads (or listens): from then on each event comes after a socket that joins.
        self.listening = asyncio.Event()
        self._not_listening: set[object] = set()

    def subscribe(self, listener: Listener) -> None:
        """Offer ``listener`` every event of its hall read from now on."""
        self.fans[listener.hall].join(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self.fans[listener.hall].leave(listener)

    async def backlog(self, hall: str, view: str, since: str, count: int = 500) -> list[tuple[str, str | None]]:
        """The events strictly after ``since``, oldest first, at most ``count``: each its id and its text for
        ``view`` (None: nothing for that view)."""
        entries = cast(Entries, await self.shards.for_tag(hall).xrange(self.streams[hall], min=f"({since}",
                                                                        count=count))
        return [(event_id, self.render(hall, view, event_id, payload))
                for event_id, payload in (self._parsed(eid, fields) for eid, fields in entries)]

    @staticmethod
    def _parsed(eid: bytes | str, fields: dict[bytes, bytes]) -> tuple[str, dict[str, Any]]:
        return (eid.decode() if isinstance(eid, bytes) else eid), orjson.loads(fields[b"e"])

    async def _start_ids(self) -> dict[str, str]:
        ids = {}
        for hall, stream in self.streams.items():
            last = await self.shards.for_tag(hall).xrevrange(stream, count=1)
            ids[hall] = cast(Entries, last)[0][0].decode() if last else "0-0"
        return ids

    async def run(self) -> None:
        """Read every hall's stream from its current end and fan out, and keep idle sockets beating, until
        cancelled."""
        helpers = [asyncio.ensure_future(self._beat()), asyncio.ensure_future(self._offer())]
        try:
            await self._read()
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _read(self) -> None:
        last = await self._start_ids()
        while True:
            changed = self.shards.changed
            groups = self.shards.grouped(self.streams)
            self._not_listening = set(groups)
            if not groups:
                self.listening.set()
            if self.shards.is_cluster:
                readers = [asyncio.ensure_future(self._follow_node(redis, halls, last))
                           for redis, halls in groups.items()]
            else:
                readers = [asyncio.ensure_future(self._read_node(
                    redis, StreamReads(Pipe(redis), {h: self.streams[h] for h in halls}, self.block_ms), last))
                    for redis, halls in groups.items()]
            moved = asyncio.ensure_future(changed.wait())
            try:
                done, _ = await asyncio.wait([*readers, moved], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (*readers, moved):
                    task.cancel()
                await asyncio.gather(*readers, moved, return_exceptions=True)
            for task in done:
                if task is not moved:
                    task.result()  # a reader only ends by failing: raise it

    async def _follow_node(self, redis: Redis, halls: list[str], last: dict[str, str]) -> None:
        """A cluster primary's halls: woken by their scripts (SPUBLISH, one SSUBSCRIBE per hall: a command may
        name one slot only), read without blocking on a pipe of their own, and all of them read every
        ``block_ms`` whatever came (a wake-up sent while this listener reconnected is lost)."""
        pipe = Pipe(redis)
        reads = {hall: StreamReads(pipe, {hall: self.streams[hall]}, None) for hall in halls}
        by_channel = {self.streams[hall].encode(): hall for hall in halls}
        sweep_s = self.block_ms / 1000
        outage = False
        while True:
            raise_if_cancelled()
            pubsub = redis.pubsub()
            try:
                if outage and self.after_outage is not None:
                    await self.after_outage()
                for hall in halls:
                    await pubsub.ssubscribe(self.streams[hall])
                outage = False
                await self._read_halls(reads, halls, last)  # what came before we listened
                self._listens(redis)
                swept = asyncio.get_running_loop().time()
                while True:
                    raise_if_cancelled()
                    woken: dict[str, None] = {}
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=sweep_s)
                    while message is not None:
                        if message["type"] == "smessage" and message["channel"] in by_channel:
                            woken[by_channel[message["channel"]]] = None
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
                    now = asyncio.get_running_loop().time()
                    if now - swept >= sweep_s:
                        woken, swept = dict.fromkeys(halls), now
                    await self._read_halls(reads, list(woken), last)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a node failing over, or Redis restarting: keep trying
                outage = await self._lost("listening", exc, outage)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _lost(self, what: str, exc: Exception, outage: bool) -> bool:
        """A read or listen failed: the map may have moved, and Redis may be gone with the day (``on_outage``, once
        per outage). Pauses before the caller tries again; the outage goes on until a read succeeds."""
        log.warning("hub %s failed, retrying: %s", what, exc)
        self.shards.suspect()
        if not outage and self.on_outage is not None:
            await self.on_outage()
        await asyncio.sleep(0.5)
        return True

    def _listens(self, node: object) -> None:
        if node in self._not_listening:
            self._not_listening.discard(node)
            if not self._not_listening:
                self.listening.set()

    async def _read_halls(self, reads: dict[str, StreamReads], halls: list[str], last: dict[str, str]) -> None:
        """Read these halls' streams after ``last`` at once (the pipe sends the reads together) and fan out."""
        if not halls:
            return
        replies = await asyncio.gather(*(reads[hall].after(last) for hall in halls))
        self._take(dict(zip((self.streams[h] for h in halls), halls, strict=True)),
                   [pair for reply in replies for pair in reply], last)

    async def _read_node(self, node: Redis, reads: StreamReads, last: dict[str, str]) -> None:
        by_stream = {stream: hall for hall, stream in reads.streams.items()}
        outage = False
        while True:
            raise_if_cancelled()
            try:
                if outage and self.after_outage is not None:
                    await self.after_outage()
                outage = False
                self._listens(node)  # the read sent now takes every event after ``last``
                replies = await reads.after(last)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting, or a cluster node failing over: keep trying
                outage = await self._lost("read", exc, outage)
                continue
            self._take(by_stream, replies, last)

    def _take(self, by_stream: dict[str, str], replies: Iterable[tuple[bytes, list[tuple[bytes, list[bytes]]]]],
              last: dict[str, str]) -> None:
        """Events just read (stream, entries): each to its hall's fan-out, then the first slice of it offered."""
        for stream, entries in replies:
            hall = by_stream[stream.decode()]
            fan = self.fans[hall]
            for eid, fields in entries:
                event_id, raw = eid.decode(), _field(fields, b"e")
                payload = orjson.loads(raw)
                if self.on_event is not None:
                    self.on_event(hall, payload)
                fan.add(Event(event_id, payload, hall, self.render))
                last[hall] = event_id
                keep_recent(self.recent[hall], event_id, raw)
                self.delivered += 1
            self.owing[hall] = None
        self._offer_some(SLICE)
        if self.passing is not None or self.owing:
            self.more.set()

    async def _offer(self) -> None:
        """Offer what the reader left, a slice per turn of the loop."""
        while True:
            await self.more.wait()
            self.more.clear()
            while self.passing is not None or self.owing:
                self._offer_some(SLICE)
                # Offers to a thousand sockets take tens of milliseconds (a send syscall each): let the loop answer
                # the windows' requests, and read the events they cause, between slices.
                await asyncio.sleep(0)

    def _offer_some(self, budget: int) -> None:
        """Offer up to ``budget`` listeners what they are owed, going on with the pass where it was left; one pass
        per owing hall in turn, as often as events come."""
        while budget:
            fan = self.passing
            if fan is None:
                if not self.owing:
                    return
                hall = next(iter(self.owing))
                del self.owing[hall]  # an event read during the pass owes the hall again
                fan = self.passing = self.fans[hall]
                self.pass_left.extend(fan.owed())
            if not self.pass_left:  # the pass is over
                fan.trim()
                self.passing = None
                continue
            listener = self.pass_left.popleft()
            events = fan.take(listener)
            if events:
                try:
                    listener.offer(events)
                except Exception:  # a bug in one listener must not stop the calls to the others
                    log.exception("listener failed on %s", events[-1].id)
            budget -= 1

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s / 2)
            for fan in self.fans.values():
                for listener in tuple(fan.next):
                    listener.beat()


class HallFan:
    """One hall's listeners, and the events read but not yet offered to all of them.

    Events are numbered in the order read; each listener holds the number of the next event it is owed, so
    however passes and reads interleave, a listener gets every event read after it joined, once, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.base = 0  # the number of events[0]
        self.next: dict[Listener, int] = {}  # listener -> the number of the next event it is owed

    @property
    def end(self) -> int:
        return self.base + len(self.events)

    def join(self, listener: Listener) -> None:
        self.next[listener] = self.end

    def leave(self, listener: Listener) -> None:
        self.next.pop(listener, None)

    def add(self, event: Event) -> None:
        self.events.append(event)

    def owed(self) -> list[Listener]:
        """Listeners owed an event now, in the order they joined."""
        end = self.end
        return [listener for listener, n in self.next.items() if n < end]

    def take(self, listener: Listener) -> list[Event]:
        """The events ``listener`` is owed, now counted as offered; none if it has left."""
        n = self.next.get(listener)
        if n is None:
            return []
        self.next[listener] = self.end
        return self.events[n - self.base:]

    def trim(self) -> None:
        """Forget the events every listener has been offered."""
        low = min(self.next.values(), default=self.end)
        del self.events[:low - self.base]
        self.base = low


def _field(fields: list[bytes], name: bytes) -> bytes:
    """A field of a stream entry as XREAD sends it: a flat list of names and values."""
    for i in range(0, len(fields), 2):
        if fields[i] == name:
            return fields[i + 1]
    raise KeyError(name)


class StreamReads:
    """``XREAD BLOCK .. STREAMS <every hall's stream> <ids>``, packed by hand and sent on a pipe of its own.

    A city platform's hub names 200 streams in every read, and reads again after every few events: redis-py
    would encode those 400 arguments anew each time, a large share of a busy worker's time. The keys are packed
    once here, and each hall's last id only when it moves."""

    def __init__(self, pipe: Pipe, streams: dict[str, str], block_ms: int | None, count: int = 500) -> None:
        self.pipe = pipe
        self.streams = streams  # hall -> stream key
        block: list[str | int] = ["BLOCK", block_ms] if block_ms is not None else []  # None: answer at once
        keys = Packed.of(["XREAD", *block, "COUNT", count, "STREAMS", *streams.values()])
        self.head = b"*%d\r\n" % (keys.count + len(streams)) + keys.data
        self.ids: dict[str, tuple[str, bytes]] = {}  # hall -> (last id, it as a bulk string)

    async def after(self, last: dict[str, str]) -> Iterable[tuple[bytes, list[tuple[bytes, list[bytes]]]]]:
        """(stream, entries) after ``last`` (hall -> id); none when none came within the block."""
        parts = [self.head]
        for hall in self.streams:
            event_id = last[hall]
            known = self.ids.get(hall)
            if known is None or known[0] != event_id:
                known = self.ids[hall] = (event_id, bulk(event_id))
            parts.append(known[1])
        reply = await self.pipe.call(b"".join(parts))
        if reply is None:
            return ()
        # RESP3 (redis-py's default from 8.0) answers a map of stream to entries, RESP2 a list of pairs.
        return cast(Iterable[tuple[bytes, list[tuple[bytes, list[bytes]]]]],
                    reply.items() if isinstance(reply, dict) else reply)
