"""Feed texts framed once and written straight to uvicorn's websocket transport (``floor.realtime.frames``): the bytes
are the websockets library's own, and the installed uvicorn, run as ``hallq serve`` runs it, is recognised."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
import websockets
from websockets.frames import Frame, Opcode

from floor.realtime.frames import _FRAMES, text_frame, writer_for


@pytest.mark.parametrize("size", [0, 1, 125, 126, 300, 65535, 65536, 70000])
def test_a_text_frame_is_the_one_the_websockets_library_builds(size: int) -> None:
    payload = b"x" * size
    assert text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])


def test_each_text_is_framed_once_while_the_hub_offers_it_and_its_neighbours() -> None:
    finished, called = '{"type":"ticket.finished","number":"A022"}', '{"type":"ticket.called","number":"A023"}'
    frames = [_FRAMES.of(finished), _FRAMES.of(called)]
    assert [_FRAMES.of(finished), _FRAMES.of(called)] == frames
    assert _FRAMES.of(finished) is frames[0]
    assert _FRAMES.of(called) is frames[1]
    for n in range(_FRAMES.KEEP * 2):  # many one-off texts (heartbeats) neither grow the cache nor corrupt it
        assert _FRAMES.of(f"beat {n}") == text_frame(f"beat {n}".encode())
    assert len(_FRAMES.frames) <= _FRAMES.KEEP
    assert _FRAMES.of(called) == text_frame(called.encode())


def test_a_send_that_is_not_uvicorns_websocket_gets_no_direct_writer() -> None:
    async def send(message: Any) -> None: ...

    assert writer_for(send) is None
    assert writer_for(None) is None


async def test_uvicorns_websocket_as_hallq_serve_runs_it_is_written_directly_until_it_closes() -> None:
    outcome: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        write = writer_for(send)
        outcome["before_accept"] = write is not None and write(["too early"])
        await send({"type": "websocket.accept"})
        assert write is not None
        outcome["written"] = write(["请A023号到5号窗口"]) and write(["x" * 70000, "请A024号到5号窗口"])
        await send({"type": "websocket.close", "code": 1000})
        outcome["after_close"] = write(["too late"])

    # The options of floor.cli's uvicorn.run that choose and shape the websocket implementation.
    config = uvicorn.Config(app, host="127.0.0.1", port=0, ws_max_size=64 * 1024, ws_per_message_deflate=False,
                            lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn sets a flag, no event)
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None) as ws:
            received = [await ws.recv(), await ws.recv(), await ws.recv()]
            with pytest.raises(websockets.ConnectionClosedOK):
                await ws.recv()
    finally:
        server.should_exit = True
        await serving
    assert outcome == {"before_accept": False, "written": True, "after_close": False}
    assert received == ["请A023号到5号窗口", "x" * 70000, "请A024号到5号窗口"]  # two texts in one write: two messages
