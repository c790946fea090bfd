"""The calling policy: which waiting ticket a window calls next, and how numbers look.

This module is the policy's one home. ``lua/call_next.lua`` implements exactly the same
choice inside Redis; the stateful test drives both and demands identical answers.

Rules, in the order they decide:

1. A window's own called ticket is announced again by *recall*; calling next while a
   ticket is still called or served is refused.
2. Urgent classes come first, across every service the window is skilled for, in this order:
   VIP, green channel (elderly, disabled, pregnant, military), pinned by a manager,
   transferred (to a service or to this window).
3. Then the window's primary services before its other services.
4. Then appointments (ordered by their slot, so due ones come before early arrivals)
   before walk-ins.
5. Then the ticket that has waited longest relative to its service's target wait; ties go to
   the window's own queue, then to services in the order the window lists them.
6. Sub-item skills: a window that lists some of a service's sub-items (事项, e.g. only mortgages
   of real estate) calls, of that service, only tickets for one of those sub-items or for none in
   particular. Its candidate from that service is the first such ticket among the first
   ``ITEM_SCAN`` of the service's line, in the line's own order (rules 2-5 unchanged); a line whose
   first ``ITEM_SCAN`` are all for other sub-items gives it no candidate until other windows take
   some. Tickets transferred to the window in particular, and its own latest no-shows, are its to
   serve whatever their sub-item. Calling a chosen ticket and transferring to a window follow the
   same rule.

Within one service the waiting tickets sit in one sorted set whose score is
``tier * TIER_SPAN + time`` (time of issue, pin, transfer or appointment slot, in ms), so the
head of each set is that service's best candidate and a window compares only the heads. Tickets
of one set with the same score keep the order they came in, ``TIE_STEP`` apart within that ms:
Redis orders equal scores by member, the random ticket id, and two tickets issued in the same ms
would otherwise be called in random order (A003 before A002). A ticket's own score stays whole.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

TIER_VIP = 0
TIER_GREEN = 1
TIER_PINNED = 2
TIER_TRANSFERRED = 3
TIER_APPOINTMENT = 4
TIER_WALK_IN = 5

# Millisecond timestamps stay below 10**13 until the year 2286, and 6 tiers of that fit
# well inside a double's 2**53 exact integers, so scores compare exactly in Redis.
TIER_SPAN = 10**13
TIE_STEP = 1 / 64  # between tickets of one line with the same score: exact in a double below 2**46

OUTCOMES = ("done", "consult", "pickup", "other")
PRIORITIES = ("vip", "green")
CHANNELS = ("guide", "kiosk", "appointment", "api")
GREEN_REASONS = ("elderly", "disabled", "pregnant", "military")  # 绿色通道: 高龄、残疾、孕妇、军人
HOLDER_MAX = 16  # a masked name on a ticket (张*三), in characters

# Rule 6: how far into a service's line a window with sub-item skills looks for a ticket it may serve. Bounded so a
# call stays O(1) in the length of the line, like the rest of call-next (each look is a ticket read in Redis).
ITEM_SCAN = 50

# 好差评: 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意; the last two are 差评.
SCORES = (1, 2, 3, 4, 5)
BAD_SCORE = 2
RATING_SOURCES = ("pad", "qr", "phone", "guide")
COMMENT_MAX = 200


def score(tier: int, at_ms: int) -> int:
    return tier * TIER_SPAN + at_ms


def split_score(value: float) -> tuple[int, int]:
    """(tier, time in ms) of a queue score."""
    tier, at_ms = divmod(int(value), TIER_SPAN)
    return tier, at_ms


def entry_tier(priority: str | None, appointment_ms: int | None) -> int:
    if priority == "vip":
        return TIER_VIP
    if priority == "green":
        return TIER_GREEN
    if appointment_ms is not None:
        return TIER_APPOINTMENT
    return TIER_WALK_IN


def format_number(letter: str, sequence: int, priority: str | None, appointment_ms: int | None) -> str:
    """A023, VA024 (VIP), YA025 (appointment); at least three digits, never wrapping (A999 -> A1000)."""
    prefix = "V" if priority == "vip" else "Y" if appointment_ms is not None else ""
    return f"{prefix}{letter}{sequence:03d}"


def sequence_of(number: str) -> int:
    """The daily sequence in a number: 23 in A023, 1000 in VA1000."""
    digits = len(number) - len(number.rstrip("0123456789"))
    return int(number[-digits:])


@dataclass(frozen=True, slots=True)
class Candidate:
    """The head of one queue a window may call from."""

    ticket: str
    service: str
    score: float


def rank(c: Candidate, primary: Iterable[str], target_s: int, now_ms: int) -> tuple[float, ...]:
    """Sort key of a candidate: smaller is called first (rules 2-5)."""
    tier, at_ms = split_score(c.score)
    urgent_rank = tier if tier <= TIER_TRANSFERRED else TIER_APPOINTMENT
    primary_rank = 0 if c.service in primary else 1
    relative_wait = (now_ms - at_ms) / (target_s * 1000)
    return (urgent_rank, primary_rank, tier, -relative_wait)


def choose(
    candidates: Iterable[Candidate], primary: Iterable[str], targets: Mapping[str, int], now_ms: int
) -> Candidate | None:
    """The candidate to call; the first listed wins a tie."""
    primary = tuple(primary)
    best: Candidate | None = None
    best_key: tuple[float, ...] = ()
    for c in candidates:
        key = rank(c, primary, targets[c.service], now_ms)
        if best is None or key < best_key:
            best, best_key = c, key
    return best


def call_order(
    queues: Sequence[Sequence[Candidate]], primary: Iterable[str], targets: Mapping[str, int], now_ms: int
) -> list[Candidate]:
    """Every waiting ticket a window could call, in the order it would call them if nothing changed.

    ``queues`` are the window's queues, each in its own (score) order, listed as call-next lists them. A window
    compares only the heads of its queues, so this merges them the same way: choose among the heads, take the
    chosen one, repeat. (Sorting everything by ``rank`` would not do: a window's own queue holds several
    services, and within it the score decides.)
    """
    primary = tuple(primary)
    positions = [0] * len(queues)
    order: list[Candidate] = []
    while True:
        heads = [q[i] for q, i in zip(queues, positions, strict=True) if i < len(q)]
        chosen = choose(heads, primary, targets, now_ms)
        if chosen is None:
            return order
        order.append(chosen)
        which = next(n for n, (q, i) in enumerate(zip(queues, positions, strict=True)) if i < len(q) and q[i] is chosen)
        positions[which] += 1


def restricted_services(window_items: Iterable[str], item_service: Mapping[str, str]) -> set[str]:
    """Rule 6: the services a window serves only some sub-items of (those its listed sub-items belong to)."""
    return {item_service[i] for i in window_items if i in item_service}


def serves_item(service: str, item: str | None, window_items: Collection[str], restricted: Collection[str]) -> bool:
    """Rule 6: whether a window with these sub-item skills may serve a ticket of ``service`` for ``item``."""
    return service not in restricted or item is None or item in window_items


def is_bad(score: int) -> bool:
    """差评: 不满意 or 非常不满意."""
    return score <= BAD_SCORE


def estimated_wait_ms(ahead: int, handling_ms: int, able_windows: int, idle_windows: int, planned_windows: int
                      ) -> int:
    """Wait for a ticket with ``ahead`` before it: the time until a window able to serve it can take it, never
    its own service. 0 means a window takes it now (pages say 即将叫号).

    ``idle_windows`` of the ``able_windows`` (open, skilled for the service) stand idle: they take the first of
    the line at once. Everyone behind them waits one handling time per ticket still in front of a window, shared
    by the able windows: ``max(0, ahead + 1 - idle) x handling / able``, rounded down. Before opening no window
    is open yet; the windows configured for the service stand in for them, or a crowd at the door would be told
    it waits as if one window served them all. ``lua/common.lua`` computes the same, to the ms.
    """
    windows = able_windows or planned_windows or 1
    # Clamped: idle windows are a subset of the able ones, and a counter must never make a wait shorter than that.
    idle = min(max(idle_windows, 0), able_windows)
    return max(0, ahead + 1 - idle) * handling_ms // windows


def no_show_left(recalls: int, called_at_ms: int, now_ms: int, after_recalls: int, after_s: int) -> tuple[int, int]:
    """The hall's no-show rule (config ``Policy``): (recalls still to make, seconds still to wait) before staff
    may mark a called ticket a no-show (过号); (0, 0) when they may. Seconds are rounded up, so "wait 0 s" is
    never said of a refusal. ``lua/common.lua`` computes the same."""
    recalls_left = max(0, after_recalls - recalls)
    wait_ms = called_at_ms + after_s * 1000 - now_ms
    return recalls_left, max(0, -(-wait_ms // 1000))


def next_ewma(old_ms: int, sample_ms: int, alpha: float) -> int:
    # Same arithmetic, in the same order, as lua/finish.lua, so model and engine agree to the ms.
    return int(alpha * sample_ms + (1 - alpha) * old_ms + 0.5)
