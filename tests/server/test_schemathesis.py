"""Schemathesis over the live server's whole OpenAPI document (issue 7): whatever arrives, no 5xx, every 4xx in
api.md's error shape with a message a person can act on, and every answer as the document says.

Each operation is fuzzed with a token of a role that may call it (so the cases get past auth into path, query and
body validation), then without a token and with wrong ones, then with hall, window and ticket ids of every sort.
Bounded and deterministic: a fixed number of examples per operation, derandomized, no deadline, no shrinking
database; requests go to 127.0.0.1 only.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from floor.app import ENDPOINTS
from floor.http.auth import WINDOW_ROLES, make_token, ticket_key
from tests.server.conftest import LiveServer, delete_prefix_sync, start_server, stop_server, write_network
from tests.server.test_appointments import booking_body

pytestmark = [pytest.mark.slow, pytest.mark.thorough]  # many random examples: the whole run, not --quick

HALL = "demo"
REGION = "demo-county"  # the demo's county (tests/server/conftest.py SHARED_NETWORK)
WINDOW = "1"
EXAMPLES = 12  # per operation and pass: 28 operations x 4 passes stay well under a minute
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                phases=(Phase.explicit, Phase.generate),  # a failure is reported as found: shrinking costs minutes
                suppress_health_check=list(HealthCheck))
# Schemathesis's generics, taken whole: the tests go through any operation of the OpenAPI document.
Operation = schemathesis.APIOperation[Any, Any, Any, Any]
AnyCase = Case[Any]


@schemathesis.check
def error_shape(ctx: CheckContext, response: schemathesis.Response, case: AnyCase) -> bool | None:
    """api.md: every refusal is {"error": {"code": snake_case, "message": non-empty}}."""
    if not 400 <= response.status_code < 500:
        return None
    body = response.json()
    assert isinstance(body, dict), f"not the error shape: {response.text[:300]}"
    assert set(body) == {"error"}, f"not the error shape: {response.text[:300]}"
    error = body["error"]
    assert isinstance(error, dict), response.text[:300]
    assert isinstance(error.get("code"), str), response.text[:300]
    assert SNAKE_CASE.match(error["code"]), response.text[:300]
    assert isinstance(error.get("message"), str), response.text[:300]
    assert error["message"].strip(), response.text[:300]
    return True


def no_server_error(ctx: CheckContext, response: schemathesis.Response, case: AnyCase) -> bool | None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    return True


CHECKS: list[CheckFunction] = [no_server_error, error_shape, status_code_conformance, content_type_conformance,
                               response_schema_conformance]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    home = tmp_path_factory.mktemp("fuzz")
    # The demo's county as a network, so that a region's endpoints are fuzzed past their path too.
    live = start_server(home / "server", prefix, extra_env={"HALLQ_NETWORK": str(write_network(home))})
    try:
        yield live
    finally:
        stop_server(live)
        delete_prefix_sync(prefix)


@pytest.fixture(scope="module")
def schema(server: LiveServer) -> schemathesis.BaseSchema:
    no_proxy = {"http": None, "https": None}  # 127.0.0.1 only, whatever the environment says
    loaded = schemathesis.openapi.from_url(f"{server.base_url}/api/v1/openapi.json", proxies=no_proxy)
    loaded.config.update(base_url=server.base_url)
    # A body over 64 KiB is refused 413 before it is read: a rejection too, which schemathesis does not count as one.
    rejection = loaded.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return loaded


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # no proxy from the environment: 127.0.0.1 only
        yield s


STAGES = ("waiting", "called", "serving", "done")
# What only a person signed in with their account does, or what needs a secret random input does not hold (a
# password, a pairing code and its claim): refused to every token, whatever the body.
PERSON_ONLY = {("POST", "/session"), ("POST", "/session/password"), ("POST", "/session/window"),
               ("DELETE", "/session/window"), ("GET", "/pairing/{code}"), ("POST", "/pairing/{code}/device")}
# What needs a value only the server's current state gives, which no generated case holds: the set-up's current
# version (a change decided on another is refused 409), a whole valid hall file, a ticket's own key, a key or
# delivery id that exists. They are fuzzed like every other operation (no 5xx, the schema holds); they are only
# not counted among the operations a random case is expected to get through.
NEEDS_STATE = {("PUT", "/setup/services/{code}"), ("DELETE", "/setup/services/{code}"),
               ("PUT", "/setup/windows/{window}"), ("DELETE", "/setup/windows/{window}"), ("PUT", "/setup/calendar"),
               ("POST", "/setup/import"), ("GET", "/tickets/{ticket}/rating"), ("POST", "/tickets/{ticket}/rating"),
               ("DELETE", "/keys/{key}"), ("POST", "/webhooks/deliveries/{delivery}/retry")}


@dataclass(frozen=True)
class Records:
    """Records an id in a path can name, made once: a booking, and a ticket rated 差评 whose case is open."""

    appointment: str
    case: str


@pytest.fixture(scope="module")
def records(server: LiveServer, session: requests.Session) -> Records:
    base, manager = f"{server.base_url}/api/v1/halls/{HALL}", server.auth("manager")
    booked = session.post(f"{base}/appointments", json=booking_body(who=7), headers=manager, timeout=20)
    assert booked.status_code == 201, booked.text
    rated = set_stage(server, session, "done")
    reply = session.post(f"{base}/tickets/{rated}/rating", json={"score": 1}, timeout=20,
                         headers={"X-Ticket-Key": ticket_key(server.secret, HALL, rated)})
    assert reply.status_code == 201, reply.text
    deadline = time.monotonic() + 15
    while session.get(f"{base}/cases/{rated}", headers=manager, timeout=20).status_code != 200:
        assert time.monotonic() < deadline, "the archiver did not open the case within 15 s"
        time.sleep(0.1)
    return Records(appointment=booked.json()["id"], case=rated)


def real_ids(path: str, ticket: str, records: Records) -> dict[str, str]:
    """Path parameters set to records that exist, so an operation on a record can succeed."""
    ids = {"ticket": records.case if path.startswith("/api/v1/halls/{hall}/cases/") else ticket,
           "appointment": records.appointment}
    return {name: value for name, value in ids.items() if "{" + name + "}" in path}


def set_stage(server: LiveServer, session: requests.Session, stage: str) -> str:
    """Window 1 open and free, and a fresh SOC ticket in ``stage`` (at window 1 unless waiting): whatever the
    cases before did (end the day, close, pause), each case meets a hall where its operation can succeed."""
    base, manager = f"{server.base_url}/api/v1/halls/{HALL}", server.auth("manager")
    for op in ("open", "resume", "finish", "no-show"):  # each refused (409) when not needed
        session.post(f"{base}/windows/{WINDOW}/{op}", headers=manager, timeout=20)
    issued = session.post(f"{base}/tickets", json={"service": "SOC"}, headers=server.auth("guide"), timeout=20)
    assert issued.status_code == 201, issued.text
    ticket: str = issued.json()["id"]
    if stage != "waiting":
        called = session.post(f"{base}/windows/{WINDOW}/call", json={"ticket": ticket, "reason": "fuzz"},
                              headers=manager, timeout=20)
        assert called.status_code == 200, called.text
    if stage in ("serving", "done"):
        started = session.post(f"{base}/windows/{WINDOW}/start", headers=manager, timeout=20)
        assert started.status_code == 200, started.text
    if stage == "done":
        finished = session.post(f"{base}/windows/{WINDOW}/finish", json={"outcome": "done"}, headers=manager,
                                timeout=20)
        assert finished.status_code == 200, finished.text
    return ticket


def roles_of(method: str, path: str) -> tuple[str, ...]:
    found = [ep.roles for ep in ENDPOINTS if ep.method == method.upper() and ep.full_path == path]
    assert found, f"{method} {path} is in the document but not declared with @endpoint"
    return found[0]


def token_for(server: LiveServer, role: str, window: str | None, path: str = "") -> str:
    """A token that may call ``path`` in ``role``: of the region, for a region's endpoint."""
    region = REGION if path.startswith("/api/v1/regions/") else None
    return server.token(role, window if role in WINDOW_ROLES else None, HALL, region)


Fuzz = Callable[[Operation], None]


def operations_of(schema: schemathesis.BaseSchema) -> list[Operation]:
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document has an invalid operation: {result.err()}"
        operations.append(result.ok())
    assert len(operations) >= 25, "the document lost operations"
    return operations


def has_input(operation: Operation) -> bool:
    """A body or a query parameter: something negative generation can break (path ids are any string)."""
    return bool(operation.body) or bool(list(operation.query))


def run_everywhere(operations: list[Operation], fuzz: Fuzz) -> None:
    """Fuzz every operation, then report every operation that failed (not only the first)."""
    failures: list[str] = []
    for operation in operations:
        try:
            fuzz(operation)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups the distinct failures of a case
            failures.append(f"{operation.method.upper()} {operation.path}:\n{exc!r}\n{_details(exc)}")
    assert not failures, "\n\n".join(failures)


def _details(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "\n".join(_details(sub) for sub in exc.exceptions)
    return str(exc)


def call(case: AnyCase, session: requests.Session, headers: dict[str, str], checks: list[CheckFunction]) -> int:
    return case.call_and_validate(session=session, headers=headers, checks=checks, timeout=20).status_code


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_with_a_token_that_may_call_it(
    server: LiveServer, schema: schemathesis.BaseSchema, session: requests.Session, records: Records,
    mode: GenerationMode,
) -> None:
    checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS
    answered: set[str] = set()  # operations that said yes at least once: the cases got past auth and validation

    def fuzz(operation: Operation) -> None:
        roles = roles_of(operation.method, operation.path)
        fixed = {"hall": HALL, "w": WINDOW, "region": REGION}
        strategy = operation.as_strategy(generation_mode=mode, path_parameters={
            name: value for name, value in fixed.items() if "{" + name + "}" in operation.path})

        @FUZZ
        @given(case=strategy, role=st.sampled_from(roles or ("manager",)), stage=st.sampled_from(STAGES),
               real_ticket=st.booleans())
        def one(case: AnyCase, role: str, stage: str, real_ticket: bool) -> None:
            ticket = set_stage(server, session, stage)
            if real_ticket and case.path_parameters:
                case.path_parameters.update(real_ids(operation.path, ticket, records))
            token = token_for(server, role, WINDOW, operation.path)
            status = call(case, session, {"Authorization": f"Bearer {token}"}, checks)
            if status < 300:
                answered.add(operation.label)

        one()

    operations = operations_of(schema)
    if mode is GenerationMode.NEGATIVE:
        operations = [op for op in operations if has_input(op)]
        assert len(operations) >= 9, [f"{op.method} {op.path}" for op in operations]
    run_everywhere(operations, fuzz)
    if mode is GenerationMode.POSITIVE:
        # A person's own session does these, never a token (they answer not_a_person to every token the fuzzer
        # sends), and a sign-in or a pairing needs a password or a code random input does not hold.
        unreachable = {f"{method} /api/v1/halls/{{hall}}{path}" for method, path in PERSON_ONLY | NEEDS_STATE}
        reachable = [op for op in operations if op.label not in unreachable]
        missed = sorted({op.label for op in reachable} - answered)
        # Some cannot succeed with random input (a service code or ticket id in the body, open an open window):
        # 16 of 70 at the time of writing. Many more would mean the cases stop at auth or the path.
        assert len(missed) <= len(reachable) // 3, f"never got past validation: {missed}"


def wrong_tokens(server: LiveServer, roles: tuple[str, ...]) -> list[str | None]:
    """Authorization headers that must not pass for an operation open to ``roles``."""
    forged = server.token("manager").rsplit(".", 1)[0] + ".AAAA"
    expired = make_token(server.secret, HALL, "manager", ttl_s=-60)
    allowed = (*roles, "admin") if "manager" in roles else roles
    refused_roles = [role for role in ("display", "kiosk", "guide") if role not in allowed]
    return [None, "", "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", f"Bearer {forged}", f"Bearer {expired}",
            f"Bearer {server.token('manager', hall='other')}", "Bearer hq1.é.ü", "Bearer " + "x" * 5000,
            *(f"Bearer {server.token(role)}" for role in refused_roles[:1])]


def test_every_operation_without_a_token_or_with_a_wrong_one(
    server: LiveServer, schema: schemathesis.BaseSchema, session: requests.Session,
) -> None:
    def fuzz(operation: Operation) -> None:
        roles = roles_of(operation.method, operation.path)
        fixed = {"hall": HALL, "w": WINDOW, "region": REGION}
        strategy = operation.as_strategy(path_parameters={
            name: value for name, value in fixed.items() if "{" + name + "}" in operation.path})

        @FUZZ
        @given(case=strategy, authorization=st.sampled_from(wrong_tokens(server, roles)))
        def one(case: AnyCase, authorization: str | None) -> None:
            headers = {} if authorization is None else {"Authorization": authorization}
            response = case.call(session=session, headers=headers, timeout=20)
            case.validate_response(response, checks=CHECKS)
            if roles:
                assert response.status_code in (401, 403), (authorization, response.status_code, response.text)

        one()

    run_everywhere(operations_of(schema), fuzz)


def test_unknown_halls_windows_and_tickets(
    server: LiveServer, schema: schemathesis.BaseSchema, session: requests.Session,
) -> None:
    def fuzz(operation: Operation) -> None:
        roles = roles_of(operation.method, operation.path)

        @FUZZ
        @given(case=operation.as_strategy(), hall=st.sampled_from([None, HALL]))
        def one(case: AnyCase, hall: str | None) -> None:
            if hall is not None:
                case.path_parameters["hall" if "{hall}" in operation.path else "region"] = (
                    hall if "{hall}" in operation.path else REGION)
            role = "manager" if "manager" in roles or not roles else roles[0]
            window = (case.path_parameters or {}).get("w")
            token = token_for(server, role, str(window) if window is not None else None, operation.path)
            call(case, session, {"Authorization": f"Bearer {token}"}, CHECKS)

        one()

    run_everywhere(operations_of(schema), fuzz)
