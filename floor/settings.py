"""The server's one settings object. Read from the environment by the CLI and app factory only."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEMO_HALL = Path(__file__).resolve().parent / "halls" / "demo.toml"


def host_name(host: str) -> str:
    """A host as compared with ``allowed_hosts``: lower case, without brackets around an IPv6 address or a
    final dot."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


def local_hosts() -> tuple[str, ...]:
    """The names this machine answers to without a proxy: loopback, and its own host name."""
    return _unique(("localhost", "127.0.0.1", "::1", socket.gethostname()))


def _unique(hosts: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(h for h in map(host_name, hosts) if h))


LOCAL_HOSTS = local_hosts()


def _public_host(public_url: str) -> str:
    """The host of HALLQ_PUBLIC_URL, which must be a whole http(s) address: it is printed in every QR code."""
    try:
        parts = urlsplit(public_url)
        scheme, host = parts.scheme, parts.hostname
    except ValueError:  # a malformed IPv6 address in brackets, or a port that is not a number
        scheme, host = "", None
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"HALLQ_PUBLIC_URL must be an address like https://queue.example.gov.cn, not {public_url!r}")
    return host


@dataclass(frozen=True)
class Settings:
    secret: bytes  # signs tokens and keys the hash of ID numbers; keep it out of the repository
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "sqlite:///var/hallq.db"
    halls: tuple[Path, ...] = (DEMO_HALL,)
    # The county's network (floor.network): its region tree and catalogs, which halls name by `region`/`catalog`.
    network: Path | None = None
    key_prefix: str = "hq"
    archive: bool = True  # `hallq serve` runs the archiver process that copies every event into SQL
    heartbeat_s: float = 15.0
    # Where citizens' phones reach this server (the QR code on a printed ticket). Unset, the address the kiosk or
    # guide desk itself used, if its host is one of allowed_hosts; set it in production (docs/deploy.md).
    public_url: str | None = None
    # Without public_url, the Host a request names may stand in for it only if it is one of these (the host of
    # public_url is always added): any other Host could put an address of the sender's choosing in a QR code.
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS
    # A kiosk may issue this many tickets at once, then one every kiosk_window_s / kiosk_limit seconds (0: no limit).
    # A busy kiosk serves a person every several seconds; a finger on the button or a script is stopped.
    kiosk_limit: int = 5
    kiosk_window_s: float = 20.0
    # Tests only: the engines' clock reads the time from this file (floor.clock.FileClock), not from the system.
    clock_file: Path | None = None
    # Outgoing webhooks (floor.notify.webhooks): signed with this key. Unset, it is derived from ``secret`` (see
    # ``webhook_key``); set it to share a key with the receivers that does not reveal the server's own secret.
    webhook_secret: bytes | None = None
    webhook_attempts: int = 8  # tries of one delivery, the first included, before it is marked failed
    webhook_backoff_s: float = 1.0  # wait after the first failed try; doubled after each further one
    webhook_backoff_cap_s: float = 600.0  # the longest wait between two tries
    webhook_timeout_s: float = 10.0  # a receiver that has not answered by then has failed that try
    # A ticket's change is acknowledged once this many replicas have it too (Redis WAIT, up to ack_wait_ms; 503 if
    # they do not confirm in time): 0 acknowledges what the primary has, which a failover can lose.
    ack_replicas: int = 0
    ack_wait_ms: int = 500
    timings_file: Path | None = None  # load runs: where each worker writes its requests' times (floor.http.timings)

    def __post_init__(self) -> None:
        hosts = [*self.allowed_hosts]
        if self.public_url:
            hosts.append(_public_host(self.public_url))
        object.__setattr__(self, "allowed_hosts", _unique(hosts))

    def host_allowed(self, host: str) -> bool:
        """Whether a request's host name (without its port) is one of ``allowed_hosts``."""
        return host_name(host) in self.allowed_hosts

    @property
    def webhook_key(self) -> bytes:
        """The key that signs outgoing webhooks: HALLQ_WEBHOOK_SECRET, or else the hex of
        HMAC-SHA256(server secret, "hallq webhook signing key"), so receivers never learn the server's secret."""
        if self.webhook_secret:
            return self.webhook_secret
        return hmac.new(self.secret, b"hallq webhook signing key", hashlib.sha256).hexdigest().encode()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """HALLQ_* variables; the secret comes from HALLQ_SECRET or a file made on first use."""
        env = os.environ if env is None else env
        home = Path(env.get("HALLQ_HOME", "var"))
        halls = tuple(Path(p) for p in env.get("HALLQ_HALLS", "").split(os.pathsep) if p) or (DEMO_HALL,)
        return cls(
            secret=_secret(env, home),
            redis_url=env.get("HALLQ_REDIS_URL", cls.redis_url),
            database_url=env.get("HALLQ_DATABASE_URL", f"sqlite:///{home / 'hallq.db'}"),
            halls=halls,
            network=Path(env["HALLQ_NETWORK"]) if env.get("HALLQ_NETWORK") else None,
            key_prefix=env.get("HALLQ_KEY_PREFIX", cls.key_prefix),
            archive=env.get("HALLQ_ARCHIVE", "1") != "0",
            heartbeat_s=float(env.get("HALLQ_HEARTBEAT_S", cls.heartbeat_s)),
            public_url=env.get("HALLQ_PUBLIC_URL", "").rstrip("/") or None,
            allowed_hosts=_unique(env.get("HALLQ_ALLOWED_HOSTS", "").split(",")) or LOCAL_HOSTS,
            kiosk_limit=int(env.get("HALLQ_KIOSK_LIMIT", cls.kiosk_limit)),
            kiosk_window_s=float(env.get("HALLQ_KIOSK_WINDOW_S", cls.kiosk_window_s)),
            clock_file=Path(env["HALLQ_CLOCK_FILE"]) if env.get("HALLQ_CLOCK_FILE") else None,
            webhook_secret=env.get("HALLQ_WEBHOOK_SECRET", "").encode() or None,
            webhook_attempts=int(env.get("HALLQ_WEBHOOK_ATTEMPTS", cls.webhook_attempts)),
            webhook_backoff_s=float(env.get("HALLQ_WEBHOOK_BACKOFF_S", cls.webhook_backoff_s)),
            webhook_backoff_cap_s=float(env.get("HALLQ_WEBHOOK_BACKOFF_CAP_S", cls.webhook_backoff_cap_s)),
            webhook_timeout_s=float(env.get("HALLQ_WEBHOOK_TIMEOUT_S", cls.webhook_timeout_s)),
            ack_replicas=int(env.get("HALLQ_ACK_REPLICAS", cls.ack_replicas)),
            ack_wait_ms=int(env.get("HALLQ_ACK_WAIT_MS", cls.ack_wait_ms)),
            timings_file=Path(env["HALLQ_TIMINGS_FILE"]) if env.get("HALLQ_TIMINGS_FILE") else None,
        )


def _secret(env: Mapping[str, str], home: Path) -> bytes:
    if env.get("HALLQ_SECRET"):
        return env["HALLQ_SECRET"].encode()
    path = home / "secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        # Created with owner-only permissions before anything is written to it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
