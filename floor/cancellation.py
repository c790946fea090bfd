"""A loop that talks to Redis must check for its own cancellation (see ``raise_if_cancelled``)."""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Honour a cancellation that was swallowed on its way: on Python 3.11, ``asyncio.wait_for`` (which
    redis-py uses to send every command once a socket timeout is set, the default since redis-py 8)
    drops a cancel that lands as the send completes (CPython gh-86296), and a loop would run on forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
