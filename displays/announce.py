"""What the lobby says and shows: the spoken call, and the fixed-width line of an LED strip."""

from __future__ import annotations

import unicodedata


def announcement(number: str, window_name: str) -> str:
    """请A023号到5号窗口 — the window's own name says 号窗口 already when it is numbered."""
    return f"请{number}号到{window_name}"


def display_width(text: str) -> int:
    """Columns on an LED strip: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def led_line(number: str | None, window_id: str, state: str, width: int) -> str:
    """One window's line on a strip of 8 or 12 columns: 'A023 →5', '5 暂停', never wider than the strip."""
    if state == "paused":
        text = f"{window_id} 暂停"
    elif state == "closed":
        text = f"{window_id} 停办"
    elif number:
        text = f"{number}→{window_id}" if display_width(f"{number} →{window_id}") > width else f"{number} →{window_id}"
    else:
        text = f"{window_id} 空闲"
    while display_width(text) > width:
        text = text[:-1]
    return text + " " * (width - display_width(text))
