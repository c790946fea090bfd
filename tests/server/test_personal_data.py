"""ID numbers are kept only as a keyed hash, phone numbers not at all (design.md section 7): a ticket issued with
both leaves neither in Redis, in the SQL record or in the server's log, and the keyed hash is there."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any, cast

import orjson
import sqlalchemy as sa

from floor.identity import person_key
from tests.conftest import sync_redis
from tests.server.conftest import HallApi, LiveServer, make_id_number

ARCHIVE_WITHIN_S = 15.0
ID_NUMBER = make_id_number(date(1951, 7, 9), seq=272, area="330106")  # ends in X; 60+: the green channel
PHONE = "13912345678"


def redis_texts(prefix: str) -> dict[str, bytes]:
    """Every key of the prefix with all it holds (names, fields, members, values, stream entries) as one blob."""
    client = sync_redis()
    blobs: dict[str, bytes] = {}
    try:
        for raw_key in client.scan_iter(match=f"{prefix}:*", count=1000):
            key = raw_key.decode()
            kind = cast(bytes, client.type(raw_key)).decode()
            content: Any
            if kind == "string":
                content = client.get(raw_key)
            elif kind == "hash":
                content = client.hgetall(raw_key)
            elif kind == "list":
                content = client.lrange(raw_key, 0, -1)
            elif kind == "set":
                content = client.smembers(raw_key)
            elif kind == "zset":
                content = client.zrange(raw_key, 0, -1, withscores=True)
            elif kind == "stream":
                content = client.xrange(raw_key)
            else:
                raise AssertionError(f"{key}: a Redis type this test does not read ({kind}); teach it")
            blobs[key] = raw_key + repr(content).encode()
    finally:
        client.close()
    return blobs


def sql_texts(server: LiveServer) -> dict[str, str]:
    """Every row of every table of the server's SQL record, as text (JSON columns included)."""
    engine = sa.create_engine(f"sqlite:///{server.home / 'hallq.db'}")
    texts: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            for table in sa.inspect(engine).get_table_names():
                rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).all()
                texts[table] = "\n".join(orjson.dumps([str(v) for v in row]).decode() for row in rows)
    finally:
        engine.dispose()
    return texts


async def archived(server: LiveServer, ticket_id: str) -> dict[str, str]:
    deadline = time.monotonic() + ARCHIVE_WITHIN_S
    while True:
        texts = sql_texts(server)
        if ticket_id in texts.get("ticket_events", "") and ticket_id in texts.get("tickets", ""):
            return texts
        assert time.monotonic() < deadline, f"ticket {ticket_id} not archived within {ARCHIVE_WITHIN_S} s"
        await asyncio.sleep(0.1)


async def test_an_id_number_is_kept_only_as_a_keyed_hash_and_a_phone_not_at_all(api: HallApi) -> None:
    await api.open("5")
    # As typed at the desk and at a kiosk: spaces, a lower-case x, a +86 phone with dashes.
    for role, service, id_number in (("guide", "HUK", ID_NUMBER), ("kiosk", "TAX", ID_NUMBER.lower())):
        ticket = await api.issue(service, role=role, id_number=f" {id_number} ", phone=f"+86 {PHONE[:3]}-{PHONE[3:]}")
        assert ticket["priority"] == "green"
    hashed = person_key(api.server.secret, ID_NUMBER)
    secrets_ = {"the ID number": ID_NUMBER, "its first 17 digits": ID_NUMBER[:17], "the phone number": PHONE}

    in_redis = redis_texts(api.server.key_prefix)
    for key, blob in in_redis.items():
        for what, value in secrets_.items():
            assert value.encode() not in blob, f"{what} is in Redis at {key}"
    assert any(hashed.encode() in blob for blob in in_redis.values()), "the keyed hash is not in Redis"

    in_sql = await archived(api.server, ticket["id"])
    for table, text in in_sql.items():
        for what, value in secrets_.items():
            assert value not in text, f"{what} is in the SQL table {table}"
    assert hashed in in_sql["ticket_events"], "the keyed hash is not in the SQL record"

    log = api.server.stdout() + api.server.stderr()
    for what, value in secrets_.items():
        assert value not in log, f"{what} is in the server's log"


def test_the_hash_is_keyed_by_the_servers_secret() -> None:
    """Without the secret, the hash of a known number cannot be computed (a leaked record is no lookup table)."""
    assert person_key(b"one secret", ID_NUMBER) != person_key(b"another secret", ID_NUMBER)
    assert person_key(b"one secret", ID_NUMBER) == person_key(b"one secret", ID_NUMBER)
    assert ID_NUMBER not in person_key(b"one secret", ID_NUMBER)
