"""The OpenAPI document, built from the endpoint declarations and their pydantic models."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from floor.http.kit import Endpoint

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "array", "items": {"type": "object"}}}}},
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
        # Components are named by class: two models of one name would silently document one of them twice.
        if components.get(name, sub) != sub:
            raise ValueError(f"two response or body models are both named {name}; rename one")
        components[name] = sub
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _parameters(ep: Endpoint) -> list[dict[str, Any]]:
    declared = {p.name: p for p in ep.params if p.where == "path"}  # a path parameter with a schema of its own
    path = [{"name": name, "in": "path", "required": True,
             "schema": declared[name].schema if name in declared else {"type": "string"}}
            for name in re.findall(r"{(\w+)}", ep.full_path)]
    return path + [{"name": p.name, "in": p.where, "required": False, "description": p.description,
                    "schema": p.schema} for p in ep.params if p.where != "path"]


def _responses(ep: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    ok: dict[str, Any] = {"description": "OK"}
    if ep.response is not None:
        ok["content"] = {"application/json": {"schema": _schema(ep.response, components)}}
    responses: dict[str, Any] = {str(ep.status): ok}
    if ep.status == 201 and any(p.name.lower() == "idempotency-key" for p in ep.params):
        responses["200"] = {**ok, "description": "The same request again (same Idempotency-Key): what it made"}
    refusals = [("401", "no or bad token"), ("403", "not allowed for this token"),
                ("404", "unknown hall, ticket, window or service"), ("409", "refused in this state"),
                ("413", "request body over 64 KiB"), ("415", "the body is not application/json"),
                ("422", "invalid request"), ("503", "briefly unavailable; retry after Retry-After")]
    refusals = [(status, why) for status, why in refusals
                if not (status in ("401", "403") and not ep.roles)
                and not (status in ("413", "415") and ep.body is None)]
    for also, why in ep.refusals:
        if also < 400:  # another success in the same shape (a repeated check-in answers 200 with the first one's)
            responses[str(also)] = {**ok, "description": why}
    refusals += [(str(status), why) for status, why in ep.refusals if status >= 400]  # its own: always said
    for status, why in sorted(refusals):
        responses[status] = {"description": why, **error}
    return responses


def document(version: str, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for ep in endpoints:
        operation_id = ep.handler.__name__
        if operation_id in operation_ids:  # clients generate one function per id: a repeat breaks them
            raise ValueError(f"two endpoints are named {operation_id!r}; rename one handler")
        operation_ids.add(operation_id)
        op: dict[str, Any] = {"summary": ep.summary, "operationId": operation_id, "parameters": _parameters(ep),
                              "responses": _responses(ep, components)}
        if ep.roles:
            op["security"] = [{"bearer": []}]
            op["description"] = "Roles: " + ", ".join(ep.roles)
        if ep.body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": _schema(ep.body, components)}}}
        paths.setdefault(ep.full_path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "hallq", "version": version,
                 "description": "Queue calling for government service halls. Errors are "
                                '{"error": {"code", "message"}}; Accept-Language picks zh or en.'},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
