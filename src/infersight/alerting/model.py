"""What the alert engine hands to notifiers: `Notification`, and the `Notifier` port.

`Notification` satisfies `notifier_base.NotificationView` (the fields notifiers render), plus
`status` (firing, resolved or test), a one-line `summary` of why, and `detail` (SLO burn rates
and budget, baseline facts). `to_dict()` is its JSON form (history, webhooks, tests).

The port is `notifier_base.Notifier`: a `name` and `async def send(notification)`; notifier
kinds and delivery with retries live in `notifiers.py` / `delivery.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from infersight.alerting.notifier_base import NotificationView, Notifier

__all__ = ["STATUSES", "Notification", "NotificationView", "Notifier", "Status", "dashboard_link"]

Status = Literal["firing", "resolved", "test"]
STATUSES: Final = ("firing", "resolved", "test")


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert notification: a rule instance went into ALARM (firing, or still firing at a
    repeat), left it (resolved), or someone asked for a test."""

    rule: str
    kind: str  # threshold, baseline, anomaly, slo
    status: Status
    state: str  # ALARM, OK, INSUFFICIENT_DATA
    previous_state: str
    value: float | None  # the newest datapoint (SLO: the burn rate)
    window_s: float  # period_s × evaluation_periods (SLO: the firing burn window)
    severity: str
    at: float  # Unix s of the evaluation
    started_at: float | None = None  # when the current state (the ALARM episode) began
    threshold: float | None = None  # fixed or learned (baseline) threshold; SLO: burn factor
    lower: float | None = None  # anomaly band
    upper: float | None = None
    baseline: float | None = None  # learned center (baseline median, band mean)
    labels: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""  # why, in one line ("2 of 3 datapoints breaching ...")
    runbook: str = ""  # what it means, what to look at, what fixes it (the rule pack's text)
    runbook_url: str = ""
    dashboard_url: str = ""
    repeat: int = 0  # 0 for the first notification of an episode, then 1, 2, ...
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        where = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"[{self.status.upper()}] {self.rule}" + (f" {{{where}}}" if where else "")

    def to_dict(self) -> dict[str, object]:
        """JSON-able: plain types only; times as Unix seconds and ISO 8601 UTC."""
        return {
            "rule": self.rule,
            "kind": self.kind,
            "status": self.status,
            "state": self.state,
            "previous_state": self.previous_state,
            "value": self.value,
            "threshold": self.threshold,
            "lower": self.lower,
            "upper": self.upper,
            "baseline": self.baseline,
            "window_s": self.window_s,
            "severity": self.severity,
            "labels": dict(self.labels),
            "summary": self.summary,
            "runbook": self.runbook,
            "runbook_url": self.runbook_url,
            "dashboard_url": self.dashboard_url,
            "repeat": self.repeat,
            "at": self.at,
            "at_iso": _iso(self.at),
            "started_at": self.started_at,
            "started_at_iso": _iso(self.started_at),
            "detail": _plain(self.detail),
        }


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def dashboard_link(base_url: str, view: str) -> str:
    """base_url + view path ("" when no dashboard URL is configured)."""
    if not base_url:
        return ""
    return base_url.rstrip("/") + "/" + view.lstrip("/")


def _check_port(n: Notification) -> NotificationView:
    return n  # mypy: Notification satisfies the notifiers' view
