"""The hand-packed FCALL path: byte-exact RESP, the library reloaded when Redis has lost it, and the pipe that
carries many calls at once on one connection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queue_engine.engine import Engine
from queue_engine.fcall_pipe import Packed, Pipe, bulk, command, pipe_for
from queue_engine.library import FUNCTION_NAMES, LIBRARY
from queue_engine.shards import Shards


def test_packed_arguments_are_what_redis_py_would_send() -> None:
    args: list[str | bytes | int | float] = ["hq:{demo}:q:SOC", 1795395600000, "请", b"raw"]
    packed = Packed.of(args)
    ours = b"*%d\r\n" % (packed.count + 1) + bulk("FCALL") + packed.data
    theirs = b"".join(Connection().pack_command("FCALL", *args))
    assert ours == theirs
    assert (Packed.of(["a"]) + Packed.of([2, "c"])) == Packed.of(["a", 2, "c"])


async def test_a_lost_library_is_loaded_again_on_the_next_call(engine: Engine, node: Redis) -> None:
    library = LIBRARY.splitlines()[0].split("name=")[1]
    await engine.open_window("1")
    # as after a restart without persistence (redis-py leaves execute_command unannotated: hence the ignores)
    await node.execute_command("FUNCTION", "DELETE", library)  # type: ignore[no-untyped-call]
    issued = await engine.issue("SOC")
    assert issued.ticket.number == "A001"
    listed = await node.execute_command("FUNCTION", "LIST", "LIBRARYNAME", library)  # type: ignore[no-untyped-call]
    assert len(listed) == 1
    assert all(name.startswith(library) for name in FUNCTION_NAMES.values())



@pytest.fixture
def node(shards: Shards) -> Redis:
    """The plain client of the Redis holding the demo hall: a pipe is one connection to one server."""
    return shards.for_tag("demo")

# -- the pipe: many calls in flight on one connection -------------------------------------------------
def test_a_plain_command_is_packed_as_redis_py_would() -> None:
    args = ("HGET", "hq:{demo}:tickets", 42)
    assert command(*args) == b"".join(Connection().pack_command(*args))


async def test_concurrent_calls_each_get_their_own_reply(node: Redis) -> None:
    pipe = Pipe(node)
    replies = await asyncio.gather(*(pipe.call(command("ECHO", f"call-{i}")) for i in range(500)))
    assert replies == [f"call-{i}".encode() for i in range(500)]


async def test_the_calls_of_one_turn_of_the_loop_go_out_in_one_write(node: Redis) -> None:
    pipe = Pipe(node)
    assert await pipe.call(command("ECHO", "connect")) == b"connect"
    writer = pipe._conn._writer
    writes: list[bytes] = []
    real_write = writer.write

    def counted(data: bytes) -> None:
        writes.append(data)
        real_write(data)

    writer.write = counted
    replies = await asyncio.gather(*(pipe.call(command("ECHO", f"call-{i}")) for i in range(100)))
    assert replies == [f"call-{i}".encode() for i in range(100)]
    assert writes == [b"".join(command("ECHO", f"call-{i}") for i in range(100))]


async def test_a_reply_error_is_raised_and_the_pipe_goes_on(node: Redis) -> None:
    pipe = Pipe(node)
    with pytest.raises(ResponseError, match="unknown command"):
        await pipe.call(command("NO-SUCH-COMMAND"))
    assert await pipe.call(command("ECHO", "still here")) == b"still here"


async def test_several_commands_sent_at_once_answer_in_order_and_an_error_fails_the_call(node: Redis) -> None:
    pipe = Pipe(node)
    assert await pipe.call_many([command("ECHO", "a"), command("ECHO", "b"), command("ECHO", "c")]) == [
        b"a", b"b", b"c"]
    with pytest.raises(ResponseError, match="unknown command"):
        await pipe.call_many([command("ECHO", "x"), command("NO-SUCH-COMMAND"), command("ECHO", "y")])
    assert await pipe.call_many([command("ECHO", "after")]) == [b"after"]  # no reply was left behind


async def test_a_cancelled_caller_does_not_shift_the_replies_of_others(node: Redis, key_prefix: str) -> None:
    pipe = Pipe(node)
    slow = asyncio.ensure_future(pipe.call(command("BLPOP", f"{key_prefix}:{{demo}}:never", "0.3")))
    await asyncio.sleep(0.05)
    slow.cancel()
    after = [asyncio.ensure_future(pipe.call(command("ECHO", f"after-{i}"))) for i in range(3)]
    assert await asyncio.gather(*after) == [b"after-0", b"after-1", b"after-2"]  # not BLPOP's nil
    assert slow.cancelled()


async def test_a_hung_reply_times_out_and_the_next_call_reconnects(node: Redis, key_prefix: str) -> None:
    pipe = Pipe(node, timeout_s=1.0)  # beside a loaded suite an answer can take a few tenths of a second
    with pytest.raises(RedisTimeoutError):
        await pipe.call(command("BLPOP", f"{key_prefix}:{{demo}}:never", "3"))
    assert await pipe.call(command("ECHO", "fresh")) == b"fresh"


async def test_a_connection_dropped_for_a_late_reply_goes_back_to_the_pool_once(
        node: Redis, key_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = node.connection_pool
    released: list[object] = []
    release = pool.release

    async def counting(connection: Any) -> None:
        released.append(connection)
        await release(connection)

    monkeypatch.setattr(pool, "release", counting)
    pipe = Pipe(node, timeout_s=0.3)
    with pytest.raises(RedisTimeoutError):
        await pipe.call(command("BLPOP", f"{key_prefix}:{{demo}}:never", "3"))
    await asyncio.sleep(0.5)  # no call meanwhile: the dropped connection's reader ends on its own
    assert len(released) == 1


async def test_a_killed_connection_fails_its_calls_and_the_next_call_reconnects(node: Redis, key_prefix: str) -> None:
    pipe = Pipe(node)
    client_id = await pipe.call(command("CLIENT", "ID"))
    waiting = asyncio.ensure_future(pipe.call(command("BLPOP", f"{key_prefix}:{{demo}}:never", "2")))
    await asyncio.sleep(0.05)
    # as a Redis restart would, to this one only (redis-py leaves execute_command unannotated)
    await node.execute_command("CLIENT", "KILL", "ID", client_id)  # type: ignore[no-untyped-call]
    with pytest.raises(RedisConnectionError):
        await waiting
    assert await pipe.call(command("ECHO", "back")) == b"back"


async def test_the_engines_of_one_client_share_one_pipe(node: Redis) -> None:
    assert pipe_for(node) is pipe_for(node)
    address = node.connection_pool.connection_kwargs
    other = Redis(host=address["host"], port=address["port"])
    try:
        assert pipe_for(other) is not pipe_for(node)
    finally:
        await other.aclose()
