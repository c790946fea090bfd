"""``hallq doctor``: what is wrong with a deployment, in words its IT office can act on, in Chinese and English.

Reading and judging are kept apart. Each check below is a pure function from what was read (a Redis's settings, a
clock's offset, a schema's revision) to a ``Finding``, so every rule is tested without a broken deployment at hand;
``examine`` does the reading, from the same HALLQ_* environment as ``hallq serve``, and never raises: whatever goes
wrong while reading is itself a finding.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.exceptions import RedisError, ResponseError

from floor.settings import Settings
from queue_engine.library import LIBRARY
from queue_engine.shards import ClusterUrl, is_cluster_url

CLOCK_SKEW_S = 1.0  # machines further apart than this disagree on waits, on what "today" is near midnight, on reports
SECRET_MIN_CHARS = 32
TIMEOUT_S = 3.0  # a store slower than this to answer one command is as good as down for a hall
# Values of HALLQ_SECRET that examples and first tries use; the example environment file in deploy/ has the first.
PLACEHOLDER_MARKS = ("change-me", "changeme", "change_me", "replace-me", "placeholder", "example")
WEAK_SECRETS = frozenset({"secret", "hallq", "password", "dev", "development", "test", "s"})
# The library ``hallq serve`` loads into Redis: its name carries a hash of the Lua source (queue_engine.library).
LIBRARY_NAME = LIBRARY.split("\n", 1)[0].removeprefix("#!lua name=")

_DOCTOR_SECRET = "hallq-doctor-reads-the-secret-itself"  # keeps Settings.from_env from making a secret file


class Level(StrEnum):
    OK = "ok"
    NOTE = "note"  # worth knowing, or could not tell: not a fault
    WRONG = "wrong"  # something to fix; ``hallq doctor`` exits 1


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    zh: str
    en: str


def ok(zh: str, en: str) -> Finding:
    return Finding(Level.OK, zh, en)


def note(zh: str, en: str) -> Finding:
    return Finding(Level.NOTE, zh, en)


def wrong(zh: str, en: str) -> Finding:
    return Finding(Level.WRONG, zh, en)


# -- the checks: what was read in, findings out ---------------------------------------------------------------------
def secret(value: str | None, file: Path) -> Finding:
    """HALLQ_SECRET signs every token: whoever knows it can make a manager's."""
    if not value:
        return wrong(f"未设置 HALLQ_SECRET：服务器将使用本机首次启动时生成的 {file}（开发用的默认值），另一台机器会生成"
                     "不同的密钥，彼此签发的令牌互不承认。请用 openssl rand -hex 32 生成一个，"
                     "在每台机器的环境文件中设置同一个值。",
                     f"HALLQ_SECRET is not set: the server signs with {file}, made on this machine's first start (the "
                     "development default); another machine would make a different one and refuse this one's tokens. "
                     "Generate one with `openssl rand -hex 32` and set the same value on every machine.")
    lowered = value.strip().lower()
    if lowered in WEAK_SECRETS or any(mark in lowered for mark in PLACEHOLDER_MARKS):
        return wrong("HALLQ_SECRET 仍是示例中的占位值：读过示例的人都能伪造管理员令牌。请用 openssl rand -hex 32 "
                     "生成新值替换它（已签发的令牌随之失效）。",
                     "HALLQ_SECRET is still a placeholder: whoever has read the example can make a manager's token. "
                     "Replace it with the output of `openssl rand -hex 32` (every token made so far stops working).")
    if len(value) < SECRET_MIN_CHARS:
        return wrong(f"HALLQ_SECRET 只有 {len(value)} 个字符，太短，可被猜出。"
                     f"请换成至少 {SECRET_MIN_CHARS} 个字符的随机值（openssl rand -hex 32）。",
                     f"HALLQ_SECRET is {len(value)} characters long, short enough to be guessed. Use a random value of "
                     f"at least {SECRET_MIN_CHARS} characters (`openssl rand -hex 32`).")
    return ok(f"HALLQ_SECRET 已设置（{len(value)} 个字符）。", f"HALLQ_SECRET is set ({len(value)} characters).")


def public_url(value: str | None) -> Finding:
    """The address printed in every ticket's QR code: the one citizens' phones reach, through TLS."""
    if not value:
        return wrong("未设置 HALLQ_PUBLIC_URL：票据二维码只能用自助机访问服务器时的地址，"
                     "经代理或局域网地址访问时二维码会被拒绝。"
                     "请设置为市民手机能访问的 https 地址，例如 https://queue.example.gov.cn。",
                     "HALLQ_PUBLIC_URL is not set: a ticket's QR code can only carry the address the kiosk used, and "
                     "is refused when that is the proxy's or a LAN name. Set it to the https address citizens' phones "
                     "reach, e.g. https://queue.example.gov.cn.")
    if urlsplit(value).scheme != "https":
        return wrong(f"HALLQ_PUBLIC_URL 是 {value}，不是 https：令牌和票据密钥会以明文经过网络。"
                     "请在反向代理上启用 TLS，并改为 https:// 地址。",
                     f"HALLQ_PUBLIC_URL is {value}, not https: tokens and ticket keys would cross the network in "
                     "clear. Put TLS on the reverse proxy and set an https:// address.")
    return ok(f"HALLQ_PUBLIC_URL 为 {value}。", f"HALLQ_PUBLIC_URL is {value}.")


def persistence(node: str, config: Mapping[str, str] | None) -> Finding:
    """A Redis crash must lose at most a second of the day: AOF, written every second."""
    if config is None or "appendonly" not in config:
        return note(f"无法判断 Redis {node} 是否持久化：CONFIG 命令被禁用或无权限。请自行确认 appendonly yes、"
                    "appendfsync everysec。",
                    f"Could not tell whether Redis at {node} keeps its data on disk: CONFIG is disabled or not "
                    "permitted. Check yourself that appendonly is yes and appendfsync everysec.")
    fsync = config.get("appendfsync", "everysec")
    if config["appendonly"] == "yes" and fsync != "no":
        return ok(f"Redis {node} 已开启 AOF 持久化（appendfsync {fsync}）。",
                  f"Redis at {node} keeps an append-only file (appendfsync {fsync}).")
    if config["appendonly"] == "yes":
        return wrong(f"Redis {node} 的 appendfsync 为 no：何时写盘由系统决定，崩溃可能丢失最近约 30 秒的号码。"
                     "请设为 appendfsync everysec。",
                     f"Redis at {node} has appendfsync no: the system decides when to write, and a crash can lose "
                     "the last 30 s or so of tickets. Set appendfsync everysec.")
    save = config.get("save", "")
    if save.strip():
        return wrong(f"Redis {node} 只做 RDB 快照（save {save}），未开启 AOF：崩溃后回到上次快照时的状态，之后发出的"
                     "号码可能被重复发出。"
                     "请设置 appendonly yes 和 appendfsync everysec（见 deploy/redis/hallq-redis.conf）。",
                     f"Redis at {node} only takes snapshots (save {save}), no append-only file: after a crash it comes "
                     "back as the last snapshot left it, and numbers issued since could be issued again. Set "
                     "appendonly yes and appendfsync everysec (deploy/redis/hallq-redis.conf).")
    return wrong(f"Redis {node} 没有任何持久化（appendonly no，save 为空）：重启后当天的排队数据全部丢失，"
                 "只能从记录库重建，尚未归档的最后几个事件会丢。"
                 "请设置 appendonly yes 和 appendfsync everysec（见 deploy/redis/hallq-redis.conf；"
                 "运行中可用 CONFIG SET appendonly yes 再 CONFIG REWRITE）。",
                 f"Redis at {node} keeps nothing on disk (appendonly no, save \"\"): a restart loses the live day, "
                 "which is rebuilt from the record less the last events not archived yet. Set appendonly yes and "
                 "appendfsync everysec (deploy/redis/hallq-redis.conf; live: CONFIG SET appendonly yes, then CONFIG "
                 "REWRITE).")


def eviction(node: str, config: Mapping[str, str] | None) -> Finding:
    """A full Redis must refuse writes (a 503 the client retries), never drop a key: an evicted key is a lost ticket."""
    policy = (config or {}).get("maxmemory-policy")
    if policy is None:
        return note(f"无法读取 Redis {node} 的 maxmemory-policy（CONFIG 被禁用）。请自行确认为 noeviction。",
                    f"Could not read maxmemory-policy of Redis at {node} (CONFIG is disabled). Check yourself that it "
                    "is noeviction.")
    if policy == "noeviction":
        return ok(f"Redis {node} 内存满时拒绝写入而不删除键（noeviction）。",
                  f"Redis at {node} refuses writes rather than evicting keys when full (noeviction).")
    return wrong(f"Redis {node} 的 maxmemory-policy 是 {policy}：内存满时会删除键，可能删掉正在排队的号码。"
                 "请设为 maxmemory-policy noeviction，并给足内存。",
                 f"Redis at {node} has maxmemory-policy {policy}: when full it deletes keys, live tickets among them. "
                 "Set maxmemory-policy noeviction and give it memory enough.")


def library(node: str, loaded: Collection[str] | None, *, elsewhere: bool = False,
            wanted: str = LIBRARY_NAME) -> Finding:
    """hallq's Lua functions on a primary: a version's library is named for its source's hash. None loaded at all is
    a Redis no call has reached yet (hallq serve loads them at the first call on a single Redis); another version's
    alone, or none here while another primary of the cluster has them, is a deployment out of step."""
    if loaded is None:
        return note(f"无法列出 Redis {node} 上的函数库（FUNCTION LIST 被禁用或无权限）。",
                    f"Could not list the function libraries of Redis at {node} (FUNCTION LIST is disabled or not "
                    "permitted).")
    others = sorted(set(loaded) - {wanted})
    if wanted in loaded and others:  # left by an earlier version: harmless, and removable once none runs
        return ok(f"Redis {node} 已载入 hallq 的函数库 {wanted}；旧版本的 {'、'.join(others)} 也在，"
                  "所有机器升级后可用 FUNCTION DELETE 删除。",
                  f"Redis at {node} has hallq's function library {wanted}; older ones are there too "
                  f"({', '.join(others)}), which FUNCTION DELETE removes once every machine runs this version.")
    if wanted in loaded:
        return ok(f"Redis {node} 已载入 hallq 的函数库 {wanted}。",
                  f"Redis at {node} has hallq's function library {wanted}.")
    if others:
        return wrong(f"Redis {node} 上是另一版本 hallq 的函数库（{'、'.join(others)}），没有本机版本的 {wanted}："
                     "服务器运行的版本与本机不同。升级过程中这属正常；"
                     "否则请让每台机器运行同一版本，再重启 hallq serve。",
                     f"Redis at {node} has the function library of another hallq version ({', '.join(others)}), "
                     f"not this one's, {wanted}: the servers run another version than this machine. Normal in the "
                     "middle of an upgrade; otherwise run one version on every machine and restart hallq serve.")
    if elsewhere:
        return wrong(f"Redis Cluster 主节点 {node} 上没有 hallq 的函数库 {wanted}，其他主节点上有："
                     "服务器尚未见过这个主节点。它会在该节点上的第一个请求时载入；若仍缺失，请重启 hallq serve。",
                     f"The Redis Cluster primary {node} lacks hallq's function library {wanted}, which other "
                     "primaries have: the servers have not met this primary yet. They load it at the first call "
                     "there; if it stays missing, restart hallq serve.")
    return note(f"Redis {node} 上还没有 hallq 的函数库 {wanted}：hallq serve 在第一个取号或叫号请求时载入它。"
                "若服务器已处理过请求，说明 Redis 丢失了它（未持久化的重启，见上面的持久化一项）。",
                f"Redis at {node} has no hallq function library yet ({wanted}): hallq serve loads it at the first "
                "call that issues or calls. If the servers have taken calls already, Redis lost it (a restart without "
                "persistence: see the persistence finding).")


def clock(what: str, skew_s: float | None, limit_s: float = CLOCK_SKEW_S) -> Finding:
    """This machine's clock against a store's: ``skew_s`` is theirs minus ours."""
    if skew_s is None:
        return note(f"无法读取 {what} 的时间，未比较时钟。", f"Could not read the time of {what}; clocks not compared.")
    if abs(skew_s) <= limit_s:
        return ok(f"本机与 {what} 的时钟相差 {abs(skew_s):.2f} 秒。",
                  f"This machine's clock and {what}'s differ by {abs(skew_s):.2f} s.")
    return wrong(f"本机与 {what} 的时钟相差 {abs(skew_s):.1f} 秒（超过 {limit_s:g} 秒）：号码时间、"
                 "等候时长和报表会错乱。"
                 "请在所有机器上启用时间同步（timedatectl set-ntp true，或 chrony）。",
                 f"This machine's clock is {abs(skew_s):.1f} s {'behind' if skew_s > 0 else 'ahead of'} {what}'s "
                 f"(more than {limit_s:g} s): ticket times, waits and reports go wrong. Turn on time "
                 "synchronisation on every machine (timedatectl set-ntp true, or chrony).")


def schema(database: str, current: Sequence[str], heads: Sequence[str], known: Collection[str]) -> Finding:
    """The record's schema revision (alembic) against the newest this hallq knows."""
    head = ", ".join(heads)
    if set(current) == set(heads):
        return ok(f"记录库 {database} 已是最新版本（{head}）。",
                  f"The record {database} is at the newest schema ({head}).")
    if not current:
        return wrong(f"记录库 {database} 里还没有 hallq 的表：hallq serve 启动时会先迁移数据库。请启动一次 hallq serve"
                     "（或检查 HALLQ_DATABASE_URL 是否指向正确的库）。",
                     f"The record {database} has no hallq tables yet: hallq serve migrates it as it starts. Start "
                     "hallq serve once (or check that HALLQ_DATABASE_URL names the right database).")
    now = ", ".join(current)
    if not set(current) <= set(known):
        return wrong(f"记录库 {database} 的版本 {now} 比本机的 hallq 新：有机器运行着更新的版本。"
                     "请把本机升级到同一版本。",
                     f"The record {database} is at revision {now}, newer than this hallq knows: a newer version "
                     "migrated it. Upgrade this machine to the same version.")
    return wrong(f"记录库 {database} 停在版本 {now}，最新为 {head}：hallq serve 下次启动时（工作进程启动之前）会迁移。"
                 "请重启 hallq serve。",
                 f"The record {database} is at revision {now}, behind the newest, {head}: hallq serve migrates it at "
                 "its next start, before its workers start. Restart hallq serve.")


def redis_unreachable(node: str, error: str) -> Finding:
    return wrong(f"无法连接 Redis {node}：{error}。没有 Redis 就无法取号叫号。请确认 Redis 已启动"
                 "（systemctl status redis-server）、HALLQ_REDIS_URL 的地址和密码正确、防火墙已放行。",
                 f"Cannot reach Redis at {node}: {error}. Without it no hall can issue or call. Check that Redis "
                 "runs (systemctl status redis-server), that HALLQ_REDIS_URL has the right address and password, and "
                 "that no firewall is in between.")


def database_unreachable(database: str, error: str) -> Finding:
    return wrong(f"无法连接记录库 {database}：{error}。取号叫号不受影响，但报表、评价和审计会暂停，"
                 "hallq serve 也无法启动。"
                 "请确认 PostgreSQL 已启动、HALLQ_DATABASE_URL 的地址和用户正确。",
                 f"Cannot reach the record {database}: {error}. Issuing and calling go on without it, but reports, "
                 "ratings and the audit wait, and hallq serve cannot start. Check that PostgreSQL runs and that "
                 "HALLQ_DATABASE_URL has the right address and user.")


@dataclass(frozen=True, slots=True)
class Primary:
    host: str
    port: int
    health: str  # "online" when it serves its slots


def cluster_primaries(shards: Iterable[Any]) -> list[Primary]:
    """The primaries of a CLUSTER SHARDS reply that serve slots (a primary without slots holds no hall). redis-py
    hands the reply as dicts or as flat [name, value, ...] lists depending on its version and protocol."""
    found = []
    for shard in map(_pairs, shards):
        if not shard.get("slots"):
            continue
        for node in map(_pairs, shard.get("nodes") or ()):
            if _text(node.get("role")) == "master":
                endpoint = _text(node.get("endpoint"))
                host = endpoint if endpoint not in ("", "?") else _text(node.get("ip"))
                port = int(node.get("port") or node.get("tls-port") or 0)
                found.append(Primary(host, port, _text(node.get("health")) or "online"))
    return found


def cluster_seeds(url: str) -> tuple[list[tuple[str, int]], Callable[[str, int], str]]:
    """The nodes a ``redis+cluster://`` URL names, and how to make the URL of any node of that cluster (same scheme,
    credentials and options): ``queue_engine.shards.ClusterUrl``, as the server reads it."""
    cluster = ClusterUrl.parse(url)
    return list(cluster.seeds), cluster.node


def _pairs(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {_text(k): v for k, v in value.items()}
    items = list(value)
    return {_text(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else "" if value is None else str(value)


def shown(url: str) -> str:
    """A store's address as the doctor prints it: a password in it is not for the terminal."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{parts.netloc.rsplit('@', 1)[-1]}"))


def first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error, which says it plainly
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0].rstrip(".") if lines else type(cause).__name__  # the sentence around it has its own full stop


# -- reading Redis --------------------------------------------------------------------------------------------------
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S,
                                decode_responses=True)


def redis_findings(url: str) -> list[Finding]:
    """Every Redis primary holding halls: one server, or each primary of a cluster (found from the URL's nodes)."""
    if is_cluster_url(url):
        return _cluster_findings(url)
    try:
        client = _client(url)
    except ValueError as exc:
        return [wrong(f"HALLQ_REDIS_URL 不是 Redis 地址：{exc}。格式为 redis://host:6379/0 或 "
                      "redis+cluster://host1:7000,host2:7000。",
                      f"HALLQ_REDIS_URL is not a Redis address: {exc}. It reads redis://host:6379/0, or "
                      "redis+cluster://host1:7000,host2:7000 for a cluster.")]
    with client:
        read = _read_node(_address(client), client)
    return [read] if isinstance(read, Finding) else redis_node(read)


@dataclass(frozen=True, slots=True)
class RedisNode:
    """What one Redis primary says of itself; None where it would not say (a command disabled by the operator)."""

    address: str
    config: Mapping[str, str] | None
    libraries: frozenset[str] | None
    skew_s: float | None
    cluster_enabled: bool = False


def redis_node(node: RedisNode, *, single: bool = True, elsewhere: bool = False) -> list[Finding]:
    """Everything a primary holding halls must be: ``single`` when HALLQ_REDIS_URL names it alone (then it must not
    be a cluster node), ``elsewhere`` when another primary of its cluster has this version's library."""
    where = node.address
    findings = [ok(f"Redis {where} 应答正常。", f"Redis at {where} answers.")]
    if single and node.cluster_enabled:
        findings.append(wrong(f"Redis {where} 是 Redis Cluster 的节点：请把 HALLQ_REDIS_URL 设为 "
                              "redis+cluster://主机1:端口,主机2:端口,...，服务器才能找到每个主节点。",
                              f"Redis at {where} is a node of a Redis Cluster: set HALLQ_REDIS_URL to "
                              "redis+cluster://host1:port,host2:port,... so the servers find every primary."))
    return [*findings, persistence(where, node.config), eviction(where, node.config),
            library(where, node.libraries, elsewhere=elsewhere), clock(f"Redis {where}", node.skew_s)]


def _read_node(address: str, client: redis.Redis) -> RedisNode | Finding:
    """A node's answers, or the finding that it does not answer."""
    try:
        client.ping()
    except (RedisError, OSError) as exc:
        return redis_unreachable(address, first_line(exc))
    return RedisNode(address, _config(client), _libraries(client), _redis_skew(client), _cluster_enabled(client))


def _address(client: redis.Redis) -> str:
    """host:port (or a socket's path) of a client's server, as an operator names it."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def _cluster_enabled(client: redis.Redis) -> bool:
    try:
        return bool(client.info("cluster").get("cluster_enabled"))
    except (RedisError, OSError):
        return False


def _config(client: redis.Redis) -> dict[str, str] | None:
    """None when the operator disabled CONFIG (rename-command, or an ACL without it), as managed Redis services do."""
    try:
        reply = client.config_get("appendonly", "appendfsync", "save", "maxmemory-policy")
    except ResponseError:
        return None
    return {_text(k): _text(v) for k, v in reply.items()}


def _libraries(client: redis.Redis) -> frozenset[str] | None:
    try:
        reply = client.execute_command("FUNCTION", "LIST", "LIBRARYNAME", "hallq_*")  # type: ignore[no-untyped-call]
    except ResponseError:
        return None
    return frozenset(_text(_pairs(entry).get("library_name")) for entry in reply)


def _redis_skew(client: redis.Redis) -> float | None:
    try:
        before = time.time()
        seconds, micros = client.time()
        after = time.time()
    except ResponseError:
        return None
    return seconds + micros / 1e6 - (before + after) / 2


def _cluster_findings(url: str) -> list[Finding]:
    try:
        seeds, node_url = cluster_seeds(url)
    except ValueError as exc:
        return [wrong(f"HALLQ_REDIS_URL 不是有效的集群地址：{exc}。格式为 redis+cluster://host1:7000,host2:7000,...",
                      f"HALLQ_REDIS_URL is not a cluster address: {exc}. It reads "
                      "redis+cluster://host1:7000,host2:7000,...")]
    errors = []
    for host, port in seeds:
        with _client(node_url(host, port)) as seed:
            try:
                primaries = cluster_primaries(seed.execute_command("CLUSTER", "SHARDS"))
            except ResponseError as exc:  # the node answered, but is no cluster node
                return [wrong(f"HALLQ_REDIS_URL 指向 Redis Cluster，但 {host}:{port} 不是集群节点（{first_line(exc)}）"
                              "。"
                              "单机 Redis 请用 redis://host:port/0。",
                              f"HALLQ_REDIS_URL names a Redis Cluster, but {host}:{port} is no cluster node "
                              f"({first_line(exc)}). For a single Redis use redis://host:port/0.")]
            except (RedisError, OSError) as exc:
                errors.append(f"{host}:{port} {first_line(exc)}")
                continue
        findings = [ok(f"Redis Cluster 有 {len(primaries)} 个主节点："
                       f"{', '.join(f'{p.host}:{p.port}' for p in primaries)}。",
                       f"The Redis Cluster has {len(primaries)} primaries: "
                       f"{', '.join(f'{p.host}:{p.port}' for p in primaries)}.")]
        nodes = []
        for primary in primaries:
            node = f"{primary.host}:{primary.port}"
            if primary.health != "online":
                findings.append(wrong(f"Redis Cluster 主节点 {node} 状态为 {primary.health}：它的槽位暂时无法服务。"
                                      "请查看该节点的日志与 CLUSTER INFO。",
                                      f"The Redis Cluster primary {node} is {primary.health}: its slots cannot be "
                                      "served. Look at its log and CLUSTER INFO."))
                continue
            with _client(node_url(primary.host, primary.port)) as client:
                read = _read_node(node, client)
            if isinstance(read, Finding):
                findings.append(read)
            else:
                nodes.append(read)
        having = {n.address for n in nodes if n.libraries and LIBRARY_NAME in n.libraries}
        for n in nodes:
            findings += redis_node(n, single=False, elsewhere=bool(having - {n.address}))
        return findings
    return [redis_unreachable(", ".join(f"{h}:{p}" for h, p in seeds), "; ".join(errors))]


# -- reading the record -----------------------------------------------------------------------------------------------
def database_findings(url: str) -> list[Finding]:
    """The record answers, at the newest schema, on a clock that agrees with this machine's."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from floor.sql.db import alembic_config

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        return [wrong(f"HALLQ_DATABASE_URL 不是数据库地址：{exc}。格式为 postgresql+psycopg://用户@主机/库名。",
                      f"HALLQ_DATABASE_URL is not a database address: {exc}. It reads "
                      "postgresql+psycopg://user@host/database.")]
    database = shown(url)
    findings = []
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        path = Path(parsed.database or "").resolve()
        if not parsed.database or not path.is_file():
            return [wrong(f"记录库文件 {path} 不存在：hallq serve 首次启动时会创建它。若服务器已在运行，"
                          "请在服务器的工作目录、"
                          "用相同的 HALLQ_HOME 运行 hallq doctor。",
                          f"The record file {path} does not exist: hallq serve makes it at its first start. If a "
                          "server runs, run hallq doctor from its working directory with its HALLQ_HOME.")]
        findings.append(note(f"记录库是 SQLite 文件 {path}：只适合单机试用，正式运行的大厅请使用 PostgreSQL。",
                             f"The record is the SQLite file {path}: fine for a trial on one machine; a hall in "
                             "service keeps its record in PostgreSQL."))
    connect_args = {} if sqlite else {"connect_timeout": int(TIMEOUT_S) + 2}
    skew = None
    try:
        engine = create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
        try:
            with engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_heads()
                if not sqlite:
                    before = time.time()
                    theirs = connection.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one()
                    skew = float(theirs) - (before + time.time()) / 2
        finally:
            engine.dispose()
    except (SQLAlchemyError, OSError, ImportError) as exc:  # ImportError: a driver this install lacks
        return [*findings, database_unreachable(database, first_line(exc))]
    script = ScriptDirectory.from_config(alembic_config())
    findings.append(schema(database, current, script.get_heads(), {r.revision for r in script.walk_revisions()}))
    if not sqlite:
        findings.append(clock("PostgreSQL", skew))
    return findings


# -- reading the hall files ------------------------------------------------------------------------------------------
def hall_file_findings(settings: Settings) -> list[Finding]:
    """The files ``hallq serve`` checks before its workers start, checked the same way (by line and field)."""
    from pydantic import ValidationError

    from floor.hall_files import load_halls, read_network
    from floor.setup import files, rules
    from queue_engine.config import Invalid

    paths = [*settings.halls, *([settings.network] if settings.network else [])]
    unreadable = []
    for path in paths:
        try:
            Path(path).read_bytes()
        except OSError as exc:
            unreadable.append(wrong(f"大厅文件 {path} 无法读取（{exc.strerror}）：hallq serve 将拒绝启动。"
                                    "请检查 HALLQ_HALLS / HALLQ_NETWORK 中的路径及文件权限（服务以 hallq 用户运行）。",
                                    f"The hall file {path} cannot be read ({exc.strerror}): hallq serve will refuse "
                                    "to start. Check the path in HALLQ_HALLS / HALLQ_NETWORK and the file's "
                                    "permissions (the service runs as user hallq)."))
    if unreadable:
        return unreadable
    try:
        network = read_network(settings.network) if settings.network else None
        files.read_all(settings.halls, network)
        ids = sorted(load_halls(settings))
    except rules.SetupRefused as refused:
        return [wrong(f"{refused.zh}。请修正该文件，hallq serve 才能启动。",
                      f"{refused.en}. Fix the file: hallq serve refuses to start on it.")]
    except (Invalid, ValidationError, ValueError, OSError) as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        why = lines[0] if len(lines) == 1 else f"{lines[0]} ({lines[-1].strip()})"
        return [wrong(f"大厅文件有误：{why}。请修正后再启动 hallq serve。",
                      f"A hall file is wrong: {why}. Fix it before starting hallq serve.")]
    return [ok(f"{len(ids)} 个大厅文件可读且有效：{', '.join(ids)}。",
               f"{len(ids)} hall file{'s' if len(ids) != 1 else ''} read and valid: {', '.join(ids)}.")]


# -- the whole examination -------------------------------------------------------------------------------------------
def examine(env: Mapping[str, str]) -> list[Finding]:
    """Every check, from the HALLQ_* settings in ``env``; a part that cannot be examined is a finding too."""
    try:
        settings = Settings.from_env({**env, "HALLQ_SECRET": env.get("HALLQ_SECRET") or _DOCTOR_SECRET})
    except ValueError as exc:  # Python's words name the value, not the variable: find the variable by its value
        named = [name for name, value in env.items() if name.startswith("HALLQ_") and repr(value) in str(exc)]
        why = f"{', '.join(named)}: {exc}" if named else str(exc)
        return [wrong(f"无法读取设置：{why}。请修正该 HALLQ_* 环境变量（见 docs/configuration.md）。",
                      f"The settings cannot be read: {why}. Fix that HALLQ_* variable (docs/configuration.md).")]
    home = Path(env.get("HALLQ_HOME", "var"))
    findings = [secret(env.get("HALLQ_SECRET"), (home / "secret").resolve()), public_url(settings.public_url)]
    parts: list[tuple[str, str, Callable[[], list[Finding]]]] = [
        ("大厅文件", "the hall files", lambda: hall_file_findings(settings)),
        ("Redis", "Redis", lambda: redis_findings(settings.redis_url)),
        ("记录库", "the record", lambda: database_findings(settings.database_url)),
    ]
    for zh, en, check in parts:
        try:
            findings += check()
        except Exception as exc:  # a check's own fault must still end in a sentence, never a traceback
            findings.append(wrong(f"检查{zh}时出错：{type(exc).__name__}: {first_line(exc)}",
                                  f"Checking {en} failed: {type(exc).__name__}: {first_line(exc)}"))
    return findings


MARKS = {Level.OK: "正常 ok   ", Level.NOTE: "留意 note ", Level.WRONG: "问题 WRONG"}


def report(findings: Sequence[Finding]) -> str:
    """One line in Chinese and one in English per finding, then what it comes to."""
    pad = " " * (_columns(MARKS[Level.OK]) + 1)  # the English line starts under the Chinese one
    lines = []
    for finding in findings:
        lines += [f"{MARKS[finding.level]} {finding.zh}", f"{pad}{finding.en}"]
    problems = sum(f.level is Level.WRONG for f in findings)
    if problems:
        lines.append(f"结论：{problems} 项需要处理。 / {problems} thing{'s' if problems != 1 else ''} to fix.")
    else:
        lines.append("结论：未发现问题。 / Nothing wrong found.")
    return "\n".join(lines)


def _columns(text: str) -> int:
    """How wide ``text`` is on a terminal: a Chinese character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def exit_code(findings: Sequence[Finding]) -> int:
    return 1 if any(f.level is Level.WRONG for f in findings) else 0
