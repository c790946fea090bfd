"""The hall's set-up in the SQL record: the configuration it runs on, its version, and who changed it last.

Written by the archive process as it stores each ``hall.configured`` event, in the transaction that stores the event
(``floor.record.projection``): the record follows the live hall as it does for tickets, and a change that reached
Redis is never missing here once archived. The audit trail of every change (before and after) is that event's
``audit_log`` row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from floor.sql.db import Base, Json, UtcDateTime, from_ms, insert_for, sync_hall
from queue_engine.config import HallConfig
from queue_engine.stream_ids import StreamKey


class HallSetupRow(Base):
    __tablename__ = "hall_setups"

    hall: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)  # the configuration as JSON
    source: Mapped[str] = mapped_column(String(80))  # "live", or "file:<sha256>" of the file it was imported from
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_by: Mapped[str | None] = mapped_column(String(200))


@dataclass(frozen=True, slots=True)
class Setup:
    config: HallConfig
    version: int
    source: str
    changed_at: datetime | None = None
    changed_by: str | None = None


def read(sql: Engine, hall: str) -> Setup | None:
    with Session(sql) as session:
        row = session.get(HallSetupRow, hall)
        if row is None:
            return None
        return Setup(HallConfig.model_validate_json(row.document), row.version, row.source, row.changed_at,
                     row.changed_by)


def record_first(sql: Engine, config: HallConfig, source: str) -> None:
    """A hall's first set-up (version 1, from its file), recorded at once: no event carries it to the archiver."""
    with Session(sql) as session, session.begin():
        stmt = insert_for(session, HallSetupRow).values(
            hall=config.id, version=1, document=config.model_dump_json(), source=source,
            changed_at=datetime.now(UTC), changed_by=None)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["hall"]))


def store_setups(session: Session, events: Iterable[tuple[str, StreamKey, Json]]) -> None:
    """Record each ``hall.configured`` event's configuration (the newest version wins, whatever order batches come
    in), and bring the hall's services and windows tables (read by the reports) up to date with it."""
    newest: dict[str, Json] = {}
    for hall, _, payload in events:
        if payload.get("type") == "hall.configured" and payload["version"] > newest.get(hall, {}).get("version", 0):
            newest[hall] = payload
    for hall, payload in newest.items():
        stored = session.scalar(select(HallSetupRow.version).where(HallSetupRow.hall == hall))
        if stored is not None and stored >= payload["version"]:
            continue
        config = HallConfig.model_validate(payload["config"])
        row = {"hall": hall, "version": payload["version"], "document": config.model_dump_json(),
               "source": payload.get("source") or "live", "changed_at": from_ms(payload["at"]),
               "changed_by": (payload.get("by") or None)}
        stmt = insert_for(session, HallSetupRow)
        session.execute(stmt.on_conflict_do_update(index_elements=["hall"], set_={
            k: stmt.excluded[k] for k in row if k != "hall"}).values(**row))
        sync_hall(session, config)
