"""好差评: the five levels of a rating, their report scores, and what counts as a 差评 (pure rules, no I/O).

A citizen rates one finished ticket once (一次一评), on the pad beside the window or by the QR code of the
phone page, and may still rate it for a while after (``HallConfig.ratings.late_s``). Provinces that score
ratings give 10/8/6/3/0 for the five levels (domain.md); the two lowest levels are 差评, and each opens a case
(``floor.ratings.cases``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from queue_engine import policy
from queue_engine.config import HallConfig

Source = Literal["pad", "qr"]  # the 评价器 beside the window, or the phone page reached by the ticket's QR code
SOURCES: tuple[Source, ...] = ("pad", "qr")
MAX_COMMENT = policy.COMMENT_MAX


@dataclass(frozen=True, slots=True)
class Level:
    score: int  # 5 = 非常满意 … 1 = 非常不满意
    zh: str
    en: str
    points: int  # what a report counts it as: 10/8/6/3/0
    bad: bool  # 差评: opens a case and alerts the manager

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


# Which levels are 差评 has one home, the engine's policy (its ticket.rated event says "bad").
LEVELS: dict[int, Level] = {score: Level(score, zh, en, points, policy.is_bad(score)) for score, zh, en, points in (
    (5, "非常满意", "Very satisfied", 10),
    (4, "满意", "Satisfied", 8),
    (3, "基本满意", "Fairly satisfied", 6),
    (2, "不满意", "Dissatisfied", 3),
    (1, "非常不满意", "Very dissatisfied", 0),
)}
SCORES = tuple(sorted(LEVELS, reverse=True))  # best first, as the pad shows them


def level(score: int) -> Level:
    """The level of a score 1..5; anything else is a programming error (the API refuses it first)."""
    try:
        return LEVELS[score]
    except KeyError:
        raise ValueError(f"a rating score is 1 to 5, not {score!r}") from None


def is_bad(score: int) -> bool:
    """差评: 不满意 or 非常不满意."""
    return level(score).bad


def points(score: int) -> int:
    return level(score).points


def rateable_until(hall: HallConfig, day: str, finished_at: datetime) -> datetime:
    """Until when a finished ticket of business day ``day`` may be rated: all of its own day, and after that until
    ``late_s`` after it was finished (the engine's rule, ``HallModel.rate``)."""
    next_day = datetime.strptime(day, "%Y%m%d").date() + timedelta(days=1)
    return max(finished_at + timedelta(seconds=hall.ratings.late_s), datetime.combine(next_day, time(0), hall.zone))


def too_late(hall: HallConfig, day: str, finished_at: datetime, now: datetime) -> bool:
    return now >= rateable_until(hall, day, finished_at)


# The rating pad beside a window may rate only the ticket that window finished last, and only this long after: it
# asks for a minute, and a citizen who turned back to the pad, or a pad that reconnected, still counts.
PAD_S = 300


def pad_may_rate(window: str, last_done: str | None, ticket: str, ticket_window: str | None, finished_ms: int | None,
                 now_ms: int) -> bool:
    """Whether the pad of ``window`` may rate ``ticket``: the window's latest finished ticket, finished there,
    within ``PAD_S``."""
    return (last_done == ticket and ticket_window == window and finished_ms is not None
            and 0 <= now_ms - finished_ms <= PAD_S * 1000)
