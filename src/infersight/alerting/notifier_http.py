"""Notifiers that POST JSON: a generic webhook, and a Slack incoming webhook.

Alerts are rare, so each send opens its own short-lived httpx.AsyncClient: nothing to close,
and nothing tied to an event loop between sends. Any answer but 2xx is a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from infersight.alerting.delivery import RetryPolicy
from infersight.alerting.notifier_base import NotificationView, NotifierError
from infersight.alerting.notifier_format import slack_payload, webhook_body

log = logging.getLogger(__name__)

USER_AGENT = "infersight-alerts/1"
_BODY_EXCERPT = 200


def shown_url(url: str, *, secret_path: bool = False) -> str:
    """A URL safe for logs and errors: no user:password or query, and no path when the path
    is itself the secret (Slack webhook URLs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    path = "/..." if secret_path and parts.path not in ("", "/") else parts.path
    return f"{parts.scheme}://{netloc}{path}"


async def post_json(
    where: str,
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    timeout_s: float,
    secret_path: bool = False,
) -> None:
    """POST `body` as JSON; raise NotifierError naming `where` and the URL unless 2xx."""
    target = shown_url(url, secret_path=secret_path)
    sent_headers = {"user-agent": USER_AGENT, **headers}
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
            response = await client.post(url, json=body, headers=sent_headers)
    except httpx.TimeoutException as exc:
        raise NotifierError(
            f"{where}: POST {target}: no answer within {timeout_s:g} s ({type(exc).__name__})"
        ) from exc
    except httpx.ConnectError as exc:
        raise NotifierError(
            f"{where}: POST {target}: cannot connect ({exc or 'connection failed'}); "
            "is the receiver running and the URL right?"
        ) from exc
    except httpx.HTTPError as exc:
        raise NotifierError(
            f"{where}: POST {target}: {type(exc).__name__}: {exc or 'request failed'}"
        ) from exc
    if not 200 <= response.status_code < 300:
        excerpt = " ".join(response.text[:_BODY_EXCERPT].split())
        raise NotifierError(
            f"{where}: POST {target} answered HTTP {response.status_code}"
            + (f": {excerpt}" if excerpt else "")
        )


class WebhookNotifier:
    """POSTs the webhook JSON body (schema version 1, see notifier_format.webhook_body).
    With `secret_url` (a URL read from the environment) errors show only the URL's host."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        body: Callable[[NotificationView], Mapping[str, Any]] = webhook_body,
        secret_url: bool = False,
    ) -> None:
        self.name = name
        self.url = url
        self.secret_url = secret_url
        self.headers = dict(headers or {})
        self.retry = retry or RetryPolicy()
        self._body = body

    async def send(self, notification: NotificationView) -> None:
        await post_json(
            f"webhook {self.name!r}",
            self.url,
            self._body(notification),
            headers=self.headers,
            timeout_s=self.retry.timeout_s,
            secret_path=self.secret_url,
        )

    def __repr__(self) -> str:  # headers may carry tokens: never shown
        url = shown_url(self.url, secret_path=self.secret_url)
        return f"WebhookNotifier(name={self.name!r}, url={url!r})"


class SlackNotifier:
    """POSTs a Slack incoming-webhook message (text, blocks, an attachment coloured by state).
    The webhook URL is a secret: errors and logs show only its host."""

    def __init__(self, name: str, url: str, *, retry: RetryPolicy | None = None) -> None:
        self.name = name
        self.url = url
        self.retry = retry or RetryPolicy()

    async def send(self, notification: NotificationView) -> None:
        await post_json(
            f"slack {self.name!r}",
            self.url,
            slack_payload(notification),
            headers={},
            timeout_s=self.retry.timeout_s,
            secret_path=True,
        )

    def __repr__(self) -> str:
        return f"SlackNotifier(name={self.name!r}, url={shown_url(self.url, secret_path=True)!r})"
