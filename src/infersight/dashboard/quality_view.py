"""The Quality page's sweeps, read from the store's quality tables (`Store.quality`: `sweeps`
and `sweep_items`, written by the sweep runner): the dashboard's QualityProvider.

Only the stored JSON is read (each sweep's `summary`: aggregates per tag with 95 % intervals,
the comparison with the previous sweep; each item's answer and scores), so this needs nothing
from the quality package at run time. Score series over time (`quality_<metric>`, labels
dataset/tag/model), live-sample series (`quality_live_*`) and drift series (`drift_*`) are read
from the metric store like any other series (`api_ops.quality`).
"""

from __future__ import annotations

import json
from typing import Any, Final

from infersight.dashboard.providers import Json
from infersight.store.base import Store
from infersight.store.sqlite_quality import SweepItemRow, SweepRow

ALL: Final = "all"
LATEST_LOOKBACK_S: Final = 400 * 86_400.0
LATEST_SWEEPS: Final = 200
# Series of the sweep runner that are not scores over time.
NOT_SCORES: Final = ("_ci_low", "_ci_high", "quality_sweep_duration_seconds", "_regressed")


def is_score_series(name: str) -> bool:
    return (
        name.startswith("quality_")
        and not name.startswith("quality_live_")
        and not name.endswith("_load_correlation")
        and not any(part in name for part in NOT_SCORES)
    )


def _loads(text: str, default: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default


def _overall(summary: Json) -> Json:
    groups = summary.get("groups") or []
    return next((g for g in groups if g.get("tag") == ALL), groups[0] if groups else {})


def sweep_json(row: SweepRow) -> Json:
    summary = row.summary_json()
    metrics = _overall(summary).get("metrics", {})
    comparisons = summary.get("comparisons", {}) or {}
    return {
        "id": row.id,
        "name": row.name,
        "dataset": row.dataset,
        "model": row.model,
        "endpoint": row.endpoint,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "status": row.status,
        "items": row.items,
        "failed": row.failed,
        "scores": {k: v.get("value") for k, v in metrics.items() if isinstance(v, dict)},
        "regressed": bool(summary.get("regressed")),
        "regressions": sorted(k for k, c in comparisons.items() if c.get("regressed")),
        "previous_sweep": summary.get("previous_sweep"),
    }


def item_json(row: SweepItemRow) -> Json:
    scores: dict[str, Any] = _loads(row.scores, {})
    judged = [s for s in scores.values() if isinstance(s, dict) and s.get("error") is None]
    refs = _loads(row.refs, [])
    return {
        "id": row.item_id,
        "position": row.position,
        "tags": _loads(row.tags, []),
        "prompt": row.question,
        "expected": "\n".join(str(r) for r in refs) if isinstance(refs, list) else str(refs),
        "response": row.answer,
        "status": row.status,
        "error": row.error,
        "latency_s": row.latency_s,
        "scores": {k: s.get("score") for k, s in scores.items() if isinstance(s, dict)},
        "verdicts": {k: s.get("verdict") for k, s in scores.items() if isinstance(s, dict)},
        "reasons": {k: s.get("reason") for k, s in scores.items() if isinstance(s, dict)},
        "passed": None
        if row.status != "ok" or not judged
        else all(s.get("passed") is not False for s in judged),
    }


class StoreQuality:
    """QualityProvider over `store.quality` (reads only)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def sweeps(self, start: float, end: float, limit: int) -> list[Json]:
        return [sweep_json(r) for r in self.store.quality.list_sweeps(start, end, limit=limit)]

    def sweep(self, sweep_id: str) -> Json | None:
        row = self.store.quality.get_sweep(sweep_id)
        if row is None:
            return None
        summary = row.summary_json()
        return {
            **sweep_json(row),
            "groups": summary.get("groups", []),
            "comparisons": summary.get("comparisons", {}),
            "notes": summary.get("notes", []),
            "items": [item_json(i) for i in self.store.quality.sweep_items(sweep_id)],
        }

    def latest_scores(self, now: float) -> list[Json]:
        """Per dataset, the newest sweep's overall metrics, with the change against the
        previous sweep where one was compared."""
        rows = self.store.quality.list_sweeps(
            now - LATEST_LOOKBACK_S, now + 1.0, limit=LATEST_SWEEPS
        )
        newest: dict[str, SweepRow] = {}
        for r in rows:  # newest first
            newest.setdefault(r.dataset, r)
        out: list[Json] = []
        for dataset, row in sorted(newest.items()):
            summary = row.summary_json()
            comparisons = summary.get("comparisons", {}) or {}
            for metric, est in sorted(_overall(summary).get("metrics", {}).items()):
                c = comparisons.get(metric, {}) if isinstance(comparisons, dict) else {}
                out.append(
                    {
                        "dataset": dataset,
                        "scorer": metric,
                        "value": est.get("value"),
                        "low": est.get("low"),
                        "high": est.get("high"),
                        "at": row.finished_at,
                        "sweep_id": row.id,
                        "model": row.model,
                        "change": c.get("delta"),
                        "regressed": bool(c.get("regressed")),
                    }
                )
        return out

    def score_series(self) -> list[str]:
        return [n for n in self.store.metric_names() if is_score_series(n)]
