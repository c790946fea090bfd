"""Whether the hall's lobby displays can speak: each display reports its own voice, managers read the list.

Many lobby screens are TV boxes whose browser has no Chinese voice; such a display shows every call and says none of
them. It tells the server so (``POST /displays/voice``, with its display token) when it starts, whenever its voice
changes, and once a minute besides, so managers see which displays are mute, and which have stopped reporting
(``GET /displays``), before the first citizen misses a call.

A report is kept in Redis for the hall's business day, under the hall's tag (``HallKeys.displays``); it is the
display's own state, not the hall's, so it writes no event and a display token stays unable to change the hall.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError

from floor.hall.schemas import _In, at
from floor.http.kit import ApiError, Ctx, Endpoints

ENDPOINTS = Endpoints()

REPORT_EVERY_S = 60  # how often a display reports while nothing changes (displays/assets/display.js says the same)
OFFLINE_AFTER_S = 3 * REPORT_EVERY_S  # three reports missed: the display is off, or its network is
TTL_S = 24 * 3600  # a day from the latest report: yesterday's displays are gone by the end of today
MAX_DISPLAYS = 200  # per hall and day: a county hall has a handful; a token replaying new ids must not grow Redis
ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f]*$"  # stated in the schema too, so clients see the rule the server keeps


class VoiceIn(_In):
    display: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                         description="The id the display made for itself once and keeps (in its browser's storage).")
    name: str | None = Field(None, max_length=40, pattern=ONE_LINE,
                             description="What the hall calls this screen (一楼大厅东), from the display's ?name=.")
    voice: str | None = Field(None, max_length=100, pattern=ONE_LINE,
                              description="The Chinese (zh-CN) voice the display speaks with; null: it has none.")
    speaking: bool = Field(strict=True, description="Whether calls are being spoken aloud; false: the display is mute.")
    problem: str | None = Field(None, max_length=200, pattern=ONE_LINE,
                                description="Why it is mute, in words for the hall's staff; null when it speaks.")


class VoiceOut(BaseModel):
    display: str
    last_seen: datetime


class DisplayLine(BaseModel):
    display: str
    name: str | None
    voice: str | None
    speaking: bool
    problem: str | None
    last_seen: datetime = Field(description="The display's latest report (hall time).")
    mute: bool = Field(description="Calls are shown but not spoken on this display.")
    offline: bool = Field(description=f"No report for more than {OFFLINE_AFTER_S} s: off, or cut off.")


class DisplaysOut(BaseModel):
    displays: list[DisplayLine] = Field(description="Every display seen today: offline and mute first.")
    offline_after_s: int
    now: datetime


class _Stored(BaseModel):
    """One display's report as kept in Redis: the report and when it came (ms)."""

    name: str | None
    voice: str | None
    speaking: bool
    problem: str | None
    seen_ms: int


def _today_key(ctx: Ctx) -> tuple[str, int]:
    """The hash of today's displays and the server's time now (ms), by the hall's clock and calendar."""
    now_s = ctx.hall.engine.clock()
    return ctx.hall.engine.keys.displays(ctx.hall.config.business_day(now_s)), int(now_s * 1000)


@ENDPOINTS.add("POST", "/displays/voice", roles=("display",), body=VoiceIn, response=VoiceOut,
               refusals=((409, f"the hall has had {MAX_DISPLAYS} displays today already"),))
async def report_voice(ctx: Ctx, body: VoiceIn) -> VoiceOut:
    """A lobby display reports whether it can speak its calls: on start, on every change, and once a minute."""
    key, now_ms = _today_key(ctx)
    redis = ctx.hall.engine.redis
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hexists(key, body.display)
        pipe.hlen(key)
        known, count = await pipe.execute()
    if not known and count >= MAX_DISPLAYS:
        # Not atomic with the write below: two new displays at once may pass the cap by one, which is harmless.
        raise ApiError(409, "too_many_displays",
                       f"This hall has had {MAX_DISPLAYS} displays today; a display must keep the id it made.",
                       f"本大厅今天已有 {MAX_DISPLAYS} 台显示屏上报；显示屏应一直使用它生成的同一编号。")
    stored = _Stored(name=body.name or None, voice=body.voice or None, speaking=body.speaking,
                     problem=body.problem or None, seen_ms=now_ms)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, body.display, stored.model_dump_json())
        pipe.expire(key, TTL_S)
        await pipe.execute()
    seen = at(ctx.hall.config, now_ms)
    assert seen is not None
    return VoiceOut(display=body.display, last_seen=seen)


@ENDPOINTS.add("GET", "/displays", roles=("manager",), response=DisplaysOut)
async def displays(ctx: Ctx, _: Any) -> DisplaysOut:
    """Every lobby display seen today: its voice, whether it is mute, and whether it has gone offline."""
    key, now_ms = _today_key(ctx)
    raw: dict[bytes | str, bytes | str] = await ctx.hall.engine.redis.hgetall(key)
    hall = ctx.hall.config
    lines = []
    for field, value in raw.items():
        display = field.decode() if isinstance(field, bytes) else field
        try:
            report = _Stored.model_validate(orjson.loads(value))
        except (orjson.JSONDecodeError, ValidationError):
            continue  # written by another version: the display's next report replaces it within a minute
        seen = at(hall, report.seen_ms)
        assert seen is not None
        lines.append(DisplayLine(display=display, name=report.name, voice=report.voice, speaking=report.speaking,
                                 problem=report.problem, last_seen=seen, mute=not report.speaking,
                                 offline=now_ms - report.seen_ms > OFFLINE_AFTER_S * 1000))
    lines.sort(key=lambda d: (not d.offline and not d.mute, d.name or "\uffff", d.display))
    now = at(hall, now_ms)
    assert now is not None
    return DisplaysOut(displays=lines, offline_after_s=OFFLINE_AFTER_S, now=now)
