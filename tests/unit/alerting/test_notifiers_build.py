"""build_notifiers (registry, secrets from the environment, the ever-present log notifier) and
the log notifier's line."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any, get_args

import pytest
from tests_support.notifications import firing_note

from infersight.alerting.notifier_settings import NotifierKind, NotifierSettings
from infersight.alerting.notifiers import (
    NOTIFIER_KINDS,
    EmailNotifier,
    LogNotifier,
    Notifier,
    SlackNotifier,
    WebhookNotifier,
    build_notifiers,
)
from infersight.settings import ConfigError


def entry(**values: Any) -> NotifierSettings:
    return NotifierSettings.model_validate(values)


MAIL = {
    "kind": "email",
    "smtp_host": "smtp.example.com",
    "from_addr": "a@x.io",
    "to_addrs": ["o@x.io"],
}


def test_registry_covers_every_kind() -> None:
    assert (
        set(NOTIFIER_KINDS) == set(get_args(NotifierKind)) == {"log", "webhook", "slack", "email"}
    )


def test_log_is_always_there() -> None:
    built = build_notifiers([], env={})
    assert list(built) == ["log"] and isinstance(built["log"], LogNotifier)
    built = build_notifiers([entry(kind="webhook", name="ops", url="http://127.0.0.1:9/h")], env={})
    assert list(built) == ["log", "ops"] and isinstance(built["ops"], WebhookNotifier)
    assert all(isinstance(n, Notifier) for n in built.values())


def test_settings_become_notifiers_with_their_retry_policy() -> None:
    built = build_notifiers(
        [
            entry(kind="log", name="log"),
            entry(
                kind="slack", url="https://hooks.example.com/services/T/B/secret", max_attempts=5
            ),
            entry(**MAIL, starttls=False, smtp_port=2525, timeout_s=3, backoff_s=0.5),
        ],
        env={},
    )
    assert list(built) == ["log", "slack", "email"]
    slack, mail = built["slack"], built["email"]
    assert isinstance(slack, SlackNotifier) and slack.retry.max_attempts == 5
    assert "secret" not in repr(slack)
    assert isinstance(mail, EmailNotifier)
    assert (mail.host, mail.port, mail.starttls, mail.use_ssl) == (
        "smtp.example.com",
        2525,
        False,
        False,
    )
    assert (mail.retry.timeout_s, mail.retry.backoff_s, mail.retry.max_attempts) == (3.0, 0.5, 3)


def test_secrets_come_from_the_environment_and_stay_hidden() -> None:
    env = {"HOOK_URL": "https://h.example.com/x?token=abc", "TOKEN": "Bearer t0k", "PW": "s3cret"}
    built = build_notifiers(
        [
            entry(
                kind="webhook",
                name="hook",
                url_env="HOOK_URL",
                headers={"X-Team": "inference"},
                headers_env={"Authorization": "TOKEN"},
            ),
            entry(**MAIL, username="alerts", password_env="PW"),
        ],
        env=env,
    )
    hook, mail = built["hook"], built["email"]
    assert isinstance(hook, WebhookNotifier) and isinstance(mail, EmailNotifier)
    assert hook.url == env["HOOK_URL"]
    assert hook.headers == {"X-Team": "inference", "Authorization": "Bearer t0k"}
    assert "t0k" not in repr(hook) and "token=abc" not in repr(hook) and "/x" not in repr(hook)
    assert mail._password == "s3cret" and "s3cret" not in repr(mail)


def test_missing_environment_variables_are_config_errors() -> None:
    with pytest.raises(ConfigError) as info:
        build_notifiers(
            [
                entry(kind="slack", url_env="SLACK_URL"),
                entry(**MAIL, username="u", password_env="SMTP_PASSWORD"),
            ],
            env={"SMTP_PASSWORD": " "},
        )
    lines = str(info.value).splitlines()
    assert lines == [
        "alerting.notifiers[0].url_env: environment variable SLACK_URL is not set "
        "(export SLACK_URL=... before starting infersight, or remove url_env)",
        "alerting.notifiers[1].password_env: environment variable SMTP_PASSWORD is empty "
        "(export SMTP_PASSWORD=... before starting infersight, or remove password_env)",
    ]


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="notifier name 'ops' is used more than once"):
        build_notifiers(
            [entry(kind="log", name="ops"), entry(kind="webhook", name="ops", url="http://h/x")],
            env={},
        )


def test_plain_text_login_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        build_notifiers([entry(**MAIL, starttls=False, username="u", password="p")], env={})
    assert "without TLS" in caplog.text and "'p'" not in caplog.text


def test_log_notifier_line(caplog: pytest.LogCaptureFixture) -> None:
    notifier = LogNotifier()
    with caplog.at_level(logging.INFO, logger="infersight.alerts"):
        note = firing_note(severity="warning", runbook="Check the upstream's queue depth.")
        asyncio.run(notifier.send(note))
        asyncio.run(notifier.send(replace(note, state="OK", previous_state="ALARM", value=1.0)))
    alarm, ok = caplog.records
    assert alarm.levelno == logging.WARNING and ok.levelno == logging.INFO
    text = alarm.getMessage()
    for needle in (
        "[ALARM] p95-ttft {model=llama}: value 2.5, threshold 2 over 5m (was OK)",
        "rule='p95-ttft'",
        "severity='warning'",
        "labels='model=llama'",
        "dashboard='http://127.0.0.1:8400/dashboard/rules/p95-ttft'",
        'runbook="Check the upstream\'s queue depth."',
        "state_since='2023-11-14T22:13:20Z'",
    ):
        assert needle in text, needle
    assert ok.getMessage().startswith("[OK] p95-ttft {model=llama}: value 1")
