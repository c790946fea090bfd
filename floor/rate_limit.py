"""How often one kiosk may issue: a token bucket per device, kept in Redis so every worker shares it.

A kiosk may issue ``limit`` tickets at once (a family taking a few numbers), then one every
``window_s / limit`` seconds; a person mashing the button or a script is stopped after the burst.
The bucket is the GCRA form of a token bucket: one key per device holding the theoretical arrival
time of the next request, checked and moved by one small script (one round trip, atomic across
workers). The key carries the hall's hash tag like every hall key, so it lives in the hall's slot
with the idempotency keys the script also reads.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from queue_engine.keys import HallKeys

# KEYS[1] the device's bucket, KEYS[2] the hall's idempotency keys of today; ARGV[1] ms between tickets once the
# burst is used, ARGV[2] the window in ms, ARGV[3] the request's Idempotency-Key ('' = none).
# Returns 0 (allowed, and counted) or the ms to wait before the next ticket is allowed (nothing counted).
# A retry of a press that already made its ticket (flaky wifi) is free: it only hands back that ticket.
# Redis's own clock, so every worker agrees whatever its host's clock says.
_GCRA = """
if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local wait = next_tat - window - now
if wait > 0 then return wait end
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return 0
"""
_GCRA_SHA = hashlib.sha1(_GCRA.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KioskLimit:
    limit: int  # tickets one device may issue at once; 0 turns the limit off
    window_s: float  # the burst refills over this many seconds

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    @staticmethod
    def key(keys: HallKeys, device: str) -> str:
        return f"{keys.base}:rate:kiosk:{device}"

    async def wait_s(self, redis: Redis, keys: HallKeys, device: str, day: str, idempotency_key: str | None) -> int:
        """Count one ticket for the device: 0 if it may issue now, else the whole seconds it must wait. ``day`` is
        the business day whose idempotency keys make a retry free."""
        window_ms = max(1, round(self.window_s * 1000))
        args = (max(1, window_ms // self.limit), window_ms, idempotency_key or "")
        names = (self.key(keys, device), keys.idempotency(day))
        try:
            wait_ms = await redis.evalsha(_GCRA_SHA, len(names), *names, *args)
        except NoScriptError:  # a Redis that restarted or never saw it: EVAL caches it for next time
            wait_ms = await redis.eval(_GCRA, len(names), *names, *args)
        return math.ceil(int(wait_ms) / 1000)
