"""One fault under load, start to finish: private Redis and PostgreSQL, ``hallq serve --workers 2`` on them, the
load, the fault injected while the load runs, then the checks and the figures.

The load runs a quiet stretch first, then the fault (repeated for the long versions: ``every_s``), then a
stretch after the last one so the recovery is loaded too.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from floor.sql.db import migrate
from queue_engine.config import load_hall
from queue_engine.shards import tag_slot

from .invariants import Evidence, check_all
from .load import Hall, LoadGenerator, LoadRecord
from .services import ROOT, HallqServer, PrivateCluster, PrivatePostgres, PrivateRedis

DEMO_HALL = ROOT / "floor" / "halls" / "demo.toml"
WINDOWS = ("1", "2", "3", "4")
SERVICES = ("SOC", "HUK", "TAX", "FUND")
FAULTS = ("worker-kill", "redis-restart", "postgres-outage", "ws-drop", "primary-kill")
CLUSTER_FAULTS = ("primary-kill",)  # run on a deployment over a Redis Cluster
DEFAULT_DURATION_S = 140.0  # per fault: ``all`` takes about eight minutes with the start and the checks


@dataclass(frozen=True)
class Plan:
    """How long the load runs around the faults, how many faults, and how long each outage lasts."""

    fault: str
    faults: int = 1
    before_s: float = 2.0  # load before the first fault
    every_s: float = 5.0  # from one fault to the next
    after_s: float = 4.0  # load after the last fault has been healed
    down_s: float = 2.0  # Redis or PostgreSQL stays down this long (worker-kill and ws-drop: no meaning)
    guides: int = 2
    displays: int = 3
    issue_every_s: float = 0.1

    @classmethod
    def long(cls, fault: str, duration_s: float) -> Plan:
        """The runner's version: faults spread over ``duration_s``; PostgreSQL stays down 60 s."""
        down = {"redis-restart": 3.0, "postgres-outage": 60.0}.get(fault, 0.0)
        every = {"worker-kill": 30.0, "redis-restart": 30.0, "postgres-outage": down + 30.0, "ws-drop": 10.0,
                 "primary-kill": 30.0}[fault]
        before, after = 10.0, 20.0
        faults = max(1, int((duration_s - before - after) // every))
        return cls(fault, faults=faults, before_s=before, every_s=every, after_s=after, down_s=down, guides=4,
                   displays=10, issue_every_s=0.1)


@dataclass
class Outcome:
    plan: Plan
    hall: str
    load: LoadRecord
    evidence: Evidence
    violations: dict[str, list[str]]
    faults_at: list[float]
    fault_notes: list[str]
    duration_s: float
    server_log: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    def ok(self) -> bool:
        return (not any(self.violations.values()) and not self.load.server_errors and not self.load.hangs
                and not self.load.unavailable_without_retry_after)


class Services:
    """The private PostgreSQL the runs share (each run gets a database of its own on it; the postgres-outage fault
    stops and starts it), and where runs keep their files."""

    def __init__(self, postgres: PrivatePostgres, workdir: Path) -> None:
        self.postgres = postgres
        self.workdir = workdir

    @classmethod
    def start(cls, workdir: Path) -> Services:
        return cls(PrivatePostgres(Path(tempfile.mkdtemp(prefix="hallq-pg-"))).init().start(), workdir)

    def database(self) -> str:
        """A fresh database on the private PostgreSQL, migrated."""
        name = f"faults_{uuid.uuid4().hex[:8]}"
        admin = create_engine(self.postgres.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        finally:
            admin.dispose()
        url = self.postgres.url.rsplit("/", 1)[0] + f"/{name}"
        migrate(url)
        return url

    def close(self) -> None:
        self.postgres.close()


class Deployment:
    """``hallq serve --workers 2`` on a private Redis and a fresh database, serving copies of the demo hall: each
    fault run takes a hall of its own, so runs on one deployment do not see each other's tickets."""

    def __init__(self, services: Services, halls: int, *, cluster: bool = False, ack_replicas: int = 0) -> None:
        self.services = services
        # On a cluster, acknowledged only once a replica has it too (HALLQ_ACK_REPLICAS), or a failover may lose it.
        self.cluster = PrivateCluster(Path(tempfile.mkdtemp(prefix="hallq-cluster-"))) if cluster else None
        self.ack_replicas = ack_replicas
        self.prefix = f"hqfault-{uuid.uuid4().hex[:8]}"
        self.home = services.workdir / self.prefix
        self.home.mkdir(parents=True)
        self.hall_ids = [f"fault-{n:02d}" for n in range(halls)]
        self.redis = PrivateRedis(Path(tempfile.mkdtemp(prefix="hallq-redis-")))
        self.database_url = ""
        self.server: HallqServer | None = None
        self._taken = 0

    def start(self) -> Deployment:
        paths = [_hall_copy(self.home, hall_id) for hall_id in self.hall_ids]
        if self.cluster is not None:
            self.cluster.start()
        else:
            self.redis.start()
        self.database_url = self.services.database()
        self.server = HallqServer(self.home / "server", redis_url=self.redis_url, database_url=self.database_url,
                                  key_prefix=self.prefix, secret=uuid.uuid4().hex, halls=tuple(paths),
                                  env={"HALLQ_ACK_REPLICAS": str(self.ack_replicas)})
        self.server.start()
        return self

    @property
    def redis_url(self) -> str:
        return self.cluster.url if self.cluster is not None else self.redis.url

    def next_hall(self) -> Hall:
        assert self.server is not None
        if self._taken == len(self.hall_ids):
            raise RuntimeError(f"all {len(self.hall_ids)} halls of this deployment are used; deploy more")
        config = load_hall(self.home / f"{self.hall_ids[self._taken]}.toml")
        self._taken += 1
        return Hall(self.server.base_url, self.server.secret.encode(), config, WINDOWS, SERVICES)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.cluster is not None:
            self.cluster.close()
        self.redis.close()


def _hall_copy(directory: Path, hall_id: str) -> Path:
    text = DEMO_HALL.read_text(encoding="utf-8")
    path = directory / f"{hall_id}.toml"
    path.write_text(text.replace('id = "demo"', f'id = "{hall_id}"', 1), encoding="utf-8")
    return path


async def run_fault(plan: Plan, deployment: Deployment) -> Outcome:
    """Run ``plan.fault`` under load on a hall of its own of ``deployment``; the checks' verdict."""
    server = deployment.server
    assert server is not None
    hall = deployment.next_hall()
    log_from = len(server.log())
    load = LoadGenerator(hall, guides=plan.guides, displays=plan.displays, issue_every_s=plan.issue_every_s)
    stop = asyncio.Event()
    started = time.monotonic()
    running = asyncio.create_task(load.run(stop))
    faults_at: list[float] = []
    notes: list[str] = []
    inject = _injector(plan, server, deployment, hall.id, load)
    try:
        await _sleep_unless_done(plan.before_s, running)
        for n in range(plan.faults):
            faults_at.append(time.time())
            notes.append(await inject())
            if n + 1 < plan.faults:
                await _sleep_unless_done(plan.every_s, running)
        await _sleep_unless_done(plan.after_s, running)
    finally:
        stop.set()
        record = await running
    duration = time.monotonic() - started
    sql = create_engine(deployment.database_url)
    try:
        evidence = await asyncio.to_thread(Evidence.collect, deployment.redis_url, sql, hall.id, deployment.prefix)
    finally:
        sql.dispose()
    outcome = Outcome(plan, hall.id, record, evidence, check_all(record, evidence), faults_at, notes, duration,
                      server.log()[log_from:])
    outcome.figures = figures(outcome)
    return outcome


async def _sleep_unless_done(seconds: float, running: asyncio.Task[LoadRecord]) -> None:
    """Sleep, but surface at once a load that broke (its exception) rather than after the whole plan."""
    await asyncio.wait([running], timeout=seconds)
    if running.done():
        running.result()
        raise RuntimeError("the load stopped before it was told to")


def _injector(plan: Plan, server: HallqServer, deployment: Deployment, hall: str,
              load: LoadGenerator) -> Callable[[], Awaitable[str]]:
    redis, postgres, cluster = deployment.redis, deployment.services.postgres, deployment.cluster

    async def worker_kill() -> str:
        victim = server.kill_worker()
        started = time.monotonic()
        await asyncio.to_thread(server.wait_for_workers)
        return f"SIGKILL worker {victim}; a new worker was up {time.monotonic() - started:.1f} s later"

    async def redis_restart() -> str:
        await asyncio.to_thread(redis.restart_empty, plan.down_s)
        return f"Redis SHUTDOWN NOSAVE, down {plan.down_s:g} s, started again empty"

    async def postgres_outage() -> str:
        await asyncio.to_thread(postgres.outage, plan.down_s)
        return f"PostgreSQL stopped (pg_ctl -m fast) for {plan.down_s:g} s, then started"

    async def ws_drop() -> str:
        dropped = load.drop_sockets()
        await asyncio.sleep(1.0)  # calls go on while the screens are away: they must come with the resume
        return f"{dropped} display sockets cut; they reconnect with since=<last id>"

    async def primary_kill() -> str:
        assert cluster is not None, "primary-kill runs on a deployment over a Redis Cluster"
        victim, successor, took_s = await asyncio.to_thread(cluster.kill_primary, tag_slot(hall))
        started = time.monotonic()
        await asyncio.to_thread(cluster.revive)  # back as a replica: the new primary's writes have a replica again
        return (f"SIGKILL of primary :{victim} (the hall's slot); replica :{successor} served it {took_s:.1f} s later; "
                f"the killed node was started again {time.monotonic() - started:.1f} s later, to rejoin as a replica")

    return {"worker-kill": worker_kill, "redis-restart": redis_restart, "postgres-outage": postgres_outage,
            "ws-drop": ws_drop, "primary-kill": primary_kill}[plan.fault]


def figures(outcome: Outcome) -> dict[str, Any]:
    load, v = outcome.load, outcome.violations
    bounds = zip(outcome.faults_at, [*outcome.faults_at[1:], float("inf")], strict=True)
    recoveries = [r for r in (load.recovery_s(t, until) for t, until in bounds) if r is not None]
    latencies = sorted(load.latencies_s)
    return {
        "duration_s": round(outcome.duration_s, 1),
        "requests": load.requests,
        "acknowledged tickets": len(load.tickets),
        "acknowledged calls": len(load.calls),
        "tickets/s": round(len(load.tickets) / outcome.duration_s, 1) if outcome.duration_s else 0.0,
        "faults injected": len(outcome.faults_at),
        "tickets lost": len(v["tickets lost"]),
        "duplicate numbers": len(v["duplicate numbers"]),
        "double calls": len(v["double calls"]),
        "calls a display missed": len(v["calls a display missed"]),
        "SQL differs from the stream": len(v["SQL differs from the stream"]),
        "5xx other than 503": len(load.server_errors),
        "503": load.unavailable,
        "503 without Retry-After": len(load.unavailable_without_retry_after),
        "Retry-After values": dict(load.retry_after),
        "hangs (> 10 s)": len(load.hangs),
        "unanswered (connection refused/reset)": sum(load.unanswered.values()),
        "max time to recover_s": round(max(recoveries), 2) if recoveries else 0.0,
        "display reconnects": sum(d.connects - 1 for d in load.displays),
        "archive lag after the load_s": round(outcome.evidence.archive_lag_s, 2),
        "request p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "request p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1) if latencies else None,
    }
