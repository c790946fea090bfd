"""The server's one settings object. Read from the environment by the CLI and app factory only."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEMO_HALL = Path(__file__).resolve().parent / "halls" / "demo.toml"


@dataclass(frozen=True)
class Settings:
    secret: bytes  # signs tokens and keys the hash of ID numbers; keep it out of the repository
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "sqlite:///var/hallq.db"
    halls: tuple[Path, ...] = (DEMO_HALL,)
    key_prefix: str = "hq"
    archive: bool = True  # `hallq serve` runs the archiver process that copies every event into SQL
    heartbeat_s: float = 15.0
    # Where citizens' phones reach this server (the QR code on a printed ticket); by default the address
    # the guide desk itself used, which is right unless the hall sits behind a proxy or a public domain.
    public_url: str | None = None
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
    timings_file: Path | None = None  # load runs: where each worker writes its requests' times (floor.http.timings)

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
            key_prefix=env.get("HALLQ_KEY_PREFIX", cls.key_prefix),
            archive=env.get("HALLQ_ARCHIVE", "1") != "0",
            heartbeat_s=float(env.get("HALLQ_HEARTBEAT_S", cls.heartbeat_s)),
            public_url=env.get("HALLQ_PUBLIC_URL", "").rstrip("/") or None,
            kiosk_limit=int(env.get("HALLQ_KIOSK_LIMIT", cls.kiosk_limit)),
            kiosk_window_s=float(env.get("HALLQ_KIOSK_WINDOW_S", cls.kiosk_window_s)),
            clock_file=Path(env["HALLQ_CLOCK_FILE"]) if env.get("HALLQ_CLOCK_FILE") else None,
            webhook_secret=env.get("HALLQ_WEBHOOK_SECRET", "").encode() or None,
            webhook_attempts=int(env.get("HALLQ_WEBHOOK_ATTEMPTS", cls.webhook_attempts)),
            webhook_backoff_s=float(env.get("HALLQ_WEBHOOK_BACKOFF_S", cls.webhook_backoff_s)),
            webhook_backoff_cap_s=float(env.get("HALLQ_WEBHOOK_BACKOFF_CAP_S", cls.webhook_backoff_cap_s)),
            webhook_timeout_s=float(env.get("HALLQ_WEBHOOK_TIMEOUT_S", cls.webhook_timeout_s)),
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
