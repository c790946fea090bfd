"""What a guide types to find a service: its name, its pinyin, or the pinyin initials (社保 -> sb, shebao)."""

from __future__ import annotations

from functools import cache

from pypinyin import Style, lazy_pinyin


@cache
def search_terms(name_zh: str) -> dict[str, str]:
    return {
        "pinyin": "".join(lazy_pinyin(name_zh)).lower(),
        "initials": "".join(p[0] for p in lazy_pinyin(name_zh, style=Style.FIRST_LETTER) if p).lower(),
    }
