"""What a server process holds while it runs: settings, the Redis client, one engine per hall, the hub, the record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from floor.network.rules import Network
from floor.settings import Settings
from queue_engine.config import HallConfig
from queue_engine.engine import Engine

if TYPE_CHECKING:
    from floor.realtime.hub import Hub


@dataclass
class HallRuntime:
    engine: Engine

    @property
    def config(self) -> HallConfig:
        """The set-up the hall runs on now: the engine's, which follows every change of it (``Engine.follow``)."""
        return self.engine.hall

    def service_names(self, lang: str) -> dict[str, str]:
        return {s.code: s.name_en if lang == "en" else s.name_zh for s in self.config.services}


class Revoked(set[str]):
    """Ids of revoked credentials this worker refuses; ``floor.accounts.revocations`` keeps it current."""


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    halls: dict[str, HallRuntime]
    hub: Hub
    sql: Any = None  # a SQLAlchemy engine once the record is wired in
    tasks: list[Any] = field(default_factory=list)
    revoked: Revoked = field(default_factory=Revoked)
    network: Network | None = None  # the county's regions, when the halls form one (HALLQ_NETWORK)
    seen: dict[str, float] = field(default_factory=dict)  # key or device id -> when it was last used (epoch s)
