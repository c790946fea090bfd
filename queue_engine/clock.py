"""Clocks the engine can run on: the system's, or a hand-turned one for tests and simulations."""

from __future__ import annotations

from datetime import datetime


class ManualClock:
    """A clock that moves only when told, so a test or a simulation can run a whole day in seconds."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("give the start time a time zone")
        self.now_s = start.timestamp()

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.now_s += seconds

    def set(self, when: datetime) -> None:
        self.advance(when.timestamp() - self.now_s)
