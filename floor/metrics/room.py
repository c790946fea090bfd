"""``GET /metrics``: what the metrics package brings to the server.

Not open to all: a hall's server also serves the citizens' phones, and the waits of every hall are the region
managers' to see (区域总览 needs a manager's sign-in). Prometheus on the same machine reads it as it is; from
elsewhere it sends ``Authorization: Bearer <HALLQ_METRICS_TOKEN>``. Without that setting, only loopback may read.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from floor.http.kit import error_response, header, language
from floor.http.room import Room
from floor.metrics.exposition import text
from floor.metrics.hall_reads import HallReads
from floor.metrics.summing import ProcessSums
from floor.runtime import Runtime

TOKEN_VARIABLE = "HALLQ_METRICS_TOKEN"
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"  # what Prometheus 2 and 3 both read


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # not an address (a unix socket's peer, a test client's name)
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None  # ::ffff:127.0.0.1
    return (mapped or address).is_loopback


def may_scrape(client_host: str | None, authorization: str | None, token: str | None) -> bool:
    """Loopback may always read; anyone else with the token, if one is set."""
    if is_loopback(client_host):
        return True
    if not token or not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_route() -> Route:
    reads = HallReads()  # one per worker: its pipes and packed calls last across scrapes
    sums = ProcessSums()  # and its helper process

    async def metrics(request: Request) -> Response:
        client = request.client.host if request.client else None
        if not may_scrape(client, header(request, b"authorization"), os.environ.get(TOKEN_VARIABLE)):
            zh = language(request) == "zh"
            return error_response(403, "metrics_forbidden", "指标仅对本机或持有指标令牌的请求开放。" if zh else
                                  f"Metrics are for this machine, or for a request bearing {TOKEN_VARIABLE}.")
        runtime: Runtime = request.app.state.runtime
        started = time.perf_counter()
        readings = await reads.read(runtime.halls)
        return Response(await text(readings, time.perf_counter() - started, sums), media_type=TEXT_FORMAT)

    return Route("/metrics", metrics, methods=["GET"])


ROOM = Room("metrics", routes=[metrics_route()])
