"""Hallucination: how much of the answer is not backed by its source?

The answer is split into sentences, and each gets a support value in [0, 1]; the score is
1 - mean(support) (0 = every sentence supported) and the verdict is "hallucinated" when any
sentence's support is below SUPPORTED (the reason quotes it). Three sources, by preference:

- context (grounded answers): everything must come from the passage. Numbers or names absent
  from context, question and references drop a sentence to 0. A sentence whose every content
  word is in the context, question or references ("two", "220 °C", "The answer is 45 days.";
  answer glue such as "answer" or "according" does not count), or that states a reference and
  nothing else ("The answer is no."), is supported: short extractive answers embed far from
  whole context sentences, so similarity alone would reject them. Otherwise its
  support is its semantic similarity to the closest context sentence (ramp
  SIM_LOW..SIM_HIGH), times a penalty for content words found in none of them (novel words
  are claims the passage does not make): none up to NOVELTY_FREE of them, total from
  NOVELTY_NONE on.
- reference (short answers): the reference covers the key fact only, so extra detail is not
  punished (a wrong year next to the right name goes unseen), contradiction is: a sentence
  with numbers (names) of its own while the answer gives none of the reference's numbers
  (names) has support 0; one that states the reference has support 1; otherwise its support
  is its similarity to "question + reference", ramped (REF_SIM_LOW..REF_SIM_HIGH).
- samples only (no ground truth): re-sampling divergence, as in SelfCheckGPT: a sentence the
  other samples do not repeat is likely invented. Support is its best similarity to the
  samples' sentences (ramped), times the share of its numbers and names that most samples
  also state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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

SUPPORTED = 0.5
SIM_LOW = 0.2
SIM_HIGH = 0.45
NOVELTY_FREE = 0.2  # this share of new content words costs nothing (paraphrase, glue)
NOVELTY_NONE = 0.6  # from this share on, the sentence is not supported at all
REF_SIM_LOW = 0.15
REF_SIM_HIGH = 0.4
SAMPLE_SIM_LOW = 0.45
SAMPLE_SIM_HIGH = 0.8


@dataclass(frozen=True)
class SentenceSupport:
    sentence: str
    support: float
    why: str


def _mode(item: ScoreInput) -> str | None:
    if item.context and item.context.strip():
        return "context"
    if item.references:
        return "reference"
    if item.samples:
        return "samples"
    return None


def _source_units(item: ScoreInput, mode: str) -> list[str]:
    if mode == "context":
        assert item.context is not None
        return text.split_sentences(item.context) or [item.context]
    if mode == "reference":
        return [f"{item.question} {ref}" for ref in item.references]
    return [s for sample in item.samples for s in (text.split_sentences(sample) or [sample])]


def _answer_sentences(answer: str) -> list[str]:
    return text.split_sentences(answer) or ([answer] if answer.strip() else [])


def _texts(item: ScoreInput) -> list[str]:
    mode = _mode(item)
    if mode is None:
        return []
    return [*_answer_sentences(item.answer), *_source_units(item, mode)]


# Words that frame an answer rather than claim anything ("The answer is ...", "According to
# the passage, ..."): not counted as new words of a grounded answer.
ANSWER_GLUE = frozenset(
    text.content_tokens(
        """answer answers correct response according context passage text document based say
        says stated states mentioned given provided yes"""
    )
)


def _context_support(sentence: str, sim: float, item: ScoreInput) -> SentenceSupport:
    assert item.context is not None
    known = " ".join([item.context, item.question, *item.references])
    new_numbers = text.numbers(sentence) - text.numbers(known)
    if new_numbers:
        shown = ", ".join(f"{n:g}" for n in sorted(new_numbers))
        return SentenceSupport(sentence, 0.0, f"numbers not in the context ({shown})")
    new_names = text.names(sentence, ignore=text.tokens(known))
    if new_names:
        return SentenceSupport(
            sentence, 0.0, f"names not in the context ({', '.join(sorted(new_names))})"
        )
    words = [w for w in text.content_tokens(sentence) if w not in ANSWER_GLUE]
    known_words = set(text.content_tokens(known))
    novelty = sum(1 for w in words if w not in known_words) / len(words) if words else 0.0
    if novelty == 0.0 and words:
        return SentenceSupport(sentence, 1.0, "every content word is in the context")
    if novelty == 0.0 and any(text.contains_phrase(sentence, ref) for ref in item.references):
        return SentenceSupport(sentence, 1.0, "states the reference")  # "The answer is no."
    support = ramp(sim, SIM_LOW, SIM_HIGH) * (1.0 - ramp(novelty, NOVELTY_FREE, NOVELTY_NONE))
    return SentenceSupport(
        sentence, support, f"similarity {fmt(sim)} to the context, {novelty:.0%} new words"
    )


def _reference_support(
    sentence: str, sim: float, item: ScoreInput, answer_numbers: set[float], answer_names: set[str]
) -> SentenceSupport:
    question_tokens = text.tokens(item.question)
    ref_text = " ".join(item.references)
    ref_numbers = text.numbers(ref_text)
    ref_names = text.names(ref_text, ignore=question_tokens)
    own_numbers = text.numbers(sentence) - text.numbers(item.question)
    own_names = text.names(sentence, ignore=question_tokens)
    if ref_numbers and own_numbers and not (ref_numbers & answer_numbers):
        return SentenceSupport(sentence, 0.0, "numbers that contradict the reference")
    if ref_names and own_names and not (ref_names & answer_names):
        shown = ", ".join(sorted(own_names))
        return SentenceSupport(sentence, 0.0, f"names that contradict the reference ({shown})")
    if (
        (own_numbers & ref_numbers)
        or (own_names & ref_names)
        or any(text.contains_phrase(sentence, ref) for ref in item.references)
    ):
        return SentenceSupport(sentence, 1.0, "states the reference")
    support = ramp(sim, REF_SIM_LOW, REF_SIM_HIGH)
    return SentenceSupport(sentence, support, f"similarity {fmt(sim)} to the reference")


def _sample_support(sentence: str, sim: float, item: ScoreInput) -> SentenceSupport:
    facts = [f"{n:g}" for n in text.numbers(sentence) - text.numbers(item.question)]
    facts_names = sorted(text.names(sentence, ignore=text.tokens(item.question)))
    sample_numbers = [text.numbers(s) for s in item.samples]
    sample_tokens = [set(text.tokens(s)) for s in item.samples]
    majority = len(item.samples) / 2.0
    checked = 0
    agreed = 0
    for n in text.numbers(sentence) - text.numbers(item.question):
        checked += 1
        agreed += sum(1 for nums in sample_numbers if n in nums) >= majority
    for name in facts_names:
        checked += 1
        agreed += sum(1 for toks in sample_tokens if name in toks) >= majority
    fact_share = agreed / checked if checked else 1.0
    support = ramp(sim, SAMPLE_SIM_LOW, SAMPLE_SIM_HIGH) * fact_share
    why = f"similarity {fmt(sim)} to the other samples"
    if checked:
        why += f", {agreed} of {checked} numbers/names repeated ({', '.join(facts + facts_names)})"
    return SentenceSupport(sentence, support, why)


def sentence_supports(item: ScoreInput, embed: Embed) -> list[SentenceSupport]:
    """Support of each answer sentence against the item's best available source."""
    mode = _mode(item)
    if mode is None:
        raise ValueError("hallucination needs a context, a reference or re-samples")
    sentences = _answer_sentences(item.answer)
    if not sentences:
        return []
    units = _source_units(item, mode)
    vectors = embed([*sentences, *units])
    sims = cosine_matrix(vectors[: len(sentences)], vectors[len(sentences) :])
    best = sims.max(axis=1) if sims.size else np.zeros(len(sentences))
    answer_numbers = text.numbers(item.answer)
    answer_names = text.names(item.answer, ignore=text.tokens(item.question))
    out: list[SentenceSupport] = []
    for sentence, sim in zip(sentences, best, strict=True):
        if mode == "context":
            out.append(_context_support(sentence, float(sim), item))
        elif mode == "reference":
            out.append(_reference_support(sentence, float(sim), item, answer_numbers, answer_names))
        else:
            out.append(_sample_support(sentence, float(sim), item))
    return out


def score_hallucination(item: ScoreInput, embed: Embed) -> ScoreResult:
    supports = sentence_supports(item, embed)
    if not supports:
        return ScoreResult(0.0, "supported", "the answer is empty: nothing to check", True, {})
    mean_support = sum(s.support for s in supports) / len(supports)
    unsupported = [s for s in supports if s.support < SUPPORTED]
    score = 1.0 - mean_support
    share = 1.0 - len(unsupported) / len(supports)
    details = {
        "supported_share": share,
        "mean_support": mean_support,
        "sentences": float(len(supports)),
    }
    source = _mode(item)
    if not unsupported:
        reason = f"all {len(supports)} sentence(s) are supported by the {source}"
        return ScoreResult(score, "supported", reason, True, details)
    worst = min(unsupported, key=lambda s: s.support)
    reason = (
        f"{len(unsupported)} of {len(supports)} sentence(s) not supported by the {source}; "
        f"e.g. {worst.sentence[:80]!r}: {worst.why}"
    )
    return ScoreResult(score, "hallucinated", reason, False, details)


class HallucinationScorer:
    name = "hallucination"
    higher_is_better = False

    def applies(self, item: ScoreInput) -> bool:
        return _mode(item) is not None

    def score(self, item: ScoreInput, embed: Embed) -> ScoreResult:
        return score_hallucination(item, embed)

    def score_many(self, items: Sequence[ScoreInput], embed: Embed) -> list[ScoreResult]:
        return batch_score(score_hallucination, items, embed, _texts)
