"""Scorer plumbing and the text-only paths, on a deterministic fake embedding.

The fake (hashed bag of words, L2-normalised) stands in for the sentence embedder so these
tests pin the arithmetic without the model: it is a mock, used only where the model's meaning
does not matter. The AUROC tests with the real embedder are in test_scorers_auroc.py.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from infersight.quality.scorers import SCORERS, make_scorers
from infersight.quality.scorers.accuracy import score_accuracy
from infersight.quality.scorers.base import (
    CachedEmbed,
    ScoreInput,
    ScoreResult,
    error_result,
    summarize,
)
from infersight.quality.scorers.consistency import score_answers
from infersight.quality.scorers.hallucination import HallucinationScorer, score_hallucination
from infersight.quality.scorers.relevance import (
    is_empty,
    is_refusal,
    score_relevance,
    short_typed_answer,
)
from infersight.quality.scorers.toxicity import ToxicityScorer

DIM = 64


def fake_embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Hashed bag of lower-cased words: same words, same direction (a deterministic fake)."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, t in enumerate(texts):
        for word in re.findall(r"\w+", t.lower()):
            out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norm = np.linalg.norm(out[i])
        out[i] = out[i] / norm if norm else out[i]
    return out


def test_score_result_rejects_out_of_range_and_nan() -> None:
    with pytest.raises(ValueError, match="within"):
        ScoreResult(1.5, "x", "y")
    with pytest.raises(ValueError, match="within"):
        ScoreResult(float("nan"), "x", "y")


def test_cached_embed_batches_misses_and_keeps_order() -> None:
    calls: list[list[str]] = []

    def counting(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        calls.append(list(texts))
        return fake_embed(texts)

    cached = CachedEmbed(counting)
    first = cached(["a b", "c", "a b"])
    again = cached(["c", "d", "a b"])
    assert calls == [["a b", "c"], ["d"]]
    assert np.allclose(first[0], first[2]) and np.allclose(again[2], first[0])
    assert cached.texts_embedded == 3


def test_summarize_counts_errors_apart() -> None:
    results = [
        ScoreResult(1.0, "correct", "", True),
        ScoreResult(0.0, "incorrect", "", False),
        error_result("judge", "HTTP 500"),
    ]
    s = summarize(results)
    assert (s.n, s.n_scored, s.n_errors) == (3, 2, 1)
    assert s.mean_score == 0.5 and s.pass_rate == 0.5


def test_registry_is_explicit_and_rejects_unknown_names() -> None:
    assert set(SCORERS) == {"accuracy", "consistency", "relevance", "toxicity", "hallucination"}
    assert [s.name for s in make_scorers(["relevance"])] == ["relevance"]
    with pytest.raises(ValueError, match=r"unknown scorer.*'acuracy'.*known: accuracy"):
        make_scorers(["acuracy"])


def test_accuracy_exact_contained_and_conflicting_numbers() -> None:
    q = "How many legs does a spider have?"
    assert score_accuracy(ScoreInput(q, "8", ("8",)), fake_embed).score == 1.0
    good = score_accuracy(ScoreInput(q, "A spider has eight legs.", ("8",)), fake_embed)
    bad = score_accuracy(ScoreInput(q, "A spider has six legs.", ("8",)), fake_embed)
    assert good.passed and good.verdict == "correct"
    assert not bad.passed and "numbers" in bad.reason
    empty = score_accuracy(ScoreInput(q, " ", ("8",)), fake_embed)
    assert empty.score == 0.0 and empty.reason == "the answer is empty"
    with pytest.raises(ValueError, match="reference"):
        score_accuracy(ScoreInput(q, "8"), fake_embed)


def test_accuracy_name_conflict_and_surname() -> None:
    q = "Who invented the telephone?"
    ref = ("Alexander Graham Bell",)
    assert score_accuracy(ScoreInput(q, "It was Bell, in 1876.", ref), fake_embed).passed
    wrong = score_accuracy(ScoreInput(q, "Thomas Edison invented it.", ref), fake_embed)
    assert not wrong.passed and "names" in wrong.reason


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that.",
        "As an AI language model, I cannot browse the internet.",
        "I cannot answer this question.",
        "Unfortunately, I am unable to do that.",
        "I don’t know.",
    ],
)
def test_refusals_are_detected(answer: str) -> None:
    assert is_refusal(answer)
    r = score_relevance(ScoreInput("What is inflation?", answer), fake_embed)
    assert (r.verdict, r.score, r.passed) == ("refusal", 0.0, False)


def test_answers_are_not_refusals_and_empty_is_separate() -> None:
    assert not is_refusal("I think the answer is Paris.")
    assert not is_refusal("As a rule, water boils at 100 °C.")
    assert is_empty("  ... ") and is_empty("")
    r = score_relevance(ScoreInput("Why?", "  "), fake_embed)
    assert r.verdict == "empty"


def test_short_typed_answers() -> None:
    assert short_typed_answer("In what year did the Berlin Wall fall?", "In 1989.")
    assert short_typed_answer("Python was created by whom?", "Guido van Rossum.")
    assert not short_typed_answer("How many planets are there?", "World War II ended in 1945.")
    assert not short_typed_answer("What colour is the sky?", "Blue.")


def test_toxicity_combines_profanity_model_and_exemplars() -> None:
    """The profanity model is replaced by a fixed stub here (its real model is tested in
    test_scorers_auroc.py); the exemplar classifier runs on the fake embedding."""

    def stub(texts: Sequence[str]) -> npt.NDArray[np.float64]:
        return np.array([0.97 if "idiot" in t else 0.01 for t in texts])

    scorer = ToxicityScorer(profanity=stub)
    clean, rude, empty = scorer.score_texts(["The capital is Paris.", "You idiot.", ""], fake_embed)
    assert clean.verdict == "clean" and clean.passed
    assert rude.verdict == "toxic" and rude.score >= 0.97 and "offensive" in rude.reason
    assert empty.score == 0.0
    assert set(rude.details) == {
        "offensive",
        "insult",
        "threat",
        "identity_hate",
        "sexual",
        "self_harm",
    }


def test_hallucination_flags_new_numbers_and_names_against_context() -> None:
    ctx = "The bridge opened in 1962. It was designed by Margaret Oyelaran."
    q = "When did the bridge open?"
    ok = score_hallucination(ScoreInput(q, "The bridge opened in 1962.", context=ctx), fake_embed)
    num = score_hallucination(ScoreInput(q, "The bridge opened in 1971.", context=ctx), fake_embed)
    name = score_hallucination(
        ScoreInput(
            q, "The bridge opened in 1962. It was designed by Robert Hastings.", context=ctx
        ),
        fake_embed,
    )
    assert ok.verdict == "supported" and ok.score < 0.5
    assert num.verdict == "hallucinated" and "1971" in num.reason
    assert name.verdict == "hallucinated" and name.details["supported_share"] == 0.5
    assert not HallucinationScorer().applies(ScoreInput(q, "x"))


def test_hallucination_from_resamples_without_reference() -> None:
    q = "When did the first Moon landing happen?"
    samples = ("It happened in 1969.", "The first landing was in 1969.", "In July 1969.")
    agree = score_hallucination(ScoreInput(q, "It was in 1969.", samples=samples), fake_embed)
    odd = score_hallucination(ScoreInput(q, "It was in 1972.", samples=samples), fake_embed)
    assert agree.score < odd.score
    assert odd.verdict == "hallucinated"


def test_consistency_facts_decide_and_need_two_answers() -> None:
    q = "How many continents are there?"
    same = score_answers(["Seven.", "There are 7 continents."], fake_embed, question=q)
    differ = score_answers(["Seven.", "There are 5 continents."], fake_embed, question=q)
    assert same.score == 1.0 and same.verdict == "consistent"
    assert differ.score == 0.0 and differ.details["fact_conflicts"] == 1.0
    with_ref = score_answers(["Seven.", "Five."], fake_embed, question=q, references=["7"])
    assert with_ref.details["reference_agreement"] == 0.5
    with pytest.raises(ValueError, match="at least two"):
        score_answers(["Seven."], fake_embed)


def test_score_many_equals_score() -> None:
    items = [
        ScoreInput("What is the capital of France?", "Paris is the capital.", ("Paris",)),
        ScoreInput("What is 2 + 2?", "It is 5.", ("4",), samples=("4", "four")),
    ]
    for name in ("accuracy", "relevance", "hallucination", "consistency"):
        scorer = SCORERS[name]()
        applicable = [i for i in items if scorer.applies(i)]
        many = scorer.score_many(applicable, fake_embed)
        assert many == [scorer.score(i, fake_embed) for i in applicable]
