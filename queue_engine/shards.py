"""Where each hall's keys live: one Redis server, or the primaries of a Redis Cluster.

Every key of a hall carries the hall's hash tag, so a hall lives in one slot, on one primary. ``Shards`` keeps one
plain client per primary and hands each hall the client of the primary that owns its slot now. A hall's scripts,
transactions and pipelines then run on that client exactly as on a single Redis, and a script call is one round
trip: redis-py's cluster client would route each command itself and cannot carry the hand-packed, pipelined calls
of ``fcall_pipe``.

The slot map is read from the cluster at start, again whenever a call meets a moved slot or a lost node
(``suspect``), and every ``REFRESH_S`` regardless: a failover or a resharding moves a hall to another client within
that time, and the calls caught in between fail as an outage (503, retried by the client with its Idempotency-Key).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.crc import key_slot
from redis.exceptions import AskError, ClusterDownError, ReadOnlyError, RedisError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger("hallq.shards")

SLOTS = 16384
REFRESH_S = 2.0  # the slot map is read again at least this often, whatever happens
SUSPECT_GAP_S = 0.2  # and on a suspect call at most this often: a failover's burst of failed calls reads it once
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
# Replies of a cluster node that say the slot is not (or not yet) served here: read the map again and retry later.
MOVED_REPLIES = ("MOVED", "ASK", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "MASTERDOWN")

ClientMaker = Callable[[str], Redis]  # the URL of one node -> a client of it
PrimaryHook = Callable[[Redis], Awaitable[None]]


class SlotMoved(RedisConnectionError):
    """A cluster node answered that a hall's slot is not served there now (moved, failing over, not ready): for the
    caller an outage like a lost connection, retried once the slot map is read again."""


# The same replies as redis-py raises them from its own commands.
MOVED_ERRORS = (AskError, ClusterDownError, TryAgainError, ReadOnlyError)


def is_moved(exc: BaseException) -> bool:
    return isinstance(exc, ResponseError) and str(exc).startswith(MOVED_REPLIES)


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def tag_slot(tag: str) -> int:
    """The slot of every key carrying the hash tag ``{tag}``."""
    return key_slot(tag.encode())


@dataclass(frozen=True, slots=True)
class ClusterUrl:
    """``redis+cluster://[user:password@]host:port[,host:port...][/?query]``: some of the cluster's nodes to ask for
    the rest (any one answering is enough), and what every node's URL shares."""

    seeds: tuple[tuple[str, int], ...]
    scheme: str  # redis or rediss (TLS)
    userinfo: str
    query: str

    @classmethod
    def parse(cls, url: str) -> ClusterUrl:
        parts = urlsplit(url)
        if parts.scheme not in CLUSTER_SCHEMES:
            raise ValueError(f"not a cluster URL (redis+cluster://host:port,...): {url}")
        userinfo, _, hosts = parts.netloc.rpartition("@")
        seeds = []
        for hostport in hosts.split(","):
            host, _, port = hostport.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"a cluster node must be host:port, not {hostport!r}, in {url}")
            seeds.append((host.strip("[]"), int(port)))
        return cls(tuple(seeds), CLUSTER_SCHEMES[parts.scheme], userinfo, parts.query)

    def node(self, host: str, port: int) -> str:
        auth = f"{self.userinfo}@" if self.userinfo else ""
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{auth}{host}:{port}/0" + (f"?{self.query}" if self.query else "")


def node_url(url: str, host: str, port: int) -> str:
    """The URL of one node of the cluster that ``url`` names, with its credentials."""
    return ClusterUrl.parse(url).node(host, port)


class Shards:
    """The clients of the Redis that hold the halls: one for a single server, one per primary on a cluster."""

    def __init__(self, single: Redis | None = None, *, cluster: ClusterUrl | None = None,
                 make_client: ClientMaker | None = None) -> None:
        assert (single is None) != (cluster is None and make_client is None)
        self._single = single
        self._cluster = cluster
        self._make = make_client
        self._by_slot: list[Redis] = []
        self._clients: dict[tuple[str, int], Redis] = {}  # every node we have a client of, primary or not now
        self._replicas: list[tuple[str, int]] = []
        self.primaries: dict[tuple[str, int], Redis] = {}
        self.version = 0  # grows whenever the slot map changes: the hub regroups its reads
        self.changed = asyncio.Event()
        self.on_new_primary: list[PrimaryHook] = []  # run for every node that becomes a primary (loads the library)
        self._refreshing: asyncio.Future[None] | None = None
        self._last_refresh = 0.0
        self._watching: asyncio.Task[None] | None = None

    @classmethod
    def one(cls, redis: Redis) -> Shards:
        return cls(redis)

    @classmethod
    def from_url(cls, url: str, make_client: ClientMaker) -> Shards:
        """One server for ``redis://``, a cluster for ``redis+cluster://``; ``make_client`` makes each node's
        client (its pool and timeouts) from the node's URL. A cluster is known only once ``start`` has read it."""
        if is_cluster_url(url):
            return cls(cluster=ClusterUrl.parse(url), make_client=make_client)
        return cls(make_client(url))

    @property
    def is_cluster(self) -> bool:
        return self._cluster is not None

    # -- routing (the hot path: no I/O, no allocation) -----------------------------------------------------------
    def at(self, slot: int) -> Redis:
        """The client of the primary that serves ``slot`` now."""
        if self._single is not None:
            return self._single
        if not self._by_slot:
            raise RedisConnectionError("the Redis Cluster's slots are not known yet")
        return self._by_slot[slot]

    def for_tag(self, tag: str) -> Redis:
        return self.at(tag_slot(tag))

    def clients(self) -> list[Redis]:
        """One client per primary (the only client of a single server)."""
        return [self._single] if self._single is not None else list(self.primaries.values())

    def grouped(self, tags: Iterable[str]) -> dict[Redis, list[str]]:
        """``tags`` by the client that serves their slot now, each group in the order given."""
        groups: dict[Redis, list[str]] = {}
        for tag in tags:
            groups.setdefault(self.for_tag(tag), []).append(tag)
        return groups

    # -- the cluster's map ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Read the cluster's map (nothing to do for a single server) and keep it current until ``aclose``."""
        if self._cluster is None:
            return
        await self.refresh()
        if self._watching is None:
            self._watching = asyncio.ensure_future(self._watch())

    def suspect(self) -> None:
        """A call met a moved slot or a lost node: read the map again soon (once for a burst of such calls)."""
        if self._cluster is None or self._refreshing is not None:
            return
        if time.monotonic() - self._last_refresh < SUSPECT_GAP_S:
            return
        self._refreshing = asyncio.ensure_future(self._refresh_quietly())

    async def refresh(self) -> None:
        """Read the slot map from the first node that answers (seeds, then every node known) and route by it."""
        assert self._cluster is not None
        self._last_refresh = time.monotonic()
        candidates = [*self.primaries, *self._replicas, *self._cluster.seeds]
        errors = []
        for address in dict.fromkeys(candidates):
            client = self._client(address)
            try:
                reply = await asyncio.wait_for(client.execute_command("CLUSTER", "SLOTS"), 2.0)  # type: ignore[no-untyped-call]
            except (RedisError, OSError, TimeoutError) as exc:
                errors.append(f"{address[0]}:{address[1]}: {exc}")
                continue
            await self._route(reply)
            return
        raise RedisConnectionError("no node of the Redis Cluster answered: " + "; ".join(errors))

    async def _route(self, reply: Any) -> None:
        by_slot: list[Redis | None] = [None] * SLOTS
        primaries: dict[tuple[str, int], Redis] = {}
        replicas: list[tuple[str, int]] = []
        for start, end, primary, *others in reply:
            address = (_text(primary[0]), int(primary[1]))
            client = primaries[address] = self._client(address)
            for slot in range(int(start), int(end) + 1):
                by_slot[slot] = client
            replicas += [(_text(node[0]), int(node[1])) for node in others]
        if any(client is None for client in by_slot):
            # A slot nobody serves: the cluster is being set up or is broken. Keep the map we had.
            raise RedisConnectionError("the Redis Cluster does not serve every slot (cluster_state is not ok)")
        new = [client for address, client in primaries.items() if address not in self.primaries]
        for client in new:
            for hook in self.on_new_primary:
                await hook(client)
        routed = [c for c in by_slot if c is not None]
        changed = bool(new) or len(routed) != len(self._by_slot) or any(
            a is not b for a, b in zip(routed, self._by_slot, strict=True))
        self._by_slot = routed
        self.primaries, self._replicas = primaries, replicas
        if changed:
            self.version += 1
            self.changed.set()
            self.changed = asyncio.Event()
            log.info("Redis Cluster: %d primaries, map version %d", len(primaries), self.version)

    def _client(self, address: tuple[str, int]) -> Redis:
        client = self._clients.get(address)
        if client is None:
            assert self._cluster is not None
            assert self._make is not None
            client = self._clients[address] = self._make(self._cluster.node(*address))
        return client

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # the next suspect call or tick tries again
            log.warning("could not read the Redis Cluster's slots: %s", exc)
        finally:
            self._refreshing = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            if self._refreshing is None:
                self._refreshing = asyncio.ensure_future(self._refresh_quietly())
            await asyncio.shield(self._refreshing)

    async def disconnect_idle(self) -> None:
        """Drop idle pooled connections (they may point at a server that restarted)."""
        for client in [self._single] if self._single is not None else self._clients.values():
            await client.connection_pool.disconnect(inuse_connections=False)

    async def aclose(self) -> None:
        for task in (self._watching, self._refreshing):
            if task is not None:
                task.cancel()
        for client in [self._single] if self._single is not None else self._clients.values():
            await client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
