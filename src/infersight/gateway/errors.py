"""OpenAI-shaped error bodies, so that clients written for OpenAI show them properly."""

from __future__ import annotations

import json

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    431: "invalid_request_error",
    502: "upstream_error",
    503: "upstream_error",
    504: "upstream_timeout",
}


def error_body(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> bytes:
    err = {
        "message": message,
        "type": _TYPES.get(status, "server_error"),
        "param": param,
        "code": code,
    }
    return json.dumps({"error": err}).encode()


def sse_error_event(message: str, *, code: str) -> bytes:
    """An SSE event that ends a broken stream in a way OpenAI clients raise on."""
    err = {"message": message, "type": "upstream_error", "param": None, "code": code}
    return b"data: " + json.dumps({"error": err}).encode() + b"\n\n"
