"""Two-worker deployments (``hallq serve --workers 2``) on SQLite and on PostgreSQL, one per module that imports
these fixtures (each is named for the tests that use it: ``dep`` runs a test on each)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.floor.conftest import postgres_schema
from tests.server.test_accounts import Deployment, password_hash, start_deployment, stop_deployment


@pytest.fixture(scope="module", name="sqlite_dep")
def sqlite_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    password_hash()
    deployment = start_deployment(tmp_path_factory.mktemp("deployment-sqlite"))
    try:
        yield deployment
    finally:
        stop_deployment(deployment)


@pytest.fixture(scope="module", name="pg_dep")
def pg_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The same on PostgreSQL, in a schema of its own (dropped afterwards)."""
    password_hash()
    with postgres_schema() as url:
        deployment = start_deployment(tmp_path_factory.mktemp("deployment-pg"), database_url=url)
        try:
            yield deployment
        finally:
            stop_deployment(deployment)


@pytest.fixture(params=["sqlite", "postgresql"], name="dep")
def either_deployment(request: pytest.FixtureRequest) -> Deployment:
    deployment: Deployment = request.getfixturevalue("sqlite_dep" if request.param == "sqlite" else "pg_dep")
    return deployment
