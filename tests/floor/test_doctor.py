"""``hallq doctor``'s rules, one finding at a time, on what a deployment could say (no store needed).

The command itself, against real and broken deployments, is tested in tests/server/test_doctor_cli.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from floor import doctor
from floor.doctor import Finding, Level

HEX64 = "0123456789abcdef" * 4
SECRET_FILE = Path("/srv/hallq/var/secret")


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def assert_readable(finding: Finding) -> None:
    """Each finding says it twice: in Chinese for the hall's people, in English (no Chinese in it) for the rest."""
    assert has_chinese(finding.zh), finding
    assert finding.en.strip(), finding
    assert not has_chinese(finding.en), finding
    assert "\n" not in finding.zh + finding.en, finding  # one line each


# -- the secret and the public address ----------------------------------------------------------------------------
def test_an_unset_secret_is_wrong_and_names_the_file_the_server_would_use() -> None:
    finding = doctor.secret(None, SECRET_FILE)
    assert finding.level is Level.WRONG
    assert "HALLQ_SECRET is not set" in finding.en
    assert str(SECRET_FILE) in finding.zh
    assert str(SECRET_FILE) in finding.en
    assert "openssl rand -hex 32" in finding.en
    assert_readable(finding)


@pytest.mark.parametrize("value", ["CHANGE-ME-openssl-rand-hex-32-CHANGE-ME", "secret", "hallq",
                                   "replace-me-with-something-long-enough-0000"])
def test_a_placeholder_secret_is_wrong(value: str) -> None:
    finding = doctor.secret(value, SECRET_FILE)
    assert finding.level is Level.WRONG
    assert "placeholder" in finding.en
    assert_readable(finding)


def test_a_short_secret_is_wrong_and_says_how_long_it_is() -> None:
    finding = doctor.secret("s3cr3t-but-short", SECRET_FILE)
    assert finding.level is Level.WRONG
    assert "16 characters" in finding.en
    assert "16 个字符" in finding.zh
    assert_readable(finding)


def test_a_long_random_secret_is_well_and_never_printed() -> None:
    finding = doctor.secret(HEX64, SECRET_FILE)
    assert finding.level is Level.OK
    assert HEX64 not in finding.zh + finding.en
    assert_readable(finding)


@pytest.mark.parametrize(("value", "level", "words"), [
    (None, Level.WRONG, "HALLQ_PUBLIC_URL is not set"),
    ("http://queue.example.gov.cn", Level.WRONG, "not https"),
    ("https://queue.example.gov.cn", Level.OK, "https://queue.example.gov.cn"),
])
def test_the_public_address_must_be_https(value: str | None, level: Level, words: str) -> None:
    finding = doctor.public_url(value)
    assert finding.level is level
    assert words in finding.en
    assert_readable(finding)


# -- Redis --------------------------------------------------------------------------------------------------------
NODE = "10.0.0.5:6379"


@pytest.mark.parametrize(("config", "level", "words"), [
    ({"appendonly": "yes", "appendfsync": "everysec", "save": ""}, Level.OK, "append-only file"),
    ({"appendonly": "yes", "appendfsync": "always", "save": "3600 1"}, Level.OK, "appendfsync always"),
    ({"appendonly": "yes", "appendfsync": "no", "save": ""}, Level.WRONG, "appendfsync no"),
    ({"appendonly": "no", "appendfsync": "everysec", "save": "3600 1 300 100"}, Level.WRONG, "only takes snapshots"),
    ({"appendonly": "no", "appendfsync": "everysec", "save": ""}, Level.WRONG, "keeps nothing on disk"),
    (None, Level.NOTE, "Could not tell"),
])
def test_redis_must_keep_an_append_only_file(config: dict[str, str] | None, level: Level, words: str) -> None:
    finding = doctor.persistence(NODE, config)
    assert finding.level is level
    assert words in finding.en
    assert NODE in finding.en
    assert NODE in finding.zh
    if level is Level.WRONG:
        assert "appendonly yes" in finding.en or "appendfsync everysec" in finding.en  # what to do
    assert_readable(finding)


@pytest.mark.parametrize(("config", "level"), [
    ({"maxmemory-policy": "noeviction"}, Level.OK),
    ({"maxmemory-policy": "allkeys-lru"}, Level.WRONG),
    ({"maxmemory-policy": "volatile-ttl"}, Level.WRONG),
    (None, Level.NOTE),
])
def test_redis_must_never_evict(config: dict[str, str] | None, level: Level) -> None:
    finding = doctor.eviction(NODE, config)
    assert finding.level is level
    if level is Level.WRONG:
        assert config is not None
        assert config["maxmemory-policy"] in finding.en
        assert "noeviction" in finding.en
    assert_readable(finding)


def test_the_library_of_this_version_must_be_loaded() -> None:
    wanted = doctor.LIBRARY_NAME
    assert wanted.startswith("hallq_")
    assert len(wanted) > len("hallq_")
    assert doctor.library(NODE, {wanted}).level is Level.OK
    with_old = doctor.library(NODE, {wanted, "hallq_0000000000"})  # left by the version before an upgrade
    assert with_old.level is Level.OK
    assert "FUNCTION DELETE" in with_old.en
    assert "hallq_0000000000" in with_old.en
    assert_readable(with_old)
    other_version = doctor.library(NODE, {"hallq_0000000000"})  # the servers run another version than this machine
    assert other_version.level is Level.WRONG
    assert wanted in other_version.en
    assert "hallq_0000000000" in other_version.en
    assert "run one version on every machine" in other_version.en
    missed = doctor.library(NODE, set(), elsewhere=True)  # a primary of the cluster the servers have not met
    assert missed.level is Level.WRONG
    assert "which other primaries have" in missed.en
    not_yet = doctor.library(NODE, set())  # no call has reached this Redis: hallq serve loads it at the first
    assert not_yet.level is Level.NOTE
    assert "first call" in not_yet.en
    assert doctor.library(NODE, None).level is Level.NOTE
    for finding in (other_version, missed, not_yet):
        assert_readable(finding)


def test_a_cluster_node_named_alone_is_wrong() -> None:
    """redis:// to one node of a cluster: the servers would meet MOVED for every hall on another primary."""
    node = doctor.RedisNode(NODE, {"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "noeviction"},
                            frozenset({doctor.LIBRARY_NAME}), 0.01, cluster_enabled=True)
    alone = doctor.redis_node(node)
    assert [f.level for f in alone] == [Level.OK, Level.WRONG, Level.OK, Level.OK, Level.OK, Level.OK]
    assert "redis+cluster://" in alone[1].en
    assert all(f.level is Level.OK for f in doctor.redis_node(node, single=False))


@pytest.mark.parametrize(("skew_s", "level", "words"), [
    (0.0, Level.OK, "differ by 0.00 s"),
    (-0.8, Level.OK, "differ by 0.80 s"),
    (2.5, Level.WRONG, "2.5 s behind"),
    (-3.0, Level.WRONG, "3.0 s ahead of"),
    (None, Level.NOTE, "Could not read the time"),
])
def test_clocks_must_agree_within_a_second(skew_s: float | None, level: Level, words: str) -> None:
    finding = doctor.clock("PostgreSQL", skew_s)
    assert finding.level is level
    assert words in finding.en
    if level is Level.WRONG:
        assert "timedatectl set-ntp true" in finding.en
    assert_readable(finding)


# -- the record ---------------------------------------------------------------------------------------------------
KNOWN = {"0001", "0002", "0003"}


@pytest.mark.parametrize(("current", "level", "words"), [
    (("0003",), Level.OK, "newest schema (0003)"),
    ((), Level.WRONG, "no hallq tables yet"),
    (("0002",), Level.WRONG, "behind the newest, 0003"),
    (("0004",), Level.WRONG, "newer than this hallq knows"),
])
def test_the_record_must_be_at_the_newest_revision(current: tuple[str, ...], level: Level, words: str) -> None:
    finding = doctor.schema("postgresql+psycopg://hallq@db/hallq", current, ("0003",), KNOWN)
    assert finding.level is level
    assert words in finding.en
    assert_readable(finding)


def test_unreachable_stores_say_what_to_check() -> None:
    redis = doctor.redis_unreachable(NODE, "Connection refused")
    assert "Cannot reach Redis at 10.0.0.5:6379: Connection refused" in redis.en
    assert "HALLQ_REDIS_URL" in redis.en
    record = doctor.database_unreachable("postgresql+psycopg://hallq@db/hallq", "timeout expired")
    assert "Cannot reach the record" in record.en
    assert "Issuing and calling go on" in record.en
    for finding in (redis, record):
        assert finding.level is Level.WRONG
        assert_readable(finding)


def test_a_password_in_an_address_is_never_printed() -> None:
    assert doctor.shown("postgresql+psycopg://hallq:hunter2@db/hallq") == "postgresql+psycopg://hallq:***@db/hallq"
    assert doctor.shown("redis://:hunter2@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert doctor.shown("redis://10.0.0.5:6379/0") == "redis://10.0.0.5:6379/0"


# -- a Redis Cluster ----------------------------------------------------------------------------------------------
def node(port: int, role: str, *, ip: str = "10.0.0.1", endpoint: str | None = None, health: str = "online"
         ) -> dict[str, object]:
    return {"id": f"n{port}", "port": port, "ip": ip, "endpoint": endpoint if endpoint is not None else ip,
            "role": role, "replication-offset": 10, "health": health}


def test_the_primaries_of_a_cluster_are_read_from_cluster_shards() -> None:
    reply = [
        {"slots": [0, 5460], "nodes": [node(7000, "master"), node(7003, "replica")]},
        {"slots": [5461, 10922], "nodes": [node(7001, "master", ip="10.0.0.2", endpoint="?"), node(7004, "replica")]},
        {"slots": [10923, 16383], "nodes": [node(7002, "master", health="loading"), node(7005, "replica")]},
        {"slots": [], "nodes": [node(7006, "master")]},  # no slots: it holds no hall
    ]
    assert doctor.cluster_primaries(reply) == [
        doctor.Primary("10.0.0.1", 7000, "online"), doctor.Primary("10.0.0.2", 7001, "online"),
        doctor.Primary("10.0.0.1", 7002, "loading")]


def test_cluster_shards_as_flat_lists_of_bytes_read_the_same() -> None:
    """RESP2 without redis-py's parsing: [name, value, ...] lists of bytes."""
    primary = [b"id", b"n7000", b"port", 7000, b"ip", b"10.0.0.1", b"endpoint", b"db1.hall", b"role", b"master",
               b"health", b"online"]
    replica = [b"id", b"n7003", b"port", 7003, b"ip", b"10.0.0.4", b"role", b"replica", b"health", b"online"]
    assert doctor.cluster_primaries([[b"slots", [0, 16383], b"nodes", [primary, replica]]]) == [
        doctor.Primary("db1.hall", 7000, "online")]


def test_a_cluster_url_names_its_seeds_and_every_node_shares_its_credentials() -> None:
    url = "rediss+cluster://hallq:pw@h1:7000, h2:7000,[fd00::3]:7000/?ssl_cert_reqs=none"
    seeds, node_url = doctor.cluster_seeds(url)
    assert seeds == [("h1", 7000), ("h2", 7000), ("fd00::3", 7000)]
    assert node_url("10.0.0.9", 7001) == "rediss://hallq:pw@10.0.0.9:7001/0?ssl_cert_reqs=none"
    assert node_url("fd00::9", 7001) == "rediss://hallq:pw@[fd00::9]:7001/0?ssl_cert_reqs=none"
    with pytest.raises(ValueError, match="host:port"):
        doctor.cluster_seeds("redis+cluster://h1:7000,h2")


# -- the whole -------------------------------------------------------------------------------------------------------
def test_a_setting_that_cannot_be_read_is_one_finding_naming_the_variable() -> None:
    findings = doctor.examine({"HALLQ_KIOSK_LIMIT": "plenty", "HALLQ_SECRET": HEX64})
    assert len(findings) == 1
    [finding] = findings
    assert finding.level is Level.WRONG
    assert "HALLQ_KIOSK_LIMIT" in finding.en
    assert "HALLQ_KIOSK_LIMIT" in finding.zh
    assert_readable(finding)


def test_the_report_gives_two_lines_a_finding_and_the_exit_code_counts_only_what_is_wrong() -> None:
    well = [doctor.ok("甲正常。", "A is well."), doctor.note("乙无法判断。", "Could not tell B.")]
    assert doctor.exit_code(well) == 0
    text = doctor.report(well)
    lines = text.splitlines()
    assert lines == ["正常 ok    甲正常。", "           A is well.",
                     "留意 note  乙无法判断。", "           Could not tell B.",
                     "结论：未发现问题。 / Nothing wrong found."]
    broken = [*well, doctor.wrong("丙有误。", "C is wrong.")]
    assert doctor.exit_code(broken) == 1
    lines = doctor.report(broken).splitlines()
    assert lines[4:6] == ["问题 WRONG 丙有误。", "           C is wrong."]
    assert lines[-1] == "结论：1 项需要处理。 / 1 thing to fix."
