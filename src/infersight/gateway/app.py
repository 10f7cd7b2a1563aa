"""The gateway's ASGI application: the measuring proxy under /v1, and the service endpoints."""

from __future__ import annotations

import asyncio
import json
from typing import Final

from starlette.types import ASGIApp

from infersight.core.clock import Clock
from infersight.core.sse import error_body_message
from infersight.exporters.prometheus import GatewayMetrics
from infersight.gateway.errors import error_body
from infersight.gateway.proxy import (
    ROUTES,
    ProxyHandler,
    Receive,
    RecordSink,
    Scope,
    Send,
    forward_headers,
    upstream_target,
)
from infersight.gateway.routing import UpstreamRouter
from infersight.settings import Settings

_METRICS_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"


class GatewayApp:
    """ASGI callable. /v1 requests go straight to the proxy (no router in the hot path); paths
    the gateway does not serve itself go to the dashboard, when there is one."""

    def __init__(
        self,
        settings: Settings,
        *,
        sink: RecordSink,
        clock: Clock,
        router: UpstreamRouter,
        metrics: GatewayMetrics,
        dashboard: ASGIApp | None = None,
    ) -> None:
        self.settings = settings
        self.dashboard = dashboard
        self.router = router
        self.metrics = metrics
        self.proxy = ProxyHandler(settings.gateway, router, sink, metrics, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan and websockets: the runner owns start-up and shutdown
        path: str = scope["path"]
        method: str = scope["method"]
        route = ROUTES.get(path)
        if route is not None:
            if method != "POST":
                await _json(send, 405, error_body(405, f"{path} accepts POST, not {method}"))
                return
            await self.proxy.handle(scope, receive, send, route)
        elif path == "/v1/models":
            await self._models(scope, send)
        elif path == "/metrics":
            body = self.metrics.exposition()
            await _reply(send, 200, body, _METRICS_TYPE)
        elif path == "/healthz":
            await _json(send, 200, b'{"status":"ok"}')
        elif path == "/readyz":
            await self._ready(send)
        elif self.dashboard is not None and not path.startswith("/v1/"):
            await self.dashboard(scope, receive, send)
        else:
            msg = (
                f"no route {method} {path}; the gateway serves /v1/chat/completions, "
                "/v1/completions, /v1/models, /metrics, /healthz and /readyz"
            )
            await _json(send, 404, error_body(404, msg))

    async def _models(self, scope: Scope, send: Send) -> None:
        """The union of every upstream's model list, asked with the client's credentials. When
        no upstream gives a list, the upstreams' refusal (401, say) is the answer, or else a
        502."""
        data: list[object] = []
        problems: list[str] = []
        refusals: list[int] = []
        answered = False  # an upstream gave a model list (maybe an empty one)
        timeout = self.settings.gateway.first_byte_timeout_s
        headers = forward_headers(scope["headers"])
        target = upstream_target(scope)
        for upstream in self.router.upstreams:
            where = f"upstream '{upstream.name}' ({upstream.url})"
            try:
                response = await upstream.pool.send(
                    "GET", target, headers, b"", header_timeout_s=timeout
                )
                try:
                    body = await response.read_all(timeout)
                finally:
                    response.close()
            except Exception as exc:  # one broken upstream must not hide the others
                problems.append(f"{where}: {exc}")
                continue
            if response.status != 200:
                refusals.append(response.status)
                problems.append(f"{where} answered {response.status}: {error_body_message(body)}")
                continue
            listed = _model_list(body)
            if listed is None:
                problems.append(f"{where} answered a model list that is not one")
                continue
            data.extend(listed)
            answered = True
        if problems and not answered:
            status = refusals[0] if len(refusals) == len(problems) else 502
            code = "upstream_unreachable" if status == 502 else None
            await _json(send, status, error_body(status, "; ".join(problems), code=code))
            return
        await _json(send, 200, json.dumps({"object": "list", "data": data}).encode())

    async def _ready(self, send: Send) -> None:
        states: dict[str, str] = {}
        for upstream in self.router.upstreams:
            origin = upstream.pool.origin
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(origin.host, origin.port), 2.0
                )
                writer.close()
                states[upstream.name] = "up"
            except (OSError, TimeoutError) as exc:
                states[upstream.name] = f"down: {exc}"
        ready = all(state == "up" for state in states.values())
        body = json.dumps(
            {"status": "ready" if ready else "not ready", "upstreams": states}
        ).encode()
        await _json(send, 200 if ready else 503, body)


def _model_list(body: bytes) -> list[object] | None:
    """The "data" array of an OpenAI model list, or None when the body is not one."""
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return None
    listed = obj.get("data") if isinstance(obj, dict) else None
    return listed if isinstance(listed, list) else None


async def _reply(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _json(send: Send, status: int, body: bytes) -> None:
    await _reply(send, status, body, b"application/json")


def create_app(
    settings: Settings,
    *,
    sink: RecordSink,
    clock: Clock,
    router: UpstreamRouter | None = None,
    metrics: GatewayMetrics | None = None,
    dashboard: ASGIApp | None = None,
) -> GatewayApp:
    """Build the gateway. No hidden globals: everything it uses is passed in."""
    if router is None:
        router = UpstreamRouter(
            settings.upstreams, connect_timeout_s=settings.gateway.connect_timeout_s
        )
    return GatewayApp(
        settings,
        sink=sink,
        clock=clock,
        router=router,
        metrics=metrics or GatewayMetrics(),
        dashboard=dashboard,
    )
