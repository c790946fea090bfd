"""Hall files for load runs: the demo hall's services, any number of windows, every window serving everything.

Every window is comprehensive so that every service always has an open window: a ticket refused with
``no_window_for_service`` would then be a real failure, never an artefact of the scenario. Each window still
has a primary service, round-robin over the services, so call-next exercises the primary-first rule.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .workload import CATEGORIES

DEMO_TOML = Path(__file__).resolve().parent.parent / "floor" / "halls" / "demo.toml"


def hall_id(index: int) -> str:
    return f"load-{index:03d}"


def demo_services() -> list[dict[str, Any]]:
    """The demo's services that the synthetic workload draws from, without their catalog: sub-items, bundles and
    the services only they use are not part of the load, so figures stay comparable across runs."""
    drawn = {c.service for c in CATEGORIES}
    services: list[dict[str, Any]] = tomllib.loads(DEMO_TOML.read_text(encoding="utf-8"))["services"]
    return [{k: v for k, v in s.items() if k != "items"} for s in services if s["code"] in drawn]


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def hall_toml(hid: str, windows: int, services: list[dict[str, Any]]) -> str:
    codes = [s["code"] for s in services]
    lines = [
        "# Written by loadtest.load_halls for one load run.",
        f"id = {_toml_value(hid)}",
        f"name = {_toml_value(f'压测大厅 {hid}')}",
        'timezone = "Asia/Shanghai"',
        # The demo's hours: issuing needs an open window, which the runner opens before the load starts.
        'hours = ["08:30-12:00", "14:00-17:30"]',
        "",
        # Handling runs many times faster than in a hall, the clock does not: the no-show rule's recall and minute
        # would refuse every no-show the windows mark, so these halls let one be marked at once.
        "[policy]",
        "no_show_after_recalls = 0",
        "no_show_after_s = 0",
        "",
    ]
    for service in services:
        lines.append("[[services]]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in service.items())
        lines.append("")
    for i in range(1, windows + 1):
        lines += [
            "[[windows]]",
            f'id = "{i}"',
            f'name = "{i}号窗口"',
            f"services = {_toml_value(codes)}",
            f"primary = {_toml_value([codes[(i - 1) % len(codes)]])}",
            "",
        ]
    return "\n".join(lines)


def write_halls(directory: Path, halls: int, windows: int) -> list[Path]:
    """``halls`` hall files ``load-000.toml``… in ``directory``, each with ``windows`` comprehensive windows."""
    directory.mkdir(parents=True, exist_ok=True)
    services = demo_services()
    paths = []
    for index in range(halls):
        hid = hall_id(index)
        path = directory / f"{hid}.toml"
        path.write_text(hall_toml(hid, windows, services), encoding="utf-8")
        paths.append(path)
    return paths
