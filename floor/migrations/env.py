"""Alembic environment: runs on the connection ``floor.sql.db.migrate`` hands over, or on the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

# Row classes kept outside floor.sql.db register themselves on Base.metadata when imported: each module is imported
# here, so the schema the migrations are compared with is whole.
import floor.accounts.store
import floor.appointments.store
import floor.notify.webhooks
import floor.regions.summaries
import floor.setup.store  # noqa: F401
from floor.sql.db import Base, make_sql_engine


def _run(connection: Connection) -> None:
    # Batch mode lets later migrations alter tables on SQLite, which cannot ALTER most things in place.
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_sql_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    _online()
