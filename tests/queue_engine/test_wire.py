"""The hand-packed FCALL path: byte-exact RESP, and the library reloaded when Redis has lost it."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from queue_engine.engine import Engine
from queue_engine.library import FUNCTION_NAMES, LIBRARY
from queue_engine.wire import Packed, bulk


def test_packed_arguments_are_what_redis_py_would_send() -> None:
    args = ["hq:{demo}:q:SOC", 1795395600000, "请", b"raw"]
    packed = Packed.of(args)
    ours = b"*%d\r\n" % (packed.count + 1) + bulk("FCALL") + packed.data
    theirs = b"".join(Connection().pack_command("FCALL", *args))
    assert ours == theirs
    assert (Packed.of(["a"]) + Packed.of([2, "c"])) == Packed.of(["a", 2, "c"])


async def test_a_lost_library_is_loaded_again_on_the_next_call(engine: Engine, redis: Redis) -> None:
    library = LIBRARY.splitlines()[0].split("name=")[1]
    await engine.open_window("1")
    await redis.execute_command("FUNCTION", "DELETE", library)  # as after a restart without persistence
    issued = await engine.issue("SOC")
    assert issued.ticket.number == "A001"
    listed = await redis.execute_command("FUNCTION", "LIST", "LIBRARYNAME", library)
    assert len(listed) == 1
    assert all(name.startswith(library) for name in FUNCTION_NAMES.values())
