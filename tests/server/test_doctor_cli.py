"""``hallq doctor`` as an operator runs it: a subprocess with the server's HALLQ_* settings.

A healthy deployment (a Redis keeping an append-only file, PostgreSQL migrated by a real ``hallq serve``, a long
secret, an https public address) exits 0; each broken one names what is wrong in both languages and exits 1, never
with a traceback. The machine's Redis at 6379 keeps nothing on disk, so that finding is real there."""

from __future__ import annotations

import itertools
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from loadtest.faults.services import PrivateRedis, free_port
from tests.conftest import REDIS_URL, ROOT
from tests.floor.conftest import postgres_schema
from tests.server.conftest import HALLQ, LiveServer, server_env, start_server, stop_server

pytestmark = pytest.mark.slow  # a private Redis and a server start

PUBLIC_URL = "https://queue.example.gov.cn"


# A private redis-server as a hall should run it: an append-only file, written every second.
DURABLE = ("--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction")


@dataclass
class Deployment:
    server: LiveServer
    env: dict[str, str]  # the server's own HALLQ_* settings


@pytest.fixture(scope="module")
def durable_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis(options=DURABLE).start()
    try:
        yield redis
    finally:
        redis.close()


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory, durable_redis: PrivateRedis) -> Iterator[Deployment]:
    """A served hall on a durable Redis and on PostgreSQL (a schema of its own), as docs/deploy.md sets one up."""
    home = tmp_path_factory.mktemp("doctor")
    with postgres_schema() as database_url:
        extra = {"HALLQ_REDIS_URL": durable_redis.url, "HALLQ_DATABASE_URL": database_url,
                 "HALLQ_PUBLIC_URL": PUBLIC_URL}
        server = start_server(home, f"hqtest-{uuid.uuid4().hex[:10]}", extra_env=extra)
        try:
            yield Deployment(server, server_env(server.home, server.key_prefix, extra=extra))
        finally:
            stop_server(server)  # before its schema is dropped


def doctor(env: Mapping[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(HALLQ), "doctor"], cwd=cwd, env=dict(env), capture_output=True, text=True,
                            timeout=120, check=False)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.stderr == "", result.stderr
    return result


def finding(result: subprocess.CompletedProcess[str], zh: str, en: str) -> str:
    """The mark of the finding whose Chinese line holds ``zh`` and whose English line, the next, holds ``en``."""
    lines = result.stdout.splitlines()
    for first, second in itertools.pairwise(lines):
        if zh in first and en in second:
            return first.split()[1]  # ok, note or WRONG
    raise AssertionError(f"no finding {zh!r} / {en!r} in:\n{result.stdout}")


def test_a_healthy_deployment_exits_0(healthy: Deployment) -> None:
    result = doctor(healthy.env)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "结论：未发现问题。 / Nothing wrong found."
    assert finding(result, "已开启 AOF 持久化", "keeps an append-only file") == "ok"
    assert finding(result, "已是最新版本", "is at the newest schema") == "ok"  # hallq serve migrated the record
    assert finding(result, "与 PostgreSQL 的时钟", "and PostgreSQL's differ by") == "ok"
    assert finding(result, "HALLQ_PUBLIC_URL 为", PUBLIC_URL) == "ok"
    assert "WRONG" not in result.stdout
    # No call yet: the functions are loaded at the first; the doctor says so without calling it a fault.
    assert finding(result, "还没有 hallq 的函数库", "no hallq function library yet") == "note"
    with httpx.Client(base_url=healthy.server.base_url, timeout=30, trust_env=False) as client:
        opened = client.post("/api/v1/halls/demo/windows/1/open", headers=healthy.server.auth("staff", "1"))
        assert opened.status_code == 200, opened.text
    after = doctor(healthy.env)
    assert after.returncode == 0, after.stdout
    assert finding(after, "已载入 hallq 的函数库", "has hallq's function library") == "ok"


def test_a_redis_that_keeps_nothing_on_disk_is_wrong(healthy: Deployment) -> None:
    result = doctor({**healthy.env, "HALLQ_REDIS_URL": REDIS_URL})  # the machine's Redis: no AOF, no RDB
    assert result.returncode == 1, result.stdout
    assert finding(result, "没有任何持久化", "keeps nothing on disk") == "WRONG"
    assert finding(result, "appendonly yes", "Set appendonly yes and appendfsync everysec") == "WRONG"


def test_an_unreachable_database_is_wrong(healthy: Deployment) -> None:
    url = f"postgresql+psycopg://hallq:not-for-the-terminal@127.0.0.1:{free_port()}/hallq"
    result = doctor({**healthy.env, "HALLQ_DATABASE_URL": url})
    assert result.returncode == 1, result.stdout
    assert finding(result, "无法连接记录库", "Cannot reach the record") == "WRONG"
    assert "Connection refused" in result.stdout
    assert "not-for-the-terminal" not in result.stdout
    assert finding(result, "应答正常", "answers") == "ok"  # the rest is still examined


def test_a_missing_secret_is_wrong_and_no_secret_file_is_made(healthy: Deployment, tmp_path: Path) -> None:
    env = {k: v for k, v in healthy.env.items() if k != "HALLQ_SECRET"}
    env["HALLQ_HOME"] = str(tmp_path / "home")
    result = doctor(env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert finding(result, "未设置 HALLQ_SECRET", "HALLQ_SECRET is not set") == "WRONG"
    assert not (tmp_path / "home").exists()  # the doctor looks; hallq serve makes the file


def test_unreachable_redis_and_a_missing_hall_file_are_wrong(healthy: Deployment, tmp_path: Path) -> None:
    result = doctor({**healthy.env, "HALLQ_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                     "HALLQ_HALLS": str(tmp_path / "no-such-hall.toml")})
    assert result.returncode == 1, result.stdout
    assert finding(result, "无法连接 Redis", "Cannot reach Redis at") == "WRONG"
    assert finding(result, "无法读取", "no-such-hall.toml cannot be read") == "WRONG"


def test_a_setting_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    env = server_env(tmp_path, "hqtest-doctor-unused", extra={"HALLQ_WEBHOOK_ATTEMPTS": "many"})
    result = doctor(env)
    assert result.returncode == 1, result.stdout
    assert finding(result, "无法读取设置", "HALLQ_WEBHOOK_ATTEMPTS") == "WRONG"
