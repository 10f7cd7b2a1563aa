"""The API's OpenAPI 3.1 document, built from the same `Endpoint` / `Param` declarations that
validate requests, so the documentation cannot drift from the behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from infersight import __version__
from infersight.dashboard.endpoints import Endpoint
from infersight.dashboard.params import Param

API_PREFIX: Final = "/api/v1"
_TYPES: Final[dict[str, dict[str, Any]]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "duration": {"type": "string", "examples": ["15m", "6h", "30d", "300"]},
    "time": {"type": "string", "examples": ["now", "1767225600", "2026-01-01T00:00:00Z"]},
    "label": {"type": "string", "examples": ["model=llama", "quantile=0.95"]},
}
_ERROR: Final = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "param": {"type": "string"},
            },
            "required": ["status", "message"],
        }
    },
}


def _schema(p: Param) -> dict[str, Any]:
    schema: dict[str, Any] = dict(_TYPES[p.kind])
    if p.choices:
        schema["enum"] = list(p.choices)
    if p.minimum is not None:
        schema["minimum"] = p.minimum
    if p.maximum is not None:
        schema["maximum"] = p.maximum
    if p.default is not None:
        schema["default"] = p.default
    if p.repeat:
        return {"type": "array", "items": schema}
    return schema


def _parameter(p: Param, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": p.name,
        "in": where,
        "description": p.description,
        "required": where == "path" or p.required,
        "schema": _schema(p),
    }
    if p.repeat:
        out["style"], out["explode"] = "form", True
    return out


def openapi_document(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for e in endpoints:
        responses: dict[str, Any] = {
            "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
            "400": {
                "description": "A bad query parameter; the message says which and why.",
                "content": {"application/json": {"schema": _ERROR}},
            },
            "401": {"description": "A token is required (gateway.dashboard_token)."},
        }
        if e.path_params:
            responses["404"] = {
                "description": "Not found.",
                "content": {"application/json": {"schema": _ERROR}},
            }
        paths[API_PREFIX + e.path] = {
            "get": {
                "tags": [e.tag],
                "summary": e.summary,
                "description": e.description,
                "operationId": e.path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
                or "root",
                "parameters": [_parameter(p, "path") for p in e.path_params]
                + [_parameter(p, "query") for p in e.params],
                "responses": responses,
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "infersight dashboard API",
            "version": __version__,
            "description": "Read-only JSON API behind the infersight dashboard, served by the "
            "gateway process. Times are Unix seconds; durations take 30s/15m/6h/30d or seconds. "
            "When gateway.dashboard_token is set, send 'Authorization: Bearer TOKEN'.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR},
        },
        "security": [{"bearer": []}, {}],
        "paths": paths,
    }
