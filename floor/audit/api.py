"""The audit trail of a hall: who did what, when (managers and admins read it)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import QueryParams

from floor.audit.store import MAX_LIMIT, AuditQuery, read_audit
from floor.http.kit import ApiError, Ctx, Endpoints, Param, query_limit, query_time
from floor.sql.db import AuditRow

ENDPOINTS = Endpoints()

MAX_FILTER = 64  # a role, a token id or a window id is far shorter


class AuditEntry(BaseModel):
    at: datetime
    role: str
    token_id: str  # which token acted: a device or a person's sign-in, never the token itself
    window: str | None
    action: str  # the event's type, e.g. ticket.called
    ticket: str | None
    details: dict[str, Any]
    event_id: str | None  # the stream id of the event it records


class AuditOut(BaseModel):
    hall: str
    entries: list[AuditEntry]


_TIME = {"type": "string", "format": "date-time"}
AUDIT_PARAMS = (
    Param("limit", "query", "At most this many entries, newest first (default 100).",
          {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    Param("since", "query", "Only entries at or after this time (ISO 8601; without an offset, the hall's time).",
          _TIME),
    Param("until", "query", "Only entries before this time (ISO 8601; without an offset, the hall's time).", _TIME),
    Param("actor", "query", "Only this role's entries (e.g. staff), or this token id's.",
          {"type": "string", "maxLength": MAX_FILTER}),
    Param("window", "query", "Only entries at this window.", {"type": "string", "maxLength": MAX_FILTER}),
)


@ENDPOINTS.add("GET", "/audit", roles=("manager",), response=AuditOut, params=AUDIT_PARAMS)
async def audit(ctx: Ctx, _: Any) -> AuditOut:
    """Who did what, newest first: ?limit= (up to 1000), ?since= and ?until= (ISO 8601), ?actor= (a role or a
    token id), ?window=. Written by the archiver, so the last second or so may not be there yet."""
    query = _query(ctx, ctx.request.query_params)
    rows = await asyncio.to_thread(read_audit, ctx.runtime.sql, ctx.hall.config.id, query)
    zone = ctx.hall.config.zone
    return AuditOut(hall=ctx.hall.config.id, entries=[_entry(row, zone) for row in rows])


def _entry(row: AuditRow, zone: Any) -> AuditEntry:
    event_id = None if row.stream_ms is None else f"{row.stream_ms}-{row.stream_seq}"
    return AuditEntry(at=row.at.astimezone(zone), role=row.actor_role, token_id=row.actor_token, window=row.window,
                      action=row.action, ticket=row.ticket, details=row.details or {}, event_id=event_id)


def _query(ctx: Ctx, params: QueryParams) -> AuditQuery:
    limit = query_limit(params.get("limit"), MAX_LIMIT)
    filters = {name: params.get(name) or None for name in ("actor", "window")}
    for name, value in filters.items():
        # Control characters match no role, token or window, and PostgreSQL refuses a NUL outright.
        if value is not None and (len(value) > MAX_FILTER or not value.isprintable()):
            raise ApiError(422, "invalid_request", f"{name} must be at most {MAX_FILTER} printable characters.",
                           f"{name} 须为不超过 {MAX_FILTER} 个可打印字符。")
    return AuditQuery(limit=limit, since=query_time(params.get("since"), "since", ctx.hall.config.zone),
                      until=query_time(params.get("until"), "until", ctx.hall.config.zone),
                      **filters)
