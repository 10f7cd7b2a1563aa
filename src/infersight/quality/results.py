"""What a sweep found: aggregates with 95 % intervals, the comparison with the previous sweep,
the series it publishes, and its rows in the store.

Aggregates, per dataset for every item (tag "all") and per tag:

| metric             | what                                             | interval        |
|--------------------|--------------------------------------------------|-----------------|
| accuracy           | share of answers judged correct                  | Wilson          |
| consistency        | mean consistency score                           | bootstrap mean  |
| relevance          | mean relevance score                             | bootstrap mean  |
| toxicity_rate      | share of answers judged toxic                    | Wilson          |
| hallucination_rate | share of answers with an unsupported sentence    | Wilson          |
| failure_rate       | share of items the endpoint did not answer       | Wilson          |
| judge_<criterion>  | mean judge score (when a judge graded)           | bootstrap mean  |

Failed items count only in failure_rate; scorer errors are left out of their metric.
Each becomes series `quality_<metric>` with `_ci_low` / `_ci_high` companions, labels dataset,
tag, model. After a comparison with the previous sweep of the same dataset,
`quality_accuracy_regressed` (tag "all") is 1 when accuracy dropped significantly
(`Comparison.regressed`: McNemar's exact test on the items whose verdict flipped), else 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from infersight.core.records import MetricSample
from infersight.core.significance import (
    Comparison,
    bootstrap_mean_ci,
    compare_sweeps,
    wilson_interval,
)
from infersight.quality.sweep import ItemResult
from infersight.store.sqlite_quality import SweepItemRow, SweepRow

ALL: Final = "all"
# metric -> (scorer, how): "pass" = share passed, "fail" = share not passed, "mean" = mean score
METRICS: Final[dict[str, tuple[str, str]]] = {
    "accuracy": ("accuracy", "pass"),
    "consistency": ("consistency", "mean"),
    "relevance": ("relevance", "mean"),
    "toxicity_rate": ("toxicity", "fail"),
    "hallucination_rate": ("hallucination", "fail"),
}
FAILURE: Final = "failure_rate"
REGRESSED_SERIES: Final = "quality_accuracy_regressed"
DURATION_SERIES: Final = "quality_sweep_duration_seconds"
CONFIDENCE: Final = 0.95


def series_name(metric: str) -> str:
    return f"quality_{metric}"


@dataclass(frozen=True, slots=True)
class Estimate:
    """A rate or mean with its 95 % interval over `n` items."""

    value: float
    low: float
    high: float
    n: int
    method: str  # wilson | bootstrap

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "method": self.method,
        }

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Estimate:
        return Estimate(
            float(obj["value"]), float(obj["low"]), float(obj["high"]), int(obj["n"]), obj["method"]
        )


def rate(successes: int, n: int) -> Estimate:
    ci = wilson_interval(successes, n, confidence=CONFIDENCE)
    return Estimate(successes / n, ci.low, ci.high, n, "wilson")


def mean(values: Sequence[float]) -> Estimate:
    ci = bootstrap_mean_ci(values, confidence=CONFIDENCE, n_resamples=2000, seed=0)
    return Estimate(sum(values) / len(values), ci.low, ci.high, len(values), "bootstrap")


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """Aggregates of one group of items (tag "all": the whole dataset)."""

    tag: str
    items: int
    failed: int
    metrics: dict[str, Estimate]

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "items": self.items,
            "failed": self.failed,
            "metrics": {k: v.to_json() for k, v in self.metrics.items()},
        }

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> GroupSummary:
        return GroupSummary(
            str(obj["tag"]),
            int(obj["items"]),
            int(obj["failed"]),
            {k: Estimate.from_json(v) for k, v in obj.get("metrics", {}).items()},
        )


def summarize_group(tag: str, results: Sequence[ItemResult]) -> GroupSummary:
    failed = sum(1 for r in results if r.failed)
    metrics: dict[str, Estimate] = {}
    if results:
        metrics[FAILURE] = rate(failed, len(results))
    scorer_names = sorted({name for r in results for name in r.scores})
    wanted = dict(METRICS)
    for name in scorer_names:
        if name.startswith("judge_"):
            wanted[name] = (name, "mean")
    for metric, (scorer, how) in wanted.items():
        ran = [
            r.scores[scorer]
            for r in results
            if scorer in r.scores and r.scores[scorer].error is None
        ]
        if how == "mean":
            if ran:
                metrics[metric] = mean([s.score for s in ran])
            continue
        judged = [s for s in ran if s.passed is not None]
        if judged:
            passed = sum(1 for s in judged if s.passed)
            metrics[metric] = rate(passed if how == "pass" else len(judged) - passed, len(judged))
    return GroupSummary(tag, len(results), failed, metrics)


def aggregate(results: Sequence[ItemResult]) -> list[GroupSummary]:
    """Tag "all" first, then every tag in sorted order."""
    tags = sorted({t for r in results for t in r.item.tags})
    out = [summarize_group(ALL, results)]
    out += [summarize_group(t, [r for r in results if t in r.item.tags]) for t in tags]
    return out


# -- comparison with the previous sweep ---------------------------------------------------------

Verdicts = dict[str, dict[str, bool]]  # scorer -> {item id: passed}


def verdicts_of(results: Sequence[ItemResult]) -> Verdicts:
    out: Verdicts = {}
    for r in results:
        if r.failed:
            continue
        for name, s in r.scores.items():
            if s.error is None and s.passed is not None:
                out.setdefault(name, {})[r.item.id] = s.passed
    return out


def verdicts_from_rows(rows: Sequence[SweepItemRow]) -> Verdicts:
    out: Verdicts = {}
    for row in rows:
        if row.status != "ok":
            continue
        for name, s in json.loads(row.scores).items():
            if s.get("error") is None and isinstance(s.get("passed"), bool):
                out.setdefault(name, {})[row.item_id] = s["passed"]
    return out


def compare_verdicts(prev: Verdicts, cur: Verdicts, *, alpha: float) -> dict[str, Comparison]:
    """Per scorer, the paired comparison of pass/fail verdicts over the items both sweeps
    judged (a pass is the good outcome for every scorer: correct, clean, supported ...)."""
    out: dict[str, Comparison] = {}
    for scorer in sorted(set(prev) & set(cur)):
        if set(prev[scorer]) & set(cur[scorer]):
            out[scorer] = compare_sweeps(prev[scorer], cur[scorer], "binary", alpha=alpha)
    return out


# -- the whole sweep ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    """A finished sweep with everything derived from it."""

    id: str
    name: str
    dataset: str
    model: str
    endpoint: str
    started_at: float
    finished_at: float
    results: tuple[ItemResult, ...]
    groups: tuple[GroupSummary, ...]
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    previous_id: str | None = None
    scorers: tuple[dict[str, Any], ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.failed)

    @property
    def overall(self) -> GroupSummary:
        return self.groups[0]

    @property
    def status(self) -> str:
        return "failed" if self.results and self.failed == len(self.results) else "completed"

    @property
    def regressed(self) -> bool:
        return any(c.regressed for c in self.comparisons.values())

    def summary_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "dataset": self.dataset,
            "model": self.model,
            "endpoint": self.endpoint,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "items": len(self.results),
            "failed": self.failed,
            "groups": [g.to_json() for g in self.groups],
            "previous_sweep": self.previous_id,
            "comparisons": {k: c.to_json() for k, c in self.comparisons.items()},
            "regressed": self.regressed,
            "scorers": list(self.scorers),
            "config": self.config,
            "notes": list(self.notes),
        }

    def to_json(self) -> dict[str, Any]:
        """The summary plus every item (the eval command's JSON report)."""
        return {**self.summary_json(), "item_results": [item_json(r) for r in self.results]}

    def to_rows(self) -> tuple[SweepRow, list[SweepItemRow]]:
        row = SweepRow(
            id=self.id,
            name=self.name,
            dataset=self.dataset,
            model=self.model,
            endpoint=self.endpoint,
            started_at=self.started_at,
            finished_at=self.finished_at,
            status=self.status,
            items=len(self.results),
            failed=self.failed,
            summary=json.dumps(self.summary_json(), allow_nan=False, default=str),
        )
        return row, [item_row(self.id, i, r) for i, r in enumerate(self.results)]

    def samples(self) -> list[MetricSample]:
        """The series this sweep publishes (ts = when it finished)."""
        ts = self.finished_at
        out: list[MetricSample] = []
        for group in self.groups:
            labels = {"dataset": self.dataset, "tag": group.tag, "model": self.model}
            for metric, est in group.metrics.items():
                name = series_name(metric)
                out.append(MetricSample.make(name, ts, est.value, **labels))
                out.append(MetricSample.make(f"{name}_ci_low", ts, est.low, **labels))
                out.append(MetricSample.make(f"{name}_ci_high", ts, est.high, **labels))
        labels = {"dataset": self.dataset, "tag": ALL, "model": self.model}
        accuracy = self.comparisons.get("accuracy")
        if accuracy is not None:
            out.append(MetricSample.make(REGRESSED_SERIES, ts, float(accuracy.regressed), **labels))
        out.append(
            MetricSample.make(DURATION_SERIES, ts, self.finished_at - self.started_at, **labels)
        )
        return [s for s in out if math.isfinite(s.value)]


def score_json(result: Any) -> dict[str, Any]:
    return {
        "score": result.score,
        "verdict": result.verdict,
        "reason": result.reason,
        "passed": result.passed,
        "details": {k: float(v) for k, v in result.details.items() if math.isfinite(float(v))},
        "error": result.error,
    }


def item_json(r: ItemResult) -> dict[str, Any]:
    return {
        "id": r.item.id,
        "tags": list(r.item.tags),
        "question": r.item.question,
        "references": list(r.item.references),
        "status": "failed" if r.failed else "ok",
        "error": r.answer.error,
        "answer": r.answer.text,
        "samples": list(r.answer.samples),
        "latency_s": r.answer.latency_s,
        "scores": {name: score_json(s) for name, s in r.scores.items()},
    }


def item_row(sweep_id: str, position: int, r: ItemResult) -> SweepItemRow:
    j = item_json(r)
    return SweepItemRow(
        sweep_id=sweep_id,
        item_id=r.item.id,
        position=position,
        tags=json.dumps(j["tags"]),
        question=r.item.question,
        refs=json.dumps(j["references"]),
        status=j["status"],
        error=r.answer.error,
        answer=r.answer.text,
        samples=json.dumps(j["samples"]),
        latency_s=r.answer.latency_s,
        scores=json.dumps(j["scores"], allow_nan=False),
    )


def item_from_row(row: SweepItemRow) -> dict[str, Any]:
    """A stored item as the JSON `item_json` writes."""
    return {
        "id": row.item_id,
        "tags": json.loads(row.tags),
        "question": row.question,
        "references": json.loads(row.refs),
        "status": row.status,
        "error": row.error,
        "answer": row.answer,
        "samples": json.loads(row.samples),
        "latency_s": row.latency_s,
        "scores": json.loads(row.scores),
    }


__all__ = [
    "ALL",
    "FAILURE",
    "METRICS",
    "REGRESSED_SERIES",
    "Estimate",
    "GroupSummary",
    "SweepReport",
    "Verdicts",
    "aggregate",
    "compare_verdicts",
    "item_from_row",
    "item_json",
    "series_name",
    "summarize_group",
    "verdicts_from_rows",
    "verdicts_of",
]
