"""Access: open on loopback, a token beyond it (or whenever one is set); the /v1 proxy keeps
passing the clients' own credentials through, untouched by the dashboard's token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from infersight.dashboard.auth import (
    COOKIE,
    DashboardAccessError,
    check_dashboard_access,
    is_loopback,
    safe_next,
    session_value,
)
from infersight.service import GatewayService, ThreadedGateway, bind_socket
from infersight.settings import GatewaySettings, Settings, StoreSettings, UpstreamSettings
from infersight.sim.server import SimThread

from .conftest import ClientFactory

TOKEN = "s3cret-dashboard-token"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("gateway.internal", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_beyond_loopback_a_token_is_required() -> None:
    check_dashboard_access(GatewaySettings(host="127.0.0.1"))
    check_dashboard_access(GatewaySettings(host="0.0.0.0", dashboard_token=SecretStr(TOKEN)))
    with pytest.raises(DashboardAccessError) as info:
        check_dashboard_access(GatewaySettings(host="0.0.0.0"))
    message = str(info.value)
    assert message.startswith("gateway.dashboard_token: is required when gateway.host is '0.0.0.0'")
    assert "INFERSIGHT_GATEWAY__DASHBOARD_TOKEN" in message and "127.0.0.1" in message
    assert isinstance(info.value, OSError)  # `infersight run` reports it like a port in use


def test_service_refuses_to_start_open_to_the_network(tmp_path: Path) -> None:
    settings = Settings(
        gateway=GatewaySettings(host="0.0.0.0", port=0),
        store=StoreSettings(path=str(tmp_path / "x.db")),
    )

    async def run() -> None:
        service = GatewayService(settings, background=False)
        try:
            with pytest.raises(DashboardAccessError):
                await service.start()
        finally:
            await service.stop()

    asyncio.run(run())


def test_open_without_a_token_on_loopback(make_client: ClientFactory) -> None:
    client = make_client()
    assert client.get("/api/v1/overview").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/login").headers["location"] == "/"


def test_api_needs_the_bearer_token(make_client: ClientFactory) -> None:
    client = make_client(dashboard_token=SecretStr(TOKEN))
    r = client.get("/api/v1/overview")
    assert r.status_code == 401 and "Authorization: Bearer" in r.json()["error"]["message"]
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert (
        client.get("/api/v1/overview", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert client.get("/api/v1/overview", headers={"Authorization": TOKEN}).status_code == 401
    ok = client.get("/api/v1/overview", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    # documentation and static assets are public; data is not
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_ui_login_form_and_cookie(make_client: ClientFactory) -> None:
    client = make_client(dashboard_token=SecretStr(TOKEN))
    r = client.get("/serving?range=6h")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fserving%3Frange%3D6h"
    form = client.get("/login?next=/serving")
    assert (
        form.status_code == 200 and 'name="token"' in form.text and 'value="/serving"' in form.text
    )
    bad = client.post("/login", data={"token": "guess", "next": "/serving"})
    assert (
        bad.status_code == 401
        and "not valid" in bad.text
        and COOKIE not in bad.headers.get("set-cookie", "")
    )
    good = client.post("/login", data={"token": TOKEN, "next": "/serving"})
    assert good.status_code == 303 and good.headers["location"] == "/serving"
    cookie = good.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={session_value(TOKEN)};") and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # the client now holds the cookie: pages and the API answer
    assert client.get("/serving").status_code == 200
    assert client.get("/api/v1/serving").status_code == 200
    out = client.get("/logout")
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]


def test_token_in_the_url_sets_the_cookie_and_is_dropped(make_client: ClientFactory) -> None:
    client = make_client(dashboard_token=SecretStr(TOKEN))
    r = client.get(f"/cost?range=7d&token={TOKEN}")
    assert r.status_code == 303 and r.headers["location"] == "/cost?range=7d"
    assert r.headers["set-cookie"].startswith(f"{COOKIE}={session_value(TOKEN)}")
    assert client.get("/cost").status_code == 200
    wrong = make_client(dashboard_token=SecretStr(TOKEN)).get("/cost?token=x")
    assert wrong.status_code == 401 and "not valid" in wrong.text


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/serving?range=1h", "/serving?range=1h"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/\\evil", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_login_redirects_only_within_the_site(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe


def test_v1_passes_the_clients_own_key_through_while_the_dashboard_wants_its_token(
    tmp_path: Path,
) -> None:
    """A real gateway with a dashboard token in front of a recording upstream."""
    seen: list[str] = []

    async def upstream(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(dict(scope["headers"]).get(b"authorization", b"").decode())
        await receive()
        body = b'{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}'
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    up = SimThread(upstream, bind_socket("127.0.0.1", 0))  # type: ignore[arg-type]
    up.start()
    settings = Settings(
        gateway=GatewaySettings(port=0, dashboard_token=SecretStr(TOKEN)),
        upstreams=[UpstreamSettings(name="rec", url=up.url)],
        store=StoreSettings(path=str(tmp_path / "gw.db")),
    )
    try:
        with ThreadedGateway(settings, background=False) as gw:
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            r = httpx.post(
                gw.url + "/v1/chat/completions",
                json=body,
                headers={"Authorization": "Bearer sk-client-key"},
                timeout=10,
            )
            assert r.status_code == 200
            assert httpx.get(gw.url + "/healthz").status_code == 200
            assert httpx.get(gw.url + "/metrics").status_code == 200
            assert httpx.get(gw.url + "/v1/nothing").status_code == 404  # still the gateway's
            assert httpx.get(gw.url + "/api/v1/overview").status_code == 401
            auth = {"Authorization": f"Bearer {TOKEN}"}
            assert httpx.get(gw.url + "/api/v1/overview", headers=auth).status_code == 200
    finally:
        up.stop()
    assert seen == ["Bearer sk-client-key"]
