"""The halls a server serves, read from the TOML files its settings name."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from floor.network.rules import Network, compose
from floor.settings import Settings
from queue_engine.config import HallConfig, hall_data


def fingerprint(text: str) -> str:
    """What a set-up imported from a file is recorded as coming from: ``file:`` and the file's SHA-256."""
    return "file:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class HallFile:
    path: Path
    config: HallConfig
    source: str  # fingerprint() of the file's text


def read_network(path: Path) -> Network:
    """The county's network file: ``[[regions]]`` and, per region that keeps one, ``[[catalogs.<region>]]``."""
    return Network.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))


def read_hall_files(settings: Settings) -> dict[str, HallFile]:
    """Every hall the settings name; with a network, the halls with services of their own first, then those that
    take theirs from a catalog (which may be one of the first halls' services)."""
    network = read_network(settings.network) if settings.network else None
    datas = [(path, hall_data(path)) for path in map(Path, settings.halls)]
    own = {str(data.get("id")): data for _, data in datas if "catalog" not in data}
    if network is not None and network.catalog_halls:
        network = network.with_catalogs_of({hall: HallConfig.model_validate(data).services
                                            for hall, data in own.items() if hall in network.catalog_halls.values()})
    halls: dict[str, HallFile] = {}
    for path, data in datas:
        hall = HallConfig.model_validate(compose(data, network) if network else data)
        if hall.id in halls:
            raise ValueError(f"hall {hall.id!r} is configured twice ({path})")
        halls[hall.id] = HallFile(path, hall, fingerprint(path.read_text(encoding="utf-8")))
    return halls


def load_halls(settings: Settings) -> dict[str, HallConfig]:
    return {hall: file.config for hall, file in read_hall_files(settings).items()}
