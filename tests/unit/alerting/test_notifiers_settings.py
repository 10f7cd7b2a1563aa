"""NotifierSettings: per-kind keys, precise errors through the config machinery, secrets."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError, field_validator

from infersight.alerting.notifier_settings import (
    NotifierSettings,
    check_unique_names,
    duplicate_names,
)
from infersight.config.validation import validation_problems
from infersight.settings import ConfigError, ConfigProblem


class _Alerting(BaseModel):
    """Stand-in for the engine's `alerting:` section, to see errors as users will."""

    notifiers: list[NotifierSettings] = Field(default_factory=list, description="notifiers")

    @field_validator("notifiers")
    @classmethod
    def _unique(cls, v: list[NotifierSettings]) -> list[NotifierSettings]:
        return check_unique_names(v)


class _Root(BaseModel):
    alerting: _Alerting = Field(default_factory=_Alerting, description="alerting")


def problems(*entries: dict[str, Any]) -> list[ConfigProblem]:
    with pytest.raises(ValidationError) as info:
        _Root.model_validate({"alerting": {"notifiers": list(entries)}})
    return validation_problems(
        info.value, model=_Root, source="infersight.yaml", origins={}, root=None
    )


def one_problem(entry: dict[str, Any]) -> str:
    found = problems(entry)
    assert len(found) == 1, found
    return found[0].render()


def test_every_field_has_a_default_and_a_description() -> None:
    for name, field in NotifierSettings.model_fields.items():
        assert (field.description or "").strip(), name
        assert not field.is_required(), name


def test_defaults_name_after_kind_and_pick_smtp_ports() -> None:
    assert NotifierSettings().name == "log"
    hook = NotifierSettings(kind="webhook", url="http://127.0.0.1:9/x")
    assert hook.name == "webhook"
    mail = {"kind": "email", "smtp_host": "h", "from_addr": "a@b.c", "to_addrs": ["d@e.f"]}
    assert NotifierSettings.model_validate(mail).port == 587
    assert NotifierSettings.model_validate({**mail, "ssl": True}).port == 465
    assert not NotifierSettings.model_validate({**mail, "ssl": True}).use_starttls
    assert NotifierSettings.model_validate({**mail, "starttls": False}).port == 25
    assert NotifierSettings.model_validate({**mail, "smtp_port": 2525}).port == 2525


def test_webhook_needs_a_url() -> None:
    text = one_problem({"name": "ops", "kind": "webhook"})
    assert text.startswith("infersight.yaml: alerting.notifiers[0]: ")
    assert "a webhook notifier 'ops' needs url (or url_env)" in text
    assert "add url: https://..." in text


def test_bad_url_names_the_field_and_the_fix() -> None:
    text = one_problem({"kind": "slack", "url": "hooks.slack.com/services/x"})
    assert "alerting.notifiers[0].url: must start with http:// or https://" in text
    assert "got 'hooks.slack.com/services/x'" in text


def test_keys_of_another_kind_are_named() -> None:
    text = one_problem({"name": "hook", "kind": "webhook", "url": "http://h/x", "smtp_host": "m"})
    assert "smtp_host: not used by a webhook notifier 'hook'" in text
    assert "set kind to email" in text


def test_keys_left_at_default_are_not_stray() -> None:
    # A dumped-and-reloaded config carries every key; defaults must not count as "set".
    dumped = NotifierSettings(kind="webhook", url="http://h/x").model_dump()
    assert NotifierSettings.model_validate(dumped).url == "http://h/x"


def test_email_lists_every_missing_key() -> None:
    text = one_problem({"kind": "email", "name": "mail"})
    assert "an email notifier 'mail' needs smtp_host, from_addr, to_addrs" in text


def test_email_addresses_are_checked() -> None:
    entry = {"kind": "email", "smtp_host": "m", "from_addr": "alerts", "to_addrs": ["x@y.z"]}
    assert "from_addr: must be an e-mail address, got 'alerts'" in one_problem(entry)
    entry = {**entry, "from_addr": "a@b.c", "to_addrs": ["ok@x.y", "nobody"]}
    assert "to_addrs: not an e-mail address: 'nobody'" in one_problem(entry)


def test_email_tls_and_password_rules() -> None:
    base = {"kind": "email", "smtp_host": "m", "from_addr": "a@b.c", "to_addrs": ["d@e.f"]}
    assert "takes ssl or starttls, not both" in one_problem({**base, "ssl": True, "starttls": True})
    assert "has a password but no username" in one_problem({**base, "password_env": "PW"})
    both = {**base, "username": "u", "password": "p", "password_env": "PW"}
    assert "takes password or password_env, not both" in one_problem(both)
    bad_env = one_problem({**base, "username": "u", "password_env": "SMTP-PASSWORD"})
    assert "password_env: must be an environment variable name, got 'SMTP-PASSWORD'" in bad_env


def test_password_is_not_in_the_repr() -> None:
    s = NotifierSettings.model_validate(
        {
            "kind": "email",
            "smtp_host": "m",
            "from_addr": "a@b.c",
            "to_addrs": ["d@e.f"],
            "username": "u",
            "password": "hunter2-secret",
        }
    )
    assert "hunter2-secret" not in repr(s)


def test_header_names_and_env_names_are_checked() -> None:
    text = one_problem({"kind": "webhook", "url": "http://h/x", "headers": {"Bad Header": "t0k"}})
    assert "headers: 'Bad Header' is not a valid HTTP header name" in text
    assert "t0k" not in text  # header values may be tokens
    text = one_problem(
        {"kind": "webhook", "url": "http://h/x", "headers_env": {"Authorization": "1TOKEN"}}
    )
    assert "headers_env: header Authorization: '1TOKEN' is not an environment variable" in text
    both = {
        "kind": "webhook",
        "url": "http://h/x",
        "headers": {"A": "1"},
        "headers_env": {"A": "B"},
    }
    assert "header A is set in both headers and headers_env" in one_problem(both)


def test_url_and_url_env_are_exclusive() -> None:
    text = one_problem({"kind": "slack", "url": "https://h/x", "url_env": "SLACK_URL"})
    assert "takes url or url_env, not both" in text


def test_names_are_checked_and_log_is_reserved() -> None:
    text = one_problem({"name": "ops hook", "kind": "log"})
    assert "name: must be letters, digits, '.', '_' and '-', got 'ops hook'" in text
    text = one_problem({"name": "log", "kind": "webhook", "url": "http://h/x"})
    assert "the name 'log' is kept for the log notifier" in text


def test_duplicate_names_are_reported_on_the_list() -> None:
    found = problems(
        {"kind": "webhook", "url": "http://h/x"}, {"kind": "webhook", "url": "http://h/y"}
    )
    assert [p.path for p in found] == ["alerting.notifiers"]
    assert "notifier name 'webhook' is used more than once" in found[0].render()
    a, b = NotifierSettings(name="a"), NotifierSettings(name="b")
    assert duplicate_names([a, b, a, a]) == ["a"]


def test_numeric_limits_use_the_shared_messages() -> None:
    text = one_problem({"kind": "log", "max_attempts": 0})
    assert "alerting.notifiers[0].max_attempts: must be >= 1, got 0" in text
    text = one_problem({"kind": "log", "timeout_s": 0})
    assert "timeout_s: must be > 0" in text


def test_unknown_kind_lists_the_choices() -> None:
    text = one_problem({"kind": "pagerduty"})
    assert "alerting.notifiers[0].kind" in text
    assert "'log', 'webhook', 'slack' or 'email'" in text


def test_errors_render_through_config_error() -> None:
    err = ConfigError(problems({"kind": "webhook"}, {"kind": "email"}))
    lines = str(err).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("infersight.yaml: alerting.notifiers[0]:")
    assert lines[1].startswith("infersight.yaml: alerting.notifiers[1]:")


def test_errors_about_an_entry_never_echo_its_password() -> None:
    entry = {
        "kind": "email",
        "smtp_host": "m",
        "from_addr": "a@b.c",
        "to_addrs": ["d@e.f"],
        "password": "hunter2-secret",
    }
    text = one_problem(entry)
    assert "has a password but no username" in text
    assert "hunter2" not in text
    dup = {**entry, "username": "u", "name": "mail"}
    found = problems(dup, dup)
    assert "is used more than once" in found[0].render()
    assert all("hunter2" not in p.render() for p in found)


def test_password_is_masked_when_settings_are_shown() -> None:
    s = NotifierSettings.model_validate(
        {
            "kind": "email",
            "smtp_host": "m",
            "from_addr": "a@b.c",
            "to_addrs": ["d@e.f"],
            "username": "u",
            "password": 1234,  # an environment override of digits arrives as a number
        }
    )
    assert s.password is not None and s.password.get_secret_value() == "1234"
    assert "1234" not in str(s.model_dump(mode="json"))


def test_every_problem_of_an_entry_is_reported_at_once() -> None:
    """ssl with starttls and a password without a username: both in one report, so that a
    fix does not reveal the next problem."""
    base = {"kind": "email", "smtp_host": "m", "from_addr": "a@b.c", "to_addrs": ["d@e.f"]}
    text = one_problem({**base, "ssl": True, "starttls": True, "password_env": "PW"})
    assert "takes ssl or starttls, not both" in text
    assert "has a password but no username" in text
    assert "add username" in text and "ssl: true for SMTPS" in text
