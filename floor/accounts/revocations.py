"""Revocation reaches every worker within a second: the revoked ids are recorded in SQL (the truth, read by a
starting worker) and announced on a Redis stream that each worker reads twice a second into ``runtime.revoked``,
an in-memory set the request path checks without any I/O."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from floor.accounts import store
from floor.cancellation import raise_if_cancelled
from floor.runtime import Runtime
from queue_engine.keys import AuthKeys

log = logging.getLogger("hallq.accounts")

POLL_S = 0.5
STREAM_MAXLEN = 10_000  # far more revocations than a working day makes; older ones a starting worker reads in SQL


def keys(runtime: Runtime) -> AuthKeys:
    return AuthKeys(runtime.settings.key_prefix)


async def revoke(runtime: Runtime, ids: Sequence[str] = (), *, account: str | None = None,
                 kind: str | None = None) -> list[str]:
    """Revoke credentials (by id, or every live one of an account) everywhere; the ids revoked."""
    now = datetime.now(UTC)
    found = await asyncio.to_thread(store.revoke, runtime.sql, now, ids=ids, account=account, kind=kind)
    runtime.revoked.update(found)
    if found:
        pipe = runtime.auth_redis.pipeline(transaction=False)
        for jid in found:
            pipe.xadd(keys(runtime).revocations, {"id": jid}, maxlen=STREAM_MAXLEN, approximate=True)
        await pipe.execute()
    return found


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def prime(runtime: Runtime) -> str:
    """Before the worker serves: the stream's end first, then SQL's list of revoked credentials (so nothing revoked
    between the two is missed); the stream id to follow from."""
    last = "0-0"
    with contextlib.suppress(Exception):  # Redis away: SQL's list still holds, the watch reads the stream later
        newest: Any = await runtime.auth_redis.xrevrange(keys(runtime).revocations, count=1)
        if newest:
            last = _text(newest[0][0])
    runtime.revoked.update(await asyncio.to_thread(store.revoked_since, runtime.sql, datetime.now(UTC)))
    return last


async def watch(runtime: Runtime, last: str) -> None:
    """Keep ``runtime.revoked`` current from the stream, twice a second, from ``last`` (``prime``'s) on."""
    key = keys(runtime).revocations
    while True:
        raise_if_cancelled()
        try:
            found: Any = await runtime.auth_redis.xread({key: last}, count=1000)
            for _, entries in found or ():
                for entry_id, fields in entries:
                    last = _text(entry_id)
                    jid = fields.get(b"id") or fields.get("id")
                    if jid:
                        runtime.revoked.add(_text(jid))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis away for a moment: requests fail with it; this resumes when it is back
            log.warning("revocations: %s", exc)
        await asyncio.sleep(POLL_S)


SEEN_EVERY_S = 60.0


async def record_seen(runtime: Runtime) -> None:
    """Write when each key and device was last used, once a minute (the request path only notes it in memory)."""
    while True:
        await asyncio.sleep(SEEN_EVERY_S)
        seen, runtime.seen = runtime.seen, {}
        if not seen:
            continue
        try:
            await asyncio.to_thread(store.seen, runtime.sql, {jid: datetime.fromtimestamp(at, UTC)
                                                              for jid, at in seen.items()})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the record down: the next minute writes them again
            runtime.seen = {**seen, **runtime.seen}
            log.warning("keys last seen not recorded: %s", exc)
