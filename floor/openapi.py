"""The OpenAPI document, built from the endpoint declarations and their pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from .web import ENDPOINTS

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "array", "items": {"type": "object"}}}}},
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def document(version: str) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for ep in ENDPOINTS:
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in re.findall(r"{(\w+)}", ep.full_path)]
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        responses: dict[str, Any] = {str(ep.status): {"description": "OK"}}
        if ep.response is not None:
            responses[str(ep.status)]["content"] = {"application/json": {"schema": _schema(ep.response, components)}}
        for status, why in (("401", "no or bad token"), ("403", "not allowed for this token"),
                            ("404", "unknown hall, ticket, window or service"), ("409", "refused in this state"),
                            ("422", "invalid request"), ("503", "briefly unavailable; retry after Retry-After")):
            if status in ("401", "403") and not ep.roles:
                continue
            responses[status] = {"description": why, **error}
        op: dict[str, Any] = {"summary": ep.summary, "operationId": ep.handler.__name__, "parameters": params,
                              "responses": responses}
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
