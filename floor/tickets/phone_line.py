"""The citizen's live line: ``WS /api/v1/halls/{hall}/ws/ticket/{ticket}``, behind the phone page.

No token: like ``GET /tickets/{id}``, the unguessable ticket id is the key, and the socket tells only
what that ticket's holder may know. It sends ``ticket.status`` (the ticket as GET returns it) at once and
again whenever an event moves that ticket or its line, and forwards each call of the ticket's service
(``ticket.called``/``ticket.recalled``: number and window, as the lobby screens show them, never the called
ticket's id, holder or reason) so the page can show who is at the windows now. Bursts of events are coalesced
into one status read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from floor.hall.schemas import TicketOut
from floor.http.feed import CLOSE_NOT_FOUND, Channel, drain_incoming, outbox_for, pick, refuse, window_name
from floor.http.kit import ApiError, hall_of
from floor.realtime.hub import Event
from floor.realtime.outbox import Outbox
from floor.runtime import HallRuntime, Runtime
from queue_engine.config import HallConfig
from queue_engine.errors import DomainError

log = logging.getLogger("hallq.phone")

CALLS = ("ticket.called", "ticket.recalled")
HEARTBEAT = orjson.dumps({"type": "heartbeat"}).decode()
VIEW = "phone"


def project(hall: HallConfig, payload: dict[str, Any], _: str | None) -> dict[str, Any] | None:
    """What every phone gets of a call: what the lobby screens show of it. Nothing of any other event: the
    status read after it tells the phone what it may know."""
    if payload["type"] not in CALLS:
        return None
    return {**pick(payload, ("number", "service", "window")), "window_name": window_name(hall, payload["window"])}


CHANNEL = Channel(roles=(), project=project)  # its address is the ticket's: ROUTES


async def _status(hall: HallRuntime, ticket_id: str, event_id: str | None) -> tuple[str, str]:
    """(service the ticket is in line for now, the status message)."""
    status = await hall.engine.ticket(ticket_id)
    out = TicketOut.of(hall.config, status.ticket, status.ahead, status.estimated_wait_s)
    message = {"type": "ticket.status", "event_id": event_id, "ticket": out.model_dump(mode="json")}
    return status.ticket.service, orjson.dumps(message).decode()


class PhoneLine:
    """A phone's side of the hub: calls of its service as they come, and a fresh status after each event that
    moves its ticket or its line. Events that arrive while a status is being read are folded into one more read."""

    def __init__(self, hall: HallRuntime, ticket_id: str, service: str, outbox: Outbox) -> None:
        self.hall = hall.config.id
        self.runtime = hall
        self.ticket_id = ticket_id
        self.service = service
        self.outbox = outbox
        self.due = False  # something moved since the last status read began
        self.due_id: str | None = None  # the latest event the phone has not had a status for
        self.reading: asyncio.Task[None] | None = None
        self.quiet = True

    def offer(self, events: Sequence[Event]) -> None:
        moved = None  # the last event that moved this ticket or its line
        for event in events:
            payload = event.payload
            # A transfer's "service" is where the ticket went, so one into this line counts too.
            if payload.get("ticket") != self.ticket_id and payload.get("service") != self.service:
                continue
            text = event.text(VIEW)
            if text is not None:
                self.outbox.put(text)
            moved = event.id
        if moved is not None:
            self.quiet = False
            self.refresh(moved)  # one status read for the lot

    def refresh(self, event_id: str | None) -> None:
        """Send a fresh status soon: at once if no read is running, else right after the running one."""
        self.due, self.due_id = True, event_id
        if self.reading is None:
            self.reading = asyncio.ensure_future(self._read_status())

    def beat(self) -> None:
        if self.quiet:
            self.outbox.put(HEARTBEAT)
        self.quiet = True

    def stop(self) -> None:
        if self.reading is not None:
            self.reading.cancel()

    async def _read_status(self) -> None:
        try:
            while self.due:
                self.due, event_id = False, self.due_id
                self.service, text = await _status(self.runtime, self.ticket_id, event_id)
                self.outbox.put(text)
        except DomainError as exc:  # the ticket has left the day (purged): nothing more to tell
            log.info("phone feed of %s stops: %s", self.ticket_id, exc.code)
        except Exception as exc:  # Redis away for a moment: the next event tries again
            log.warning("phone status read failed: %r", exc)
        finally:
            self.reading = None


async def ticket_feed(ws: WebSocket) -> None:
    runtime: Runtime = ws.app.state.runtime
    ticket_id = ws.path_params["ticket"]
    try:
        hall = hall_of(runtime, ws.path_params["hall"])
        service, _ = await _status(hall, ticket_id, None)
    except (ApiError, DomainError):
        return await refuse(ws, CLOSE_NOT_FOUND, "No such ticket in this hall.")
    await ws.accept()
    line = PhoneLine(hall, ticket_id, service, outbox_for(ws))
    runtime.hub.subscribe(line)
    line.refresh(None)  # read again now it is subscribed, so no move falls between the read and the feed
    try:
        await drain_incoming(ws)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        runtime.hub.unsubscribe(line)
        line.stop()
        line.outbox.close()


ROUTES = [WebSocketRoute("/api/v1/halls/{hall}/ws/ticket/{ticket}", ticket_feed)]
