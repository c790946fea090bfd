"""Alembic migrations of the SQL record; ``floor.db.migrate`` runs them."""
