"""The citizen's live line: ``WS /api/v1/halls/{hall}/ws/ticket/{ticket}``, behind the phone page.

No token: like ``GET /tickets/{id}``, the unguessable ticket id is the key, and the socket tells only
what that ticket's holder may know. It sends ``ticket.status`` (the ticket as GET returns it) at once and
again whenever an event moves that ticket or its line, and forwards each call of the ticket's service
(``ticket.called``/``ticket.recalled``, with number and window) so the page can show who is at the
windows now. Bursts of events are coalesced into one status read.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from displays.feed import CLOSE_NOT_FOUND, CLOSE_SLOW, drain_incoming, refuse
from queue_engine.errors import DomainError

from .api.schemas import TicketOut
from .runtime import HallRuntime, Runtime
from .web import ApiError

CALLS = ("ticket.called", "ticket.recalled")


async def _status(hall: HallRuntime, ticket_id: str, event_id: str | None) -> tuple[str, str]:
    """(service the ticket is in line for now, the status message)."""
    status = await hall.engine.ticket(ticket_id)
    out = TicketOut.of(hall.config, status.ticket, status.ahead, status.estimated_wait_s)
    message = {"type": "ticket.status", "event_id": event_id, "ticket": out.model_dump(mode="json")}
    return status.ticket.service, orjson.dumps(message).decode()


def _concerns(message: dict[str, Any], ticket_id: str, service: str) -> bool:
    # A transfer's "service" is where the ticket went, so one into this line counts too.
    return message.get("ticket") == ticket_id or message.get("service") == service


async def ticket_feed(ws: WebSocket) -> None:
    runtime: Runtime = ws.app.state.runtime
    ticket_id = ws.path_params["ticket"]
    try:
        hall = runtime.hall(ws.path_params["hall"])
        service, text = await _status(hall, ticket_id, None)
    except (ApiError, DomainError):
        return await refuse(ws, CLOSE_NOT_FOUND, "No such ticket in this hall.")
    sub = runtime.hub.subscribe(hall.config.id)
    receiver: asyncio.Future[None] | None = None
    try:
        await ws.accept()
        await ws.send_text(text)
        receiver = asyncio.ensure_future(drain_incoming(ws))
        while True:
            get = asyncio.ensure_future(sub.queue.get())
            done, _ = await asyncio.wait({get, receiver}, timeout=runtime.settings.heartbeat_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                get.cancel()
                return
            if get not in done:
                get.cancel()
                await ws.send_text(orjson.dumps({"type": "heartbeat"}).decode())
                continue
            if sub.overflowed.is_set():
                await ws.close(code=CLOSE_SLOW, reason="too slow; reconnect")
                return
            batch = [get.result()]
            while not sub.queue.empty():
                batch.append(sub.queue.get_nowait())
            last = None
            for event_id, event_text in batch:
                message = orjson.loads(event_text)
                if _concerns(message, ticket_id, service):
                    last = event_id
                    if message.get("type") in CALLS:
                        await ws.send_text(event_text)
            if last is not None:
                service, text = await _status(hall, ticket_id, last)
                await ws.send_text(text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        if receiver is not None:
            receiver.cancel()
        runtime.hub.unsubscribe(sub)


ROUTES = [WebSocketRoute("/api/v1/halls/{hall}/ws/ticket/{ticket}", ticket_feed)]
