"""AUROC, F1 at a threshold and best-threshold search on small hand-checked cases."""

from __future__ import annotations

import pytest

from infersight.core.metrics_auc import at_threshold, auroc, best_threshold, f1_at_threshold


def test_auroc_perfect_inverted_and_chance() -> None:
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5


def test_auroc_counts_ties_as_half_and_matches_pair_counting() -> None:
    scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.7, 0.2]
    labels = [0, 0, 1, 1, 1, 0, 1]
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    assert auroc(scores, labels) == pytest.approx(pairs / (len(pos) * len(neg)))


def test_auroc_needs_both_classes_and_equal_lengths() -> None:
    with pytest.raises(ValueError, match="both classes"):
        auroc([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="2 scores but 3 labels"):
        auroc([0.1, 0.2], [1, 0, 1])


def test_confusion_and_f1_at_threshold() -> None:
    q = at_threshold([0.1, 0.6, 0.7, 0.4], [0, 1, 0, 1], 0.5)
    assert (q.true_pos, q.false_pos, q.true_neg, q.false_neg) == (1, 1, 1, 1)
    assert q.precision == q.recall == q.f1 == q.accuracy == 0.5
    assert f1_at_threshold([0.9, 0.8], [1, 1], 0.5) == 1.0
    assert f1_at_threshold([0.1, 0.2], [1, 0], 0.5) == 0.0


def test_best_threshold_separates_separable_scores() -> None:
    scores = [0.1, 0.2, 0.3, 0.6, 0.7, 0.9]
    labels = [0, 0, 0, 1, 1, 1]
    for objective in ("f1", "youden"):
        best = best_threshold(scores, labels, objective=objective)
        assert 0.3 < best.threshold < 0.6
        assert best.f1 == 1.0
    with pytest.raises(ValueError, match="objective"):
        best_threshold(scores, labels, objective="accuracy")
