"""The server's clock: the system's, or, for tests, one set from outside through a file (``HALLQ_CLOCK_FILE``).

Server tests run the real ``hallq serve`` in a subprocess. Rules that depend on the date and the hour (the booking
window, a booking that lapses 30 minutes after its slot, a late rating) need that server's clock on a chosen day:
the test writes the time into the file, in seconds since the epoch, and every engine of the server reads it. The
clock stands still at that time until the file changes. Never set in production.
"""

from __future__ import annotations

import os
from pathlib import Path


class FileClock:
    """Seconds since the epoch as written in a file; the file is read again only when it changed (a test replaces
    it whole, so its inode or modification time changes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._now = 0.0

    def __call__(self) -> float:
        stat = os.stat(self.path)
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            self._now = float(self.path.read_text(encoding="utf-8").strip())
            self._seen = seen
        return self._now


def write_clock(path: Path, epoch_s: float) -> None:
    """Set a FileClock's time, replacing the file whole so a reader never sees half of it."""
    partial = path.with_name(path.name + ".new")
    partial.write_text(repr(float(epoch_s)), encoding="utf-8")
    os.replace(partial, path)
