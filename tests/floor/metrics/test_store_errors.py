"""Redis errors are counted from the warnings that report them, by where they were met; nothing else is."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa_exc

from floor.metrics.families import OWN
from floor.metrics.store_errors import RedisErrorCount, classify, count_start_retry
from queue_engine.shards import SlotMoved


def record(logger: str, msg: str, *args: object, level: int = logging.WARNING,
           exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord(logger, level, __file__, 1, msg, args, exc_info)


@pytest.mark.parametrize(("rec", "found"), [
    (record("hallq.web", "redis unavailable for %s: %s", "/api/v1/halls/demo/tickets",
            RedisConnectionError("refused")), ("request", "connection")),
    (record("hallq.web", "redis unavailable for %s: %s", "/x", ConnectionResetError("reset")),
     ("request", "connection")),
    (record("hallq.hub", "hub read failed, retrying: %s", RedisTimeoutError("late")), ("hub", "timeout")),
    (record("hallq.hub", "hub read failed, retrying: %s", SlotMoved("moved")), ("hub", "connection")),
    (record("hallq", "region overview: could not refresh: %s", ResponseError("WRONGTYPE")), ("server", "reply")),
    (record("hallq.accounts", "oops", exc=RedisConnectionError("gone"), level=logging.ERROR),
     ("accounts", "connection")),
    (record("hallq.somewhere_new", "%s", RedisConnectionError("gone")), ("other", "connection")),
])
def test_a_warning_carrying_a_redis_error_is_counted_by_where(rec: logging.LogRecord, found: tuple[str, str]) -> None:
    assert classify(rec) == found


@pytest.mark.parametrize("rec", [
    record("hallq.web", "SQL record unavailable for %s: %s", "/x", "connection refused"),  # the record, not Redis
    record("hallq.web", "redis unavailable for %s: %s", "/x", sa_exc.OperationalError("s", {}, Exception("db"))),
    record("hallq.webhooks", "delivery failed: %s", ConnectionResetError("reset")),  # a receiver's socket, not Redis
    record("hallq.hub", "hub read failed, retrying: %s", RedisConnectionError("x"), level=logging.INFO),
    record("hallq", "could not %s yet (%s: %s)", "prepare hall demo", "ConnectionError", "refused"),  # counted apart
])
def test_other_records_are_not(rec: logging.LogRecord) -> None:
    assert classify(rec) is None


def value(name: str, labels: dict[str, str]) -> float:
    return OWN.get_sample_value(name, labels) or 0.0


def test_the_handler_counts_what_the_hallq_loggers_write() -> None:
    logger = logging.getLogger("hallq.hub")
    counter = RedisErrorCount()
    logging.getLogger("hallq").addHandler(counter)
    labels = {"source": "hub", "kind": "connection"}
    before = value("hallq_redis_errors_total", labels)
    try:
        logger.warning("hub read failed, retrying: %s", RedisConnectionError("refused"))
        logger.warning("hub read failed, retrying: %s", RedisConnectionError("refused"))
    finally:
        logging.getLogger("hallq").removeHandler(counter)
    assert value("hallq_redis_errors_total", labels) - before == 2


def test_start_retries_are_counted_by_store() -> None:
    before = {store: value("hallq_start_retries_total", {"store": store}) for store in ("redis", "sql")}
    count_start_retry(RedisConnectionError("refused"))
    count_start_retry(RedisTimeoutError("late"))
    count_start_retry(sa_exc.OperationalError("select 1", {}, Exception("db down")))
    assert value("hallq_start_retries_total", {"store": "redis"}) - before["redis"] == 2
    assert value("hallq_start_retries_total", {"store": "sql"}) - before["sql"] == 1

