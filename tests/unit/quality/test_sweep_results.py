"""Aggregates with intervals, comparison with the previous sweep, published series and stored
rows of a sweep, on hand-made item results (no model, no server)."""

from __future__ import annotations

import json

import pytest

from infersight.core.significance import bootstrap_mean_ci, wilson_interval
from infersight.quality.datasets import ChatMessage, DatasetItem
from infersight.quality.results import (
    ALL,
    SweepReport,
    aggregate,
    compare_verdicts,
    item_from_row,
    verdicts_from_rows,
    verdicts_of,
)
from infersight.quality.scorers.base import ScoreResult, error_result
from infersight.quality.sweep import Answer, ItemResult


def item(i: int, tags: tuple[str, ...] = ()) -> DatasetItem:
    return DatasetItem(f"q{i}", (ChatMessage("user", f"question {i}?"),), ("ref",), tags=tags)


def ok(
    i: int, *, correct: bool, relevance: float, toxic: bool = False, tags: tuple[str, ...] = ()
) -> ItemResult:
    scores = {
        "accuracy": ScoreResult(
            float(correct), "correct" if correct else "incorrect", "r", correct
        ),
        "relevance": ScoreResult(relevance, "relevant", "r", relevance >= 0.5),
        "toxicity": ScoreResult(
            0.9 if toxic else 0.1, "toxic" if toxic else "clean", "r", not toxic
        ),
    }
    return ItemResult(item(i, tags), Answer(f"q{i}", f"answer {i}"), scores)


def failed(i: int, tags: tuple[str, ...] = ()) -> ItemResult:
    return ItemResult(item(i, tags), Answer(f"q{i}", None, "http_500: boom"))


def sample_results() -> list[ItemResult]:
    out = [
        ok(i, correct=i < 6, relevance=0.1 * i, toxic=i == 3, tags=("a",) if i < 4 else ("b",))
        for i in range(8)
    ]
    out.append(failed(8, ("a",)))
    out[7] = ItemResult(
        out[7].item, out[7].answer, {**out[7].scores, "accuracy": error_result("accuracy", "x")}
    )
    return out


def test_aggregate_rates_means_intervals_and_failures() -> None:
    groups = aggregate(sample_results())
    assert [g.tag for g in groups] == [ALL, "a", "b"]
    whole = groups[0]
    assert (whole.items, whole.failed) == (9, 1)
    acc = whole.metrics["accuracy"]  # 6 correct of 7 judged (one failed item, one scorer error)
    assert (acc.value, acc.n, acc.method) == (pytest.approx(6 / 7), 7, "wilson")
    w = wilson_interval(6, 7)
    assert (acc.low, acc.high) == (pytest.approx(w.low), pytest.approx(w.high))
    rel = whole.metrics["relevance"]
    values = [0.1 * i for i in range(8)]
    b = bootstrap_mean_ci(values, n_resamples=2000, seed=0)
    assert rel.method == "bootstrap" and rel.value == pytest.approx(sum(values) / 8)
    assert (rel.low, rel.high) == (pytest.approx(b.low), pytest.approx(b.high))
    assert whole.metrics["toxicity_rate"].value == pytest.approx(1 / 8)
    assert whole.metrics["failure_rate"].value == pytest.approx(1 / 9)
    assert "hallucination_rate" not in whole.metrics and "consistency" not in whole.metrics
    a = groups[1]
    assert (a.items, a.failed) == (5, 1) and a.metrics["accuracy"].value == 1.0


def test_judge_scores_become_a_mean_metric() -> None:
    r = ok(0, correct=True, relevance=1.0)
    judged = ItemResult(
        r.item, r.answer, {**r.scores, "judge_correctness": ScoreResult(0.8, "correct", "j", True)}
    )
    assert aggregate([judged])[0].metrics["judge_correctness"].value == pytest.approx(0.8)


def report(results: list[ItemResult], **extra: object) -> SweepReport:
    return SweepReport(
        id="s1", name="n", dataset="tiny", model="m", endpoint="http://x/v1", started_at=100.0,
        finished_at=112.5, results=tuple(results), groups=tuple(aggregate(results)), **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_samples_names_labels_and_companions() -> None:
    rep = report(sample_results())
    samples = rep.samples()
    names = {s.name for s in samples}
    for metric in ("accuracy", "relevance", "toxicity_rate", "failure_rate"):
        assert {
            f"quality_{metric}",
            f"quality_{metric}_ci_low",
            f"quality_{metric}_ci_high",
        } <= names
    assert "quality_accuracy_regressed" not in names  # no comparison yet
    acc = [s for s in samples if s.name == "quality_accuracy"]
    assert {dict(s.labels)["tag"] for s in acc} == {"all", "a", "b"}
    assert dict(acc[0].labels) == {"dataset": "tiny", "model": "m", "tag": "all"}
    assert all(s.ts == 112.5 for s in samples)
    [duration] = [s for s in samples if s.name == "quality_sweep_duration_seconds"]
    assert duration.value == 12.5


def test_comparison_regressed_items_and_the_regressed_series() -> None:
    before = {f"q{i}": True for i in range(12)}
    after = {f"q{i}": i >= 10 for i in range(12)}  # 10 items pass -> fail
    [(scorer, c)] = compare_verdicts({"accuracy": before}, {"accuracy": after}, alpha=0.05).items()
    assert scorer == "accuracy" and c.regressed and len(c.regressed_items) == 10
    rep = report([ok(0, correct=False, relevance=0.5)], comparisons={"accuracy": c})
    [flag] = [s for s in rep.samples() if s.name == "quality_accuracy_regressed"]
    assert flag.value == 1.0 and dict(flag.labels)["tag"] == "all"
    assert rep.regressed and rep.summary_json()["comparisons"]["accuracy"]["regressed"]
    # no shared items or no shared scorer: nothing to compare
    assert compare_verdicts({"accuracy": {"x": True}}, {"accuracy": {"y": True}}, alpha=0.05) == {}
    assert compare_verdicts({"relevance": before}, {"accuracy": after}, alpha=0.05) == {}


def test_rows_round_trip_and_verdicts_from_rows() -> None:
    results = sample_results()
    rep = report(results)
    row, items = rep.to_rows()
    assert (row.items, row.failed, row.status) == (9, 1, "completed")
    assert row.summary_json()["groups"][0]["tag"] == "all"
    assert [i.position for i in items] == list(range(9))
    back = item_from_row(items[8])
    assert back["status"] == "failed" and back["error"] == "http_500: boom" and back["scores"] == {}
    assert json.loads(items[0].scores)["accuracy"]["verdict"] == "correct"
    assert verdicts_from_rows(items) == verdicts_of(results)
    assert "q7" not in verdicts_of(results)["accuracy"]  # scorer error: no verdict


def test_every_item_failed_is_a_failed_sweep() -> None:
    rep = report([failed(0), failed(1)])
    assert rep.status == "failed" and rep.overall.metrics["failure_rate"].value == 1.0
