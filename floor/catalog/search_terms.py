"""What a guide or a citizen types to find a service or a sub-item: its name, its pinyin, or the pinyin initials
(社保医保 -> shebaoyibao, sbyb)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from pypinyin import Style, lazy_pinyin

_NOT_TYPED = re.compile(r"[^0-9a-z]")  # brackets, spaces and dots in a name are never what anyone types


def _joined(parts: Iterable[str]) -> str:
    return "".join(_NOT_TYPED.sub("", part.lower()) for part in parts)


@cache  # one hall's names, asked for on every GET /catalog and /config: worked out once per process
def search_terms(name_zh: str) -> dict[str, str]:
    """Full pinyin and initials, lower case, letters and digits only. A run that is not Chinese stays whole in
    both (ETC办理 -> etcbanli, etcbl), so initials never keep just the first letter of a word."""
    return {
        "pinyin": _joined(lazy_pinyin(name_zh)),
        "initials": _joined(lazy_pinyin(name_zh, style=Style.FIRST_LETTER)),
    }
