"""The Redis clients a process opens, from the settings: one server or a Redis Cluster (``queue_engine.shards``)."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from floor.settings import Settings
from queue_engine.fcall_pipe import Durability, load_library
from queue_engine.library import LIBRARY
from queue_engine.shards import Shards


def open_shards(settings: Settings, max_connections: int = 256) -> Shards:
    """Clients of the Redis holding the halls, each node's pool capped (a request waits up to 5 s for a connection
    rather than opening without bound). On a cluster ``start()`` must read its map first, and every primary it
    finds, then or later, gets the function library if it holds data."""

    def client(url: str) -> Redis:
        return Redis(connection_pool=BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=5))

    shards = Shards.from_url(settings.redis_url, client)

    async def load(redis: Redis) -> None:
        # Only into a primary that holds data (a replica promoted, a node given slots): one that is empty may have
        # restarted without persistence, and its library must come back only after its halls are rebuilt from the
        # record (``fcall_pipe.when_functions_lost``), or a script could issue numbers from an empty hall.
        if await redis.dbsize() > 0:
            await load_library(redis, LIBRARY)

    shards.on_new_primary.append(load)
    return shards


def durability(settings: Settings) -> Durability:
    return Durability(replicas=settings.ack_replicas, wait_ms=settings.ack_wait_ms)
