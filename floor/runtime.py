"""What a server process holds while it runs: settings, the Redis client, and one engine per hall."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from queue_engine.config import HallConfig
from queue_engine.engine import Engine

from .settings import Settings
from .web import ApiError

if TYPE_CHECKING:
    from .hub import Hub


@dataclass
class HallRuntime:
    config: HallConfig
    engine: Engine

    def service_names(self, lang: str) -> dict[str, str]:
        return {s.code: s.name_en if lang == "en" else s.name_zh for s in self.config.services}


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    halls: dict[str, HallRuntime]
    hub: Hub
    sql: Any = None  # a SQLAlchemy engine once the record is wired in
    tasks: list[Any] = field(default_factory=list)

    def hall(self, hall_id: str) -> HallRuntime:
        try:
            return self.halls[hall_id]
        except KeyError:
            raise ApiError(404, "unknown_hall", f"There is no hall {hall_id!r} on this server.",
                           f"本服务器上没有大厅 {hall_id!r}。") from None
