"""Editing a hall's set-up: each edit takes the configuration it runs on and gives the next one, checked whole.

Pure: no I/O. Every refusal says what to correct in Chinese and English, naming the field (the configuration's own
checks, ``queue_engine.config.Invalid``, say it in both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from floor.http.body import problem_en, problem_zh
from floor.network.rules import authorised_services
from queue_engine.config import HallConfig, Invalid, Service, Window

Json = dict[str, Any]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # line breaks and tabs are fine in a notice's notes


class SetupRefused(Exception):
    """An edit or a file the hall cannot run on; nothing was changed."""

    def __init__(self, en: str, zh: str, fields: list[Json] | None = None, status: int = 422,
                 code: str = "invalid_request") -> None:
        super().__init__(en)
        self.en, self.zh, self.fields, self.status, self.code = en, zh, fields or [], status, code


@dataclass(frozen=True)
class Edit:
    """The configuration after an edit, and what changed, for the audit (before and after)."""

    config: HallConfig
    changes: list[Json] = field(default_factory=list)


def checked(data: Json) -> HallConfig:
    """The hall ``data`` describes, or a refusal naming every field that is wrong."""
    texts = [path for path, text in _texts(data) if _CONTROL.search(text)]
    if texts:
        names = ", ".join(texts[:5])
        raise SetupRefused(f"Remove the control characters from: {names}.", f"请删除以下字段中的控制字符：{names}。",
                           [{"field": path, "problem": "control characters"} for path in texts])
    try:
        return HallConfig.model_validate(data)
    except ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]) or "hall", "problem": problem_en(e),
                   "problem_zh": problem_zh(e)} for e in exc.errors()]
        en = "; ".join(f"{f['field']}: {f['problem']}" if f["field"] != "hall" else f["problem"] for f in fields[:5])
        zh = "；".join(f"{f['field']}：{f['problem_zh']}" if f["field"] != "hall" else f["problem_zh"]
                      for f in fields[:5])
        raise SetupRefused(f"The set-up cannot be used: {en}.", f"设置有误：{zh}。", fields) from None


def _checked_as(data: Json, table: str, index: int, name: str) -> HallConfig:
    """``checked``, its fields named as the request names them: ``services.4.letter`` is the body's
    ``service.letter`` when the edit is of the fifth service."""
    try:
        return checked(data)
    except SetupRefused as refused:
        own = f"{table}.{index}"
        for f in refused.fields:
            if f["field"] == own or f["field"].startswith(own + "."):
                f["field"] = name + f["field"][len(own):]
        raise


def _texts(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _texts(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list | tuple):
        return [t for i, v in enumerate(value) for t in _texts(v, f"{path}.{i}")]
    return []


def _data(config: HallConfig) -> Json:
    data: Json = config.model_dump(mode="json")
    return data


def _change(what: str, key: str, before: Any, after: Any) -> Json:
    return {"what": what, "id": key, "before": before, "after": after}


# -- the edits ------------------------------------------------------------------------------------------------------
def put_service(config: HallConfig, code: str, service: Json) -> Edit:
    """Add the service ``code`` or replace it (its names, letter, target wait, sub-items, materials, notes)."""
    if service.get("code", code) != code:
        raise SetupRefused(f"The service's code is {code} (the address); to rename it, add a new service and remove "
                           "this one.", f"业务代码为 {code}（见地址）；如需改代码，请新增业务后删除原业务。",
                           [{"field": "code", "problem": "differs from the address"}])
    data = _data(config)
    service = {**service, "code": code}
    before = next((s for s in data["services"] if s["code"] == code), None)
    data["services"] = ([service if s["code"] == code else s for s in data["services"]] if before else
                        [*data["services"], service])
    new = _checked_as(data, "services", [s["code"] for s in data["services"]].index(code), "service")
    return Edit(new, [_change("service", code, before, _find_service(new, code))])


def remove_service(config: HallConfig, code: str) -> Edit:
    """Remove a service; the windows that served it stop serving it, and bookings stop being offered for it."""
    data = _data(config)
    before = next((s for s in data["services"] if s["code"] == code), None)
    if before is None:
        raise SetupRefused(f"There is no service {code} in this hall.", f"本大厅没有业务 {code}。", status=404,
                           code="not_found")
    bundles = [s["code"] for s in data["services"] if code in (s.get("bundle") or [])]
    if bundles:
        names = ", ".join(bundles)
        raise SetupRefused(f"The theme bundle {names} holds {code}; take it out of the bundle first.",
                           f"联办主题 {names} 包含 {code}，请先将其移出联办主题。", status=409, code="in_a_bundle")
    items = {i["code"] for i in before.get("items") or []}
    data["services"] = [s for s in data["services"] if s["code"] != code]
    for w in data["windows"]:
        w["services"] = [s for s in w["services"] if s != code]
        w["primary"] = [s for s in w["primary"] if s != code]
        w["items"] = [i for i in w["items"] if i not in items]
    lost = [w["id"] for w in data["windows"] if not w["services"]]
    if lost:
        names = ", ".join(lost)
        raise SetupRefused(f"Window {names} would serve nothing without {code}; give it another service or remove it "
                           "first.", f"删除 {code} 后 {names}号窗口将无业务可办，请先为其增加业务或删除该窗口。",
                           status=409, code="window_left_empty")
    appointments = data["appointments"]
    appointments["services"] = [s for s in appointments["services"] if s != code]
    appointments["capacities"].pop(code, None)
    return Edit(checked(data), [_change("service", code, before, None)])


def put_window(config: HallConfig, window_id: str, window: Json) -> Edit:
    """Add the window ``window_id`` or replace it (its name, skills, primary services, B post)."""
    if window.get("id", window_id) != window_id:
        raise SetupRefused(f"The window's id is {window_id} (the address).", f"窗口编号为 {window_id}（见地址）。",
                           [{"field": "id", "problem": "differs from the address"}])
    data = _data(config)
    window = {**window, "id": window_id}
    before = next((w for w in data["windows"] if w["id"] == window_id), None)
    data["windows"] = ([window if w["id"] == window_id else w for w in data["windows"]] if before else
                       [*data["windows"], window])
    new = _checked_as(data, "windows", [w["id"] for w in data["windows"]].index(window_id), "window")
    return Edit(new, [_change("window", window_id, before, _find_window(new, window_id))])


def remove_window(config: HallConfig, window_id: str) -> Edit:
    data = _data(config)
    before = next((w for w in data["windows"] if w["id"] == window_id), None)
    if before is None:
        raise SetupRefused(f"There is no window {window_id} in this hall.", f"本大厅没有 {window_id} 号窗口。",
                           status=404, code="not_found")
    data["windows"] = [w for w in data["windows"] if w["id"] != window_id]
    for w in data["windows"]:
        if w.get("stand_in") == window_id:
            w["stand_in"] = None  # its A post has no B post any more; the audit shows it
    return Edit(checked(data), [_change("window", window_id, before, None)])


def put_calendar(config: HallConfig, hours: list[str], holidays: list[date], workdays: list[date]) -> Edit:
    """Opening hours (the gaps between sessions are the lunch break), public holidays and weekend workdays (调休)."""
    data = _data(config)
    before = {"hours": data["hours"], "holidays": data["holidays"], "workdays": data["workdays"]}
    data.update(hours=hours, holidays=sorted({d.isoformat() for d in holidays}),
                workdays=sorted({d.isoformat() for d in workdays}))
    new = checked(data)
    after = _data(new)
    return Edit(new, [_change("calendar", "hours", before, {k: after[k] for k in before})])


def authorise(config: HallConfig, catalog: tuple[Service, ...], authorised: list[str]) -> Edit:
    """What a hall that takes its services from its county's catalog is authorised for: its services become the
    catalog's services and sub-items named (``floor.network.rules.authorised_services``), and its windows stop
    serving what it is no longer authorised for. Also how such a hall follows a change of the catalog itself."""
    if config.catalog is None:
        raise SetupRefused("This hall keeps its own services (it takes none from a county catalog); edit them "
                           "instead.", "本大厅的业务由本大厅自行设置（不取自县受理事典），请直接修改业务。",
                           status=409, code="no_catalog")
    try:
        services = authorised_services(catalog, tuple(dict.fromkeys(authorised)))
    except Invalid as refused:
        en = str(refused)
        raise SetupRefused(f"{en[:1].upper()}{en[1:]}.", f"{refused.zh}。",
                           [{"field": "authorised", "problem": en, "problem_zh": refused.zh}]) from None
    data = _data(config)
    before = {"authorised": data["authorised"], "services": [s["code"] for s in data["services"]]}
    data.update(authorised=list(dict.fromkeys(authorised)), services=services)
    codes = {s["code"] for s in services}
    items = {i["code"] for s in services for i in s.get("items") or []}
    for w in data["windows"]:
        w["services"] = [s for s in w["services"] if s in codes]
        w["primary"] = [s for s in w["primary"] if s in codes]
        w["items"] = [i for i in w["items"] if i in items]
    lost = [w["id"] for w in data["windows"] if not w["services"]]
    if lost:
        names = ", ".join(lost)
        raise SetupRefused(f"Window {names} would serve nothing this hall is authorised for; authorise what it "
                           "serves, or change the window first.",
                           f"按此授权，{names}号窗口将无业务可办，请保留其所办事项或先修改该窗口。",
                           [{"field": "authorised", "problem": "a window left with nothing to serve"}],
                           status=409, code="window_left_empty")
    appointments = data["appointments"]
    appointments["services"] = [s for s in appointments["services"] if s in codes]
    appointments["capacities"] = {k: v for k, v in appointments["capacities"].items() if k in codes}
    new = checked(data)
    after = {"authorised": list(new.authorised), "services": [s.code for s in new.services]}
    return Edit(new, [_change("authorised", config.id, before, after)])


def following(config: HallConfig, catalog: tuple[Service, ...]) -> Edit:
    """A hall of the catalog after the catalog changed: what it is authorised for that the catalog still has."""
    known = {s.code for s in catalog} | {i.code for s in catalog for i in s.items}
    return authorise(config, catalog, [code for code in config.authorised if code in known])


def replace_all(config: HallConfig, data: Json) -> Edit:
    """A whole file imported: every service and window that differs is recorded as changed."""
    if data.get("id", config.id) != config.id:
        raise SetupRefused(f"This file is for hall {data.get('id')!r}, not {config.id!r}.",
                           f"此文件是大厅 {data.get('id')!r} 的设置，不是 {config.id!r} 的。",
                           [{"field": "id", "problem": "another hall"}])
    new = checked(data)
    old_data, new_data = _data(config), _data(new)
    changes = []
    for what, key in (("service", "code"), ("window", "id")):
        before = {x[key]: x for x in old_data[what + "s"]}
        after = {x[key]: x for x in new_data[what + "s"]}
        changes += [_change(what, k, before.get(k), after.get(k)) for k in dict.fromkeys([*before, *after])
                    if before.get(k) != after.get(k)]
    rest = {k: v for k, v in new_data.items() if k not in ("services", "windows") and old_data.get(k) != v}
    if rest:
        changes.append(_change("hall", config.id, {k: old_data.get(k) for k in rest}, rest))
    return Edit(new, changes)


def _find_service(config: HallConfig, code: str) -> Json | None:
    service: Service | None = config.service(code)
    return None if service is None else service.model_dump(mode="json")


def _find_window(config: HallConfig, window_id: str) -> Json | None:
    window: Window | None = config.window(window_id)
    return None if window is None else window.model_dump(mode="json")
