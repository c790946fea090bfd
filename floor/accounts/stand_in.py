"""AB岗: a window's staff (its A post) leaves, by signing out, leaving the window, or pausing with the reason 离岗;
the window named as its B post takes up the services it served, if the hall chooses so (``policy.stand_in``), and
gives them back when the A post is manned again. Either way the managers are alerted at once of every service the
leaving window served that no open window can serve any more.

What the B post took up is kept in Redis (``HallKeys.stand_ins``) so any worker gives it back; the skills change
through the engine like a manager's move, so the record, the audit and the screens see it as one.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from floor.runtime import HallRuntime
from queue_engine.errors import DomainError
from queue_engine.model import item_services
from queue_engine.records import WindowState

log = logging.getLogger("hallq.stand_in")

AWAY = "离岗"  # the pause reason that means the A post has left its window
SERVING = ("idle", "calling", "serving")  # a window someone can be served at now


def is_away(reason: str) -> bool:
    return reason.strip().startswith(AWAY)


async def away(hall: HallRuntime, window: str) -> None:
    """The A post of ``window`` left: its B post takes up what it served (take_over), and any service left without
    an open window is reported to the managers."""
    engine, config = hall.engine, hall.config
    a = config.window(window)
    if a is None:
        return
    try:
        left = await engine.window(window)
    except DomainError:
        return
    taken: list[str] = []
    if config.policy.stand_in == "take_over" and a.stand_in and config.window(a.stand_in) is not None:
        taken = await _take_up(hall, a.stand_in, window, left)
    states = {w: state for w, state in (await engine.windows()).items() if w != window}
    uncovered = [s for s in left.services
                 if not any(s in st.services and st.state in SERVING for st in states.values())]
    if uncovered:
        await engine.alert("service_uncovered", window=window, uncovered=uncovered, stand_in=a.stand_in,
                           taken_up=taken)


async def _take_up(hall: HallRuntime, b: str, a: str, left: WindowState) -> list[str]:
    engine = hall.engine
    b_state = await engine.window(b)
    if b_state.state not in SERVING:
        return []
    new = [s for s in left.services if s not in b_state.services]
    if not new:
        return []
    owner = item_services(hall.config)
    items = [i for i in left.items if owner.get(i) in new]
    try:
        await engine.set_services(b, [*b_state.services, *new], b_state.primary, [*b_state.items, *items])
    except DomainError as refused:  # the B post's window changed meanwhile: the alert still tells the managers
        log.warning("window %s could not stand in for %s: %s", b, a, refused)
        return []
    taken = orjson.dumps({"for": a, "services": new, "items": items})
    await hall.engine.redis.hset(engine.keys.stand_ins, b, taken)
    return new


async def back(hall: HallRuntime, window: str) -> None:
    """``window``'s A post is manned again: the B post that stood in for it gives back what it took up (what it
    still has of it: a manager may have moved its skills meanwhile)."""
    engine = hall.engine
    raw: dict[Any, Any] = await engine.redis.hgetall(engine.keys.stand_ins)
    for key, value in raw.items():
        b = key.decode() if isinstance(key, bytes) else str(key)
        taken = orjson.loads(value)
        if taken["for"] != window:
            continue
        await engine.redis.hdel(engine.keys.stand_ins, b)
        try:
            state = await engine.window(b)
            kept = [s for s in state.services if s not in taken["services"]]
            if kept and kept != state.services:
                await engine.set_services(b, kept, [s for s in state.primary if s in kept],
                                          [i for i in state.items if i not in taken["items"]])
        except DomainError as refused:
            log.warning("window %s could not give back what it took up for %s: %s", b, window, refused)
