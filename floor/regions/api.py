"""A region's own endpoints (``/api/v1/regions/{region}/...``), for the managers who answer for it."""

from __future__ import annotations

from typing import Any

import orjson

from floor.http.kit import Endpoints, RegionCtx
from floor.regions.watch import RegionWatch

ENDPOINTS = Endpoints()


@ENDPOINTS.add("GET", "", roles=("manager",), scope="region")
async def region(ctx: RegionCtx, _: Any) -> dict[str, Any]:
    """The region: its name and kind, the regions above it, those right under it, and every hall below it with its
    level, address and region."""
    network = ctx.runtime.network
    assert network is not None
    under = [r for r in network.regions if r.parent == ctx.region.id]
    return {"region": ctx.region.id, "name": ctx.region.name, "kind": ctx.region.kind,
            "path": [{"region": r.id, "name": r.name, "kind": r.kind} for r in network.path(ctx.region.id)],
            "regions": [{"region": r.id, "name": r.name, "kind": r.kind} for r in under],
            "halls": [{"hall": h.config.id, "name": h.config.name, "level": h.config.level,
                       "region": h.config.region, "address": h.config.address} for h in ctx.halls]}


@ENDPOINTS.add("GET", "/overview", roles=("manager",), scope="region")
async def overview(ctx: RegionCtx, _: Any) -> Any:
    """区域总览 once: every hall below with its waiting, longest wait, windows open of planned and alerts, and the
    region's totals; ``WS /api/v1/regions/{region}/ws/overview`` sends the same, then what changes, live."""
    watch: RegionWatch = ctx.runtime.region_watch
    lines = await watch.snapshot(ctx.region.id)
    return orjson.loads(lines)
