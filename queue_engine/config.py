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


class Invalid(ValueError):
    """A check of the configuration that failed, in English and Chinese: a hall's people read the Chinese, and
    pydantic keeps the exception, so whoever shows the error finds both (``error["ctx"]["error"]``)."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.zh = zh


_WHAT_ZH = {"service code": "业务代码", "service letter": "业务字母", "window id": "窗口编号"}


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
    notes: str = Field("", max_length=500, description="What else the hall tells everyone who comes for it, printed on "
                                                       "its 一次性告知 notice (fees, where to collect, who may come).")

    @field_validator("code")
    @classmethod
    def _code_shape(cls, v: str) -> str:
        if not _ITEM_CODE.match(v):
            raise Invalid("a sub-item code is 1-16 capital letters, digits or dashes, starting with a letter",
                          "事项编码须为1-16位大写字母、数字或短横线，以字母开头")
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
            raise Invalid("a service code is 1-8 capital letters or digits, starting with a letter",
                          "业务代码须为1-8位大写字母或数字，以字母开头")
        return v

    @field_validator("letter")
    @classmethod
    def _letter_shape(cls, v: str) -> str:
        if len(v) != 1 or not "A" <= v <= "Z":
            raise Invalid("a service letter is one capital letter A-Z", "业务字母须为一个大写字母 A-Z")
        if v in CLASS_LETTERS:
            raise Invalid("letters V and Y are reserved for VIP and appointment tickets",
                          "字母 V 和 Y 留给 VIP 号和预约号，请换一个字母")
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
    stand_in: str | None = Field(
        None, description="The B post (AB岗): the window whose staff stands in for this window's when they sign out "
                          "or leave their post (离岗).")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _WINDOW_ID.match(v):
            raise Invalid("a window id is 1-8 letters, digits or dashes", "窗口编号须为1-8位字母、数字或短横线")
        return v

    @model_validator(mode="after")
    def _primary_within_services(self) -> Window:
        if not self.services:
            raise Invalid(f"window {self.id} serves no service", f"{self.id}号窗口没有可办理的业务，请至少选一项")
        stray = set(self.primary) - set(self.services)
        if stray:
            raise Invalid(f"window {self.id}: primary services {sorted(stray)} are not among its services",
                          f"{self.id}号窗口的优先业务 {'、'.join(sorted(stray))} 不在其可办业务中")
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
    stand_in: Literal["take_over", "alert"] = Field(
        "take_over", description="AB岗: when a window's staff signs out or leaves their post (离岗), its B post's "
                                 "window takes up its services (take_over), or the managers are only alerted (alert). "
                                 "Either way they are alerted when a service is left with no open window for it.")

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
            raise Invalid(f"no_show_after_recalls ({self.no_show_after_recalls}) is more than recall_limit "
                          f"({self.recall_limit}): no ticket could ever be marked a no-show",
                          "过号前须重呼的次数多于重呼上限，任何号都无法作过号处理")
        if self.returning == "serve" and self.missed_serve_direct == 0:
            raise Invalid("returning = serve needs missed_serve_direct of 1 or more: a window serves the no-shows "
                          "it keeps listed", "过号由叫号窗口直接办理时，须保留至少 1 个过号")
        if self.returning == "requeue" and self.requeue == "none":
            raise Invalid("returning = requeue needs requeue = original or end (where the late arrival goes back)",
                          "过号重新排队须选择回到原位（original）或队尾（end）")
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
            raise Invalid("a staff id is 1-16 letters, digits or dashes", "工作人员编号须为1-16位字母、数字或短横线")
        return v


HallLevel = Literal["county_centre", "town_centre", "village_station", "bank_outlet", "self_service"]


class Location(_Frozen):
    """Where a hall is (WGS-84), for the nearest halls that can serve what this one cannot (就近办)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Session(_Frozen):
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Session:
        if self.end <= self.start:
            raise Invalid(f"opening session {self.start}-{self.end} ends before it starts",
                          f"办公时段 {self.start:%H:%M}-{self.end:%H:%M} 的结束时间早于开始时间")
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
    # The hall in its county's network (floor.network): where it hangs in the region tree, what kind of hall it is,
    # and, for a hall whose services come from its county's one catalog, which of them it is authorised for.
    region: str | None = Field(None, description="The region the hall belongs to (a town, a village...).")
    level: HallLevel | None = Field(None, description="County centre, town centre, village station, bank outlet "
                                                      "or 24h self-service zone.")
    address: str = Field("", max_length=200)
    location: Location | None = None
    catalog: str | None = Field(None, description="The region whose 受理事典 the services are taken from.")
    authorised: tuple[str, ...] = Field((), description="With a catalog: the services (each with all its sub-items) "
                                                        "and single sub-items this hall may accept.")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _HALL_ID.match(v):
            raise Invalid("a hall id is 1-40 lowercase letters, digits or dashes",
                          "大厅编号须为1-40位小写字母、数字或短横线")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except Exception as exc:
            raise Invalid(f"unknown time zone {v!r}", f"未知时区 {v!r}，请用如 Asia/Shanghai 的时区名") from exc
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
                raise Invalid(f"{what} used twice: {', '.join(dupes)}", f"{_WHAT_ZH[what]}重复：{'、'.join(dupes)}")
        if not self.services:
            raise Invalid("a hall needs at least one service", "大厅至少需要一项业务")
        for w in self.windows:
            unknown = set(w.services) - set(codes)
            if unknown:
                raise Invalid(f"window {w.id} names unknown services {sorted(unknown)}",
                              f"{w.id}号窗口的业务 {'、'.join(sorted(unknown))} 在本大厅不存在")
            if w.stand_in is not None and (w.stand_in == w.id or w.stand_in not in ids):
                raise Invalid(f"window {w.id}: its B post {w.stand_in!r} is not another window of the hall",
                              f"{w.id}号窗口的B岗 {w.stand_in} 不是本大厅的另一个窗口")
        starts = [s.start for s in self.hours]
        if starts != sorted(starts):
            raise Invalid("opening sessions must be listed in order", "办公时段须按时间先后排列")
        self._check_catalog(codes)
        return self

    def _check_catalog(self, codes: list[str]) -> None:
        items = [i.code for s in self.services for i in s.items]
        dupes = sorted({v for v in items if items.count(v) > 1})
        if dupes:
            raise Invalid(f"sub-item code used twice: {', '.join(dupes)}", f"事项编码重复：{'、'.join(dupes)}")
        bundles = {s.code for s in self.services if s.bundle}
        for s in self.services:
            unknown = set(s.bundle) - set(codes)
            if unknown:
                raise Invalid(f"bundle {s.code} names unknown services {sorted(unknown)}",
                              f"联办主题 {s.code} 包含本大厅不存在的业务 {'、'.join(sorted(unknown))}")
            if set(s.bundle) & bundles:
                raise Invalid(f"bundle {s.code} may only hold plain services, not bundles",
                              f"联办主题 {s.code} 只能包含普通业务，不能包含其他联办主题")
            if s.bundle and len(s.bundle) < 2:
                raise Invalid(f"bundle {s.code} needs at least two services", f"联办主题 {s.code} 至少需要两项业务")
        for w in self.windows:
            for code in w.items:
                owner = self.item_service(code)
                if owner is None:
                    raise Invalid(f"window {w.id} names unknown sub-item {code}",
                                  f"{w.id}号窗口的事项 {code} 在本大厅不存在")
                if owner.code not in w.services:
                    raise Invalid(f"window {w.id} has sub-item {code} but not its service {owner.code}",
                                  f"{w.id}号窗口有事项 {code}，但没有其所属业务 {owner.code}")
        unknown = set(self.appointments.services) | set(self.appointments.capacities)
        unknown -= set(codes)
        if unknown:
            raise Invalid(f"appointments name unknown services {sorted(unknown)}",
                          f"预约设置中的业务 {'、'.join(sorted(unknown))} 在本大厅不存在")
        staff = [m.id for m in self.staff]
        dupes = sorted({v for v in staff if staff.count(v) > 1})
        if dupes:
            raise Invalid(f"staff id used twice: {', '.join(dupes)}", f"工作人员编号重复：{'、'.join(dupes)}")
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise Invalid(f"days listed both as holidays and as workdays: {', '.join(map(str, both))}",
                          f"以下日期同时列为节假日和调休上班日：{'、'.join(map(str, both))}")

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
        raise Invalid(f"opening hours {text!r} should look like 08:30-12:00", f"办公时段 {text!r} 应写作 08:30-12:00")
    return {"start": start.strip(), "end": end.strip()}


def hall_data(path: str | Path) -> dict[str, Any]:
    """A hall file's data (.toml, .yaml or .yml), not checked yet."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        return tomllib.loads(text)
    if path.suffix in (".yaml", ".yml"):
        data: dict[str, Any] = yaml.safe_load(text)
        return data
    raise ValueError(f"{path}: hall files are .toml, .yaml or .yml")


def load_hall(path: str | Path) -> HallConfig:
    """Read a hall from a .toml, .yaml or .yml file."""
    return HallConfig.model_validate(hall_data(path))
