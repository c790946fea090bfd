"""Redis errors the server met, counted from the warnings it already logs; start-up retries, where they happen.

Every place that meets a Redis outage logs it once with the exception (a request answered 503, the hub's read, the
region watch, a cluster map read...), and those loggers are all below ``hallq``. A handler there counts each record
that carries a Redis error, so no such place needs a hook, and a request that succeeds costs nothing. The count
follows the log level: with the ``hallq`` loggers set above warning, these are not counted either.
"""

from __future__ import annotations

import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from floor.metrics.families import REDIS_ERRORS, START_RETRIES

LOGGER = "hallq"
# Where the server meets Redis, by the logger that reports it; the values label the counter.
SOURCES = {"hallq": "server", "hallq.web": "request", "hallq.hub": "hub", "hallq.shards": "cluster",
           "hallq.accounts": "accounts", "hallq.phone": "phone", "hallq.setup": "setup",
           "hallq.stand_in": "stand_in", "hallq.archiver": "archiver", "hallq.notifier": "notifier"}


def kind_of(exc: BaseException) -> str | None:
    """``timeout``, ``connection`` (refused, reset, closed, a cluster slot moved) or ``reply`` (Redis refused the
    command); None for an error that is not Redis's."""
    if isinstance(exc, RedisTimeoutError):
        return "timeout"
    if isinstance(exc, RedisConnectionError):
        return "connection"
    if isinstance(exc, RedisError):
        return "reply"
    return None


def _socket_kind(exc: BaseException) -> str | None:
    """A bare socket error: a request's Redis call lets some through unwrapped (``floor.http.kit.REDIS_DOWN``)."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "connection" if isinstance(exc, OSError) else None


def classify(record: logging.LogRecord) -> tuple[str, str] | None:
    """(source, kind) of a log record that reports a Redis error, else None."""
    if record.levelno < logging.WARNING:
        return None
    carried = [*(record.args if isinstance(record.args, tuple) else ())]
    if record.exc_info and record.exc_info[1] is not None:
        carried.append(record.exc_info[1])
    for value in carried:
        if not isinstance(value, BaseException):
            continue
        kind = kind_of(value) or (_socket_kind(value) if record.name == "hallq.web" else None)
        if kind is not None:
            return SOURCES.get(record.name, "other"), kind
    return None


class RedisErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        found = classify(record)
        if found is not None:
            REDIS_ERRORS.labels(*found).inc()


def count_redis_error(source: str, exc: BaseException) -> None:
    """A Redis error met outside the logs (a scrape's own read)."""
    REDIS_ERRORS.labels(source, kind_of(exc) or "reply").inc()


def count_start_retry(exc: BaseException) -> None:
    """A worker's start-up step that will be tried again: Redis or the SQL record did not answer."""
    START_RETRIES.labels("redis" if kind_of(exc) is not None else "sql").inc()


def show_zero_series() -> None:
    """The series an alert rate()s, at 0 from the start: a first error then shows as a rise, not as a new series."""
    for source in ("request", "hub"):
        for kind in ("connection", "timeout"):
            REDIS_ERRORS.labels(source, kind)
    for store in ("redis", "sql"):
        START_RETRIES.labels(store)
