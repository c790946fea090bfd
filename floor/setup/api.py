"""The hall's set-up, read and changed live by its managers and admins: services with their sub-items, materials
and notice text; windows with their skills, primary services and B posts; opening hours, lunch, holidays and 调休.

Every change names the version it was made from: two people editing at once never overwrite each other unseen (the
second is told to reload). It is checked whole, audited with what it changed (before and after), and runs in every
worker of the hall at once (``floor.setup.live``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.responses import Response

from floor.accounts import holders
from floor.http.body import RequestBody
from floor.http.kit import ApiError, Ctx, Endpoints, Param
from floor.setup import files, live, rules
from queue_engine.config import Service, Window

ENDPOINTS = Endpoints()
EDITORS = ("manager", "admin")

VERSION_PARAM = Param("version", "query", "The set-up's version the removal was decided on, from GET /setup.",
                      {"type": "integer", "minimum": 0})
Hours = Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")]
Code = Annotated[str, StringConstraints(min_length=1, max_length=16)]  # a service's or sub-item's code


class SetupOut(BaseModel):
    version: int
    source: str = Field(description='"live" (edited here) or "file:<sha256>" of the file it was imported from.')
    changed_at: datetime | None = Field(None, description="When this version was made.")
    changed_by: str | None = Field(None, description="Who made it: role, and the account or token id.")
    config: dict[str, Any] = Field(description="The whole set-up, as GET /config gives it and `hallq export` writes.")
    keeps_catalog: dict[str, str] | None = Field(None, description='{"region", "name"}: these services are that '
                                                 "region's 受理事典, which its halls take theirs from.")


class ServicePut(RequestBody):
    version: int = Field(ge=0, strict=True, description="The set-up's version this change was made from (GET /setup).")
    service: Service


class WindowPut(RequestBody):
    version: int = Field(ge=0, strict=True)
    window: Window


class CalendarPut(RequestBody):
    version: int = Field(ge=0, strict=True)
    hours: list[Hours] = Field(min_length=1, max_length=6, description='Sessions such as "08:30-12:00"; the gaps '
                                                                      "between them are the lunch break.")
    holidays: list[date] = Field(default_factory=list, max_length=100)
    workdays: list[date] = Field(default_factory=list, max_length=100, description="Weekend days worked (调休).")


class ImportIn(BaseModel):
    # Not a RequestBody: a file has line breaks, which every other text refuses (its NULs are refused when checked).
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, strict=True)
    toml: str = Field(min_length=1, max_length=60_000, description="A hall file, as `hallq export` writes it.")


class AuthorisedPut(RequestBody):
    version: int = Field(ge=0, strict=True)
    authorised: list[Code] = Field(max_length=2000, description="Codes of the catalog's services (each with every "
                                                                "sub-item) and sub-items this hall accepts.")


class CountyCatalogOut(BaseModel):
    catalog: str = Field(description="The region whose 受理事典 this hall takes its services from.")
    name: str = Field(description="The region's name.")
    services: list[dict[str, Any]] = Field(description="The catalog: every service and sub-item of the region.")
    authorised: list[str] = Field(description="What this hall is authorised for, of the catalog.")
    version: int


class ChangedOut(BaseModel):
    version: int
    changes: list[dict[str, Any]]
    followers: list[dict[str, Any]] = Field(default_factory=list, description="A county catalog changed: each hall "
                                            "taking its services from it, with its new version or why it cannot "
                                            "follow yet (live tickets of what the catalog dropped).")


def _refused(refused: rules.SetupRefused) -> ApiError:
    return ApiError(refused.status, refused.code, refused.en, refused.zh, fields=refused.fields)


async def _apply(ctx: Ctx, make: Any, version: int) -> ChangedOut:
    try:
        edit: rules.Edit = make(ctx.hall.config)
    except rules.SetupRefused as refused:
        raise _refused(refused) from None
    if not edit.changes or all(c["before"] == c["after"] for c in edit.changes):
        return ChangedOut(version=ctx.hall.engine.config_version, changes=[])
    new_version = await live.apply(ctx.hall.engine, edit, version)
    return ChangedOut(version=new_version, changes=edit.changes)


def _services_editable(ctx: Ctx) -> str | None:
    """Refuse a change of this hall's services unless it is its to make; the region whose catalog they are, if
    they are one (the halls of the catalog follow the change)."""
    hall = ctx.hall.config
    network = ctx.runtime.network
    if hall.catalog is not None:
        raise ApiError(409, "from_catalog", f"This hall takes its services from the {hall.catalog} catalog: change "
                       "what it is authorised for (PUT /setup/authorised); the catalog is kept by the county.",
                       f"本大厅的业务取自 {hall.catalog} 受理事典，请修改授权事项；事典本身由县级管理员维护。")
    region = ctx.runtime.catalog_kept_by(hall.id)
    if region is None or network is None:
        return None
    p = ctx.principal
    if p is None or p.region is None or p.region not in {r.id for r in network.path(region)}:
        named = network.region(region)
        name = named.name if named else region
        raise ApiError(403, "catalog_keepers_only", f"These services are the {region} catalog, which every hall of "
                       "it takes its services from: an admin or manager of the region changes them.",
                       f"这些业务即{name}受理事典，全县各网点据此办理，须由{name}的管理员修改。")
    return region


async def _followed(ctx: Ctx, changed: ChangedOut, region: str | None) -> ChangedOut:
    if region is None or not changed.changes:
        return changed
    return changed.model_copy(update={"followers": await live.follow_catalog(ctx.runtime, region, ctx.lang)})


async def _window_not_held(ctx: Ctx, window_id: str) -> None:
    held = await holders.read(ctx.hall.engine.redis, ctx.hall.engine.keys.holders)
    if window_id in held:
        name = held[window_id].name
        raise ApiError(409, "window_held", f"{name} is signed in at window {window_id}; they sign out of it first.",
                       f"{name}正在{window_id}号窗口上岗，请其先退出该窗口。")


def _version(ctx: Ctx) -> int:
    raw = ctx.request.query_params.get("version")
    if raw is None or not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        raise ApiError(422, "invalid_request", "Say which version of the set-up the removal was decided on: "
                       "?version=N, from GET /setup.", "请注明基于哪一版设置删除：?version=N（见 GET /setup）。",
                       fields=[{"field": "version", "problem": "missing or not a number"}])
    return int(raw)


@ENDPOINTS.add("GET", "/setup", roles=EDITORS, response=SetupOut)
async def get_setup(ctx: Ctx, _: Any) -> SetupOut:
    """The set-up the hall runs on now, and its version (every change names it)."""
    engine = ctx.hall.engine
    at, by = await engine.redis.hmget(engine.keys.config, ["at", "by"])
    changed_at = datetime.fromtimestamp(int(at) / 1000, engine.hall.zone) if at else None
    region = ctx.runtime.catalog_kept_by(engine.hall.id)
    named = ctx.runtime.network.region(region) if region and ctx.runtime.network else None
    return SetupOut(version=engine.config_version, source=engine.config_source, changed_at=changed_at,
                    changed_by=(by.decode() if isinstance(by, bytes) else by) or None,
                    config=engine.hall.model_dump(mode="json"),
                    keeps_catalog={"region": region, "name": named.name if named else region} if region else None)


@ENDPOINTS.add("PUT", "/setup/services/{code}", roles=EDITORS, body=ServicePut, response=ChangedOut,
               refusals=((409, "the set-up changed meanwhile"),))
async def put_service(ctx: Ctx, body: ServicePut) -> ChangedOut:
    """Add a service or change it: names, letter, target wait, expected handling time, sub-items with their
    materials, forms and notice text, or the members of a theme bundle."""
    code = ctx.path("code")
    region = _services_editable(ctx)
    changed = await _apply(ctx, lambda config: rules.put_service(config, code, body.service.model_dump(mode="json")),
                           body.version)
    return await _followed(ctx, changed, region)


@ENDPOINTS.add("DELETE", "/setup/services/{code}", roles=EDITORS, response=ChangedOut, params=(VERSION_PARAM,),
               refusals=((409, "tickets of the service are still live, or a bundle holds it"),))
async def remove_service(ctx: Ctx, _: Any) -> ChangedOut:
    """Remove a service once nobody waits for it or is served for it; windows stop serving it."""
    code = ctx.path("code")
    if ctx.hall.config.service(code) is None:
        raise ApiError(404, "unknown_service", f"There is no service {code[:40]} in this hall.",
                       f"本大厅没有业务 {code[:40]}。")
    version = _version(ctx)
    region = _services_editable(ctx)
    return await _followed(ctx, await _apply(ctx, lambda config: rules.remove_service(config, code), version), region)


@ENDPOINTS.add("PUT", "/setup/windows/{window}", roles=EDITORS, body=WindowPut, response=ChangedOut,
               refusals=((409, "the set-up changed meanwhile"),))
async def put_window(ctx: Ctx, body: WindowPut) -> ChangedOut:
    """Add a window or change it: name, the services it serves and calls first, sub-item skills, its B post (AB岗).
    New skills apply to the window's next call; a new window can be opened at once."""
    window_id = ctx.path("window")
    return await _apply(ctx, lambda config: rules.put_window(config, window_id, body.window.model_dump(mode="json")),
                        body.version)


@ENDPOINTS.add("DELETE", "/setup/windows/{window}", roles=EDITORS, response=ChangedOut, params=(VERSION_PARAM,),
               refusals=((409, "the window is open, held by someone, or has tickets transferred to it"),))
async def remove_window(ctx: Ctx, _: Any) -> ChangedOut:
    """Remove a window that is closed, with nobody signed in at it and no ticket transferred to it."""
    window_id = ctx.path("window")
    if ctx.hall.config.window(window_id) is None:
        raise ApiError(404, "unknown_window", f"There is no window {window_id[:40]} in this hall.",
                       f"本大厅没有 {window_id[:40]} 号窗口。")
    version = _version(ctx)
    await _window_not_held(ctx, window_id)
    return await _apply(ctx, lambda config: rules.remove_window(config, window_id), version)


@ENDPOINTS.add("PUT", "/setup/calendar", roles=EDITORS, body=CalendarPut, response=ChangedOut)
async def put_calendar(ctx: Ctx, body: CalendarPut) -> ChangedOut:
    """Opening hours (the gap between sessions is lunch), public holidays and weekend workdays (调休)."""
    return await _apply(ctx, lambda config: rules.put_calendar(config, body.hours, body.holidays, body.workdays),
                        body.version)


@ENDPOINTS.add("POST", "/setup/import", roles=("admin",), body=ImportIn, response=ChangedOut)
async def import_setup(ctx: Ctx, body: ImportIn) -> ChangedOut:
    """Replace the whole set-up with a hall file (TOML, as exported); a wrong line is named with its field."""

    def make(config: Any) -> rules.Edit:
        try:
            files.check(body.toml, "toml")  # a refusal that names the line: "toml:12: services.1.letter: ..."
        except rules.SetupRefused as refused:
            for f in refused.fields:  # fields of the request: the file is its "toml"
                f["field"] = f"toml.{f['field']}" if f.get("field") else "toml"
            raise
        return rules.replace_all(config, files.parse(body.toml, "toml"))

    region = ctx.runtime.catalog_kept_by(ctx.hall.config.id)
    if region is not None:
        _services_editable(ctx)
    return await _followed(ctx, await _apply(ctx, make, body.version), region)


@ENDPOINTS.add("GET", "/setup/catalog", roles=EDITORS, response=CountyCatalogOut,
               refusals=((409, "the hall keeps its own services"),))
async def get_county_catalog(ctx: Ctx, _: Any) -> CountyCatalogOut:
    """The county catalog (受理事典) this hall takes its services from, and what it is authorised for of it."""
    hall = ctx.hall.config
    catalog = ctx.runtime.catalog_of(hall.catalog) if hall.catalog else None
    if hall.catalog is None or catalog is None or ctx.runtime.network is None:
        raise ApiError(409, "no_catalog", "This hall keeps its own services; it takes none from a county catalog.",
                       "本大厅的业务由本大厅自行设置，不取自县受理事典。")
    region = ctx.runtime.network.region(hall.catalog)
    return CountyCatalogOut(catalog=hall.catalog, name=region.name if region else hall.catalog,
                      services=[s.model_dump(mode="json") for s in catalog], authorised=list(hall.authorised),
                      version=ctx.hall.engine.config_version)


@ENDPOINTS.add("PUT", "/setup/authorised", roles=EDITORS, body=AuthorisedPut, response=ChangedOut,
               refusals=((409, "the set-up changed meanwhile, a window would serve nothing, or tickets are live"),))
async def put_authorised(ctx: Ctx, body: AuthorisedPut) -> ChangedOut:
    """What this hall accepts of its county's catalog (a village: a dozen items; a bank outlet: its list). Windows
    stop serving what it is no longer authorised for; an item with live tickets stays until they are done."""
    hall = ctx.hall.config
    catalog = ctx.runtime.catalog_of(hall.catalog) if hall.catalog else None
    return await _apply(ctx, lambda config: rules.authorise(config, catalog or (), list(body.authorised)),
                        body.version)


@ENDPOINTS.add("GET", "/setup/export", roles=EDITORS)
async def export_setup(ctx: Ctx, _: Any) -> Response:
    """The set-up as a TOML hall file, for `hallq import` or another server."""
    config = ctx.hall.config
    return Response(files.export(config), media_type="application/toml; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{config.id}.toml"'})
