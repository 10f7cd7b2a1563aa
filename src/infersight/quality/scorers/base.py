"""What every scorer shares: the input, the result, the Scorer protocol, the embedding port.

A scorer is a pure function of texts plus an embedding function. `Embed` maps texts to an
(n, d) float32 array of L2-normalised rows, so the cosine similarity of two texts is the dot
product of their rows (the real one is `infersight.quality.embedder`; tests may pass a fake).

Scores are in [0, 1] and name the property they measure: accuracy, consistency and relevance
are "higher is better"; toxicity and hallucination are "higher is worse" (`higher_is_better`
says which). A result whose scorer could not run (a judge endpoint that failed) carries
`error` and is left out of means but counted (`summarize`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
Embed = Callable[[Sequence[str]], Vectors]


@dataclass(frozen=True)
class ScoreInput:
    """One answer to score, with whatever the scorers may compare it against.

    - `references`: acceptable answers (any one is enough).
    - `context`: the passage a grounded (RAG) answer must come from.
    - `samples`: other answers to compare with: re-samples of the same question
      (self-consistency) or the answers to the other paraphrases of a question.
    """

    question: str
    answer: str
    references: tuple[str, ...] = ()
    context: str | None = None
    samples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoreResult:
    """score in [0, 1]; verdict a short word ("correct", "toxic"); reason one human sentence.

    `passed` is the verdict as a boolean (None when the scorer did not run: see `error`).
    `details` holds the numbers behind the score (similarities, F1, z-score).
    """

    score: float
    verdict: str
    reason: str
    passed: bool | None = None
    details: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        if not (0.0 <= self.score <= 1.0) or math.isnan(self.score):
            raise ValueError(f"score must be within [0, 1], got {self.score!r}")


class Scorer(Protocol):
    """A named scorer: `applies(item)` says whether it can score the item at all."""

    name: str
    higher_is_better: bool

    def applies(self, item: ScoreInput) -> bool: ...

    def score(self, item: ScoreInput, embed: Embed) -> ScoreResult: ...

    def score_many(self, items: Sequence[ScoreInput], embed: Embed) -> list[ScoreResult]: ...


def error_result(scorer: str, message: str) -> ScoreResult:
    """A result for a scorer that failed to run: counted, never averaged."""
    return ScoreResult(0.0, "error", f"{scorer} could not score: {message}", None, {}, message)


@dataclass(frozen=True)
class ScoreSummary:
    """Aggregate of one scorer's results: mean over results that ran, errors counted apart."""

    n: int
    n_scored: int
    n_errors: int
    mean_score: float | None
    pass_rate: float | None


def summarize(results: Sequence[ScoreResult]) -> ScoreSummary:
    scored = [r for r in results if r.error is None]
    judged = [r for r in scored if r.passed is not None]
    return ScoreSummary(
        n=len(results),
        n_scored=len(scored),
        n_errors=len(results) - len(scored),
        mean_score=sum(r.score for r in scored) / len(scored) if scored else None,
        pass_rate=sum(1 for r in judged if r.passed) / len(judged) if judged else None,
    )


class CachedEmbed:
    """An `Embed` that remembers vectors by text and sends only unseen texts, in one batch.

    Scorers for one sweep embed the same answers, questions and exemplars many times; wrap the
    embedder once per sweep and hand this to every scorer.
    """

    def __init__(self, embed: Embed, *, max_entries: int = 50_000) -> None:
        self._embed = embed
        self._cache: dict[str, Vectors] = {}
        self._max_entries = max_entries
        self.calls = 0
        self.texts_embedded = 0

    def __call__(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh: dict[str, Vectors] = {}
        if missing:
            self.calls += 1
            self.texts_embedded += len(missing)
            vectors = np.asarray(self._embed(missing), dtype=np.float32)
            fresh = dict(zip(missing, vectors, strict=True))
        rows = [fresh[t] if t in fresh else self._cache[t] for t in texts]
        if len(self._cache) + len(fresh) > self._max_entries:
            self._cache.clear()
        self._cache.update(fresh)
        return np.stack(rows)

    def warm(self, texts: Sequence[str]) -> None:
        """Embed all these texts now, in one batch (e.g. everything a sweep will need)."""
        self(list(dict.fromkeys(texts)))


def cosine_matrix(a: Vectors, b: Vectors) -> npt.NDArray[np.float64]:
    """Pairwise cosine similarity of L2-normalised rows, clipped to [-1, 1]."""
    if a.size == 0 or b.size == 0:
        return np.zeros((a.shape[0], b.shape[0] if b.ndim == 2 else 0), dtype=np.float64)
    return np.clip(a.astype(np.float64) @ b.astype(np.float64).T, -1.0, 1.0)


def clamp01(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else float(value)


def ramp(value: float, low: float, high: float) -> float:
    """0 at or below `low`, 1 at or above `high`, linear between."""
    return clamp01((value - low) / (high - low))


def logistic(value: float, midpoint: float, scale: float) -> float:
    """A smooth 0..1 step at `midpoint` whose width is `scale`."""
    x = (value - midpoint) / scale
    if x < -60:
        return 0.0
    return clamp01(1.0 / (1.0 + math.exp(-x)))


def fmt(value: float) -> str:
    return f"{value:.2f}"


def batch_score(
    scorer: Callable[[ScoreInput, Embed], ScoreResult],
    items: Sequence[ScoreInput],
    embed: Embed,
    texts: Callable[[ScoreInput], Sequence[str]],
) -> list[ScoreResult]:
    """Score items one by one after embedding every text they need in one batch."""
    cached = embed if isinstance(embed, CachedEmbed) else CachedEmbed(embed)
    cached.warm([t for item in items for t in texts(item)])
    return [scorer(item, cached) for item in items]
