"""Accuracy: does the answer give one of the reference answers?

Per reference, three signals, and the best reference wins:

- exact match of the normalised texts (SQuAD normalisation): score 1;
- lexical: the reference phrase inside the answer, or the reference's numbers all given
  ("32 degrees" for "32 °F"), or a person's surname ("Bell" for "Alexander Graham Bell"):
  CONTAINED_SCORE; else token F1 of the answer, and of the answer without the question's
  words (models restate the question: "The capital of France is Paris" against "Paris");
- semantic: cosine similarity of the answer without the question's words to the reference,
  mapped linearly from [SEM_LOW, SEM_HIGH] to [0, 1] and weighted by SEM_WEIGHT, so that a
  paraphrase ("two" for "2", "Pacific" for "the Pacific Ocean") counts but similarity alone
  cannot reach full marks.

Numbers and names decide: when the reference holds numbers and the answer holds numbers of its
own but none of the reference's, or the same for names (capitalised words not in the
question), the answer is wrong whatever the wording (score x CONFLICT_PENALTY): embeddings
hardly tell 1945 from 1954, or Sydney from Canberra. Plurals are folded ("avocados").
The verdict is "correct" when the score is >= THRESHOLD (0.5).
"""

from __future__ import annotations

from collections.abc import Sequence

from infersight.quality.scorers import text
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
CONTAINED_SCORE = 0.9
SEM_LOW = 0.45
SEM_HIGH = 0.9
SEM_WEIGHT = 0.8
CONFLICT_PENALTY = 0.2


def _residual(answer: str, question: str) -> str:
    """The answer without the question's content words (what the answer adds)."""
    rest = text.without_tokens(answer, text.content_tokens(question))
    return rest if rest.strip() else text.normalize(answer)


def _conflict(answer: str, question: str, reference: str) -> str | None:
    """ "numbers" or "names" when the answer gives its own where the reference has others."""
    ref_numbers = text.numbers(reference)
    answer_numbers = text.numbers(answer) - text.numbers(question)
    if ref_numbers and answer_numbers and not (ref_numbers & answer_numbers):
        return "numbers"
    ref_names = text.names(reference)
    answer_names = text.names(answer, ignore=text.tokens(question))
    if ref_names and answer_names and not (ref_names & answer_names):
        return "names"
    return None


def _surname_given(answer: str, question: str, reference: str) -> bool:
    """The reference is a person's name ("Alexander Graham Bell") and the answer gives its
    last part ("Bell") without naming anyone else."""
    words = reference.split()
    ref_names = text.names(reference)
    if len(words) < 2 or len(ref_names) < 2 or not words[-1][:1].isupper():
        return False
    surname = text.normalize(words[-1])
    return surname in text.names(answer, ignore=text.tokens(question))


def _numbers_given(answer: str, reference: str) -> bool:
    """The reference is mainly a number (with a unit) and the answer gives that number."""
    ref_numbers = text.numbers(reference)
    return bool(ref_numbers) and ref_numbers <= text.numbers(answer)


def accuracy_texts(item: ScoreInput) -> list[str]:
    """Every text `score_accuracy` embeds for this item (to embed a sweep's in one batch)."""
    return [_residual(item.answer, item.question), *item.references]


def score_accuracy(item: ScoreInput, embed: Embed) -> ScoreResult:
    """Best match of the answer against any reference; needs at least one reference."""
    if not item.references:
        raise ValueError("accuracy needs at least one reference answer")
    if not item.answer.strip():
        return ScoreResult(0.0, "incorrect", "the answer is empty", False, {})
    residual = _residual(item.answer, item.question)
    vectors = embed([residual, *item.references])
    sims = cosine_matrix(vectors[:1], vectors[1:])[0]
    best: tuple[float, str, dict[str, float]] = (-1.0, "", {})
    for i, ref in enumerate(item.references):
        em = text.exact_match(item.answer, ref)
        contained = text.contains_phrase(item.answer, ref)
        f1 = max(text.token_f1(item.answer, ref), text.token_f1(residual, ref))
        sem = float(sims[i])
        given = _numbers_given(item.answer, ref) or _surname_given(item.answer, item.question, ref)
        lexical = 1.0 if em else max(CONTAINED_SCORE if contained or given else 0.0, f1)
        semantic = SEM_WEIGHT * ramp(sem, SEM_LOW, SEM_HIGH)
        score = max(lexical, semantic)
        conflict = _conflict(item.answer, item.question, ref)
        if conflict:
            score *= CONFLICT_PENALTY
        if em:
            why = f"matches the reference {ref!r} exactly"
        elif conflict:
            why = f"gives {conflict} that differ from the reference {ref!r}"
        elif given and not contained:
            why = f"gives the key number or name of the reference {ref!r}"
        elif contained:
            why = f"contains the reference {ref!r}"
        elif lexical >= semantic:
            why = f"shares words with the reference {ref!r} (token F1 {fmt(f1)})"
        else:
            why = f"is similar in meaning to the reference {ref!r} (cosine {fmt(sem)})"
        details = {
            "exact_match": float(em),
            "token_f1": f1,
            "semantic": sem,
            "contains_reference": float(contained),
            "conflict": float(conflict is not None),
        }
        if score > best[0]:
            best = (score, why, details)
    score, why, details = best
    passed = score >= THRESHOLD
    reason = f"the answer {why}" + ("" if passed else f"; score {fmt(score)} < {THRESHOLD}")
    return ScoreResult(score, "correct" if passed else "incorrect", reason, passed, details)


class AccuracyScorer:
    name = "accuracy"
    higher_is_better = True

    def applies(self, item: ScoreInput) -> bool:
        return bool(item.references)

    def score(self, item: ScoreInput, embed: Embed) -> ScoreResult:
        return score_accuracy(item, embed)

    def score_many(self, items: Sequence[ScoreInput], embed: Embed) -> list[ScoreResult]:
        return batch_score(score_accuracy, items, embed, accuracy_texts)


__all__ = ["THRESHOLD", "AccuracyScorer", "accuracy_texts", "score_accuracy"]
