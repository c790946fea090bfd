"""Alembic migrations of the SQL record; env.py imports every store so the schema compared is whole."""
