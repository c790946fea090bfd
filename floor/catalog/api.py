"""受理事典 over HTTP: the hall's catalog (guide desk, kiosk, booking page), and one sub-item or theme bundle with
its 一次性告知 notice (the printable notice page reads these)."""

from __future__ import annotations

from datetime import date
from typing import Any

from floor.catalog.rules import (
    BundleDetailOut,
    CatalogOut,
    ItemDetailOut,
    Lang,
    build_catalog,
    bundle_detail,
    item_detail,
)
from floor.http.auth import ALL_ROLES
from floor.http.kit import ApiError, Ctx, Endpoints, Param

ENDPOINTS = Endpoints()

SHOWN_CODE = 40  # a code echoed in a message is cut here: whatever was typed, the sentence stays a sentence


def _today(ctx: Ctx) -> date:
    return ctx.hall.config.local(ctx.hall.engine.clock()).date()


def _lang(ctx: Ctx) -> Lang:
    return "en" if ctx.lang == "en" else "zh"


@ENDPOINTS.add("GET", "/catalog", roles=ALL_ROLES, response=CatalogOut)
async def get_catalog(ctx: Ctx, _: Any) -> CatalogOut:
    """The service catalog (受理事典): services and their sub-items with materials, forms, legal basis and promised
    time, theme bundles with the union of their members' materials, and which windows serve what."""
    return build_catalog(ctx.hall.config, _today(ctx))


# The demo's codes as examples: the document is every hall's, and a client (or the fuzzer) learns the shape from them.
ITEM_PARAM = Param("item", "path", "A sub-item's code, from GET /catalog.",
                   {"type": "string", "minLength": 1, "examples": ["SOC-RETIRE"]})
BUNDLE_PARAM = Param("bundle", "path", "A theme bundle's service code, from GET /catalog.",
                     {"type": "string", "minLength": 1, "examples": ["RESTO"]})


@ENDPOINTS.add("GET", "/catalog/items/{item}", roles=ALL_ROLES, response=ItemDetailOut, params=(ITEM_PARAM,))
async def get_catalog_item(ctx: Ctx, _: Any) -> ItemDetailOut:
    """One sub-item (e.g. SOC-RETIRE) with its 一次性告知 notice in the request's language."""
    code = ctx.path("item")
    found = item_detail(ctx.hall.config, code, _today(ctx), _lang(ctx))
    if found is None:
        shown = code[:SHOWN_CODE]
        raise ApiError(404, "unknown_item",
                       f"This hall's catalog has no sub-item {shown}; choose one from the catalog.",
                       f"本大厅受理事典中没有事项 {shown}，请从事项列表中选择。")
    return found


@ENDPOINTS.add("GET", "/catalog/bundles/{bundle}", roles=ALL_ROLES, response=BundleDetailOut, params=(BUNDLE_PARAM,))
async def get_catalog_bundle(ctx: Ctx, _: Any) -> BundleDetailOut:
    """One theme bundle (一件事, e.g. RESTO): its member services, the union of their materials, and its notice."""
    hall, code = ctx.hall.config, ctx.path("bundle")
    found = bundle_detail(hall, code, _today(ctx), _lang(ctx))
    if found is not None:
        return found
    shown = code[:SHOWN_CODE]
    service = hall.service(code)
    if service is None:
        raise ApiError(404, "unknown_service", f"There is no service {shown} in this hall; check the code.",
                       f"本大厅没有业务 {shown}，请核对业务代码。")
    bundles = ", ".join(s.code for s in hall.services if s.is_bundle)
    raise ApiError(404, "not_a_bundle",
                   f"{shown} is a single service, not a theme bundle; bundles here: {bundles or 'none'}.",
                   f"{shown} 是单项业务，不是主题联办；本大厅的主题联办：{bundles or '无'}。")
