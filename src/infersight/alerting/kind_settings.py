"""The kind-specific sub-sections of an alert rule (`baseline:`, `anomaly:`, `slo:`) and the
compact-dump base every rule model shares. Re-exported by `alerting.settings`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from infersight.config.errors import SettingValueError
from infersight.core.slo import DEFAULT_BURN_WINDOWS

Severity = Literal["critical", "warning", "info"]
SECONDS_FIELDS: Final = ("ttft_s", "e2e_s", "tpot_s", "itl_mean_s", "itl_p50_s", "itl_p90_s")


class _Compact(BaseModel):
    """extra keys forbidden; dumps omit keys equal to their default (except `_always`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
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
    min_events: int = Field(
        default=20,
        ge=0,
        description="A burn alert fires only when its long window holds this many events.",
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
