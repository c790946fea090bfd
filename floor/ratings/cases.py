"""差评 cases: the closed loop every 差评 opens, as a pure state machine (no I/O).

回访核实 (callback: the citizen is called back and the complaint checked) -> 整改 (fix: what was changed)
-> 反馈 (feedback: the citizen is told, and says whether satisfied) closes the case; 追评/申诉复核 (review:
a re-rating, or the outcome of the window's appeal) may follow, once. Steps go in that order only.

Deadlines come from ``HallConfig.ratings`` in working days of the hall's calendar, counted from the day the
rating was given: a step is due by the end of its day. Overdue is worked out when read, never stored: a
case becomes overdue at midnight without anything being written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from queue_engine.config import HallConfig

STEPS = ("callback", "fix", "feedback", "review")
# status -> (the step it awaits, the status that step leads to)
FLOW: dict[str, tuple[str, str]] = {
    "awaiting_callback": ("callback", "awaiting_fix"),
    "awaiting_fix": ("fix", "awaiting_feedback"),
    "awaiting_feedback": ("feedback", "closed"),
    "closed": ("review", "reviewed"),
}
FIRST_STATUS = "awaiting_callback"
STATUSES = (*FLOW, "reviewed")
OPEN_STATUSES = ("awaiting_callback", "awaiting_fix", "awaiting_feedback")  # the loop is not closed yet
DEADLINE_STEPS = ("callback", "fix")  # the steps the hall's rules give a deadline

STATUS_TEXT: dict[str, tuple[str, str]] = {
    "awaiting_callback": ("待回访核实", "awaiting callback"),
    "awaiting_fix": ("待整改", "awaiting fix"),
    "awaiting_feedback": ("待反馈", "awaiting feedback"),
    "closed": ("已办结", "closed"),
    "reviewed": ("已复核", "reviewed"),
}
STEP_TEXT: dict[str, tuple[str, str]] = {
    "callback": ("回访核实", "the callback"),
    "fix": ("整改", "the fix"),
    "feedback": ("反馈", "the feedback"),
    "review": ("追评/申诉复核", "the review"),
}


@dataclass(frozen=True, slots=True)
class Deadlines:
    callback_due: datetime
    fix_due: datetime

    def of(self, step: str) -> datetime | None:
        return {"callback": self.callback_due, "fix": self.fix_due}.get(step)


def end_of_working_day(hall: HallConfig, start: datetime, working_days: int) -> datetime:
    """The end (local midnight after) of the ``working_days``-th working day after ``start``'s local day."""
    due_day = hall.add_working_days(start.astimezone(hall.zone).date(), working_days)
    return datetime.combine(due_day + timedelta(days=1), time(0), tzinfo=hall.zone)


def deadlines(hall: HallConfig, rated_at: datetime) -> Deadlines:
    """When the callback and the fix of a case opened by a rating given at ``rated_at`` are due."""
    rules = hall.ratings
    return Deadlines(end_of_working_day(hall, rated_at, rules.callback_working_days),
                     end_of_working_day(hall, rated_at, rules.fix_working_days))


class StepRefused(Exception):
    """A step recorded out of order (or twice): nothing was changed."""

    def __init__(self, status: str, step: str) -> None:
        self.status, self.step = status, step
        super().__init__(self.message("en"))

    def message(self, lang: str) -> str:
        en = lang == "en"
        step = STEP_TEXT[self.step][1 if en else 0]
        awaited = FLOW.get(self.status, (None, None))[0]
        if awaited is None:
            return ("This case has been reviewed; nothing more can be recorded on it." if en else
                    "该差评件已复核，不能再登记。")
        next_step = STEP_TEXT[awaited][1 if en else 0]
        if STEPS.index(self.step) < STEPS.index(awaited):
            return (f"{step[0].upper()}{step[1:]} of this case is already recorded; record {next_step} next." if en
                    else f"该差评件的{step}已登记，下一步请登记{next_step}。")
        return (f"This case awaits {next_step}; record that before {step}." if en else
                f"该差评件当前待{next_step}，请先登记{next_step}，再登记{step}。")


def advance(status: str, step: str) -> str:
    """The status after recording ``step`` on a case in ``status``; StepRefused if that step is not next."""
    awaited, after = FLOW.get(status, ("", ""))
    if step != awaited:
        raise StepRefused(status, step)
    return after


def overdue_steps(due: Deadlines, done: Mapping[str, datetime | None], now: datetime) -> list[str]:
    """The steps whose deadline has passed while they are not done (``done``: step -> when, or None)."""
    late = []
    for step in DEADLINE_STEPS:
        deadline = due.of(step)
        if deadline is not None and done.get(step) is None and now >= deadline:
            late.append(step)
    return late


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES
