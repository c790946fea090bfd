"""What a server process holds while it runs: settings, the Redis client, one engine per hall, the hub, the record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from floor.network.rules import Network
from floor.settings import Settings
from queue_engine.config import HallConfig, Service
from queue_engine.engine import Engine
from queue_engine.keys import AUTH_TAG
from queue_engine.shards import Shards

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
    shards: Shards  # the Redis holding the halls: one server, or a cluster's primaries
    halls: dict[str, HallRuntime]
    hub: Hub
    sql: Any = None  # a SQLAlchemy engine once the record is wired in
    tasks: list[Any] = field(default_factory=list)
    revoked: Revoked = field(default_factory=Revoked)
    network: Network | None = None  # the county's regions, when the halls form one (HALLQ_NETWORK)
    seen: dict[str, float] = field(default_factory=dict)  # key or device id -> when it was last used (epoch s)
    region_watch: Any = None  # floor.regions.watch.RegionWatch: the live 区域总览 this worker keeps for its viewers
    _paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _below: dict[str, list[str]] = field(default_factory=dict)

    @property
    def auth_redis(self) -> Redis:
        """The Redis holding the sign-in keys (``AuthKeys``, hash tag ``{auth}``), shared by every hall."""
        return self.shards.for_tag(AUTH_TAG)

    def regions_of(self, hall_id: str) -> tuple[str, ...]:
        """The regions a hall lies in, its own and every one above it: whoever is scoped to one of them may act
        in the hall. Empty without a network, or for a hall of none of its regions."""
        hall = self.halls.get(hall_id)
        if self.network is None or hall is None or hall.config.region is None:
            return ()
        region = hall.config.region
        if region not in self._paths:
            self._paths[region] = tuple(r.id for r in self.network.path(region))
        return self._paths[region]

    def catalog_of(self, region_id: str) -> tuple[Service, ...] | None:
        """A region's 受理事典 as it is now: the live services of the hall that keeps it (the county centre, edited
        live by the county's admins), or the network file's."""
        if self.network is None:
            return None
        keeper = self.network.catalog_halls.get(region_id)
        if keeper is not None and keeper in self.halls:
            return self.halls[keeper].config.services
        return self.network.catalogs.get(region_id)

    def catalog_kept_by(self, hall_id: str) -> str | None:
        """The region whose catalog this hall's services are, if they are one."""
        if self.network is None:
            return None
        return next((region for region, keeper in self.network.catalog_halls.items() if keeper == hall_id), None)

    def halls_below(self, region_id: str) -> list[str]:
        """The halls of this server in the region or any region under it, in the order they are served. Kept once
        worked out: a hall's region comes from its file, which only a restart reads again."""
        below = self._below.get(region_id)
        if below is None:
            known = self.network is not None and self.network.region(region_id) is not None
            below = self._below[region_id] = [h for h in self.halls if region_id in self.regions_of(h)] if known else []
        return below
