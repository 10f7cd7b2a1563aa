"""Quality scorers: pure functions of texts plus an embedding function.

`SCORERS` maps each name to a factory of a fresh `Scorer`. The LLM judge
(`infersight.quality.scorers.judge`) is not in it: it needs an endpoint and does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from infersight.quality.scorers.accuracy import AccuracyScorer
from infersight.quality.scorers.base import (
    CachedEmbed,
    Embed,
    ScoreInput,
    Scorer,
    ScoreResult,
    ScoreSummary,
    summarize,
)
from infersight.quality.scorers.consistency import ConsistencyScorer
from infersight.quality.scorers.hallucination import HallucinationScorer
from infersight.quality.scorers.relevance import RelevanceScorer
from infersight.quality.scorers.toxicity import ToxicityScorer

SCORERS: dict[str, Callable[[], Scorer]] = {
    "accuracy": AccuracyScorer,
    "consistency": ConsistencyScorer,
    "relevance": RelevanceScorer,
    "toxicity": ToxicityScorer,
    "hallucination": HallucinationScorer,
}


def make_scorers(names: Sequence[str] | None = None) -> list[Scorer]:
    """Fresh scorers by name (all of them for None); an unknown name raises ValueError."""
    chosen = list(SCORERS) if names is None else list(names)
    unknown = [n for n in chosen if n not in SCORERS]
    if unknown:
        raise ValueError(
            f"unknown scorer(s) {', '.join(map(repr, unknown))}; known: {', '.join(SCORERS)}"
        )
    return [SCORERS[n]() for n in chosen]


__all__ = [
    "SCORERS",
    "CachedEmbed",
    "Embed",
    "ScoreInput",
    "ScoreResult",
    "ScoreSummary",
    "Scorer",
    "make_scorers",
    "summarize",
]
