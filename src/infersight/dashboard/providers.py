"""What the dashboard reads besides the store: the collectors' live states, alerting and
quality. Each is a port; the service hands in what it runs, and a missing one is answered with
a "not configured" body that says so and how to turn it on (never an error, never a blank).

Alerting and quality providers return plain JSON types, so the dashboard depends on no engine
internals: an adapter next to each engine maps its objects onto these shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, Final, Protocol

from infersight.collectors.base import CollectorState

Json = dict[str, Any]
CollectorStates = Callable[[], Sequence[CollectorState]]

NO_ALERTING: Final = (
    "no alerting configured: no alert engine runs in this gateway process, so there are no "
    "rules, alerts, silences or SLOs to show"
)
NO_SLOS: Final = (
    "no SLOs configured: SLO attainment and error budgets appear here once SLO rules are set "
    "in the alerting configuration"
)
NO_SWEEPS: Final = (
    "no sweeps yet: quality scores appear here once a quality sweep has run against this "
    "endpoint (scheduled sweeps, or `infersight eval DATASET --endpoint URL`)"
)


class AlertsProvider(Protocol):
    """The alert engine as the dashboard reads it. Dicts carry at least the keys named."""

    def active(self, now: float) -> list[Json]:
        """Firing and pending alerts: rule, instance, labels, state, severity, since, value,
        threshold, summary, runbook."""
        ...

    def history(self, start: float, end: float, limit: int) -> list[Json]:
        """Alert events, newest first: ts, rule, kind, instance, state, previous_state, value,
        message."""
        ...

    def rules(self, now: float) -> list[Json]:
        """Every rule: name, kind, expression/series, threshold, severity, state, runbook."""
        ...

    def silences(self, now: float) -> list[Json]:
        """Silences in force or scheduled: id, rule, created_at, expires_at, reason."""
        ...

    def slos(self, now: float) -> list[Json]:
        """SLO status: name, objective, window_s, attainment, budget_remaining, burn rates,
        target value and unit where the SLO is a latency threshold."""
        ...


class QualityProvider(Protocol):
    """Quality sweeps and their items as the dashboard reads them."""

    def sweeps(self, start: float, end: float, limit: int) -> list[Json]:
        """Sweeps newest first: id, dataset, tags, started_at, finished_at, model, upstream,
        scores {scorer: value}, items, regressions."""
        ...

    def sweep(self, sweep_id: str) -> Json | None:
        """One sweep with its items (prompt, expected, response, scores, passed)."""
        ...

    def latest_scores(self, now: float) -> list[Json]:
        """The newest score per (dataset, scorer): dataset, scorer, value, at, change."""
        ...

    def score_series(self) -> list[str]:
        """Names of the store series that hold scores over time (charted per dataset/tag)."""
        ...


def collector_state_json(state: CollectorState) -> Json:
    out = asdict(state)
    out["notes"] = list(state.notes)
    out["source"] = "live"
    return out


def alerts_not_configured() -> Json:
    return {
        "configured": False,
        "message": NO_ALERTING,
        "active": [],
        "history": [],
        "rules": [],
        "silences": [],
    }


def quality_not_configured() -> Json:
    return {"configured": False, "message": NO_SWEEPS, "sweeps": [], "latest": []}
