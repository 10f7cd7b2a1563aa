"""Assembles the dashboard: the JSON API under /api/v1 (a Starlette sub-app), the pages, the
static assets, and the token guard in front of all of it. The gateway hands it every path it
does not serve itself (/v1/*, /metrics, /healthz and /readyz stay the gateway's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from infersight.core.clock import Clock
from infersight.dashboard import (
    api_cost,
    api_data,
    api_loadtests,
    api_ops,
    api_overview,
    api_serving,
)
from infersight.dashboard.auth import TokenAuth, dashboard_token
from infersight.dashboard.endpoints import Context, Endpoint, error_response, render_json, serve
from infersight.dashboard.openapi import API_PREFIX, openapi_document
from infersight.dashboard.pages import (
    PAGES,
    STATIC_DIR,
    not_found_page,
    page_endpoint,
    request_page,
)
from infersight.dashboard.params import ApiError
from infersight.dashboard.providers import AlertsProvider, CollectorStates, QualityProvider
from infersight.dashboard.quality_view import StoreQuality
from infersight.dashboard.request_query import request_query_for
from infersight.settings import Settings
from infersight.store.base import Store

ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    *api_overview.ENDPOINTS,
    *api_serving.ENDPOINTS,
    *api_cost.ENDPOINTS,
    *api_ops.ENDPOINTS,
    *api_data.ENDPOINTS,
    *api_loadtests.ENDPOINTS,
)


def _api(ctx: Context, endpoints: Sequence[Endpoint]) -> Starlette:
    document = openapi_document(endpoints)

    async def openapi(request: Request) -> Response:
        return render_json(document)

    async def api_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        reason = {404: "no such API endpoint", 405: "the dashboard API only answers GET"}
        message = f"{reason.get(status, 'error')}: {request.method} {request.url.path}"
        if status == 404:
            message += f" (the endpoints are listed in {API_PREFIX}/openapi.json)"
        return error_response(ApiError(status, message))

    routes: list[BaseRoute] = [Route("/openapi.json", openapi, methods=["GET"])]
    routes += [Route(e.path, serve(ctx, e), methods=["GET"]) for e in endpoints]
    return Starlette(routes=routes, exception_handlers={404: api_error, 405: api_error})


async def no_icon(request: Request) -> Response:
    return Response(status_code=204)


def create_dashboard(
    settings: Settings,
    *,
    store: Store,
    clock: Clock,
    collectors: CollectorStates | None = None,
    alerts: AlertsProvider | None = None,
    quality: QualityProvider | None = None,
) -> ASGIApp:
    """The dashboard as one ASGI app. `collectors` returns the live collector states of this
    process; `alerts` is the alert engine's view (None: the pages say alerting is off);
    `quality` defaults to the sweeps in the store's quality tables."""
    ctx = Context(
        settings=settings,
        store=store,
        clock=clock,
        requests=request_query_for(store),
        collectors=collectors,
        alerts=alerts,
        quality=quality if quality is not None else StoreQuality(store),
    )

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return error_response(
                ApiError(404, f"no such API path {request.url.path}; the API is under {API_PREFIX}")
            )
        return await not_found_page(request)

    routes: list[BaseRoute] = [
        Mount(API_PREFIX, app=_api(ctx, ENDPOINTS)),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        *(Route(path, page_endpoint(key, title), methods=["GET"]) for key, path, title in PAGES),
        Route("/requests/{id}", request_page, methods=["GET"]),
        Route("/favicon.ico", no_icon, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found})
    return TokenAuth(app, dashboard_token(settings.gateway))


__all__: Final[Any] = ["ENDPOINTS", "create_dashboard"]
