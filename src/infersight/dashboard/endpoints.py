"""The dashboard API's plumbing: what a handler gets (`Context`, `Call`), how an `Endpoint` is
declared (path, parameters, documentation) and how it is served.

Handlers are plain functions that read the store; `serve` parses and validates the query
(HTTP 400 with the reason on a bad one), runs the handler on a worker thread (the gateway's
event loop keeps relaying tokens meanwhile) and renders JSON. An unexpected failure is logged
with its traceback and answered 500 with a one-line reason, never an HTML page.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from infersight.core.clock import Clock
from infersight.dashboard.params import ApiError, Param, parse_query
from infersight.dashboard.providers import AlertsProvider, CollectorStates, Json, QualityProvider
from infersight.dashboard.request_query import RequestQuery
from infersight.settings import Settings
from infersight.store.base import Store

log = logging.getLogger(__name__)


@dataclass
class Context:
    """Everything the API reads; built once by `create_dashboard`."""

    settings: Settings
    store: Store
    clock: Clock
    requests: RequestQuery
    collectors: CollectorStates | None = None
    alerts: AlertsProvider | None = None
    quality: QualityProvider | None = None


@dataclass(frozen=True)
class Call:
    """One API request as a handler sees it."""

    values: dict[str, Any]
    path: dict[str, str]
    now: float
    base_url: str  # how the client reached the gateway, e.g. http://127.0.0.1:8400


Handler = Callable[[Context, Call], Json]


@dataclass(frozen=True)
class Endpoint:
    path: str  # relative to /api/v1, e.g. "/requests/{id}"
    tag: str
    summary: str
    handler: Handler
    params: tuple[Param, ...] = ()
    path_params: tuple[Param, ...] = ()
    description: str = ""
    response: Json = field(default_factory=dict)  # an example-ish schema for the docs


def render_json(body: object, status: int = 200) -> Response:
    try:
        text = json.dumps(body, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a NaN or infinity somewhere: JSON has no such numbers
        text = json.dumps(_finite(body), allow_nan=False, separators=(",", ":"))
    return Response(text, status_code=status, media_type="application/json")


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def error_response(exc: ApiError) -> Response:
    return render_json(exc.to_json(), exc.status)


def serve(ctx: Context, endpoint: Endpoint) -> Callable[[Request], Any]:
    """A Starlette endpoint running `endpoint.handler`."""

    async def run(request: Request) -> Response:
        try:
            query = parse_qs(request.url.query, keep_blank_values=True)
            values = parse_query(query, endpoint.params)
            path = {p.name: str(request.path_params.get(p.name, "")) for p in endpoint.path_params}
            base_url = str(request.base_url).rstrip("/")
            call = Call(values, path, ctx.clock.now(), base_url)
            body = await asyncio.to_thread(endpoint.handler, ctx, call)
        except ApiError as exc:
            return error_response(exc)
        except ValueError as exc:  # the store refused the query (bad range, step, ...)
            return error_response(ApiError(400, str(exc)))
        except Exception as exc:
            log.exception("dashboard API %s failed", request.url.path)
            message = (
                f"internal error in {request.url.path}: {type(exc).__name__}: {exc} "
                "(details in the gateway's log)"
            )
            return error_response(ApiError(500, message))
        return render_json(body)

    return run
