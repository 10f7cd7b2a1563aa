"""Classifier quality over (score, label) pairs: AUROC, F1 at a threshold, best threshold.

Pure functions over plain sequences. A label is truthy for the positive class; a score is
"higher means more positive". Used to validate quality scorers against labelled fixtures and
to calibrate their thresholds.

AUROC is the Mann-Whitney U statistic divided by (positives x negatives): the probability that
a random positive scores above a random negative, ties counting one half.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ThresholdQuality:
    """Confusion counts and rates when `score >= threshold` predicts the positive class."""

    threshold: float
    true_pos: int
    false_pos: int
    true_neg: int
    false_neg: int

    @property
    def precision(self) -> float:
        predicted = self.true_pos + self.false_pos
        return self.true_pos / predicted if predicted else 0.0

    @property
    def recall(self) -> float:
        actual = self.true_pos + self.false_neg
        return self.true_pos / actual if actual else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def accuracy(self) -> float:
        total = self.true_pos + self.false_pos + self.true_neg + self.false_neg
        return (self.true_pos + self.true_neg) / total if total else 0.0


def _check(scores: Sequence[float], labels: Sequence[bool | int]) -> None:
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")


def auroc(scores: Sequence[float], labels: Sequence[bool | int]) -> float:
    """Area under the ROC curve; raises ValueError unless both classes are present."""
    _check(scores, labels)
    n_pos = sum(1 for label in labels if label)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"AUROC needs both classes, got {n_pos} positive and {n_neg} negative")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    # Average ranks (1-based) over runs of tied scores.
    rank_sum_pos = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        avg_rank = (i + j) / 2.0 + 1.0
        rank_sum_pos += avg_rank * sum(1 for k in order[i : j + 1] if labels[k])
        i = j + 1
    u = rank_sum_pos - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def at_threshold(
    scores: Sequence[float], labels: Sequence[bool | int], threshold: float
) -> ThresholdQuality:
    """Confusion counts for `score >= threshold` as the positive prediction."""
    _check(scores, labels)
    tp = fp = tn = fn = 0
    for score, label in zip(scores, labels, strict=True):
        predicted = score >= threshold
        if predicted and label:
            tp += 1
        elif predicted:
            fp += 1
        elif label:
            fn += 1
        else:
            tn += 1
    return ThresholdQuality(threshold, tp, fp, tn, fn)


def f1_at_threshold(
    scores: Sequence[float], labels: Sequence[bool | int], threshold: float
) -> float:
    return at_threshold(scores, labels, threshold).f1


def best_threshold(
    scores: Sequence[float], labels: Sequence[bool | int], *, objective: str = "f1"
) -> ThresholdQuality:
    """The candidate threshold (midpoints between distinct scores) that maximises the objective.

    `objective` is "f1" or "youden" (recall + specificity - 1, balanced for skewed classes).
    Ties go to the threshold closest to the middle of the tied range, so that the choice does
    not sit on an observed score.
    """
    if objective not in ("f1", "youden"):
        raise ValueError(f"objective must be 'f1' or 'youden', got {objective!r}")
    _check(scores, labels)
    if not scores:
        raise ValueError("best_threshold needs at least one score")
    distinct = sorted(set(scores))
    candidates = [distinct[0] - 1e-9]
    candidates += [(a + b) / 2.0 for a, b in itertools.pairwise(distinct)]
    candidates.append(distinct[-1] + 1e-9)

    def value(q: ThresholdQuality) -> float:
        if objective == "f1":
            return q.f1
        negatives = q.true_neg + q.false_pos
        specificity = q.true_neg / negatives if negatives else 0.0
        return q.recall + specificity - 1.0

    results = [at_threshold(scores, labels, t) for t in candidates]
    best_value = max(value(q) for q in results)
    tied = [q for q in results if value(q) == best_value]
    return tied[len(tied) // 2]
