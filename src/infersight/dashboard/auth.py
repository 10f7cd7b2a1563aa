"""Who may see the dashboard. Bound to a loopback address, anyone on this machine may; bound
anywhere else, `gateway.dashboard_token` is required (the service refuses to start without it)
and every dashboard page and API call must present it:

* API: ``Authorization: Bearer TOKEN`` (or the session cookie the UI holds);
* UI: the login form at /login, or ``?token=TOKEN`` on any page, sets an HttpOnly, SameSite
  session cookie holding an HMAC of the token (never the token itself) and redirects.

This guards only the dashboard: /v1/* never reaches it (the gateway dispatches those first),
so the clients' own ``Authorization`` headers keep going to the upstream untouched, and
/metrics, /healthz and /readyz stay as they were.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
from typing import Final
from urllib.parse import parse_qs, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from infersight.config.errors import ConfigError, ConfigProblem
from infersight.settings import GatewaySettings

COOKIE: Final = "infersight_dashboard"
COOKIE_MAX_AGE_S: Final = 30 * 86_400
PUBLIC_PREFIXES: Final = ("/static/", "/login", "/logout", "/favicon.ico", "/api/v1/openapi.json")
MAX_FORM_BYTES: Final = 16_384


class DashboardAccessError(ConfigError, OSError):
    """The gateway would expose the dashboard to the network without a token. An OSError too,
    so the commands that start the service report it like a port already in use."""


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_dashboard_access(gateway: GatewaySettings) -> None:
    """Raise DashboardAccessError when bound beyond loopback without a dashboard token."""
    if is_loopback(gateway.host) or dashboard_token(gateway):
        return
    raise DashboardAccessError(
        [
            ConfigProblem(
                "gateway.dashboard_token",
                f"is required when gateway.host is {gateway.host!r} (not a loopback address): "
                "the dashboard and its API would be open to the network",
                hint="set gateway.dashboard_token (or INFERSIGHT_GATEWAY__DASHBOARD_TOKEN) to a "
                "long random string, or bind 127.0.0.1",
            )
        ]
    )


def dashboard_token(gateway: GatewaySettings) -> str | None:
    secret = gateway.dashboard_token
    value = secret.get_secret_value().strip() if secret is not None else ""
    return value or None


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"infersight-dashboard-session", hashlib.sha256).hexdigest()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _cookie(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == COOKIE:
            return value
    return None


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no //host): an open redirect is refused."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class TokenAuth:
    """ASGI middleware in front of the whole dashboard (pages, API, login)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token or None
        self.session = session_value(token) if token else ""

    def _valid_token(self, candidate: str | None) -> bool:
        if not candidate or self.token is None:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def authorized(self, scope: Scope) -> bool:
        auth = _header(scope, b"authorization") or ""
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() == "bearer" and self._valid_token(credential.strip()):
            return True
        cookie = _cookie(scope)
        return cookie is not None and hmac.compare_digest(cookie.encode(), self.session.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/login" and scope["method"] == "POST":
            await self._login_post(scope, receive, send)
            return
        if path == "/logout":
            await _redirect(send, "/login", cookie=f"{COOKIE}=; Max-Age=0; Path=/")
            return
        if self.token is None:
            if path == "/login":
                await _redirect(send, "/")
                return
            await self.app(scope, receive, send)
            return
        if path == "/login":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            await _login_page(send, safe_next(query.get("next", ["/"])[0]), error="")
            return
        if path.startswith(PUBLIC_PREFIXES) or self.authorized(scope):
            await self.app(scope, receive, send)
            return
        if path.startswith("/api/"):
            body = (
                b'{"error":{"status":401,"message":"this dashboard API needs the token in '
                b'gateway.dashboard_token: send the header Authorization: Bearer TOKEN"}}'
            )
            await _send(
                send,
                401,
                body,
                b"application/json",
                [(b"www-authenticate", b'Bearer realm="infersight"')],
            )
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = query.pop("token", [None])[0]
        if given is not None:
            if self._valid_token(given):
                rest = urlencode(query, doseq=True)
                await _redirect(send, path + (f"?{rest}" if rest else ""), cookie=self._cookie())
            else:
                await _login_page(send, path, error="That token is not valid.", status=401)
            return
        target = path + (
            f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
        )
        await _redirect(send, "/login?" + urlencode({"next": target}))

    def _cookie(self) -> str:
        return (
            f"{COOKIE}={self.session}; Max-Age={COOKIE_MAX_AGE_S}; Path=/; HttpOnly; "
            "SameSite=Strict"
        )

    async def _login_post(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                await _send(send, 413, b"form too large", b"text/plain")
                return
            if not message.get("more_body", False):
                break
        form = parse_qs(body.decode("utf-8", "replace"))
        target = safe_next(form.get("next", ["/"])[0])
        if self.token is None:
            await _redirect(send, target)
        elif self._valid_token(form.get("token", [""])[0].strip()):
            await _redirect(send, target, cookie=self._cookie())
        else:
            await _login_page(send, target, error="That token is not valid.", status=401)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _redirect(send: Send, location: str, *, cookie: str | None = None) -> None:
    extra = [(b"location", location.encode("latin-1", "replace"))]
    if cookie is not None:
        extra.append((b"set-cookie", cookie.encode("latin-1")))
    await _send(send, 303, b"", b"text/plain", extra)


async def _login_page(send: Send, target: str, *, error: str, status: int = 200) -> None:
    message = f'<p class="login-error" role="alert">{html.escape(error)}</p>' if error else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>infersight: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/style.css"></head>
<body class="login"><main class="login-box"><h1>infersight</h1>
<p>This dashboard needs the token set in <code>gateway.dashboard_token</code>.</p>{message}
<form method="post" action="/login">
<input type="hidden" name="next" value="{html.escape(target)}">
<label>Token <input type="password" name="token" autocomplete="current-password" autofocus
required></label> <button type="submit">Sign in</button></form></main></body></html>"""
    await _send(send, status, page.encode(), b"text/html; charset=utf-8")
