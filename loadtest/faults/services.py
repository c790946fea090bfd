"""Private Redis and PostgreSQL instances a fault run owns and may kill.

The machine's Redis (6379) and PostgreSQL (5432) are shared with other people's tests: a fault is never injected
there. Each instance here runs on a free port with its files in a directory of its own, and is gone at ``close``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import redis as redis_sync

PG_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(ready: Callable[[], bool], what: str, timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll ``ready()`` until it is true; raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready within {timeout_s:g} s")
        time.sleep(0.05)


def answers_ping(client: redis_sync.Redis) -> bool:
    """Whether the Redis of ``client`` answers PING now; the client is closed either way."""
    try:
        return bool(client.ping())
    except redis_sync.RedisError:
        return False
    finally:
        client.close()


NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


class PrivateRedis:
    """``redis-server`` on a port of its own, without persistence unless ``options`` say otherwise (they replace
    ``NO_PERSISTENCE``: an append-only file, a replica's ``--replicaof``). ``restart_empty`` is the fault:
    SHUTDOWN NOSAVE, then a new server on the same port, with nothing in it."""

    def __init__(self, directory: Path | None = None, options: Sequence[str] = NO_PERSISTENCE) -> None:
        self.directory = directory or Path(tempfile.mkdtemp(prefix="hallq-redis-"))
        self.options = tuple(options)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis_sync.Redis:
        return redis_sync.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> PrivateRedis:
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", *self.options,
             "--dir", str(self.directory), "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        wait_until(self._answers, f"redis-server on port {self.port}")
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server on port {self.port} exited with {self.process.returncode}; "
                               f"see {self.directory / 'redis.log'}")
        return answers_ping(self.client())

    def shutdown_nosave(self) -> None:
        """Stop without writing anything: every key is gone."""
        client = self.client()
        with contextlib.suppress(redis_sync.ConnectionError):  # the server closes the connection as it exits
            client.shutdown(nosave=True)
        client.close()
        if self.process is not None:
            self.process.wait(timeout=10)

    def restart_empty(self, down_s: float = 0.0) -> None:
        self.shutdown_nosave()
        time.sleep(down_s)
        self.start()
        self.restarts += 1

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def free_cluster_port() -> int:
    """A free port whose cluster bus port (it + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class PrivateCluster:
    """A Redis Cluster of 3 primaries and 3 replicas on free ports, no persistence: ``kill_primary`` is the fault
    (SIGKILL of the primary serving a slot; its replica takes over within ``cluster-node-timeout`` and a little),
    ``revive`` starts the killed node again, which rejoins as a replica of the node that replaced it."""

    NODE_TIMEOUT_MS = 2000

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(tempfile.mkdtemp(prefix="hallq-cluster-"))
        self.ports = [free_cluster_port() for _ in range(6)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.killed: list[int] = []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:3])

    def client(self, port: int) -> redis_sync.Redis:
        return redis_sync.Redis(host="127.0.0.1", port=port, socket_timeout=5)

    def start(self) -> PrivateCluster:
        for port in self.ports:
            self._start_node(port)
        for port in self.ports:
            wait_until(lambda port=port: self._answers(port), f"cluster node {port}")  # type: ignore[misc]
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                        "--cluster-replicas", "1", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        wait_until(self.healthy, "the Redis Cluster", timeout_s=30)
        return self

    def _start_node(self, port: int) -> None:
        directory = self.directory / str(port)
        directory.mkdir(parents=True, exist_ok=True)
        log = (directory / "redis.log").open("ab")
        self.processes[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(self.NODE_TIMEOUT_MS), "--save", "", "--appendonly", "no",
             "--daemonize", "no"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

    def _answers(self, port: int) -> bool:
        return answers_ping(self.client(port))

    def _info(self, port: int) -> str:
        client = self.client(port)
        try:
            return cast(str, client.execute_command("CLUSTER", "INFO").decode())  # type: ignore[no-untyped-call]
        finally:
            client.close()

    def healthy(self) -> bool:
        """Every live node says the cluster serves every slot."""
        try:
            return all("cluster_state:ok" in self._info(port) for port in self.ports if port not in self.killed)
        except redis_sync.RedisError:
            return False

    def primary_of(self, slot: int) -> int:
        """The port of the primary serving ``slot``, as the live nodes see it."""
        alive = next(port for port in self.ports if port not in self.killed)
        client = self.client(alive)
        try:
            for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):  # type: ignore[no-untyped-call]
                if int(start) <= slot <= int(end):
                    return int(primary[1])
        finally:
            client.close()
        raise RuntimeError(f"no node serves slot {slot}")

    def kill_primary(self, slot: int) -> tuple[int, int, float]:
        """SIGKILL the primary of ``slot`` and wait for its replica to take over: (killed port, new primary's port,
        seconds until the cluster served the slot again)."""
        victim = self.primary_of(slot)
        self.processes[victim].send_signal(signal.SIGKILL)
        self.processes[victim].wait()
        self.killed.append(victim)
        started = time.monotonic()

        def taken_over() -> bool:
            try:
                return self.primary_of(slot) != victim and self.healthy()
            except (redis_sync.RedisError, RuntimeError):
                return False

        wait_until(taken_over, f"a replica taking over slot {slot}", timeout_s=30)
        return victim, self.primary_of(slot), time.monotonic() - started

    def revive(self) -> None:
        """Start the killed nodes again: each rejoins as a replica (its nodes.conf remembers the cluster)."""
        for port in self.killed:
            self._start_node(port)
            wait_until(lambda port=port: self._answers(port), f"cluster node {port}")  # type: ignore[misc]
        self.killed.clear()
        wait_until(self.healthy, "the Redis Cluster", timeout_s=30)

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster on a port of its own, its socket in its own directory. ``stop`` and
    ``start`` are the fault (``pg_ctl stop -m fast``: clients are disconnected, nothing is lost)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(tempfile.mkdtemp(prefix="hallq-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.outages = 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str, timeout_s: float = 60.0) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=timeout_s)

    def init(self) -> PrivatePostgres:
        shutil.chown(self.directory, "postgres")
        self.directory.chmod(0o700)
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.directory} -h 127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
                          "-l", str(self.directory / "postgres.log"), "-w", "-t", str(int(START_TIMEOUT_S)), "start")
        return self

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def outage(self, down_s: float) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()
        self.outages += 1

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        if self.data.exists() and self.running():
            with contextlib.suppress(subprocess.SubprocessError):
                self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


# -- the server under test ----------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the server is local, whatever the env says
HALLQ = Path(sys.executable).parent / "hallq"


def children(pid: int) -> list[int]:
    """The direct children of ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class HallqServer:
    """``hallq serve --workers N`` in a process group of its own, on a free port, against the given Redis and SQL."""

    def __init__(self, home: Path, *, redis_url: str, database_url: str, key_prefix: str, secret: str,
                 workers: int = 2, halls: tuple[Path, ...] = (), env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.workers = workers
        self.secret = secret
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HALLQ_")}
        self.env.update({"HALLQ_HOME": str(home), "HALLQ_REDIS_URL": redis_url, "HALLQ_DATABASE_URL": database_url,
                         "HALLQ_KEY_PREFIX": key_prefix, "HALLQ_SECRET": secret, "HALLQ_HEARTBEAT_S": "1",
                         "PYTHONUNBUFFERED": "1"})
        self.env.update(env or {})
        if halls:
            self.env["HALLQ_HALLS"] = os.pathsep.join(str(p) for p in halls)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self) -> HallqServer:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(HALLQ), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        # Two workers beside a loaded suite have taken over 60 s to answer on a cluster (CI, 4 test workers on 2 cores).
        try:
            wait_until(self._up, f"hallq serve on port {self.port}", timeout_s=120)
        except RuntimeError as exc:
            self.stop()  # a server left running would outlive the run that gave up on it
            raise RuntimeError(f"{exc}; its log, last lines:\n{self.log()[-3000:]}") from None
        return self

    def _up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"hallq serve exited with {self.process.returncode}:\n{self.log()[-3000:]}")
        if self.log().count("Application startup complete") < self.workers:
            return False
        try:
            with _NO_PROXY.open(f"{self.base_url}/healthz", timeout=1) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        """The uvicorn workers (multiprocessing children), not the archive process."""
        assert self.process is not None
        return sorted(p for p in children(self.process.pid) if "multiprocessing.spawn" in cmdline(p))

    def kill_worker(self) -> int:
        """The worker-kill fault: SIGKILL one worker; its id."""
        victim = self.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        return victim

    def wait_for_workers(self, timeout_s: float = 30.0) -> None:
        wait_until(lambda: len(self.worker_pids()) == self.workers, "replacement worker", timeout_s)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # the group we started: server, workers, archiver
            self.process.wait(timeout=10)
