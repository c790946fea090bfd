"""One socket's outgoing texts, in order, sent where they are put whenever the socket can take them.

The hub offers every event to thousands of sockets in one loop. Waking a task per socket per event cost
more than the sends themselves (the fan-out spent most of its time in asyncio's bookkeeping), so
``Outbox.put`` starts the send right there and runs it until it first has to wait. With uvicorn an open
socket whose buffer has room never waits, so the usual send finishes inside ``put`` and no task exists.
Only a socket that must wait (its client reads slowly) gets a task, which finishes that send and then the
texts that queued up behind it. Past ``limit`` queued texts the socket is given up: what is queued is
dropped, the close (4008) follows the send in flight, and the client resumes from the stream.

Python 3.12's eager tasks start coroutines the same way; hallq runs on 3.11, hence ``_run_until_wait``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from floor.realtime.frames import Write
from queue_engine.stream_ids import parse_stream_id

log = logging.getLogger("hallq.outbox")

Send = Callable[[str], Coroutine[Any, Any, None]]
GiveUp = Callable[[], Awaitable[None]]


class OutboxState(enum.Enum):
    OPEN = "open"  # sending as texts are put
    HELD = "held"  # queueing only: the socket's backlog is being sent first
    GIVEN_UP = "given up"  # too far behind: closing, nothing more is sent
    CLOSED = "closed"  # the socket is gone


_DONE = object()


def _run_until_wait(coro: Coroutine[Any, Any, None]) -> object:
    """Run ``coro`` until it first waits: ``_DONE`` if it finished, else what it waits on."""
    try:
        return coro.send(None)
    except StopIteration:
        return _DONE


async def _finish(coro: Coroutine[Any, Any, None], waiting: object) -> None:
    """Go on with a coroutine ``_run_until_wait`` left waiting, inside the current task."""
    while waiting is not _DONE:
        if waiting is None:  # a bare yield: it asked to let the loop run once
            await asyncio.sleep(0)
        else:
            try:
                await waiting  # type: ignore[misc]
            except asyncio.CancelledError:
                coro.close()
                raise
            except Exception:
                pass  # the coroutine meets the same error when it reads its own future below
        waiting = _run_until_wait(coro)


class Outbox:
    def __init__(self, send: Send, *, limit: int, give_up: GiveUp, held: bool = False,
                 write_now: Write | None = None) -> None:
        self.send = send
        self.write_now = write_now  # floor.realtime.frames: the socket written directly, when it can take the text now
        self.limit = limit
        self.give_up = give_up
        self.state = OutboxState.HELD if held else OutboxState.OPEN
        self.queued: deque[tuple[str | None, str]] = deque()  # (event id or None, text)
        self.task: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return self.state is OutboxState.HELD

    def put(self, text: str, event_id: str | None = None) -> None:
        """Send ``text`` after everything put before it; ``event_id`` lets ``release`` drop what a backlog sent."""
        self.put_all(((event_id, text),))

    def put_all(self, items: Sequence[tuple[str | None, str]]) -> None:
        """``put`` each (event id or None, text) in order; sent in one write when the socket can take them now."""
        if self.state in (OutboxState.GIVEN_UP, OutboxState.CLOSED):
            return
        if self.state is OutboxState.HELD or self.task is not None:
            for item in items:
                if len(self.queued) >= self.limit:
                    self._give_up()
                    return
                self.queued.append(item)
            return
        texts = [text for _, text in items]
        if self.write_now is not None and self.write_now(texts):
            return
        self._start(self._send_each(texts))

    def release(self, sent_through: str | None) -> None:
        """End a hold: drop queued events at or before ``sent_through`` (the backlog had them), send the rest."""
        if self.state is OutboxState.GIVEN_UP:  # it overflowed while held: only the close is left to send
            self.task = asyncio.ensure_future(self._drain(None, _DONE))
        if self.state is not OutboxState.HELD:
            return
        self.state = OutboxState.OPEN
        if sent_through is not None:
            floor = parse_stream_id(sent_through)
            self.queued = deque(item for item in self.queued if item[0] is None or parse_stream_id(item[0]) > floor)
        if self.queued:
            self.task = asyncio.ensure_future(self._drain(None, _DONE))

    def close(self) -> None:
        """The socket is gone: drop what is queued and stop the send that waits."""
        self.state = OutboxState.CLOSED
        self.queued.clear()
        if self.task is not None:
            self.task.cancel()

    def _start(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            waiting = _run_until_wait(coro)
        except Exception as exc:
            self._lost(exc)
            return
        if waiting is not _DONE:
            self.task = asyncio.ensure_future(self._drain(coro, waiting))

    async def _send_each(self, texts: list[str]) -> None:
        for text in texts:
            await self.send(text)

    def _give_up(self) -> None:
        self.state = OutboxState.GIVEN_UP
        self.queued.clear()  # the running task (or ``release``, if held) sends the close

    async def _drain(self, coro: Coroutine[Any, Any, None] | None, waiting: object) -> None:
        try:
            if coro is not None:
                await _finish(coro, waiting)
            while self.queued and self.state is OutboxState.OPEN:
                await self.send(self.queued.popleft()[1])
            if self.state is OutboxState.GIVEN_UP:
                await self.give_up()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._lost(exc)
        finally:
            self.task = None

    def _lost(self, exc: Exception) -> None:
        # A send fails once the client has gone; its own handler sees the disconnect and unsubscribes.
        log.debug("socket send failed: %r", exc)
        self.state = OutboxState.CLOSED
        self.queued.clear()
