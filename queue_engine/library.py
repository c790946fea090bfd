"""The Lua function library: ``lua/common.lua`` once, then each ``lua/<name>.lua`` as a registered function.

Redis 7 functions (FUNCTION LOAD, FCALL) keep the shared helpers defined between calls; with plain
scripts the helpers were rebuilt on every call, Redis time spent again on each. The library and its
functions carry a hash of their source in their names, so two versions of hallq sharing one Redis
(a rolling deploy) never call each other's code.
"""

from __future__ import annotations

import hashlib
from importlib import resources

SCRIPTS = (
    "issue", "call_next", "call_ticket", "recall", "start", "finish", "no_show", "transfer", "cancel", "pin",
    "requeue", "window_state", "set_services", "reconfigure", "end_day", "snapshot", "rate", "rate_archived",
)
READ_ONLY = frozenset({"snapshot"})


def _source(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def standalone_script(name: str) -> str:
    """A script run with EVALSHA on its own, outside the library (it shares none of the library's common keys)."""
    return _source(name)


def _build() -> tuple[str, dict[str, str]]:
    bodies = {name: _source(name) for name in SCRIPTS}
    version = hashlib.sha1("".join([_source("common"), *bodies.values()]).encode()).hexdigest()[:10]
    names = {name: f"hallq_{version}_{name}" for name in SCRIPTS}
    parts = [f"#!lua name=hallq_{version}", _source("common")]
    for name, body in bodies.items():
        flags = "{'no-writes'}" if name in READ_ONLY else "{}"
        parts.append(
            f"redis.register_function{{function_name = '{names[name]}', flags = {flags},\n"
            f"callback = function(KEYS, ARGV)\nbind(KEYS, ARGV)\n{body}\nend}}"
        )
    return "\n".join(parts), names


LIBRARY, FUNCTION_NAMES = _build()
