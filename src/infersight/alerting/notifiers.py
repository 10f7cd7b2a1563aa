"""Alert notifiers: the log notifier, the registry of kinds, and building notifiers from settings.

    notifiers = build_notifiers(settings.alerting.notifiers)      # {"log": ..., "ops": ...}
    results = await deliver(notifiers, notification, clock=clock)  # never raises

Kinds (`NOTIFIER_KINDS`): log (a logging line), webhook (JSON POST), slack (incoming webhook),
email (SMTP). A "log" notifier is always present, so an alert is never silent.
Secrets named by environment variable (`url_env`, `headers_env`, `password_env`) are read here,
once, and kept only inside the notifier objects; their reprs and errors never show them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from infersight.alerting.delivery import (
    DeliveryFailure,
    DeliveryResult,
    RetryPolicy,
    deliver,
    deliver_one,
)
from infersight.alerting.notifier_base import NotificationView, Notifier, NotifierError
from infersight.alerting.notifier_email import EmailNotifier
from infersight.alerting.notifier_format import fields, headline, webhook_body
from infersight.alerting.notifier_http import SlackNotifier, WebhookNotifier
from infersight.alerting.notifier_settings import NotifierSettings, duplicate_names
from infersight.config.errors import ConfigError, ConfigProblem

__all__ = [
    "NOTIFIER_KINDS",
    "DeliveryFailure",
    "DeliveryResult",
    "EmailNotifier",
    "LogNotifier",
    "NotificationView",
    "Notifier",
    "NotifierError",
    "NotifierSettings",
    "RetryPolicy",
    "SlackNotifier",
    "WebhookNotifier",
    "build_notifiers",
    "deliver",
    "deliver_one",
    "webhook_body",
]

ALERT_LOGGER: Final = "infersight.alerts"


class LogNotifier:
    """One logging line per notification on the `infersight.alerts` logger: WARNING for ALARM,
    INFO otherwise; the headline, then every field as key=value."""

    def __init__(self, name: str = "log", *, logger: logging.Logger | None = None) -> None:
        self.name = name
        self.logger = logger or logging.getLogger(ALERT_LOGGER)
        self.retry = RetryPolicy(max_attempts=1)

    async def send(self, notification: NotificationView) -> None:
        level = logging.WARNING if notification.state == "ALARM" else logging.INFO
        details = " ".join(
            f"{label.lower().replace(' ', '_')}={text!r}" for label, text in fields(notification)
        )
        self.logger.log(level, "%s | %s", headline(notification), details)


class _Secrets:
    """Reads the environment variables an entry names; collects a problem per missing one."""

    def __init__(self, env: Mapping[str, str], path: str) -> None:
        self.env = env
        self.path = path
        self.problems: list[ConfigProblem] = []

    def read(self, var: str, key: str) -> str:
        value = self.env.get(var)
        if value is None or not value.strip():
            state = "is not set" if value is None else "is empty"
            self.problems.append(
                ConfigProblem(
                    f"{self.path}.{key}",
                    f"environment variable {var} {state}",
                    hint=f"export {var}=... before starting infersight, or remove {key}",
                )
            )
            return ""
        return value.strip()


def _retry(s: NotifierSettings) -> RetryPolicy:
    return RetryPolicy(max_attempts=s.max_attempts, backoff_s=s.backoff_s, timeout_s=s.timeout_s)


def _log(s: NotifierSettings, secrets: _Secrets) -> Notifier:
    return LogNotifier(s.name)


def _url(s: NotifierSettings, secrets: _Secrets) -> str:
    if s.url_env is not None:
        return secrets.read(s.url_env, "url_env")
    assert s.url is not None  # NotifierSettings requires url or url_env for these kinds
    return s.url


def _webhook(s: NotifierSettings, secrets: _Secrets) -> Notifier:
    headers = dict(s.headers)
    for header, var in s.headers_env.items():
        headers[header] = secrets.read(var, f"headers_env.{header}")
    return WebhookNotifier(
        s.name,
        _url(s, secrets),
        headers=headers,
        retry=_retry(s),
        secret_url=s.url_env is not None,
    )


def _slack(s: NotifierSettings, secrets: _Secrets) -> Notifier:
    return SlackNotifier(s.name, _url(s, secrets), retry=_retry(s))


def _email(s: NotifierSettings, secrets: _Secrets) -> Notifier:
    password = s.password.get_secret_value() if s.password is not None else None
    if s.password_env is not None:
        password = secrets.read(s.password_env, "password_env")
    assert s.smtp_host is not None and s.from_addr is not None  # checked by NotifierSettings
    if s.username is not None and not (s.ssl or s.use_starttls):
        logging.getLogger(__name__).warning(
            "email notifier %r logs in to %s:%d without TLS: the password crosses the network "
            "in clear text (set starttls: true or ssl: true)",
            s.name,
            s.smtp_host,
            s.port,
        )
    return EmailNotifier(
        s.name,
        host=s.smtp_host,
        port=s.port,
        from_addr=s.from_addr,
        to_addrs=s.to_addrs,
        starttls=s.use_starttls,
        use_ssl=s.ssl,
        username=s.username,
        password=password,
        subject_prefix=s.subject_prefix,
        retry=_retry(s),
    )


NotifierFactory = Callable[[NotifierSettings, _Secrets], Notifier]

NOTIFIER_KINDS: Final[dict[str, NotifierFactory]] = {
    "log": _log,
    "webhook": _webhook,
    "slack": _slack,
    "email": _email,
}


def build_notifiers(
    settings: Sequence[NotifierSettings],
    *,
    env: Mapping[str, str] | None = None,
    path: str = "alerting.notifiers",
) -> dict[str, Notifier]:
    """One notifier per entry, by name, plus a "log" notifier when no entry is named "log".
    Raises ConfigError (paths under `path`) for duplicate names or a missing environment
    variable; `env` defaults to os.environ."""
    environ = os.environ if env is None else env
    problems: list[ConfigProblem] = []
    for dup in duplicate_names(settings):
        problems.append(
            ConfigProblem(
                path,
                f"notifier name {dup!r} is used more than once",
                hint="give each notifier its own name (an entry without one is named after "
                "its kind)",
            )
        )
    built: dict[str, Notifier] = {}
    for i, entry in enumerate(settings):
        secrets = _Secrets(environ, f"{path}[{i}]")
        notifier = NOTIFIER_KINDS[entry.kind](entry, secrets)
        problems += secrets.problems
        built.setdefault(entry.name, notifier)
    if problems:
        raise ConfigError(problems)
    if "log" not in built:
        built = {"log": LogNotifier("log"), **built}
    return built
