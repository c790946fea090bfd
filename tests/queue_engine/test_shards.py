"""Which Redis holds a hall: the cluster URL, the slot of a hall's tag, one server's routing."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.exceptions import ClusterDownError, MovedError, ResponseError

from queue_engine.keys import AUTH_TAG, AuthKeys, HallKeys
from queue_engine.shards import ClusterUrl, Shards, is_cluster_url, is_moved, tag_slot


def test_a_cluster_url_names_its_seeds_and_what_every_node_shares() -> None:
    url = ClusterUrl.parse("rediss+cluster://ops:s3cret@10.0.0.1:7000, 10.0.0.2:7001?ssl_cert_reqs=none")
    assert url.seeds == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert url.node("10.0.0.3", 7002) == "rediss://ops:s3cret@10.0.0.3:7002/0?ssl_cert_reqs=none"
    assert ClusterUrl.parse("redis+cluster://[::1]:7000").node("::1", 7000) == "redis://[::1]:7000/0"
    assert is_cluster_url("redis+cluster://h:1")
    assert not is_cluster_url("redis://h:1/0")


@pytest.mark.parametrize("bad", ["redis+cluster://host", "redis+cluster://host:port", "redis://h:1"])
def test_a_wrong_cluster_url_says_what_a_node_must_look_like(bad: str) -> None:
    with pytest.raises(ValueError, match="cluster"):
        ClusterUrl.parse(bad)


def test_every_key_of_a_hall_lies_in_the_slot_of_its_tag() -> None:
    keys = HallKeys("county-12", "hq")
    for key in (keys.tickets, keys.events, keys.queue("SOC"), keys.idempotency("20261207"), keys.config):
        assert tag_slot("county-12") == tag_slot(key)  # a key's slot is its tag's: one hall, one slot
    auth = AuthKeys("hq")
    assert {tag_slot(k) for k in (auth.revocations, auth.failures("account", "wang"), auth.pairing("123456"))} == {
        tag_slot(AUTH_TAG)}


def test_the_replies_of_a_node_not_serving_a_slot_are_told_from_other_errors() -> None:
    assert is_moved(ResponseError("MOVED 3999 127.0.0.1:7002"))
    assert is_moved(ResponseError("CLUSTERDOWN The cluster is down"))
    assert is_moved(ResponseError("TRYAGAIN Multiple keys request during rehashing of slot"))
    assert not is_moved(ResponseError("ERR Error running script"))
    assert issubclass(MovedError, ResponseError)
    assert issubclass(ClusterDownError, ResponseError)


async def test_one_server_holds_every_hall() -> None:
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    shards = Shards.one(redis)
    try:
        await shards.start()  # nothing to read for one server
        assert not shards.is_cluster
        assert shards.for_tag("a") is shards.for_tag("b") is redis
        assert shards.clients() == [redis]
        assert shards.grouped(["a", "b", "c"]) == {redis: ["a", "b", "c"]}
    finally:
        await shards.aclose()
