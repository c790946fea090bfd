"""A hall's outgoing webhooks: what went to the SMS gateway and the 好差评 system; sending a failed one again."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import QueryParams

from floor.audit.store import parse_actor
from floor.http.kit import ApiError, Ctx, Endpoints, Param, actor, query_limit, query_time
from floor.notify.webhooks import (
    KINDS,
    MAX_LIMIT,
    STATUSES,
    DeliveryQuery,
    NotFailed,
    WebhookDeliveryRow,
    list_deliveries,
    safe_url,
    send_again,
)

ENDPOINTS = Endpoints()

MAX_DELIVERY_ID = 36


class DeliveryOut(BaseModel):
    delivery_id: str  # the X-Hallq-Delivery header, the same on every try
    kind: str  # ticket.called | ticket.ahead | ticket.rated
    ticket: str | None
    target_url: str  # without credentials or query (a gateway's key may be there)
    payload: dict[str, Any]  # the body, less the phone a notification carries (never stored)
    status: str  # pending | delivered | failed
    attempts: int
    last_status: int | None  # HTTP status of the last try, if it got an answer
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveriesOut(BaseModel):
    hall: str
    deliveries: list[DeliveryOut]


PARAMS = (
    Param("kind", "query", "Only this kind: ticket.called, ticket.ahead or ticket.rated.",
          {"type": "string", "enum": list(KINDS)}),
    Param("status", "query", "Only deliveries in this state: pending, delivered or failed.",
          {"type": "string", "enum": list(STATUSES)}),
    Param("since", "query", "Only deliveries made at or after this time (ISO 8601; without an offset, the hall's "
          "time).", {"type": "string", "format": "date-time"}),
    Param("limit", "query", "At most this many, newest first (default 100).",
          {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
)


@ENDPOINTS.add("GET", "/webhooks/deliveries", roles=("manager",), response=DeliveriesOut, params=PARAMS)
async def deliveries(ctx: Ctx, _: Any) -> DeliveriesOut:
    """Outgoing webhooks, newest first: ?kind=, ?status=, ?since= (ISO 8601), ?limit= (up to 1000)."""
    query = _query(ctx, ctx.request.query_params)
    rows = await asyncio.to_thread(list_deliveries, ctx.runtime.sql, ctx.hall.config.id, query)
    return DeliveriesOut(hall=ctx.hall.config.id, deliveries=[_out(row, ctx) for row in rows])


@ENDPOINTS.add("POST", "/webhooks/deliveries/{delivery}/retry", roles=("admin",), response=DeliveryOut, status=202,
          refusals=((409, "the delivery has not failed: it is on its way, or arrived"),))
async def retry_delivery(ctx: Ctx, _: Any) -> DeliveryOut:
    """Send a failed delivery again (same delivery id, a fresh count of tries); the archive process sends it
    within a second or two."""
    assert ctx.principal is not None
    delivery = ctx.path("delivery")
    if not 0 < len(delivery) <= MAX_DELIVERY_ID or not delivery.isprintable():
        raise _unknown()
    who = parse_actor(actor(ctx.principal))
    audit = {"actor_role": who.role, "actor_token": who.token, "window": who.window}
    try:
        # The wall clock, the sender's: it must find the delivery due now.
        row = await asyncio.to_thread(send_again, ctx.runtime.sql, ctx.hall.config.id, delivery, time.time(), audit)
    except NotFailed as exc:
        state = {"pending": "它正在发送中", "delivered": "它已送达"}.get(exc.status, exc.status)
        raise ApiError(409, "delivery_not_failed", f"Only a failed delivery can be sent again; this one is "
                       f"{exc.status}.", f"只有发送失败的推送才能重发；{state}。") from None
    if row is None:
        raise _unknown()
    return _out(row, ctx)


def _unknown() -> ApiError:
    return ApiError(404, "unknown_delivery", "This hall has no webhook delivery with that id; list them at "
                    "/webhooks/deliveries.", "本大厅没有这条推送记录，请在推送记录列表中核对。")


def _out(row: WebhookDeliveryRow, ctx: Ctx) -> DeliveryOut:
    zone = ctx.hall.config.zone

    def local(at: datetime | None) -> datetime | None:
        return None if at is None else at.astimezone(zone)

    created = local(row.created_at)
    assert created is not None
    return DeliveryOut(delivery_id=row.delivery_id, kind=row.kind, ticket=row.ticket,
                       target_url=safe_url(row.target_url), payload=row.payload, status=row.status,
                       attempts=row.attempts, last_status=row.last_status, last_error=row.last_error,
                       next_attempt_at=local(row.next_attempt_at), created_at=created,
                       delivered_at=local(row.delivered_at))


def _query(ctx: Ctx, params: QueryParams) -> DeliveryQuery:
    limit = query_limit(params.get("limit"), MAX_LIMIT)
    kind, status = params.get("kind"), params.get("status")  # sent empty: refused, not taken for "any"
    if kind is not None and kind not in KINDS:
        raise ApiError(422, "invalid_request", f"kind must be one of: {', '.join(KINDS)}.",
                       f"kind 须为以下之一：{'、'.join(KINDS)}。", fields=[{"field": "kind", "problem": "unknown"}])
    if status is not None and status not in STATUSES:
        raise ApiError(422, "invalid_request", f"status must be one of: {', '.join(STATUSES)}.",
                       f"status 须为以下之一：{'、'.join(STATUSES)}。",
                       fields=[{"field": "status", "problem": "unknown"}])
    since = query_time(params.get("since"), "since", ctx.hall.config.zone)
    return DeliveryQuery(limit=limit, kind=kind, status=status, since=since)
