"""A Redis Cluster primary killed under load (``kill -9``), with acknowledgements held until a replica has the change
(``HALLQ_ACK_REPLICAS=1``): the replica takes over, the server follows it, and nothing acknowledged is lost.

The same runner code as the other faults (``loadtest.faults``), on a private cluster of 3 primaries and 3 replicas:
the primary serving the hall's slot is killed, the cluster promotes its replica, and the killed node is started
again and rejoins as a replica. Requests meanwhile get 503 with Retry-After, and guides retry with their
Idempotency-Key. The long version: ``python -m loadtest.faults primary-kill``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loadtest.faults.run import Deployment, Plan, Services, run_fault
from loadtest.faults.services import PrivatePostgres
from tests.reliability.test_faults import assert_survived

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    services = Services(PrivatePostgres().init().start(), tmp_path_factory.mktemp("failover"))
    deployment = Deployment(services, 2, cluster=True, ack_replicas=1)
    try:
        yield deployment.start()
    finally:
        deployment.close()
        services.close()


async def test_a_primary_killed_under_load_loses_nothing_acknowledged(cluster_deployment: Deployment) -> None:
    outcome = await run_fault(Plan("primary-kill", before_s=3.0, after_s=6.0), cluster_deployment)
    assert_survived(outcome)  # 0 lost, 0 duplicate numbers, 0 double calls, displays caught up, SQL = stream
    assert "served it" in outcome.fault_notes[0], outcome.fault_notes
    # The switch was felt and answered as an outage, not hidden: requests in it got 503 with Retry-After.
    assert outcome.load.unavailable >= 1, outcome.figures
