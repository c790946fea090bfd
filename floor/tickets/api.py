"""Tickets: issue (guide desk, kiosk, integrations), look up (also the citizen's phone page), cancel, pin."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from floor.hall.schemas import IssueIn, ReasonIn, TicketOut
from floor.http.auth import ticket_key
from floor.http.kit import ApiError, Ctx, Endpoints, Param, error_response, header
from floor.identity import InvalidIdentity, age_on, mask_name, normalize_id_number, normalize_phone, person_key
from floor.notify.contacts import keep_contact
from floor.tickets.kiosk_limit import KioskLimit
from floor.tickets.nearby import nearby_refusal
from queue_engine import errors

ENDPOINTS = Endpoints()

ELDERLY_AGE = 60
MAX_IDEMPOTENCY_KEY = 64


FIELD_NAMES_ZH = {"id_number": "身份证号", "phone": "手机号"}


def _invalid(field: str, exc: InvalidIdentity) -> ApiError:
    return ApiError(422, "invalid_request", f"Please correct {field}: {exc}.",
                    f"请修正{FIELD_NAMES_ZH[field]}：{exc.message_zh}。",
                    fields=[{"field": field, "problem": str(exc)}])


IDEMPOTENCY_KEY = Param("Idempotency-Key", "header",
                        "The same key within the business day returns the same ticket (200) instead of a new one.",
                        {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY})


@ENDPOINTS.add("POST", "/tickets", roles=("guide", "kiosk", "manager"), body=IssueIn, response=TicketOut, status=201,
          params=(IDEMPOTENCY_KEY,),
          refusals=((429, "this kiosk issued several tickets just now; retry after Retry-After"),))
async def issue(ctx: Ctx, body: IssueIn) -> Response:
    """Issue a ticket (取号) for a service."""
    assert ctx.principal is not None
    hall = ctx.hall.config
    priority, channel, green_reason = body.priority, body.channel, body.green_reason
    person = None
    if body.id_number:
        try:
            id_number = normalize_id_number(body.id_number)
        except InvalidIdentity as exc:
            raise _invalid("id_number", exc) from None
        person = person_key(ctx.runtime.settings.secret, id_number)
        today = hall.local(ctx.hall.engine.clock()).date()
        unexplained = priority is None or (priority == "green" and not green_reason)
        if unexplained and age_on(id_number, today) >= ELDERLY_AGE:
            # 60+ go by the green channel without having to ask, as elderly
            priority, green_reason = "green", green_reason or "elderly"
    if body.phone:
        try:
            normalize_phone(body.phone)
        except InvalidIdentity as exc:
            raise _invalid("phone", exc) from None
    if ctx.principal.role == "kiosk":
        if body.priority is not None:
            raise ApiError(403, "wrong_role", "A kiosk cannot grant priority; the guide desk can.",
                           "自助机不能设置优先，请到导办台办理。")
        channel = "kiosk"
    key = header(ctx.request, b"idempotency-key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ApiError(422, "invalid_request", f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters.",
                       f"Idempotency-Key 长度须为 1-{MAX_IDEMPOTENCY_KEY} 个字符。")
    if ctx.principal.role == "kiosk" and (refusal := await _kiosk_too_fast(ctx, key)) is not None:
        return refusal
    # The name is masked here and only the masked form goes on: the full name is never kept, shown or logged.
    holder = mask_name(body.name) if body.name else None
    try:
        issued = await ctx.hall.engine.issue(body.service, channel=channel, priority=priority, person=person,
                                             idempotency_key=key, item=body.item, green_reason=green_reason,
                                             holder=holder or None)
    except (errors.UnknownService, errors.UnknownItem):
        elsewhere = await nearby_refusal(ctx, body.service, body.item)
        if elsewhere is not None:
            raise elsewhere from None
        raise
    if body.phone:  # kept sealed for the day, for the SMS when the turn nears (floor.notify.contacts)
        await keep_contact(ctx, issued.ticket, body.phone)
    out = TicketOut.of(hall, issued.ticket, issued.ahead, issued.estimated_wait_s)
    out.key = ticket_key(ctx.runtime.settings.secret, hall.id, issued.ticket.id)  # printed in its QR code
    return Response(out.model_dump_json(), status_code=200 if issued.replay else 201, media_type="application/json")


async def _kiosk_too_fast(ctx: Ctx, idempotency_key: str | None) -> Response | None:
    """429 once this kiosk (its token's id is the device) has issued its burst; counted last, so a request
    refused for its body costs the kiosk nothing, nor does a retry of a press that made its ticket.
    Guides and managers are never limited."""
    assert ctx.principal is not None
    settings = ctx.runtime.settings
    limit = KioskLimit(settings.kiosk_limit, settings.kiosk_window_s)
    if not limit.enabled:
        return None
    engine = ctx.hall.engine
    wait_s = await limit.wait_s(engine.redis, engine.keys, ctx.principal.token_id,
                                ctx.hall.config.business_day(engine.clock()), idempotency_key)
    if not wait_s:
        return None
    message = (f"本机取号过于频繁，请 {wait_s} 秒后再试；如需帮助，请到导办台。" if ctx.lang == "zh" else
               f"This kiosk has issued several tickets just now. Please try again in {wait_s} seconds, "
               "or ask at the guide desk.")
    return error_response(429, "too_many_tickets", message, headers={"Retry-After": str(wait_s)},
                          retry_after_s=wait_s)


@ENDPOINTS.add("GET", "/tickets/{ticket}", roles=(), response=TicketOut)
async def get_ticket(ctx: Ctx, _: Any) -> TicketOut:
    """A ticket's status, place in line and estimated wait. Needs no token: the unguessable id is the key."""
    status = await ctx.hall.engine.ticket(ctx.path("ticket"))
    return TicketOut.of(ctx.hall.config, status.ticket, status.ahead, status.estimated_wait_s)


@ENDPOINTS.add("POST", "/tickets/{ticket}/cancel", roles=("guide", "manager"), response=TicketOut)
async def cancel(ctx: Ctx, _: Any) -> TicketOut:
    """Cancel a waiting ticket."""
    return TicketOut.of(ctx.hall.config, await ctx.hall.engine.cancel(ctx.path("ticket")))


@ENDPOINTS.add("POST", "/tickets/{ticket}/pin", roles=("manager",), body=ReasonIn, response=TicketOut)
async def pin(ctx: Ctx, body: ReasonIn) -> TicketOut:
    """Move a waiting ticket to the front of its queue (置顶), with a reason."""
    return TicketOut.of(ctx.hall.config, await ctx.hall.engine.pin(ctx.path("ticket"), body.reason))


@ENDPOINTS.add("POST", "/tickets/{ticket}/requeue", roles=("guide", "manager"), response=TicketOut)
async def requeue(ctx: Ctx, _: Any) -> TicketOut:
    """Put a late arrival's missed ticket back in line, by the hall's policy."""
    return TicketOut.of(ctx.hall.config, await ctx.hall.engine.requeue(ctx.path("ticket")))
