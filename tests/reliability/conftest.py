"""Reliability tests run the real server as the server tests do: the same fixtures. The fault tests also own a
PostgreSQL of their own (``fault_deployment``), which they stop and start: the machine's shared one is never touched."""

from collections.abc import Iterator

import pytest

from loadtest.faults.run import Deployment, Services
from loadtest.faults.services import PrivatePostgres
from tests.server.conftest import api, demo_api, live_server, shared_server  # noqa: F401

FAULT_HALLS = 8  # more than the module's fault tests: each takes a hall of its own


@pytest.fixture(scope="module")
def fault_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """``hallq serve --workers 2`` for the module's fault runs, on a private Redis and a private PostgreSQL the
    tests may kill; each run takes a hall of its own (``Deployment.next_hall``)."""
    # In a directory of its own under /tmp: pytest's are private to root, and the cluster runs as user postgres.
    services = Services(PrivatePostgres().init().start(), tmp_path_factory.mktemp("faults"))
    deployment = Deployment(services, FAULT_HALLS)
    try:
        yield deployment.start()
    finally:
        deployment.close()
        services.close()
