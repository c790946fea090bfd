"""A worker stops its tasks even when a library swallowed the first cancellation (as redis-py's timeouts can)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from floor.app import stop_tasks


async def _swallows_one_cancellation() -> None:
    swallowed = False
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True
            asyncio.current_task().uncancel()  # type: ignore[union-attr]  # as a timeout taking it for its own


async def test_a_task_that_swallowed_a_cancellation_is_cancelled_again() -> None:
    task = asyncio.create_task(_swallows_one_cancellation())
    await asyncio.sleep(0)
    await stop_tasks([task])
    assert task.cancelled()


async def test_a_task_that_never_ends_is_logged_with_where_it_is(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("floor.app.STOP_TIMEOUT_S", 0.5)

    deaf_ends = asyncio.Event()

    async def deaf() -> None:
        while not deaf_ends.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(deaf(), name="deaf")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="hallq"):
        await stop_tasks([task])
    assert not task.done()
    assert "task deaf did not stop when cancelled" in caplog.text
    assert "in deaf" in caplog.text
    deaf_ends.set()
    await task
