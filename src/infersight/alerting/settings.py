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
from datetime import datetime
from typing import Any, ClassVar, Final, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from infersight.alerting.notifier_settings import NotifierSettings, check_unique_names
from infersight.alerting.rules import check_metric, parse_selector, span_text, tier_of
from infersight.config.errors import SettingValueError
from infersight.core.series import AGGREGATIONS
from infersight.core.slo import DEFAULT_BURN_WINDOWS

RuleKind = Literal["threshold", "baseline", "anomaly", "slo"]
Severity = Literal["critical", "warning", "info"]
Statistic = Literal["avg", "min", "max", "sum", "rate", "p50", "p90", "p95", "p99"]
assert set(Statistic.__args__) == set(AGGREGATIONS)  # type: ignore[attr-defined]

_RULE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SECONDS_FIELDS: Final = ("ttft_s", "e2e_s", "tpot_s", "itl_mean_s", "itl_p50_s", "itl_p90_s")
# The keys each kind reads, beyond the ones every rule has.
_COMMON: Final = frozenset(
    {"name", "kind", "enabled", "labels", "for_s", "repeat_interval_s", "severity"}
    | {"notifiers", "runbook", "runbook_url", "view", "allow_unknown_metric"}
)
_SERIES_KEYS: Final = frozenset(
    {"metric", "divide_by", "statistic", "group_by", "combine", "period_s"}
    | {"evaluation_periods", "datapoints_to_alarm", "treat_missing_data"}
)
KIND_KEYS: Final[dict[str, frozenset[str]]] = {
    "threshold": _SERIES_KEYS | {"comparison", "threshold"},
    "baseline": _SERIES_KEYS | {"comparison", "baseline"},
    "anomaly": _SERIES_KEYS | {"anomaly"},
    "slo": frozenset({"slo"}),
}


class _Compact(BaseModel):
    """extra keys forbidden; dumps omit keys equal to their default (except `_always`)."""

    model_config = ConfigDict(extra="forbid")
    _always: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        fields = type(self).model_fields
        return {
            k: v
            for k, v in data.items()
            if k in self._always
            or k not in fields
            or getattr(self, k) != fields[k].get_default(call_default_factory=True)
        }

    def stray_keys(self, used: frozenset[str]) -> list[str]:
        """Keys set to a non-default value that the current kind does not read."""
        fields = type(self).model_fields
        return sorted(
            k
            for k in self.model_fields_set - used
            if getattr(self, k) != fields[k].get_default(call_default_factory=True)
        )


def _unix_time(v: object) -> object:
    """An ISO 8601 time ("2024-05-01T00:00:00Z") or Unix seconds, as Unix seconds."""
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(v.strip().replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise SettingValueError(
                f"{v!r} is not a time", hint="write Unix seconds or 2024-05-01T00:00:00Z"
            ) from None
    if isinstance(v, datetime):
        return v.timestamp()
    return v


class BaselineSettings(_Compact):
    """kind: baseline: a threshold learned from the metric's own history."""

    _always: ClassVar[frozenset[str]] = frozenset({"method"})

    method: Literal["median_mad", "percentile"] = Field(
        default="median_mad",
        description="median_mad: median ± k·MAD (robust); percentile: a quantile of the history.",
    )
    k: float = Field(default=3.0, gt=0, description="median_mad: how many MADs (≈ σ) away.")
    percentile: float = Field(
        default=0.99, gt=0, lt=1, description="percentile: the quantile learned (0-1)."
    )
    window: Literal["same_hour", "trailing", "fixed"] = Field(
        default="same_hour",
        description="History learned from: same_hour (this hour of day on the last `days` "
        "days), trailing (the last `days` days) or fixed (reference_start to reference_end).",
    )
    days: int = Field(default=7, ge=1, le=90, description="Days of history (same_hour, trailing).")
    reference_start: float | None = Field(
        default=None, description="fixed: start of the reference period (Unix s or ISO 8601)."
    )
    reference_end: float | None = Field(
        default=None, description="fixed: end of the reference period (Unix s or ISO 8601)."
    )
    relearn_interval_s: float = Field(
        default=3600.0, gt=0, description="How often the threshold is learned again, in seconds."
    )
    min_points: int = Field(
        default=30, ge=1, description="Fewest history datapoints to learn from (else no data)."
    )
    min_margin: float = Field(
        default=0.0,
        ge=0,
        description="median_mad: the threshold is at least this far from the median.",
    )

    @field_validator("reference_start", "reference_end", mode="before")
    @classmethod
    def _times(cls, v: object) -> object:
        return _unix_time(v)

    @model_validator(mode="after")
    def _fixed_needs_period(self) -> BaselineSettings:
        if self.window == "fixed":
            if self.reference_start is None or self.reference_end is None:
                raise SettingValueError(
                    "window: fixed needs reference_start and reference_end",
                    hint="e.g. reference_start: 2024-05-01T00:00:00Z, "
                    "reference_end: 2024-05-08T00:00:00Z",
                    show_value=False,
                )
            if self.reference_end <= self.reference_start:
                raise SettingValueError(
                    "reference_end must be after reference_start", show_value=False
                )
        return self


class AnomalySettings(_Compact):
    """kind: anomaly: a band around the expected value; datapoints outside it breach."""

    _always: ClassVar[frozenset[str]] = frozenset({"band"})

    band: Literal["ewma", "seasonal"] = Field(
        default="ewma",
        description="ewma: exponentially weighted mean ± k·σ of the recent history; seasonal: "
        "mean ± k·σ of the same time in the previous `seasons` seasons.",
    )
    direction: Literal["upper", "lower", "both"] = Field(
        default="upper", description="Which side of the band breaches."
    )
    k: float = Field(default=3.0, gt=0, description="Half-width of the band in σ.")
    alpha: float = Field(
        default=0.1, gt=0, le=1, description="ewma: weight of the newest datapoint (0-1]."
    )
    history_periods: int = Field(
        default=60, ge=2, description="ewma: periods of history before the evaluated ones."
    )
    season_s: float = Field(default=86_400.0, gt=0, description="seasonal: season length, s.")
    seasons: int = Field(default=7, ge=1, le=60, description="seasonal: past seasons averaged.")
    min_deviation: float = Field(
        default=0.0,
        ge=0,
        description="The band is at least this wide on each side (a flat series stays quiet).",
    )
    min_points: int = Field(
        default=10, ge=1, description="Fewest history datapoints for a band (else no data)."
    )


class BurnAlertSettings(_Compact):
    """One multi-window burn-rate alert of an SLO."""

    long_window_s: float = Field(default=3600.0, gt=0, description="Long window, in seconds.")
    short_window_s: float = Field(default=300.0, gt=0, description="Short window, in seconds.")
    burn_rate: float = Field(default=14.4, gt=0, description="Burn rate to reach in both windows.")
    severity: Severity = Field(default="critical", description="Severity when it fires.")

    @model_validator(mode="after")
    def _short_within_long(self) -> BurnAlertSettings:
        if self.short_window_s > self.long_window_s:
            raise SettingValueError(
                f"short_window_s ({self.short_window_s:g}) must be <= long_window_s "
                f"({self.long_window_s:g})",
                show_value=False,
            )
        return self


def _default_burn_alerts() -> list[BurnAlertSettings]:
    return [
        BurnAlertSettings(
            long_window_s=w.long_s,
            short_window_s=w.short_s,
            burn_rate=w.burn_rate,
            severity=w.severity,  # type: ignore[arg-type]
        )
        for w in DEFAULT_BURN_WINDOWS
    ]


class SloSettings(_Compact):
    """kind: slo: an objective over a window, alerting on error-budget burn rates."""

    _always: ClassVar[frozenset[str]] = frozenset({"sli"})

    sli: Literal["latency", "availability", "ratio"] = Field(
        default="latency",
        description="latency: requests whose `field` < threshold_s are good; availability: "
        "requests without an error are good (both from request records); ratio: any "
        "good/total or bad/total pair of series.",
    )
    field: str = Field(default="ttft_s", description="latency: the request field measured.")
    threshold_s: float = Field(default=1.0, gt=0, description="latency: good below this, s.")
    sources: list[str] = Field(
        default_factory=lambda: ["user"],
        description="latency/availability: request sources counted (user, sweep, ...).",
    )
    good_metric: str = Field(default="", description="ratio: series of good events per second.")
    bad_metric: str = Field(default="", description="ratio: series of bad events per second.")
    total_metric: str = Field(default="", description="ratio: series of all events per second.")
    objective: float = Field(
        default=0.99, gt=0, lt=1, description="Fraction of good events promised (0-1)."
    )
    window_s: float = Field(
        default=30 * 86_400.0, gt=0, description="SLO window the budget covers, in seconds."
    )
    burn_alerts: list[BurnAlertSettings] = Field(
        default_factory=_default_burn_alerts,
        min_length=1,
        description="Multi-window burn-rate alerts (default: the SRE workbook's three).",
    )

    @field_validator("field")
    @classmethod
    def _seconds_field(cls, v: str) -> str:
        if v not in SECONDS_FIELDS:
            raise SettingValueError(
                f"unknown latency field {v!r}", hint="use one of: " + ", ".join(SECONDS_FIELDS)
            )
        return v

    @model_validator(mode="after")
    def _ratio_metrics(self) -> SloSettings:
        one_of = bool(self.good_metric) != bool(self.bad_metric)
        if self.sli == "ratio" and not (self.total_metric and one_of):
            raise SettingValueError(
                "sli: ratio needs total_metric and one of good_metric or bad_metric",
                hint="e.g. bad_metric: request_errors_per_s, total_metric: requests_per_s",
                show_value=False,
            )
        return self


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
        if rule.slo.sli == "ratio":
            key, days = "hour_days", retention.hour_days
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

    model_config = ConfigDict(extra="forbid")

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
