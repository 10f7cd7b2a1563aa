"""Settings of one alert notifier: where a notification goes (log, webhook, Slack, e-mail).

One model for every kind, `kind` picking which keys apply: the config machinery (error paths,
`config init` template) walks plain models, and a flat entry is easy to write:

    notifiers:
      - name: ops-hook
        kind: webhook
        url: https://ops.example.com/hooks/infersight
        headers: {X-Team: inference}
      - {name: oncall, kind: slack, url_env: SLACK_WEBHOOK_URL}
      - name: mail
        kind: email
        smtp_host: smtp.example.com
        username: alerts@example.com
        password_env: SMTP_PASSWORD
        from_addr: alerts@example.com
        to_addrs: [oncall@example.com]

Secrets (a Slack webhook URL, header tokens, the SMTP password) can be named by environment
variable (`url_env`, `headers_env`, `password_env`) instead of written in the file; they are
read by `build_notifiers` and never logged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from infersight.config.errors import SettingValueError
from infersight.config.validators import check_http_url

NotifierKind = Literal["log", "webhook", "slack", "email"]

_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENV_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_RE: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
_ADDR_RE: Final = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")

# The keys each kind reads, beyond the ones every kind has.
_COMMON: Final = frozenset({"name", "kind", "timeout_s", "max_attempts", "backoff_s"})
KIND_KEYS: Final[dict[str, frozenset[str]]] = {
    "log": frozenset(),
    "webhook": frozenset({"url", "url_env", "headers", "headers_env"}),
    "slack": frozenset({"url", "url_env"}),
    "email": frozenset(
        {
            "smtp_host",
            "smtp_port",
            "starttls",
            "ssl",
            "username",
            "password",
            "password_env",
            "from_addr",
            "to_addrs",
            "subject_prefix",
        }
    ),
}


def _check_url(v: str) -> str:
    return check_http_url(
        v, example="https://hooks.example.com/infersight", port_example="http://host:8080"
    )


def _check_env_name(v: str, *, entry: str = "") -> str:
    """`entry`: the dict key the name is the value of (the error then names both)."""
    if not _ENV_RE.match(v):
        hint = "use letters, digits and underscores, e.g. SMTP_PASSWORD"
        if entry:
            message = f"{entry}: {v!r} is not an environment variable name"
            raise SettingValueError(message, hint=hint, show_value=False)
        raise SettingValueError("must be an environment variable name", hint=hint)
    return v


def _entry_error(message: str, hint: str = "") -> SettingValueError:
    """An error about a whole entry: the entry is not echoed back, as it may hold a password."""
    return SettingValueError(message, hint=hint, show_value=False)


def _a(label: str) -> str:
    return ("an " if label[0] in "aeiou" else "a ") + label


class NotifierSettings(BaseModel):
    """One place alert notifications are sent to."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(
        default="",
        description="Name of this notifier in rules, logs and results (default: its kind).",
    )
    kind: NotifierKind = Field(
        default="log", description="Where notifications go: log, webhook, slack or email."
    )
    url: str | None = Field(
        default=None,
        description="webhook/slack: the URL notifications are POSTed to.",
    )
    url_env: str | None = Field(
        default=None,
        description="webhook/slack: environment variable holding the URL (keeps a secret URL "
        "out of the file).",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="webhook: extra HTTP headers sent with each POST."
    )
    headers_env: dict[str, str] = Field(
        default_factory=dict,
        description="webhook: headers whose value is read from an environment variable "
        "(header name: variable name), e.g. {Authorization: HOOK_TOKEN}.",
    )
    smtp_host: str | None = Field(default=None, description="email: SMTP server host name.")
    smtp_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="email: SMTP port (default: 465 with ssl, 587 with starttls, else 25).",
    )
    starttls: bool = Field(
        default=True, description="email: upgrade the connection with STARTTLS before sending."
    )
    ssl: bool = Field(
        default=False, description="email: connect over TLS from the start (SMTPS, port 465)."
    )
    username: str | None = Field(
        default=None, description="email: SMTP login name; none = no authentication."
    )
    password: SecretStr | None = Field(
        default=None,
        description="email: SMTP password (prefer password_env, which keeps it out of the file).",
    )
    password_env: str | None = Field(
        default=None, description="email: environment variable holding the SMTP password."
    )
    from_addr: str | None = Field(default=None, description="email: sender address (From).")
    to_addrs: list[str] = Field(default_factory=list, description="email: recipient addresses.")
    subject_prefix: str = Field(
        default="[infersight]", description="email: text put before each subject line."
    )
    timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait for one delivery attempt, in seconds."
    )
    max_attempts: int = Field(
        default=3, ge=1, le=20, description="Attempts per notification before giving up."
    )
    backoff_s: float = Field(
        default=1.0,
        ge=0,
        description="Wait before the first retry, in seconds; doubles before each next one.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if v and not _NAME_RE.match(v):
            raise SettingValueError(
                "must be letters, digits, '.', '_' and '-'",
                hint="start with a letter or digit, e.g. ops-webhook",
            )
        return v

    @field_validator("password", mode="before")
    @classmethod
    def _password_text(cls, v: object) -> object:
        # An environment override is read as YAML, so a password of digits arrives as a number.
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else _check_url(v)

    @field_validator("url_env", "password_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        return None if v is None else _check_env_name(v.strip())

    @field_validator("headers", "headers_env")
    @classmethod
    def _header_names(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not _HEADER_RE.match(key):
                raise SettingValueError(  # values may be tokens: not echoed
                    f"{key!r} is not a valid HTTP header name",
                    hint="use letters, digits and '-', e.g. X-Team",
                    show_value=False,
                )
            if "\n" in v[key] or "\r" in v[key]:
                raise SettingValueError(
                    f"header {key!r}: the value must be one line", show_value=False
                )
        return v

    @field_validator("headers_env")
    @classmethod
    def _header_envs(cls, v: dict[str, str]) -> dict[str, str]:
        for header, var in v.items():
            _check_env_name(var, entry=f"header {header}")
        return v

    @field_validator("from_addr")
    @classmethod
    def _from(cls, v: str | None) -> str | None:
        if v is not None and not _ADDR_RE.match(v.strip()):
            raise SettingValueError(
                "must be an e-mail address", hint="write it as name@example.com"
            )
        return None if v is None else v.strip()

    @field_validator("to_addrs")
    @classmethod
    def _to(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not _ADDR_RE.match(a.strip())]
        if bad:
            raise SettingValueError(
                f"not an e-mail address: {', '.join(map(repr, bad))}",
                hint="write each as name@example.com",
                show_value=False,
            )
        return [a.strip() for a in v]

    @model_validator(mode="after")
    def _by_kind(self) -> NotifierSettings:
        """Every problem of the entry at once (one error, its parts joined), so that a fix
        does not reveal the next one."""
        if not self.name:
            self.name = self.kind
        label = f"{self.kind} notifier {self.name!r}"
        problems: list[tuple[str, str]] = []
        if self.name == "log" and self.kind != "log":
            problems.append((
                f"the name 'log' is kept for the log notifier; this entry is a {self.kind}",
                f"name it something else, e.g. name: {self.kind}",
            ))  # fmt: skip
        # Keys of another kind, unless left at their default (a dumped-and-reloaded
        # configuration carries every key).
        fields = type(self).model_fields
        stray = sorted(
            k
            for k in self.model_fields_set - _COMMON - KIND_KEYS[self.kind]
            if getattr(self, k) != fields[k].get_default(call_default_factory=True)
        )
        if stray:
            users = sorted({k for k, keys in KIND_KEYS.items() if set(stray) & keys})
            them = "it" if len(stray) == 1 else "them"
            problems.append((
                f"{', '.join(stray)}: not used by {_a(label)}",
                f"remove {them}, or set kind to " + " or ".join(users),
            ))  # fmt: skip
        if self.kind in ("webhook", "slack"):
            if self.url is None and self.url_env is None:
                problems.append((
                    f"{_a(label)} needs url (or url_env)",
                    "add url: https://... or url_env: NAME_OF_A_VARIABLE",
                ))  # fmt: skip
            if self.url is not None and self.url_env is not None:
                problems.append((f"{_a(label)} takes url or url_env, not both", "keep one"))
            both = sorted(set(self.headers) & set(self.headers_env))
            if both:
                problems.append((
                    f"header {', '.join(both)} is set in both headers and headers_env",
                    "keep one",
                ))  # fmt: skip
        if self.kind == "email":
            problems += self._email_problems(label)
        if problems:
            raise _entry_error(
                "; ".join(message for message, _ in problems),
                "; ".join(hint for _, hint in problems if hint),
            )
        return self

    def _email_problems(self, label: str) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        missing = [k for k in ("smtp_host", "from_addr") if getattr(self, k) is None]
        if not self.to_addrs:
            missing.append("to_addrs")
        if missing:
            problems.append((
                f"{_a(label)} needs {', '.join(missing)}",
                "e.g. smtp_host: smtp.example.com, from_addr: alerts@example.com, "
                "to_addrs: [oncall@example.com]",
            ))  # fmt: skip
        if self.ssl and self.starttls and "starttls" in self.model_fields_set:
            problems.append((
                f"{_a(label)} takes ssl or starttls, not both",
                "ssl: true for SMTPS (port 465), or starttls: true for port 587",
            ))  # fmt: skip
        if self.password is not None and self.password_env is not None:
            problems.append((f"{_a(label)} takes password or password_env, not both", "keep one"))
        has_password = self.password is not None or self.password_env is not None
        if has_password and self.username is None:
            problems.append((f"{_a(label)} has a password but no username", "add username: ..."))
        return problems

    @property
    def port(self) -> int:
        """email: the SMTP port, with the default for the TLS mode when none is set."""
        if self.smtp_port is not None:
            return self.smtp_port
        return 465 if self.ssl else 587 if self.starttls else 25

    @property
    def use_starttls(self) -> bool:
        """email: STARTTLS is used unless the connection is SMTPS (ssl) already."""
        return self.starttls and not self.ssl


def duplicate_names(notifiers: Sequence[NotifierSettings]) -> list[str]:
    """Names used by more than one notifier (each once, in order); [] when all are distinct."""
    seen: set[str] = set()
    dups: list[str] = []
    for n in notifiers:
        if n.name in seen and n.name not in dups:
            dups.append(n.name)
        seen.add(n.name)
    return dups


def check_unique_names(notifiers: list[NotifierSettings]) -> list[NotifierSettings]:
    """For a `field_validator` on a list of notifiers: raise when two share a name."""
    dups = duplicate_names(notifiers)
    if dups:
        raise SettingValueError(
            f"notifier name {', '.join(map(repr, dups))} is used more than once",
            hint="give each notifier its own name (an entry without one is named after its kind)",
            show_value=False,
        )
    return notifiers
