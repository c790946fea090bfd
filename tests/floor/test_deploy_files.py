"""The files in deploy/ and the guide that names them (docs/deploy.md) agree with the code: every setting they name
exists, the example environment is readable by the server and its placeholder secret refused by ``hallq doctor``,
and the Redis settings are the ones the doctor passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from floor import doctor
from floor.doctor import Level
from floor.settings import Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
ENV_FILE = DEPLOY / "systemd" / "hallq.env"
REDIS_CONF = DEPLOY / "redis" / "hallq-redis.conf"
SETTING = re.compile(r"\bHALLQ_[A-Z_]+[A-Z]\b")


def env_file() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def known_settings() -> set[str]:
    """The HALLQ_* names the server reads, and those configuration.md describes."""
    sources = [ROOT / "floor" / "settings.py", ROOT / "floor" / "cli.py", ROOT / "docs" / "configuration.md"]
    return {name for path in sources for name in SETTING.findall(path.read_text(encoding="utf-8"))}


@pytest.mark.parametrize("path", [*sorted(p for p in DEPLOY.rglob("*") if p.is_file()), ROOT / "docs" / "deploy.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_setting_named_exists(path: Path) -> None:
    named = set(SETTING.findall(path.read_text(encoding="utf-8")))
    assert named <= known_settings(), f"{path}: no such setting: {sorted(named - known_settings())}"


def test_the_example_environment_is_one_the_server_reads() -> None:
    settings = Settings.from_env(env_file())
    assert settings.public_url == "https://queue.example.gov.cn"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert doctor.public_url(settings.public_url).level is Level.OK


def test_the_example_secret_is_a_placeholder_the_doctor_refuses() -> None:
    finding = doctor.secret(env_file()["HALLQ_SECRET"], Path("/srv/hallq/var/secret"))
    assert finding.level is Level.WRONG
    assert "placeholder" in finding.en


def test_the_redis_settings_are_the_ones_the_doctor_passes() -> None:
    config: dict[str, str] = {}
    for line in REDIS_CONF.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition(" ")
            config[name] = value.strip().strip('"')
    assert doctor.persistence("node", config).level is Level.OK
    assert doctor.eviction("node", config).level is Level.OK
