"""Consistency: do several answers to the same question agree?

The answers are the item's answer plus its `samples`: the answers to the other paraphrases of
one question (a paraphrase group) or N re-samples of one question (self-consistency); the
scorer is the same. For every pair of answers, agreement is

- 1 if both are correct against a reference, 0 if exactly one is (the reference settles it);
- otherwise 1 when they state the same number or name (or one answer's content words all occur
  in the other: "Oxygen." and "O is the symbol for oxygen."), 0 when they state different ones
  (embeddings barely tell "in 1969" from "in 1972"), and when the facts do not decide, the
  cosine similarity of the two answers ramped from SIM_LOW to SIM_HIGH.

score = mean pairwise agreement; "consistent" when >= THRESHOLD. The share of answers that
agree with the reference is reported in `details` and in the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from infersight.quality.scorers import text
from infersight.quality.scorers.accuracy import accuracy_texts, score_accuracy
from infersight.quality.scorers.base import (
    Embed,
    ScoreInput,
    ScoreResult,
    batch_score,
    cosine_matrix,
    fmt,
    ramp,
)

THRESHOLD = 0.5
SIM_LOW = 0.5
SIM_HIGH = 0.85


def facts_agreement(a: str, b: str, question: str) -> bool | None:
    """True when two answers state the same number or name (or one's content words are all in
    the other: "Oxygen." and "O is the symbol for oxygen."), False when they state different
    ones, None when the facts do not decide."""
    qn, qt = text.numbers(question), text.tokens(question)
    na, nb = text.numbers(a) - qn, text.numbers(b) - qn
    if na and nb:
        return bool(na & nb)
    ma, mb = text.names(a, ignore=qt), text.names(b, ignore=qt)
    if ma and mb:
        return bool(ma & mb)
    ca, cb = set(text.content_tokens(a)), set(text.content_tokens(b))
    if (ca and ca <= set(text.stems(b))) or (cb and cb <= set(text.stems(a))):
        return True
    return None


def _answers(item: ScoreInput) -> list[str]:
    return [item.answer, *item.samples]


def _texts(item: ScoreInput) -> list[str]:
    out = _answers(item)
    if item.references:
        for answer in out[:]:
            out += accuracy_texts(ScoreInput(item.question, answer, item.references))
    return out


def score_answers(
    answers: Sequence[str], embed: Embed, *, question: str = "", references: Sequence[str] = ()
) -> ScoreResult:
    """Agreement of two or more answers to one question (optionally checked on references)."""
    if len(answers) < 2:
        raise ValueError(f"consistency needs at least two answers, got {len(answers)}")
    vectors = embed(list(answers))
    sims = cosine_matrix(vectors, vectors)
    correct: list[bool] | None = None
    if references:
        correct = [
            bool(score_accuracy(ScoreInput(question, a, tuple(references)), embed).passed)
            for a in answers
        ]
    agreements: list[float] = []
    conflicts = 0
    for i, j in combinations(range(len(answers)), 2):
        if correct is not None and (correct[i] or correct[j]):
            agreements.append(1.0 if correct[i] and correct[j] else 0.0)
            continue
        facts = facts_agreement(answers[i], answers[j], question)
        if facts is False:
            conflicts += 1
        if facts is not None:
            agreements.append(float(facts))
            continue
        agreements.append(ramp(float(sims[i, j]), SIM_LOW, SIM_HIGH))
    score = sum(agreements) / len(agreements)
    n = len(answers)
    mean_sim = float((sims.sum() - n) / (n * (n - 1)))
    details = {
        "pairwise_similarity": mean_sim,
        "answers": float(n),
        "fact_conflicts": float(conflicts),
    }
    parts = [f"mean pairwise agreement {fmt(score)} over {n} answers (cosine {fmt(mean_sim)})"]
    if conflicts:
        parts.append(f"{conflicts} pair(s) state different numbers or names")
    if correct is not None:
        share = sum(correct) / n
        details["reference_agreement"] = share
        parts.append(f"{sum(correct)} of {n} agree with the reference")
    passed = score >= THRESHOLD
    return ScoreResult(
        score, "consistent" if passed else "inconsistent", "; ".join(parts), passed, details
    )


def score_consistency(item: ScoreInput, embed: Embed) -> ScoreResult:
    return score_answers(_answers(item), embed, question=item.question, references=item.references)


class ConsistencyScorer:
    """Scores `answer` together with `samples` (paraphrase-group answers or re-samples)."""

    name = "consistency"
    higher_is_better = True

    def applies(self, item: ScoreInput) -> bool:
        return len(item.samples) >= 1

    def score(self, item: ScoreInput, embed: Embed) -> ScoreResult:
        return score_consistency(item, embed)

    def score_many(self, items: Sequence[ScoreInput], embed: Embed) -> list[ScoreResult]:
        return batch_score(score_consistency, items, embed, _texts)
