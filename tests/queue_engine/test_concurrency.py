"""Thirty windows calling at once, each on its own Redis connection, over thousands of tickets.

Every ticket must be called exactly once, by one window, and numbers must be unique and gapless
per service: the guarantee that makes two windows never shout the same number.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict

from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.shards import Shards
from tests.conftest import open_shards

WINDOWS = 30
TICKETS = 3000
SERVICES = ("SOC", "HUK", "TAX", "FUND", "INFO")


def busy_hall() -> HallConfig:
    return HallConfig.model_validate({
        "id": "busy",
        "name": "busy hall",
        "services": [
            {"code": c, "letter": letter, "name_zh": c, "name_en": c}
            for c, letter in zip(SERVICES, "ABDEG", strict=True)
        ],
        "windows": [
            # Overlapping skills: every service is served by many windows, no window by all.
            {"id": str(i), "name": f"{i}号窗口", "services": [SERVICES[i % 5], SERVICES[(i + 1) % 5],
                                                               SERVICES[(i + 2) % 5]],
             "primary": [SERVICES[i % 5]]}
            for i in range(1, WINDOWS + 1)
        ],
    })


async def _issue_all(engine: Engine) -> list[str]:
    numbers: list[str] = []
    for batch in range(0, TICKETS, 50):
        results = await asyncio.gather(*(
            engine.issue(SERVICES[i % 5], priority="vip" if i % 97 == 0 else None)
            for i in range(batch, min(batch + 50, TICKETS))
        ))
        numbers += [r.ticket.number for r in results]
    return numbers


async def _window_loop(hall: HallConfig, window: str, prefix: str, clock: ManualClock) -> list[str]:
    """One window's staff on their own connection: call, finish, repeat until nothing is left for them."""
    shards = await open_shards()
    engine = Engine(shards, hall, prefix=prefix, clock=clock)
    called: list[str] = []
    try:
        while (ticket := await engine.call_next(window)) is not None:
            called.append(ticket.id)
            await engine.finish(window, "done")
    finally:
        await shards.aclose()
    return called


async def test_thirty_windows_call_every_ticket_exactly_once(
    shards: Shards, key_prefix: str, clock: ManualClock
) -> None:
    hall = busy_hall()
    engine = Engine(shards, hall, prefix=key_prefix, clock=clock)
    await engine.setup()
    for w in hall.windows:
        await engine.open_window(w.id)

    # Issue while the windows are already calling, from several concurrent tasks.
    windows = [asyncio.create_task(_window_loop(hall, w.id, key_prefix, clock)) for w in hall.windows]
    numbers = await _issue_all(engine)
    first_pass = await asyncio.gather(*windows)
    # A window that found nothing early stopped; sweep up what arrived after it left.
    second_pass = await asyncio.gather(*(_window_loop(hall, w.id, key_prefix, clock) for w in hall.windows))

    called = [tid for per_window in first_pass + second_pass for tid in per_window]
    assert len(called) == TICKETS
    assert len(set(called)) == TICKETS, "a ticket was called twice"

    events = await engine.events(count=100_000)
    calls = Counter(e.data["ticket"] for e in events if e.type == "ticket.called")
    assert set(calls.values()) == {1}
    assert len(calls) == TICKETS
    by_ticket_window = {e.data["ticket"]: e.data["window"] for e in events if e.type == "ticket.called"}
    for e in events:
        if e.type == "ticket.finished":
            assert by_ticket_window[e.data["ticket"]] == e.data["window"], "finished by a window that did not call it"

    assert len(set(numbers)) == TICKETS, "a number was issued twice"
    sequences: dict[str, list[int]] = defaultdict(list)
    for number in numbers:
        m = re.fullmatch(r"V?([A-Z])(\d{3,})", number)
        assert m, number
        sequences[m.group(1)].append(int(m.group(2)))
    for letter, seq in sequences.items():
        assert sorted(seq) == list(range(1, len(seq) + 1)), f"numbers of {letter} have gaps or repeats"

    snap = await engine.snapshot()
    assert all(s["waiting"] == 0 for s in snap["services"])
    assert all(w["state"] == "idle" for w in snap["windows"])
