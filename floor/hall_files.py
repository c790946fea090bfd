"""The halls a server serves, read from the TOML files its settings name."""

from __future__ import annotations

from floor.settings import Settings
from queue_engine.config import HallConfig, load_hall


def load_halls(settings: Settings) -> dict[str, HallConfig]:
    halls: dict[str, HallConfig] = {}
    for path in settings.halls:
        hall = load_hall(path)
        if hall.id in halls:
            raise ValueError(f"hall {hall.id!r} is configured twice ({path})")
        halls[hall.id] = hall
    return halls
