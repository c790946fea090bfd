"""A hall's configuration changed while it runs: what the live day must change with it.

Pure: the old and the new ``HallConfig`` in, the change the ``reconfigure`` script (and ``HallModel.reconfigure``)
applies out. A window's skills follow its configuration only where the configuration of that window changed: skills
a manager moved during the day stay moved when someone renames a service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import HallConfig, Window

Json = dict[str, Any]


def skills(w: Window) -> Json:
    return {"services": list(w.services), "primary": list(w.primary), "items": list(w.items)}


@dataclass(frozen=True)
class Reconfiguration:
    windows_added: dict[str, Json] = field(default_factory=dict)  # id -> skills
    windows_removed: list[str] = field(default_factory=list)
    services_added: dict[str, int] = field(default_factory=dict)  # code -> expected handling ms
    services_removed: list[str] = field(default_factory=list)
    skills: dict[str, Json] = field(default_factory=dict)  # windows kept whose configured skills changed
    items_removed: list[str] = field(default_factory=list)  # sub-items no longer in the hall

    def as_json(self) -> Json:
        return {"windows_added": self.windows_added, "windows_removed": self.windows_removed,
                "services_added": self.services_added, "services_removed": self.services_removed,
                "skills": self.skills, "items_removed": self.items_removed}


def reconfiguration(old: HallConfig, new: HallConfig) -> Reconfiguration:
    old_windows = {w.id: w for w in old.windows}
    new_windows = {w.id: w for w in new.windows}
    old_services = {s.code for s in old.services}
    new_items = {i.code for s in new.services for i in s.items}
    return Reconfiguration(
        windows_added={w.id: skills(w) for w in new.windows if w.id not in old_windows},
        windows_removed=[w for w in old_windows if w not in new_windows],
        services_added={s.code: s.handling_s * 1000 for s in new.services if s.code not in old_services},
        services_removed=sorted(old_services - {s.code for s in new.services}),
        skills={w.id: skills(w) for w in new.windows
                if w.id in old_windows and skills(w) != skills(old_windows[w.id])},
        items_removed=sorted({i.code for s in old.services for i in s.items} - new_items),
    )
