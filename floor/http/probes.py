"""``GET /livez`` and ``GET /readyz``: what a load balancer asks each worker before it sends people there.

``/livez`` only says the process answers (its event loop turns): a failing one is for restarting. ``/readyz`` says
whether this worker can serve a hall now; a failing one is taken out of rotation and left running, since the cause
(Redis away) is usually outside it. The record (SQL) is reported but never makes a worker unready: issuing and calling
need only Redis, and the archiver catches up once the record is back.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from floor.http.kit import RETRY_AFTER_S, JSONResponse

if TYPE_CHECKING:
    from floor.runtime import Runtime

PING_TIMEOUT_S = 1.0  # a Redis slower than this to PING serves no hall well; a probe must answer within its own timeout
RECORD_TIMEOUT_S = 1.0
NO_STORE = {"Cache-Control": "no-store"}

Part = Literal["halls", "redis", "hub"]
RedisState = Literal["up", "down", "unknown"]
RecordState = Literal["up", "down", "unknown"]


@dataclass(frozen=True, slots=True)
class Readiness:
    """What ``/readyz`` found in this worker."""

    prepared: bool  # the lifespan finished: every hall prepared, its live day in Redis
    redis: RedisState
    hub: Literal["running", "stopped", "unknown"]
    record: RecordState

    @property
    def not_ready(self) -> list[Part]:
        parts: list[Part] = []
        if not self.prepared:
            parts.append("halls")
        if self.redis != "up" and self.prepared:
            parts.append("redis")
        if self.hub != "running" and self.prepared:
            parts.append("hub")
        return parts

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ready": not self.not_ready,
            "halls": "prepared" if self.prepared else "preparing",
            "redis": self.redis,
            "hub": self.hub,
            "record": self.record,
            "not_ready": [{"part": part, **REASONS[part]} for part in self.not_ready],
        }
        if self.record == "down":
            body["degraded"] = [{"part": "record", **RECORD_DOWN}]
        return body


REASONS: dict[Part, dict[str, str]] = {
    "halls": {"zh": "本进程仍在准备大厅（启动尚未完成），请稍候。",
              "en": "This worker is still preparing its halls (start-up has not finished); wait a moment."},
    "redis": {"zh": f"Redis 在 {PING_TIMEOUT_S:g} 秒内未应答：本进程无法取号或叫号。"
                    "请检查 Redis 及网络（HALLQ_REDIS_URL）。",
              "en": f"Redis did not answer PING within {PING_TIMEOUT_S:g} s: this worker cannot issue or call. "
                    "Check Redis and the network to it (HALLQ_REDIS_URL)."},
    "hub": {"zh": "本进程的实时推送（读取事件流的任务）已停止：大屏和窗口收不到叫号。请重启该服务。",
            "en": "This worker's realtime hub (the task reading the event streams) has stopped: screens and consoles "
                  "would miss calls. Restart the service."},
}
RECORD_DOWN = {"zh": "记录库（SQL）暂时无法访问：取号、叫号照常，报表与评价记录稍后补齐。",
               "en": "The record (SQL) cannot be reached: issuing and calling go on; reports and the record catch up "
                     "once it is back."}


async def livez(_: Request) -> Response:
    """The process answers: no store is asked, so a Redis outage never gets every worker restarted at once."""
    return JSONResponse({"alive": True}, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:  # the lifespan has not finished (or failed): the halls are not prepared
        readiness = Readiness(prepared=False, redis="unknown", hub="unknown", record="unknown")
    else:
        redis, record = await asyncio.gather(_redis(runtime), _record(runtime))
        readiness = Readiness(prepared=True, redis=redis, hub=_hub(runtime), record=record)
    if readiness.not_ready:
        return JSONResponse(readiness.body(), status_code=503, headers={**NO_STORE, "Retry-After": RETRY_AFTER_S})
    return JSONResponse(readiness.body(), headers=NO_STORE)


async def _redis(runtime: Runtime) -> RedisState:
    """Every Redis primary holding halls answers PING (on a cluster whose map is not read yet, there are none)."""
    clients = runtime.shards.clients()
    if not clients:
        return "down"
    try:
        await asyncio.wait_for(asyncio.gather(*(client.ping() for client in clients)), PING_TIMEOUT_S)
    except (RedisError, OSError, TimeoutError):
        return "down"
    return "up"


def _hub(runtime: Runtime) -> Literal["running", "stopped"]:
    """The hub's task is alive: it outlives every Redis outage (it reads again), so its end is a fault of its own."""
    hub = next((task for task in runtime.tasks if task.get_name() == "hub"), None)
    return "running" if hub is not None and not hub.done() else "stopped"


# One record check at a time per database: a PostgreSQL that hangs holds a thread until its connect times out, and
# probes every few seconds must not pile threads up behind it (the server's other work shares them).
_RECORD_CHECKS: weakref.WeakKeyDictionary[Any, asyncio.Future[bool]] = weakref.WeakKeyDictionary()


async def _record(runtime: Runtime) -> RecordState:
    if runtime.sql is None:
        return "unknown"
    check = _RECORD_CHECKS.get(runtime.sql)
    if check is None:
        check = _RECORD_CHECKS[runtime.sql] = asyncio.ensure_future(asyncio.to_thread(_select_one, runtime.sql))
        check.add_done_callback(lambda _: _RECORD_CHECKS.pop(runtime.sql, None))
    try:
        return "up" if await asyncio.wait_for(asyncio.shield(check), RECORD_TIMEOUT_S) else "down"
    except TimeoutError:
        return "down"


def _select_one(sql: Any) -> bool:
    try:
        with sql.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception:  # any failure to answer is "down" here; the record's own routes say why in the log
        return False
    return True
