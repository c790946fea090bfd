"""A socket's outbox sends in order, right where a text is put while the socket has room, and gives up on a
socket that falls too far behind, never waiting on it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from floor.realtime.outbox import Outbox, OutboxState


class Socket:
    """A stand-in for ``ws.send_text``: sends at once while ``writable`` is set, else waits for it, as
    uvicorn's websocket does when the transport's buffer is full."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.closed_slow = False
        self.gone = False

    async def send_text(self, text: str) -> None:
        await self.writable.wait()
        if self.gone:
            raise OSError("client disconnected")
        self.sent.append(text)

    async def give_up(self) -> None:
        await self.writable.wait()
        self.closed_slow = True


def outbox(sock: Socket, *, limit: int = 100, held: bool = False) -> Outbox:
    return Outbox(sock.send_text, limit=limit, give_up=sock.give_up, held=held)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_socket_with_room_is_sent_to_inside_put_without_a_task() -> None:
    sock = Socket()
    box = outbox(sock)
    for n in range(3):
        box.put(f"m{n}")
        assert sock.sent[-1] == f"m{n}"  # no await in between: it went out in put itself
    assert box.task is None


async def test_texts_put_while_a_send_waits_follow_it_in_order() -> None:
    sock = Socket()
    box = outbox(sock)
    box.put("m0")
    sock.writable.clear()
    for n in range(1, 6):
        box.put(f"m{n}")
    assert sock.sent == ["m0"]
    assert box.task is not None
    assert [text for _, text in box.queued] == ["m2", "m3", "m4", "m5"]  # m1 is the send in flight
    sock.writable.set()
    await settle()
    assert sock.sent == [f"m{n}" for n in range(6)]
    assert box.task is None
    box.put("m6")  # and back to sending inside put
    assert sock.sent[-1] == "m6"


async def test_a_socket_too_far_behind_is_given_up_and_gets_only_the_close() -> None:
    sock = Socket()
    box = outbox(sock, limit=5)
    sock.writable.clear()
    for n in range(20):
        box.put(f"m{n}")
    assert box.state is OutboxState.GIVEN_UP
    assert not box.queued  # nothing kept for a socket that will resume from the stream
    sock.writable.set()
    await settle()
    assert sock.sent == ["m0"]  # the send that was in flight, then the close
    assert sock.closed_slow
    box.put("late")
    await settle()
    assert sock.sent == ["m0"]


async def test_one_slow_socket_does_not_hold_back_another() -> None:
    slow, fast = Socket(), Socket()
    slow_box, fast_box = outbox(slow, limit=3), outbox(fast, limit=3)
    slow.writable.clear()
    for n in range(10):
        slow_box.put(f"m{n}")
        fast_box.put(f"m{n}")
    assert fast.sent == [f"m{n}" for n in range(10)]
    assert slow.sent == []


async def test_a_held_outbox_keeps_live_events_and_drops_those_the_backlog_sent() -> None:
    sock = Socket()
    box = outbox(sock, held=True)
    box.put("live 5", "1000-5")
    box.put("heartbeat")
    box.put("live 6", "1000-6")
    box.put("live 7", "1001-0")
    assert sock.sent == []
    sock.sent.append("backlog through 1000-6")  # what the feed sent itself while holding
    box.release("1000-6")
    await settle()
    assert sock.sent == ["backlog through 1000-6", "heartbeat", "live 7"]
    box.put("live 8", "1001-1")
    assert sock.sent[-1] == "live 8"


async def test_an_outbox_that_overflows_while_held_closes_on_release() -> None:
    sock = Socket()
    box = outbox(sock, limit=2, held=True)
    for n in range(5):
        box.put(f"m{n}", f"1-{n}")
    box.release(None)
    await settle()
    assert sock.sent == []
    assert sock.closed_slow


async def test_a_failed_send_closes_the_outbox_quietly() -> None:
    sock = Socket()
    box = outbox(sock)
    sock.gone = True
    box.put("m0")  # raises inside: the outbox takes it, not the hub that called put
    assert box.state is OutboxState.CLOSED
    box.put("m1")
    assert sock.sent == []


async def test_a_send_that_fails_after_waiting_closes_the_outbox() -> None:
    sock = Socket()
    box = outbox(sock)
    sock.writable.clear()
    box.put("m0")
    box.put("m1")
    sock.gone = True
    sock.writable.set()
    await settle()
    assert box.state is OutboxState.CLOSED
    assert box.task is None
    assert sock.sent == []


async def test_close_stops_the_waiting_send() -> None:
    sock = Socket()
    box = outbox(sock)
    sock.writable.clear()
    box.put("m0")
    box.put("m1")
    task = box.task
    assert task is not None
    box.close()
    with pytest.raises(asyncio.CancelledError):
        await task
    sock.writable.set()
    await settle()
    assert sock.sent == []
    assert not box.queued


async def test_a_coroutine_that_yields_bare_to_the_loop_is_carried_on() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        await asyncio.sleep(0)  # a bare yield, not a future
        sent.append(text)

    async def give_up() -> None:
        pass

    box = Outbox(send, limit=10, give_up=give_up)
    box.put("a")
    box.put("b")
    assert sent == []
    await settle()
    assert sent == ["a", "b"]


async def test_a_direct_write_that_takes_the_text_replaces_the_send_and_one_that_declines_falls_back() -> None:
    sock = Socket()
    written: list[str] = []
    room = [True]

    def write_now(texts: Sequence[str]) -> bool:
        if room[0]:
            written.extend(texts)
        return room[0]

    box = Outbox(sock.send_text, limit=100, give_up=sock.give_up, write_now=write_now)
    box.put("m0")
    room[0] = False
    box.put("m1")
    assert (written, sock.sent) == (["m0"], ["m1"])


async def test_a_direct_write_never_overtakes_what_waits_to_be_sent() -> None:
    sock = Socket()
    written: list[str] = []

    def write_now(texts: Sequence[str]) -> bool:
        written.append("+".join(texts))
        return True

    box = Outbox(sock.send_text, limit=100, give_up=sock.give_up, held=True, write_now=write_now)
    box.put("m0", "1-0")
    box.put("m1", "2-0")
    assert written == []  # held: the backlog goes first
    box.release(None)
    await settle()
    assert sock.sent == ["m0", "m1"]  # what queued goes the ordinary way, in order
    box.put("m2")
    assert written == ["m2"]
    box.put_all([("3-0", "m3"), ("4-0", "m4")])
    assert written == ["m2", "m3+m4"]  # texts put together are written together


async def test_texts_put_together_keep_their_order_when_the_socket_makes_them_wait() -> None:
    sock = Socket()
    box = outbox(sock, limit=3)
    sock.writable.clear()
    box.put_all([("1-0", "a"), ("2-0", "b")])  # the first send waits: the second must not go ahead of it
    box.put("c")
    assert sock.sent == []
    sock.writable.set()
    await settle()
    assert sock.sent == ["a", "b", "c"]
    sock.writable.clear()
    box.put("d")
    box.put_all([(f"{n}-0", f"m{n}") for n in range(4)])  # one past the limit, counted text by text
    assert box.state is OutboxState.GIVEN_UP
    sock.writable.set()
    await settle()
    assert sock.sent == ["a", "b", "c", "d"]
    assert sock.closed_slow
