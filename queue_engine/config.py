"""Hall configuration: services, windows, opening hours and calling policy knobs.

Loaded from TOML or YAML; validated once, then treated as immutable by the engine.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, time, timedelta
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
_ITEM_CODE = re.compile(r"^[A-Z][A-Z0-9-]{0,15}$")
_STAFF_ID = re.compile(r"^[A-Za-z0-9-]{1,16}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Material(_Frozen):
    """One document a citizen must bring for a sub-item (申请材料)."""

    name: str = Field(min_length=1)
    copies: int = Field(1, ge=0, description="Photocopies to hand in; 0 when only the original is shown.")
    original: bool = Field(False, description="The original must be shown (验原件).")
    note: str = ""


class ServiceItem(_Frozen):
    """A sub-item of a service (受理事典 entry, 事项): what exactly the citizen comes for, what to bring, and
    how long the hall promises to take."""

    code: str
    name_zh: str = Field(min_length=1)
    name_en: str = ""
    materials: tuple[Material, ...] = ()
    forms: tuple[str, ...] = Field((), description="Forms to fill in (申请表), by title.")
    legal_basis: tuple[str, ...] = Field((), description="The laws and rules the item rests on (设定依据).")
    promised_days: int = Field(0, ge=0, description="Working days promised; 0 is an on-the-spot item (即办件).")
    handling_s: int | None = Field(None, gt=0, description="Expected handling time, if it differs from the service's.")

    @field_validator("code")
    @classmethod
    def _code_shape(cls, v: str) -> str:
        if not _ITEM_CODE.match(v):
            raise ValueError("a sub-item code is 1-16 capital letters, digits or dashes, starting with a letter")
        return v


class Service(_Frozen):
    code: str
    letter: str
    name_zh: str
    name_en: str
    target_wait_s: int = Field(900, gt=0, description="Wait the hall promises; waits beyond it are over target.")
    handling_s: int = Field(600, gt=0, description="Expected handling time, the estimate's starting point.")
    items: tuple[ServiceItem, ...] = Field((), description="Sub-items (事项) of the service, from the catalog.")
    bundle: tuple[str, ...] = Field(
        (), description="A theme bundle (主题联办, 一件事): the member services one ticket covers. A window serves "
                        "the bundle only if it serves every member; windows that do are given the bundle.")

    @property
    def is_bundle(self) -> bool:
        return bool(self.bundle)

    def item(self, code: str) -> ServiceItem | None:
        for item in self.items:  # a loop, not next(genexpr): these lookups run several times per request
            if item.code == code:
                return item
        return None

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
    items: tuple[str, ...] = Field(
        (), description="Sub-item skills: for a service with any of its items listed here, the window serves only "
                        "those items of it (tickets of that service without an item it serves too).")

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
    """How tickets are called, and the hall's one no-show (过号) rule: when staff may mark one, and what a citizen
    who comes back late gets. Every text about no-shows (ticket, phone, lobby, console) is written from this rule
    (``queue_engine.no_show``)."""

    recall_limit: int = Field(3, ge=0, description="How many times a called ticket may be announced again.")
    no_show_after_recalls: int = Field(
        1, ge=0, description="Recalls (重呼) a called ticket must have had before staff may mark it a no-show.")
    no_show_after_s: int = Field(
        60, ge=0, le=3600, description="Seconds from the call before staff may mark the ticket a no-show.")
    returning: Literal["serve", "requeue", "new_ticket"] = Field(
        "serve", description="What a no-show who comes back late gets: served directly by the window that called "
                             "them (serve), put back in line where `requeue` says (requeue), or asked to take a new "
                             "number (new_ticket).")
    missed_serve_direct: int = Field(
        3, ge=0, le=10, description="How many of its latest no-shows a window keeps listed; with returning = serve "
                                    "it may call them directly.")
    requeue: Literal["original", "end", "none"] = Field(
        "original", description="With returning = requeue: where a late arrival goes back, its old place or the end "
                                "of the line. 'none' is the older spelling of returning = new_ticket (or serve).")
    ewma_alpha: float = Field(0.2, gt=0, le=1, description="Weight of the newest handling time in the estimate.")

    @model_validator(mode="before")
    @classmethod
    def _returning_from_older_files(cls, data: Any) -> Any:
        # Files written before `returning` said "nowhere" with requeue = "none": they served late arrivals directly
        # if their windows kept any no-shows, else sent them for a new number.
        if isinstance(data, dict) and "returning" not in data and data.get("requeue") == "none":
            serves = data.get("missed_serve_direct", 3)
            return {**data, "returning": "serve" if serves else "new_ticket"}
        return data

    @model_validator(mode="after")
    def _one_rule(self) -> Policy:
        if self.no_show_after_recalls > self.recall_limit:
            raise ValueError(f"no_show_after_recalls ({self.no_show_after_recalls}) is more than recall_limit "
                             f"({self.recall_limit}): no ticket could ever be marked a no-show")
        if self.returning == "serve" and self.missed_serve_direct == 0:
            raise ValueError("returning = serve needs missed_serve_direct of 1 or more: a window serves the no-shows "
                             "it keeps listed")
        if self.returning == "requeue" and self.requeue == "none":
            raise ValueError("returning = requeue needs requeue = original or end (where the late arrival goes back)")
        return self

    @property
    def requeue_mode(self) -> str:
        """What a requeue is told (``lua/requeue.lua``): where the ticket goes back (original | end), or, when the
        hall's rule puts no late arrival back in line, that rule (serve | new_ticket), which refuses it."""
        return self.requeue if self.returning == "requeue" else self.returning


class Screens(_Frozen):
    """What the hall's own screens show: citizens read names, never codes, in the hall's language."""

    language: Literal["zh", "en"] = Field("zh", description="The lobby display's language, set by the hall, not by "
                                                            "whoever presses a button on the TV.")
    show_codes: bool = Field(False, description="Service codes and pinyin on the guide desk's tiles, for staff who "
                                                "search by them; never on a citizen's screen.")


class Appointments(_Frozen):
    """预约办: bookable slots per service, and the rules of booking, cancelling and not coming."""

    enabled: bool = True
    services: tuple[str, ...] = Field((), description="Services that take bookings; empty: every non-bundle one.")
    slot_minutes: int = Field(30, gt=0, le=240)
    capacity: int = Field(4, ge=0, description="Bookings per service per slot.")
    capacities: dict[str, int] = Field(default_factory=dict, description="Per-service capacity, overriding capacity.")
    min_days_ahead: int = Field(1, ge=0, description="Bookable from this many calendar days ahead.")
    max_working_days_ahead: int = Field(5, ge=1, description="...up to this many working days ahead.")
    cancel_before_s: int = Field(7200, ge=0, description="A booking may be cancelled until this long before its slot.")
    void_after_s: int = Field(1800, ge=0, description="A booking not checked in this long after its slot starts is "
                                                      "void, and counts as a no-show.")
    no_show_limit: int = Field(2, ge=1, description="No-shows that block a person from booking...")
    block_days: int = Field(90, ge=0, description="...for this many days after the last of them (3 months).")

    def capacity_of(self, service: str) -> int:
        return self.capacities.get(service, self.capacity)


class Ratings(_Frozen):
    """好差评: a five-level rating per ticket, and the closed loop a 差评 opens."""

    late_s: int = Field(7 * 86400, ge=0, description="A finished ticket may still be rated this long after.")
    callback_working_days: int = Field(1, ge=0, description="回访核实 is due within this many working days.")
    fix_working_days: int = Field(5, ge=0, description="整改 is due within this many working days.")


class Notifications(_Frozen):
    """What the SMS or WeChat gateway is told, by signed webhook."""

    ahead: int = Field(3, ge=0, description="Notify a ticket once when this many or fewer are ahead of it; 0: never.")
    notify_url: str | None = Field(None, description="Where ticket.ahead and ticket.called notifications go.")
    ratings_url: str | None = Field(None, description="Where every rating goes (the provincial 好差评 system).")


class Staff(_Frozen):
    """A member of staff; staff tokens may name one (`hallq token --staff`), and reports count per staff."""

    id: str
    name: str = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _STAFF_ID.match(v):
            raise ValueError("a staff id is 1-16 letters, digits or dashes")
        return v


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
    appointments: Appointments = Field(default_factory=Appointments)
    ratings: Ratings = Field(default_factory=Ratings)
    notifications: Notifications = Field(default_factory=Notifications)
    screens: Screens = Field(default_factory=Screens)
    staff: tuple[Staff, ...] = ()
    holidays: tuple[date, ...] = Field((), description="Public holidays the hall is closed on (法定节假日).")
    workdays: tuple[date, ...] = Field((), description="Weekend days the hall works (调休上班).")

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

    @model_validator(mode="before")
    @classmethod
    def _windows_take_bundles(cls, data: Any) -> Any:
        # A bundle is served at one comprehensive window that can serve all of it: every window whose services
        # cover a bundle's members is given the bundle, unless the file lists the window's bundles itself.
        if not isinstance(data, dict):
            return data
        services, windows = data.get("services"), data.get("windows")
        if not isinstance(services, list | tuple) or not isinstance(windows, list | tuple):
            return data
        bundles = [(s.get("code"), tuple(s.get("bundle") or ())) for s in services if isinstance(s, dict)]
        bundles = [(code, members) for code, members in bundles if members]
        if not bundles:
            return data
        codes = {code for code, _ in bundles}
        given = []
        for w in windows:
            if isinstance(w, dict) and not codes & set(w.get("services") or ()):
                own = list(w.get("services") or ())
                w = {**w, "services": own + [c for c, members in bundles if set(members) <= set(own)]}
            given.append(w)
        return {**data, "windows": given}

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
        self._check_catalog(codes)
        return self

    def _check_catalog(self, codes: list[str]) -> None:
        items = [i.code for s in self.services for i in s.items]
        dupes = sorted({v for v in items if items.count(v) > 1})
        if dupes:
            raise ValueError(f"sub-item code used twice: {', '.join(dupes)}")
        bundles = {s.code for s in self.services if s.bundle}
        for s in self.services:
            unknown = set(s.bundle) - set(codes)
            if unknown:
                raise ValueError(f"bundle {s.code} names unknown services {sorted(unknown)}")
            if set(s.bundle) & bundles:
                raise ValueError(f"bundle {s.code} may only hold plain services, not bundles")
            if s.bundle and len(s.bundle) < 2:
                raise ValueError(f"bundle {s.code} needs at least two services")
        for w in self.windows:
            for code in w.items:
                owner = self.item_service(code)
                if owner is None:
                    raise ValueError(f"window {w.id} names unknown sub-item {code}")
                if owner.code not in w.services:
                    raise ValueError(f"window {w.id} has sub-item {code} but not its service {owner.code}")
        unknown = set(self.appointments.services) | set(self.appointments.capacities)
        unknown -= set(codes)
        if unknown:
            raise ValueError(f"appointments name unknown services {sorted(unknown)}")
        staff = [m.id for m in self.staff]
        dupes = sorted({v for v in staff if staff.count(v) > 1})
        if dupes:
            raise ValueError(f"staff id used twice: {', '.join(dupes)}")
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(f"days listed both as holidays and as workdays: {', '.join(map(str, both))}")

    def item_service(self, item_code: str) -> Service | None:
        """The service a sub-item belongs to."""
        return next((s for s in self.services if s.item(item_code) is not None), None)

    def bookable(self, code: str) -> bool:
        svc = self.service(code)
        if svc is None or svc.is_bundle or not self.appointments.enabled:
            return False
        return not self.appointments.services or code in self.appointments.services

    def staff_member(self, staff_id: str) -> Staff | None:
        return next((m for m in self.staff if m.id == staff_id), None)

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday, less public holidays, plus the weekend days worked in their place (调休)."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (``day`` itself when n is 0): deadlines of 承诺件 and of 差评 cases."""
        while n > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service(self, code: str) -> Service | None:
        for service in self.services:
            if service.code == code:
                return service
        return None

    def planned_windows(self, code: str) -> int:
        """How many windows the configuration lets serve a service."""
        return sum(1 for w in self.windows if code in w.services)

    def window(self, window_id: str) -> Window | None:
        for window in self.windows:
            if window.id == window_id:
                return window
        return None

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
