"""Who is acting: set by the server for each request, recorded as ``by`` on every event it causes.

A context variable, so each request (each asyncio task) carries its own and nothing is passed
through every signature; the audit trail is then written by the same atomic step as the change.
"""

from __future__ import annotations

from contextvars import ContextVar

ACTOR: ContextVar[str] = ContextVar("hallq_actor", default="")
