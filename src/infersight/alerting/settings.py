"""The `alerting:` section: rules, notifiers, evaluation interval, repeat and silence defaults.

One flat model per rule, `kind` picking which keys apply (the config machinery walks plain
models: error paths, env overrides and the `config init` template). Kind-specific knobs sit in
a sub-section named after the kind (`baseline:`, `anomaly:`, `slo:`):

    alerting:
      rules:
        - name: ttft_p95_high
          metric: ttft_seconds{quantile="0.95",source="user"}
          statistic: max
          period_s: 60
          evaluation_periods: 3
          datapoints_to_alarm: 2
          threshold: 1.0
        - name: ttft_slo
          kind: slo
          slo: {sli: latency, field: ttft_s, threshold_s: 1.0, objective: 0.99}

Rules and their sub-sections dump compactly (keys left at their default are omitted), so the
template and `config show` list what each rule sets, not every knob of every kind.
"""

from __future__ import annotations

import re
from typing import ClassVar, Final, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from infersight.alerting.kind_settings import (
    AnomalySettings,
    BaselineSettings,
    BurnAlertSettings,
    Severity,
    SloSettings,
    _Compact,
)
from infersight.alerting.notifier_settings import NotifierSettings, check_unique_names
from infersight.alerting.rules import check_metric, parse_selector, span_text, tier_of
from infersight.config.errors import SettingValueError
from infersight.core.series import AGGREGATIONS

__all__ = [
    "AlertRuleSettings",
    "AlertingSettings",
    "AnomalySettings",
    "BaselineSettings",
    "BurnAlertSettings",
    "SloSettings",
    "check_windows",
    "window_problem",
]

RuleKind = Literal["threshold", "baseline", "anomaly", "slo"]
Statistic = Literal["avg", "min", "max", "sum", "rate", "p50", "p90", "p95", "p99"]
assert set(Statistic.__args__) == set(AGGREGATIONS)  # type: ignore[attr-defined]

_RULE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
REQUEST_LABELS: Final = ("model", "upstream", "route", "client")  # count_good_total filters
# The keys each kind reads, beyond the ones every rule has.
_COMMON: Final = frozenset(
    {"name", "kind", "enabled", "labels", "for_s", "keep_firing_for_s", "repeat_interval_s"}
    | {"severity"}
    | {"notifiers", "runbook", "runbook_url", "view", "allow_unknown_metric"}
)
_SERIES_KEYS: Final = frozenset(
    {"metric", "divide_by", "min_value", "statistic", "group_by", "combine", "period_s"}
    | {"evaluation_periods", "datapoints_to_alarm", "treat_missing_data"}
)
KIND_KEYS: Final[dict[str, frozenset[str]]] = {
    "threshold": _SERIES_KEYS | {"comparison", "threshold"},
    "baseline": _SERIES_KEYS | {"comparison", "baseline"},
    "anomaly": _SERIES_KEYS | {"anomaly"},
    "slo": frozenset({"slo"}),
}


class AlertRuleSettings(_Compact):
    """One alert rule."""

    _always: ClassVar[frozenset[str]] = frozenset({"name", "kind"})

    name: str = Field(default="", description="Unique name of the rule (letters, digits, _.-).")
    kind: RuleKind = Field(
        default="threshold", description="threshold, baseline (learned), anomaly (band) or slo."
    )
    enabled: bool = Field(default=True, description="Evaluate this rule.")
    metric: str = Field(
        default="",
        description='Series evaluated, with optional labels: ttft_seconds{quantile="0.95"}.',
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Only series with these labels (exact match)."
    )
    divide_by: str = Field(
        default="", description="Evaluate metric / this series (same statistic and labels)."
    )
    min_value: float | None = Field(
        default=None,
        description="A period breaches only if the metric's own value (before divide_by) is "
        "at least this: ignores ratios of a handful of events.",
    )
    allow_unknown_metric: bool = Field(
        default=False, description="Accept a metric name infersight does not write itself."
    )
    statistic: Statistic = Field(default="avg", description="Statistic of each period.")
    group_by: list[str] | None = Field(
        default=None,
        description="Labels that make one alarm each; none: one alarm per series; []: one "
        "alarm for all series (combined per period).",
    )
    combine: Literal["max", "min", "avg", "sum"] = Field(
        default="max", description="How the series of one alarm combine per period."
    )
    period_s: float = Field(default=60.0, gt=0, description="Length of one period, in seconds.")
    evaluation_periods: int = Field(
        default=3, ge=1, le=1440, description="N: periods looked at each evaluation."
    )
    datapoints_to_alarm: int | None = Field(
        default=None, ge=1, description="M: breaching periods of the N that alarm (default N)."
    )
    comparison: Literal[">", ">=", "<", "<="] = Field(
        default=">", description="How the value is compared with the threshold."
    )
    threshold: float | None = Field(default=None, description="threshold: the fixed threshold.")
    treat_missing_data: Literal["missing", "ignore", "breaching", "not_breaching"] = Field(
        default="missing",
        description="Periods without data: missing (all missing = no data), ignore (keep the "
        "state), breaching or not_breaching.",
    )
    for_s: float = Field(
        default=0.0, ge=0, description="Pending: notify only after this long in ALARM, s."
    )
    keep_firing_for_s: float = Field(
        default=0.0,
        ge=0,
        description="Resolve only after this long out of ALARM, s (a value hovering at the "
        "threshold does not flap).",
    )
    repeat_interval_s: float | None = Field(
        default=None,
        ge=0,
        description="Re-notify an ongoing alarm this often, s (default alerting.repeat_interval_s; "
        "0 = never).",
    )
    severity: Severity = Field(default="warning", description="critical, warning or info.")
    notifiers: list[str] = Field(
        default_factory=list, description="Notifier names to send to; empty: every notifier."
    )
    runbook: str = Field(
        default="", description="What it means and what to do (default: the rule pack's text)."
    )
    runbook_url: str = Field(default="", description="Link to a longer runbook.")
    view: str = Field(
        default="", description="Dashboard path linked from notifications (after dashboard_url)."
    )
    baseline: BaselineSettings | None = Field(
        default=None, description="kind: baseline: how the threshold is learned."
    )
    anomaly: AnomalySettings | None = Field(default=None, description="kind: anomaly: the band.")
    slo: SloSettings | None = Field(default=None, description="kind: slo: the objective.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not _RULE_NAME.match(v):
            raise SettingValueError(
                "every rule needs a name" if not v else f"{v!r} is not a valid rule name",
                hint="use letters, digits, '.', '_' and '-', e.g. name: ttft_p95_high",
            )
        return v

    @model_validator(mode="after")
    def _by_kind(self) -> AlertRuleSettings:
        label = f"{self.kind} rule {self.name!r}"
        stray = self.stray_keys(_COMMON | KIND_KEYS[self.kind])
        if stray:
            users = sorted({k for k, keys in KIND_KEYS.items() if set(stray) & keys})
            raise SettingValueError(
                f"{', '.join(stray)}: not used by a {label}",
                hint=f"remove {'it' if len(stray) == 1 else 'them'}"
                + (", or set kind to " + " or ".join(users) if users else ""),
                show_value=False,
            )
        if self.kind == "slo":
            if self.slo is None:
                raise SettingValueError(
                    f"a {label} needs an slo: section",
                    hint="e.g. slo: {sli: latency, field: ttft_s, threshold_s: 1.0}",
                    show_value=False,
                )
            bad = sorted(set(self.labels) - set(REQUEST_LABELS))
            if self.slo.sli != "ratio" and bad:
                raise SettingValueError(
                    f"labels: a {self.slo.sli} SLO counts request records, which cannot be "
                    f"filtered by {', '.join(bad)}",
                    hint=f"use {', '.join(REQUEST_LABELS)}; sources go in slo.sources",
                    show_value=False,
                )
            if self.slo.sli == "ratio":
                for key in ("good_metric", "bad_metric", "total_metric"):
                    text = getattr(self.slo, key)
                    if text:
                        check_metric(
                            text, allow_unknown=self.allow_unknown_metric, key=f"slo.{key}"
                        )
            return self
        if not self.metric:
            raise SettingValueError(
                f"a {label} needs a metric",
                hint='e.g. metric: ttft_seconds{quantile="0.95"}',
                show_value=False,
            )
        check_metric(self.metric, allow_unknown=self.allow_unknown_metric)
        if self.divide_by:
            check_metric(self.divide_by, allow_unknown=self.allow_unknown_metric, key="divide_by")
        m, n = self.datapoints_to_alarm, self.evaluation_periods
        if m is not None and m > n:
            raise SettingValueError(
                f"datapoints_to_alarm ({m}) must be <= evaluation_periods ({n})",
                hint=f"M of N: alarm when M of the last N periods breach; lower "
                f"datapoints_to_alarm to {n} or less, or raise evaluation_periods",
                show_value=False,
            )
        if self.kind == "threshold" and self.threshold is None:
            raise SettingValueError(
                f"a {label} needs a threshold", hint="e.g. threshold: 1.0", show_value=False
            )
        return self

    # -- derived views ---------------------------------------------------------------------

    @property
    def m(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods

    def selector_labels(self) -> dict[str, str]:
        """The labels of the metric selector merged with `labels` (labels win)."""
        return {**dict(parse_selector(self.metric).labels), **self.labels} if self.metric else {}

    def lookback_s(self) -> float:
        """How far back an evaluation reads series (SLOs: their longest window)."""
        if self.kind == "slo":
            assert self.slo is not None
            return max(self.slo.window_s, *(b.long_window_s for b in self.slo.burn_alerts))
        span = self.period_s * self.evaluation_periods
        if self.kind == "baseline":
            b = self.baseline or BaselineSettings()
            if b.window == "fixed":
                assert b.reference_start is not None
                return span  # a fixed period: checked against retention when learning
            return span + b.days * 86_400.0
        if self.kind == "anomaly":
            a = self.anomaly or AnomalySettings()
            if a.band == "seasonal":
                return span + a.season_s * a.seasons
            return span + self.period_s * a.history_periods
        return span


class RetentionLike(Protocol):
    raw_days: float
    minute_days: float
    hour_days: float
    requests_days: float


def window_problem(rule: AlertRuleSettings, retention: RetentionLike) -> str | None:
    """Why a rule looks further back than the store keeps the data it reads, or None."""
    look = rule.lookback_s()
    if rule.kind == "slo":
        assert rule.slo is not None
        if rule.slo.sli == "ratio":  # per-minute means × 60: the 1-minute tier
            key, days = "minute_days", retention.minute_days
        else:
            key, days = "requests_days", retention.requests_days
    else:
        tier = tier_of(rule.period_s)
        key = {"raw": "raw_days", "minute": "minute_days", "hour": "hour_days"}[tier]
        days = getattr(retention, key)
    if look <= days * 86_400.0:
        return None
    what = (
        f"period_s {rule.period_s:g} × evaluation_periods {rule.evaluation_periods}"
        if rule.kind != "slo"
        else "its SLO window"
    )
    extra = " plus its history" if rule.kind in ("baseline", "anomaly") else ""
    return (
        f"rule {rule.name!r} looks back {span_text(look)} ({what}{extra}), but "
        f"store.retention.{key} keeps that data for {span_text(days * 86_400.0)}"
    )


def _default_rules() -> list[AlertRuleSettings]:
    from infersight.alerting.rule_pack import default_rules  # the pack builds these models

    return default_rules()


class AlertingSettings(BaseModel):
    """Alert rules evaluated on a schedule, and where their notifications go."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = Field(default=True, description="Run the alert engine.")
    interval_s: float = Field(
        default=30.0, gt=0, description="Seconds between two evaluations of every rule."
    )
    repeat_interval_s: float = Field(
        default=4 * 3600.0,
        ge=0,
        description="Re-notify an ongoing alarm this often, in seconds (0 = never).",
    )
    default_silence_s: float = Field(
        default=2 * 3600.0, gt=0, description="Length of a silence when none is given, s."
    )
    delivery_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Longest time one notification may take, retries included, in seconds.",
    )
    dashboard_url: str = Field(
        default="",
        description="Base URL of the dashboard for links in notifications (empty: no link).",
    )
    notifiers: list[NotifierSettings] = Field(
        default_factory=list,
        description="Where notifications go; a 'log' notifier always exists.",
    )
    rules: list[AlertRuleSettings] = Field(
        default_factory=_default_rules,
        description="Alert rules (default: the built-in rule pack).",
    )

    @field_validator("notifiers")
    @classmethod
    def _unique_notifiers(cls, v: list[NotifierSettings]) -> list[NotifierSettings]:
        return check_unique_names(v)

    @field_validator("dashboard_url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        if v and not re.match(r"^https?://[^/\s]+", v):
            raise SettingValueError(
                "must start with http:// or https://", hint="e.g. http://127.0.0.1:8400"
            )
        return v.rstrip("/")

    @model_validator(mode="after")
    def _references(self) -> AlertingSettings:
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.name in seen:
                raise SettingValueError(
                    f"rules[{i}]: the rule name {rule.name!r} is used more than once",
                    hint="give each rule its own name",
                    show_value=False,
                )
            seen.add(rule.name)
        configured = {"log", *(n.name for n in self.notifiers)}
        for i, rule in enumerate(self.rules):
            missing = [n for n in rule.notifiers if n not in configured]
            if missing:
                raise SettingValueError(
                    f"rules[{i}] ({rule.name}): notifier {', '.join(map(repr, missing))} is not "
                    f"configured (configured: {', '.join(sorted(configured))})",
                    hint="add it under alerting.notifiers, or remove it from the rule",
                    show_value=False,
                )
        return self

    def rule(self, name: str) -> AlertRuleSettings | None:
        return next((r for r in self.rules if r.name == name), None)


def check_windows(alerting: AlertingSettings, retention: RetentionLike) -> None:
    """For a Settings validator: SettingValueError when a rule looks back beyond retention."""
    for i, rule in enumerate(alerting.rules):
        problem = window_problem(rule, retention)
        if problem is not None:
            raise SettingValueError(
                f"alerting.rules[{i}]: {problem}",
                hint="shorten the rule's window, or keep the data longer under store.retention",
                show_value=False,
            )
