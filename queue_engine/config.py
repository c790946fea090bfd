"""Hall configuration: services, windows, opening hours and calling policy knobs.

Loaded from TOML or YAML; validated once, then treated as immutable by the engine.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Letters V and Y are class prefixes (VIP, appointment); a service letter may not collide with them.
CLASS_LETTERS = frozenset("VY")
_HALL_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_CODE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
_WINDOW_ID = re.compile(r"^[A-Za-z0-9-]{1,8}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Service(_Frozen):
    code: str
    letter: str
    name_zh: str
    name_en: str
    target_wait_s: int = Field(900, gt=0, description="Wait the hall promises; waits beyond it are over target.")
    handling_s: int = Field(600, gt=0, description="Expected handling time, the estimate's starting point.")

    @field_validator("code")
    @classmethod
    def _code_shape(cls, v: str) -> str:
        if not _CODE.match(v):
            raise ValueError("a service code is 1-8 capital letters or digits, starting with a letter")
        return v

    @field_validator("letter")
    @classmethod
    def _letter_shape(cls, v: str) -> str:
        if len(v) != 1 or not "A" <= v <= "Z":
            raise ValueError("a service letter is one capital letter A-Z")
        if v in CLASS_LETTERS:
            raise ValueError("letters V and Y are reserved for VIP and appointment tickets")
        return v


class Window(_Frozen):
    id: str
    name: str
    services: tuple[str, ...]
    primary: tuple[str, ...] = ()
    kind: Literal["comprehensive", "special"] = "comprehensive"

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _WINDOW_ID.match(v):
            raise ValueError("a window id is 1-8 letters, digits or dashes")
        return v

    @model_validator(mode="after")
    def _primary_within_services(self) -> Window:
        if not self.services:
            raise ValueError(f"window {self.id} serves no service")
        stray = set(self.primary) - set(self.services)
        if stray:
            raise ValueError(f"window {self.id}: primary services {sorted(stray)} are not among its services")
        return self


class Policy(_Frozen):
    recall_limit: int = Field(3, ge=0, description="How many times a called ticket may be announced again.")
    missed_serve_direct: int = Field(3, ge=0, le=10, description="A window may call its N latest no-shows directly.")
    requeue: Literal["original", "end", "none"] = Field(
        "original", description="Where a late arrival goes back: its old place, the end of the line, or nowhere."
    )
    ewma_alpha: float = Field(0.2, gt=0, le=1, description="Weight of the newest handling time in the estimate.")


class Session(_Frozen):
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Session:
        if self.end <= self.start:
            raise ValueError(f"opening session {self.start}-{self.end} ends before it starts")
        return self


class HallConfig(_Frozen):
    id: str
    name: str
    timezone: str = "Asia/Shanghai"
    hours: tuple[Session, ...] = (
        Session(start=time(8, 30), end=time(12, 0)),
        Session(start=time(14), end=time(17, 30)),
    )
    services: tuple[Service, ...]
    windows: tuple[Window, ...]
    policy: Policy = Field(default_factory=Policy)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _HALL_ID.match(v):
            raise ValueError("a hall id is 1-40 lowercase letters, digits or dashes")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except Exception as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("hours", mode="before")
    @classmethod
    def _parse_hours(cls, v: Any) -> Any:
        # Hours are written as "08:30-12:00" in files; accept that shorthand.
        if isinstance(v, list | tuple):
            return [_session_from_text(s) if isinstance(s, str) else s for s in v]
        return v

    @model_validator(mode="after")
    def _consistent(self) -> HallConfig:
        codes = [s.code for s in self.services]
        letters = [s.letter for s in self.services]
        ids = [w.id for w in self.windows]
        for what, values in (("service code", codes), ("service letter", letters), ("window id", ids)):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"{what} used twice: {', '.join(dupes)}")
        if not self.services:
            raise ValueError("a hall needs at least one service")
        for w in self.windows:
            unknown = set(w.services) - set(codes)
            if unknown:
                raise ValueError(f"window {w.id} names unknown services {sorted(unknown)}")
        starts = [s.start for s in self.hours]
        if starts != sorted(starts):
            raise ValueError("opening sessions must be listed in order")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def planned_windows(self, code: str) -> int:
        """How many windows the configuration lets serve a service."""
        return sum(1 for w in self.windows if code in w.services)

    def window(self, window_id: str) -> Window | None:
        return next((w for w in self.windows if w.id == window_id), None)

    def local(self, epoch_s: float) -> datetime:
        return datetime.fromtimestamp(epoch_s, self.zone)

    def business_day(self, epoch_s: float) -> str:
        """The hall's local calendar day as YYYYMMDD: numbering and idempotency reset with it."""
        return self.local(epoch_s).strftime("%Y%m%d")

    def accepts_early_tickets(self, epoch_s: float) -> bool:
        """True outside opening hours when a session of today is still to come (before opening, over lunch):
        citizens may take a number for it even while every window is closed."""
        now = self.local(epoch_s).time()
        in_session = any(s.start <= now < s.end for s in self.hours)
        return not in_session and any(now < s.start for s in self.hours)


def _session_from_text(text: str) -> dict[str, str]:
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"opening hours {text!r} should look like 08:30-12:00")
    return {"start": start.strip(), "end": end.strip()}


def load_hall(path: str | Path) -> HallConfig:
    """Read a hall from a .toml, .yaml or .yml file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        data = tomllib.loads(text)
    elif path.suffix in (".yaml", ".yml"):
        data = yaml.safe_load(text)
    else:
        raise ValueError(f"{path}: hall files are .toml, .yaml or .yml")
    return HallConfig.model_validate(data)
