"""Right-sizing and scaling advice from what the store measured: the I/O edge of `core.advice`.

`advisor_evidence.gather_evidence` reads the last N days of series for every configured
upstream and reduces them to the plain numbers `core.advice.advise` judges (what each number
is: see that module); `advice_report` runs the rules and adds, per upstream, what was not
measured and how to get it. `AdviceReport.to_json` is the dashboard's JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from infersight.advisor_evidence import (
    DAY_S,
    MINUTE_S,
    QUEUE_STEP_S,
    gather_evidence,
    gather_with_missing,
)
from infersight.core.advice import (
    DEFAULT_THRESHOLDS,
    Advice,
    AdviceThresholds,
    Evidence,
    UpstreamEvidence,
    advise,
)
from infersight.settings import Settings
from infersight.store.base import Store

__all__ = [
    "MINUTE_S",
    "QUEUE_STEP_S",
    "AdviceReport",
    "UpstreamAdvice",
    "advice_report",
    "gather_evidence",
]


@dataclass(frozen=True)
class UpstreamAdvice:
    """One upstream's advice (most severe first), the evidence it was judged on, and what was
    not measured with how to measure it."""

    upstream: str
    advice: tuple[Advice, ...]
    evidence: UpstreamEvidence
    missing: tuple[str, ...]

    @property
    def has_evidence(self) -> bool:
        """True when at least one series was measured (config values alone do not count)."""
        return bool(_measured(self.evidence)) or self.evidence.queue_depth is not None

    @property
    def projected_saving_usd_per_month(self) -> float:
        """The largest saving among this upstream's advice (they are alternatives); 0 if none."""
        return max((a.projected_saving_usd_per_month or 0.0 for a in self.advice), default=0.0)


@dataclass(frozen=True)
class AdviceReport:
    """Advice for every configured upstream over one window. Times are Unix seconds."""

    generated_at: float
    window_s: float
    upstreams: tuple[UpstreamAdvice, ...]

    @property
    def advice(self) -> list[Advice]:
        return [a for u in self.upstreams for a in u.advice]

    @property
    def has_evidence(self) -> bool:
        return any(u.has_evidence for u in self.upstreams)

    @property
    def projected_saving_usd_per_month(self) -> float:
        """Σ over upstreams of the largest saving one piece of advice states for it: the
        advice for one upstream are alternatives (fewer replicas, or a smaller instance), so
        their savings do not add up."""
        return sum(u.projected_saving_usd_per_month for u in self.upstreams)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only: the dashboard's advice API."""
        return {
            "generated_at": self.generated_at,
            "window_s": self.window_s,
            "has_evidence": self.has_evidence,
            "projected_saving_usd_per_month": self.projected_saving_usd_per_month,
            "upstreams": [_upstream_json(u) for u in self.upstreams],
        }


def advice_report(
    store: Store,
    settings: Settings,
    *,
    now: float,
    days: float,
    thresholds: AdviceThresholds = DEFAULT_THRESHOLDS,
) -> AdviceReport:
    """Gather the evidence, run `core.advice.advise` on each upstream, note what was missing."""
    upstreams = tuple(
        UpstreamAdvice(ev.upstream, tuple(advise(ev, thresholds)), ev, tuple(missing))
        for ev, missing in gather_with_missing(store, settings, now=now, days=days)
    )
    return AdviceReport(generated_at=now, window_s=days * DAY_S, upstreams=upstreams)


# -- JSON --------------------------------------------------------------------------------------


def _measured(e: UpstreamEvidence) -> list[tuple[str, Evidence]]:
    names = (
        "gpu_utilization_p95",
        "gpu_memory_used_ratio_max",
        "gpu_memory_used_ratio_p95",
        "kv_cache_usage_max",
        "kv_cache_usage_p95",
        "peak_request_rate_per_s",
        "mean_e2e_s",
    )
    return [(n, ev) for n in names if (ev := getattr(e, n)) is not None]


def _evidence_json(ev: Evidence) -> dict[str, Any]:
    return asdict(ev)


def _upstream_json(u: UpstreamAdvice) -> dict[str, Any]:
    e = u.evidence
    queue = e.queue_depth
    return {
        "upstream": u.upstream,
        "projected_saving_usd_per_month": u.projected_saving_usd_per_month,
        "advice": [
            {
                "kind": a.kind,
                "severity": a.severity,
                "title": a.title,
                "detail": a.detail,
                "evidence": [_evidence_json(ev) for ev in a.evidence],
                "projected_saving_usd_per_month": a.projected_saving_usd_per_month,
            }
            for a in u.advice
        ],
        "measured": {name: _evidence_json(ev) for name, ev in _measured(e)},
        "queue_depth": None
        if queue is None
        else {
            "series": queue.series,
            "window_s": queue.window_s,
            "description": queue.description,
            "points": [list(p) for p in queue.points],
        },
        "config": {
            "replicas": e.replicas,
            "usd_per_instance_hour": e.usd_per_instance_hour,
            "instance_type": e.instance_type,
        },
        "missing": list(u.missing),
    }
