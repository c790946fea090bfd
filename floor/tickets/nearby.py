"""就近办: a hall asked for a service or sub-item it is not authorised for names the nearest halls of its county that
can serve it, each with how far it is and how long its line is now, so the citizen is sent on, not away."""

from __future__ import annotations

import re
from typing import Any

from floor.http.kit import ApiError, Ctx, Endpoints, Param
from floor.network.rules import county_of, nearby

SHOWN = 3
_SERVICE = re.compile(r"[A-Z][A-Z0-9]{0,7}")  # queue_engine.config's shapes of a service's and a sub-item's code
_ITEM = re.compile(r"[A-Z][A-Z0-9-]{0,15}")
ENDPOINTS = Endpoints()
NEARBY_PARAMS = (
    Param("service", "query", "The service's code, e.g. SOC.", {"type": "string", "maxLength": 8}),
    Param("item", "query", "A sub-item's code, e.g. SOC-RETIRE (optional).", {"type": "string", "maxLength": 16}),
)


@ENDPOINTS.add("GET", "/nearby", roles=("guide", "kiosk", "manager"), params=NEARBY_PARAMS)
async def nearby_halls(ctx: Ctx, _: Any) -> dict[str, Any]:
    """就近办: the nearest halls of the county that can serve ?service= (and ?item=), with their distance and their
    line now; empty when this hall can serve it itself, or no hall of the county can."""
    service, item = ctx.request.query_params.get("service") or "", ctx.request.query_params.get("item") or None
    if not _SERVICE.fullmatch(service) or (item is not None and not _ITEM.fullmatch(item)):
        raise ApiError(422, "invalid_request", "Say which service (?service=SOC, at most 8 characters) and, if one, "
                       "which sub-item (?item=SOC-RETIRE, at most 16).",
                       "请注明业务（?service=SOC，最多8个字符），如有事项请注明事项（?item=SOC-RETIRE，最多16个字符）。",
                       fields=[{"field": "item" if _SERVICE.fullmatch(service) else "service",
                                "problem": "missing, or not a code"}])
    here = ctx.hall.config.service(service)
    if here is not None and (item is None or here.item(item) is not None):
        return {"service": service, "item": item, "here": True, "nearby": []}
    refusal = await nearby_refusal(ctx, service, item)
    return {"service": service, "item": item, "here": False,
            "nearby": refusal.extra["nearby"] if refusal is not None else []}


async def nearby_refusal(ctx: Ctx, service: str, item: str | None) -> ApiError | None:
    """The refusal that sends the citizen to the nearest halls that can serve them, or None when no hall of the
    county can (then the plain refusal stands: the service or sub-item is unknown)."""
    network = ctx.runtime.network
    if network is None:
        return None
    halls = [h.config for h in ctx.runtime.halls.values()]
    found = nearby(network, ctx.hall.config, halls, service, item, SHOWN)
    if not found:
        return None
    what_zh = what_en = service
    places: list[dict[str, Any]] = []
    for hall, km in found:
        svc = hall.service(service)
        assert svc is not None
        entry = svc.item(item) if item else None
        what_zh, what_en = (entry.name_zh, entry.name_en or entry.name_zh) if entry else (svc.name_zh, svc.name_en)
        line = next((s for s in (await ctx.runtime.halls[hall.id].engine.snapshot())["services"]
                     if s["code"] == service), None)
        places.append({"hall": hall.id, "name": hall.name, "level": hall.level, "address": hall.address,
                       "distance_km": None if km is None else round(km, 1),
                       "waiting": line["waiting"] if line else None,
                       "estimated_wait_s": line["estimated_wait_s"] if line else None})
    zh = "；".join(_place_zh(p) for p in places)
    en = "; ".join(_place_en(p) for p in places)
    return ApiError(422, "not_authorised", f"This hall is not authorised for {what_en}; the nearest that are: {en}.",
                    f"本站未获授权办理{what_zh}，可就近到：{zh}。", nearby=places)


def _minutes(seconds: int | None) -> int:
    return max(1, round((seconds or 0) / 60))


def _place_zh(p: dict[str, Any]) -> str:
    far = f"约{p['distance_km']}公里，" if p["distance_km"] is not None else ""
    line = f"{p['waiting']}人等候，约{_minutes(p['estimated_wait_s'])}分钟" if p["waiting"] is not None else ""
    return f"{p['name']}（{far}{line}）" if far or line else p["name"]


def _place_en(p: dict[str, Any]) -> str:
    far = f"{p['distance_km']} km" if p["distance_km"] is not None else ""
    line = f"{p['waiting']} waiting, about {_minutes(p['estimated_wait_s'])} min" if p["waiting"] is not None else ""
    inside = ", ".join(x for x in (far, line) if x)
    return f"{p['name']} ({inside})" if inside else p["name"]


@ENDPOINTS.add("GET", "/nearby/items", roles=("guide", "kiosk", "manager"))
async def elsewhere(ctx: Ctx, _: Any) -> dict[str, Any]:
    """What other halls of the county serve and this one does not (its services, or sub-items of them): the guide
    desk and the kiosk offer these with 就近办 (GET /nearby for where)."""
    network, here = ctx.runtime.network, ctx.hall.config
    county = county_of(network, here.region) if network is not None else None
    if network is None or county is None:
        return {"items": []}
    below = network.below(county)
    found: dict[tuple[str, str | None], dict[str, Any]] = {}
    for hall in (h.config for h in ctx.runtime.halls.values()):
        if hall.id == here.id or hall.region not in below:
            continue
        for svc in hall.services:
            mine = here.service(svc.code)
            wanting = [(svc, None)] if not svc.items and mine is None else [
                (svc, i) for i in svc.items if mine is None or mine.item(i.code) is None]
            for s, i in wanting:
                found.setdefault((s.code, i.code if i else None), {
                    "service": s.code, "service_name": s.name_zh, "service_name_en": s.name_en,
                    "item": i.code if i else None, "item_name": i.name_zh if i else None,
                    "item_name_en": (i.name_en or i.name_zh) if i else None})
    return {"items": sorted(found.values(), key=lambda x: (x["service"], x["item"] or ""))}
