"""The set-up a hall runs on, the same in every worker: chosen at start, changed live, followed from the stream.

At start a worker runs on the newest set-up recorded, Redis's live one or SQL's record. A hall's file is imported
when the hall has none yet (the demo on first start), and again when the file changed and nobody has edited the hall
live since it was imported; once someone has, the live set-up wins and ``hallq import`` is how a file comes back.
A change is one ``reconfigure`` script (``queue_engine.engine.Engine.reconfigure``); its ``hall.configured`` event
reaches every worker's hub, which adopts it before any screen renders a later event (``Engine.follow``).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine as SqlEngine

from floor.hall_files import HallFile
from floor.runtime import Runtime
from floor.setup import store
from floor.setup.rules import Edit, SetupRefused, following, replace_all
from queue_engine import errors
from queue_engine.engine import Engine

log = logging.getLogger("hallq.setup")


async def settle(engine: Engine, sql: SqlEngine) -> None:
    """Before the hall's day is brought back: run on the newest set-up recorded, if any."""
    stored = await asyncio.to_thread(store.read, sql, engine.hall.id)
    if stored is not None and stored.version > engine.config_version:
        engine.adopt(stored.config, stored.version, stored.source)
    await engine.catch_up()


async def import_file(engine: Engine, sql: SqlEngine, file: HallFile) -> None:
    """After the day is back: import the hall's file if it has no set-up yet, or if the file changed and nobody has
    edited the hall live since its last import. A file the live day refuses (a service removed while tickets wait
    for it) is logged and left; the hall keeps running on what it has."""
    if engine.config_source == file.source:
        return
    if not engine.config_version:  # the hall's first set-up: where its record begins, not a change to audit
        if await engine.first_config(file.source):
            await asyncio.to_thread(store.record_first, sql, engine.hall, file.source)
            log.info("hall %s: set-up imported from %s", engine.hall.id, file.path)
        return
    if engine.config_version and not engine.config_source.startswith("file:"):
        log.info("hall %s runs on its set-up version %d, edited live; %s is not read again (hallq import loads it)",
                 engine.hall.id, engine.config_version, file.path)
        return
    edit = replace_all(engine.hall, file.config.model_dump(mode="json"))
    changes = edit.changes or [{"what": "file", "id": str(file.path.name), "before": None, "after": None}]
    try:
        await engine.reconfigure(file.config, engine.config_version, changes, source=file.source)
        log.info("hall %s: set-up imported from %s (version %d)", engine.hall.id, file.path, engine.config_version)
    except errors.SetupChanged:
        await engine.catch_up()  # another worker imported it a moment ago
    except errors.DomainError as refused:
        log.error("hall %s: %s changed but cannot be imported while the hall runs: %s", engine.hall.id, file.path,
                  refused)


async def apply(engine: Engine, edit: Edit, from_version: int, source: str = "live") -> int:
    """Run the hall on an edit's set-up from now on, in every worker; the new version."""
    return await engine.reconfigure(edit.config, from_version, edit.changes, source=source)


async def follow_catalog(runtime: Runtime, region: str, lang: str = "zh") -> list[dict[str, object]]:
    """Every hall of this server that takes its services from ``region``'s catalog runs on the catalog as it is
    now: each a change of its own (audited, in every worker). A hall that cannot follow yet (it has live tickets
    of an item the catalog dropped) keeps what it has, and says so; the next change of the catalog tries again."""
    catalog = runtime.catalog_of(region)
    if catalog is None:
        return []
    results: list[dict[str, object]] = []
    for hall in runtime.halls.values():
        if hall.config.catalog != region:
            continue
        try:
            edit = following(hall.config, catalog)
            if edit.config == hall.config:
                continue
            version = await apply(hall.engine, edit, hall.engine.config_version, source=f"catalog:{region}")
            results.append({"hall": hall.config.id, "version": version})
        except (SetupRefused, errors.DomainError) as refused:
            if isinstance(refused, SetupRefused):
                en, message = refused.en, refused.zh if lang == "zh" else refused.en
            else:
                en, message = str(refused), refused.message(lang, hall.service_names(lang))
            log.warning("hall %s cannot follow catalog %s yet: %s", hall.config.id, region, en)
            results.append({"hall": hall.config.id, "refused": refused.code, "message": message})
    return results
