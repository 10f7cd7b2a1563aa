"""Scorer validity: AUROC of each quality scorer on labelled fixtures and on generated
degradations of good answers, and the time to score a 100-item sweep.

Targets: AUROC >= 0.9 for accuracy, relevance and toxicity, >= 0.8 for hallucination;
a 100-item sweep with every scorer (no judge endpoint) in < 10 s.

Good answers: tests/fixtures/quality/default_answers.jsonl, one hand-written answer per item
of the packaged default dataset. Degradations, each made from one good answer (seeded):
  truncated     the first half of its words, kept only when the reference no longer shows
  swapped       the good answer of an item from another paraphrase group
  wrong_number  the numbers its reference gives (the key fact) replaced by other plausible ones
  wrong_detail  grounded items: numbers from the context that are not the asked fact, changed
  wrong_name    the reference's name replaced by another item's reference that is a name
  insult        an insult (or threat) sentence added before or after the answer
  refusal       a refusal instead of the answer
Which degradations count as "bad" per scorer: accuracy (truncated, swapped, wrong_number,
wrong_name), relevance (swapped, refusal), toxicity (insult), hallucination (swapped,
wrong_number, wrong_name); consistency: paraphrase groups with one answer swapped or given a
wrong number/name, against the intact groups. Toxicity and hallucination are "higher is
worse", so the degraded answers are their positive class. hallucination also counts
wrong_detail. A wrong incidental detail in an answer that has only a short reference (no
context) is not in the set: no source can check it (re-sampling divergence can; see README).

Run:
    .venv/bin/python bench/scorer_validity.py [--seed N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from infersight.core.metrics_auc import auroc
from infersight.quality.datasets import DatasetItem, default_dataset
from infersight.quality.embedder import get_embedder
from infersight.quality.scorers import text
from infersight.quality.scorers.accuracy import AccuracyScorer
from infersight.quality.scorers.base import CachedEmbed, ScoreInput
from infersight.quality.scorers.consistency import ConsistencyScorer
from infersight.quality.scorers.hallucination import HallucinationScorer
from infersight.quality.scorers.relevance import RelevanceScorer
from infersight.quality.scorers.toxicity import ToxicityScorer, load_profanity_model

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "quality"
TARGETS = {
    "accuracy": 0.9,
    "relevance": 0.9,
    "toxicity": 0.9,
    "hallucination": 0.8,
    "consistency": 0.8,
}
SWEEP_TARGET_S = 10.0

# Not in the toxicity exemplars nor in the toxicity fixture.
INSULTS = (
    "Honestly, only a fool would need to ask that.",
    "Figure it out yourself next time, you halfwit.",
    "What a dumb thing to ask, seriously.",
    "Even a child knows this, you ignorant clown.",
    "Stop wasting my time with your idiotic questions.",
    "You are hopeless and pathetic.",
    "Ask me again and I will come to your door and make you regret it.",
    "People like you are a plague on this planet.",
)
REFUSALS = (
    "I'm sorry, but I can't help with that.",
    "As an AI language model, I cannot provide that information.",
    "I cannot answer this question.",
)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def refs(row: dict[str, Any]) -> tuple[str, ...]:
    ref = row.get("reference")
    return () if ref is None else (ref,) if isinstance(ref, str) else tuple(ref)


@dataclass(frozen=True)
class Case:
    item: DatasetItem
    answer: str
    kind: str  # "good" or a degradation name


def _shows_reference(answer: str, item: DatasetItem) -> bool:
    for ref in item.references:
        if text.contains_phrase(answer, ref):
            return True
        if text.numbers(ref) and text.numbers(ref) <= text.numbers(answer):
            return True
        if text.names(ref) & text.names(answer, ignore=text.tokens(item.question)):
            return True
    return False


def _shift_number(match: re.Match[str], rng: random.Random) -> str:
    raw = match.group()
    value = float(raw.replace(",", ""))
    new = value
    while new == value:
        new = value * rng.choice((0.5, 0.75, 1.5, 2.0)) + rng.choice((-3, -1, 1, 3))
    if "." in raw:
        return f"{new:.{len(raw.split('.')[1])}f}"
    out = str(round(new))
    return f"{int(out):,}" if "," in raw else out


def _is_name(ref: str) -> bool:
    """ "Neil Armstrong", "Guido van Rossum", "Tokyo": capitalised words only, no digits."""
    words = ref.split()
    return 1 <= len(words) <= 4 and all(
        re.fullmatch(r"[A-Z][a-z]+", w) or w in ("van", "de", "da", "von") for w in words
    )


def _wrong_numbers(answer: str, source: set[float], rng: random.Random) -> str | None:
    """The answer with the numbers in `source` changed, or None when it has none of them."""

    def shift(m: re.Match[str]) -> str:
        value = float(m.group().replace(",", ""))
        return _shift_number(m, rng) if value in source else m.group()

    wrong = re.sub(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", shift, answer)
    for word, repl in _WORD_NUMBERS.items():
        if text.numbers(word) and text.numbers(word) <= source:
            wrong = re.sub(rf"\b{word}\b", repl, wrong, flags=re.IGNORECASE)
    return wrong if wrong != answer else None


_WORD_NUMBERS = {
    "eight": "six",
    "two": "three",
    "nine": "seven",
    "twelve": "ten",
    "fifteen": "twenty",
    "one": "two",
    "seven": "five",
    "six": "four",
}


def degrade(items: Sequence[DatasetItem], good: dict[str, str], seed: int) -> list[Case]:
    rng = random.Random(seed)
    name_pool = sorted({r for it in items for r in it.references if _is_name(r)})
    cases: list[Case] = []
    for item in items:
        answer = good[item.id]
        cases.append(Case(item, answer, "good"))
        words = answer.split()
        cut = " ".join(words[: max(1, len(words) // 2)])
        if len(words) > 2 and not _shows_reference(cut, item):
            cases.append(Case(item, cut, "truncated"))
        others = [
            o
            for o in items
            if o.id != item.id
            and (item.paraphrase_group is None or o.paraphrase_group != item.paraphrase_group)
            and (item.context is None or o.context != item.context)
        ]
        cases.append(Case(item, good[rng.choice(others).id], "swapped"))
        ref_numbers = text.numbers(" ".join(item.references))
        wrong = _wrong_numbers(answer, ref_numbers, rng)
        if wrong is not None:
            cases.append(Case(item, wrong, "wrong_number"))
        wrong = _wrong_numbers(answer, text.numbers(item.context or "") - ref_numbers, rng)
        if wrong is not None:
            cases.append(Case(item, wrong, "wrong_detail"))
        for ref in item.references:
            if _is_name(ref) and ref.lower() in answer.lower():
                choices = [n for n in name_pool if n not in item.references]
                wrong = re.sub(re.escape(ref), rng.choice(choices), answer, flags=re.IGNORECASE)
                cases.append(Case(item, wrong, "wrong_name"))
                break
        insult = rng.choice(INSULTS)
        cases.append(
            Case(
                item, f"{insult} {answer}" if rng.random() < 0.5 else f"{answer} {insult}", "insult"
            )
        )
        cases.append(Case(item, rng.choice(REFUSALS), "refusal"))
    return cases


def to_input(case: Case, samples: tuple[str, ...] = ()) -> ScoreInput:
    it = case.item
    return ScoreInput(it.question, case.answer, it.references, it.context, samples)


BAD_KINDS = {
    "accuracy": ("truncated", "swapped", "wrong_number", "wrong_name"),
    "relevance": ("swapped", "refusal"),
    "toxicity": ("insult",),
    "hallucination": ("swapped", "wrong_number", "wrong_detail", "wrong_name"),
}


@dataclass
class Row:
    scorer: str
    source: str
    n_pos: int
    n_neg: int
    auc: float


def auc_row(
    scorer: str, source: str, scores: list[float], bad: list[bool], higher_is_better: bool
) -> Row:
    """AUROC with the scorer's positive class: good answers, or bad ones for 'worse' scores."""
    labels = [not b for b in bad] if higher_is_better else bad
    return Row(scorer, source, sum(labels), len(labels) - sum(labels), auroc(scores, labels))


def degradation_rows(cases: list[Case], embed: CachedEmbed) -> list[Row]:
    scorers = {
        "accuracy": AccuracyScorer(),
        "relevance": RelevanceScorer(),
        "toxicity": ToxicityScorer(),
        "hallucination": HallucinationScorer(),
    }
    rows: list[Row] = []
    for name, scorer in scorers.items():
        chosen = [c for c in cases if c.kind == "good" or c.kind in BAD_KINDS[name]]
        results = scorer.score_many([to_input(c) for c in chosen], embed)
        scores = [r.score for r in results]
        bad = [c.kind != "good" for c in chosen]
        rows.append(auc_row(name, "degradations", scores, bad, scorer.higher_is_better))
        for kind in BAD_KINDS[name]:
            sub = [
                (s, c.kind != "good")
                for s, c in zip(scores, chosen, strict=True)
                if c.kind in ("good", kind)
            ]
            rows.append(
                auc_row(
                    name,
                    f"  {kind}",
                    [s for s, _ in sub],
                    [b for _, b in sub],
                    scorer.higher_is_better,
                )
            )
    return rows


def consistency_rows(cases: list[Case], embed: CachedEmbed, seed: int) -> list[Row]:
    rng = random.Random(seed + 1)
    by_group: dict[str, list[Case]] = {}
    bad_by_item: dict[str, list[Case]] = {}
    for c in cases:
        if c.item.paraphrase_group is None:
            continue
        if c.kind == "good":
            by_group.setdefault(c.item.paraphrase_group, []).append(c)
        elif c.kind in ("swapped", "wrong_number", "wrong_name"):
            bad_by_item.setdefault(c.item.id, []).append(c)
    groups: list[tuple[list[str], bool, DatasetItem]] = []
    for members in by_group.values():
        answers = [c.answer for c in members]
        groups.append((answers, False, members[0].item))
        victim = rng.randrange(len(members))
        options = bad_by_item.get(members[victim].item.id, [])
        if options:
            broken = list(answers)
            broken[victim] = rng.choice(options).answer
            groups.append((broken, True, members[0].item))
    rows: list[Row] = []
    scorer = ConsistencyScorer()
    for label, with_ref in (("groups, with reference", True), ("groups, no reference", False)):
        inputs = [
            ScoreInput(it.question, a[0], it.references if with_ref else (), samples=tuple(a[1:]))
            for a, _, it in groups
        ]
        results = scorer.score_many(inputs, embed)
        rows.append(
            auc_row(
                "consistency",
                label,
                [r.score for r in results],
                [bad for _, bad, _ in groups],
                True,
            )
        )
    return rows


def fixture_rows(embed: CachedEmbed) -> list[Row]:
    rows: list[Row] = []
    data = read_jsonl(FIXTURES / "accuracy.jsonl")
    res = AccuracyScorer().score_many(
        [ScoreInput(r["question"], r["answer"], refs(r)) for r in data], embed
    )
    rows.append(
        auc_row("accuracy", "fixture", [x.score for x in res], [not r["label"] for r in data], True)
    )
    data = read_jsonl(FIXTURES / "relevance.jsonl")
    res = RelevanceScorer().score_many(
        [ScoreInput(r["question"], r["answer"]) for r in data], embed
    )
    rows.append(
        auc_row(
            "relevance", "fixture", [x.score for x in res], [not r["label"] for r in data], True
        )
    )
    data = read_jsonl(FIXTURES / "toxicity.jsonl")
    res = ToxicityScorer().score_texts([r["text"] for r in data], embed)
    rows.append(
        auc_row(
            "toxicity", "fixture", [x.score for x in res], [bool(r["label"]) for r in data], False
        )
    )
    data = read_jsonl(FIXTURES / "hallucination.jsonl")
    res = HallucinationScorer().score_many(
        [ScoreInput(r["question"], r["answer"], refs(r), r.get("context")) for r in data], embed
    )
    rows.append(
        auc_row(
            "hallucination",
            "fixture",
            [x.score for x in res],
            [bool(r["label"]) for r in data],
            False,
        )
    )
    data = read_jsonl(FIXTURES / "consistency.jsonl")
    res = ConsistencyScorer().score_many(
        [
            ScoreInput(r["question"], r["answers"][0], refs(r), samples=tuple(r["answers"][1:]))
            for r in data
        ],
        embed,
    )
    rows.append(
        auc_row(
            "consistency", "fixture", [x.score for x in res], [not r["label"] for r in data], True
        )
    )
    return rows


def holdout_rows(embed: CachedEmbed) -> list[Row]:
    """holdout.jsonl: written after the thresholds were set and never used to tune them.
    label 1 = the scorer's property (correct, relevant, toxic, hallucinated)."""
    data = read_jsonl(FIXTURES / "holdout.jsonl")
    scorers = {
        "accuracy": AccuracyScorer(),
        "relevance": RelevanceScorer(),
        "toxicity": ToxicityScorer(),
        "hallucination": HallucinationScorer(),
    }
    rows: list[Row] = []
    for name, scorer in scorers.items():
        sub = [r for r in data if r["scorer"] == name]
        res = scorer.score_many(
            [ScoreInput(r["question"], r["answer"], refs(r), r.get("context")) for r in sub], embed
        )
        bad = [bool(r["label"]) != scorer.higher_is_better for r in sub]
        rows.append(auc_row(name, "held-out", [x.score for x in res], bad, scorer.higher_is_better))
    return rows


def time_sweep(items: Sequence[DatasetItem], good: dict[str, str]) -> dict[str, float]:
    """Every scorer over the 100 items (consistency once per paraphrase group), fresh cache."""
    embedder = get_embedder()
    embed = CachedEmbed(embedder.encode)
    started = time.perf_counter()
    inputs = [ScoreInput(i.question, good[i.id], i.references, i.context) for i in items]
    timings: dict[str, float] = {}
    for scorer in (AccuracyScorer(), RelevanceScorer(), ToxicityScorer(), HallucinationScorer()):
        t0 = time.perf_counter()
        scorer.score_many([x for x in inputs if scorer.applies(x)], embed)
        timings[scorer.name] = time.perf_counter() - t0
    groups: dict[str, list[DatasetItem]] = {}
    for i in items:
        if i.paraphrase_group:
            groups.setdefault(i.paraphrase_group, []).append(i)
    t0 = time.perf_counter()
    ConsistencyScorer().score_many(
        [
            ScoreInput(
                m[0].question,
                good[m[0].id],
                m[0].references,
                samples=tuple(good[x.id] for x in m[1:]),
            )
            for m in groups.values()
        ],
        embed,
    )
    timings["consistency"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    timings["texts_embedded"] = float(embed.texts_embedded)
    return timings


def _other_load() -> float:
    """Load average per core over the last minute (other jobs disturb the timings)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0]) / (os.cpu_count() or 1)
    except OSError:
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    t0 = time.perf_counter()
    get_embedder()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_profanity_model()
    profanity_load_s = time.perf_counter() - t0

    dataset = default_dataset()
    good = {r["id"]: r["answer"] for r in read_jsonl(FIXTURES / "default_answers.jsonl")}
    items = list(dataset)
    sweep = time_sweep(items, good)
    with threadpool_limits(limits=1, user_api="blas"):
        sweep_1 = time_sweep(items, good)

    cases = degrade(items, good, args.seed)
    embed = CachedEmbed(get_embedder().encode)
    rows = fixture_rows(embed) + holdout_rows(embed) + degradation_rows(cases, embed)
    rows += consistency_rows(cases, embed, args.seed)

    counts: dict[str, int] = {}
    for c in cases:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    print(
        f"default dataset: {len(items)} items; cases: "
        + ", ".join(f"{k} {n}" for k, n in counts.items())
    )
    print()
    print(f"| {'scorer':<13} | {'set':<24} | {'pos':>4} | {'neg':>4} | {'AUROC':>6} | target |")
    print(f"|{'-' * 15}|{'-' * 26}|{'-' * 6}|{'-' * 6}|{'-' * 8}|--------|")
    for r in rows:
        target = TARGETS[r.scorer]
        mark = "" if r.source.startswith("  ") else ("ok" if r.auc >= target else "MISS")
        print(
            f"| {r.scorer:<13} | {r.source:<24} | {r.n_pos:>4} | {r.n_neg:>4} | "
            f"{r.auc:>6.3f} | {'≥' + str(target) + ' ' + mark if mark else '':<6} |"
        )
    print()
    print(
        f"100-item sweep (all scorers, no judge; embedder and profanity model loaded): "
        f"{sweep['total']:.2f} s  [target < {SWEEP_TARGET_S:.0f} s]  "
        f"{int(sweep['texts_embedded'])} texts embedded"
    )
    print(f"  the same with BLAS limited to 1 thread: {sweep_1['total']:.2f} s")
    print(
        "  per scorer: "
        + ", ".join(
            f"{k} {v:.2f} s" for k, v in sweep.items() if k not in ("total", "texts_embedded")
        )
    )
    print(f"  load average per core at the end: {_other_load():.2f}")
    print(f"  one-time loads: embedder {load_s:.2f} s, profanity model {profanity_load_s:.2f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": [r.__dict__ for r in rows],
                    "sweep_s": sweep,
                    "sweep_1_blas_thread_s": sweep_1,
                    "load_s": {"embedder": load_s, "profanity": profanity_load_s},
                    "cases": counts,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
