"""Sweep mechanics against the sim upstream on 127.0.0.1 (a real server): answers, failures
with reasons, re-samples, the concurrency bound, model discovery; scoring of answered items on
the fake `hash_embed` (see conftest)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from infersight.quality.datasets import load_dataset
from infersight.quality.scorers import make_scorers
from infersight.quality.scorers.base import ScoreInput
from infersight.quality.sweep import (
    Answer,
    SweepError,
    SweepStopped,
    SweepTarget,
    collect_answers,
    parse_chat_completion,
    resolve_model,
    score_items,
)
from infersight.sim.knobs import SimKnobs
from infersight.sim.server import run_sim_in_thread


class Counting:
    def __init__(self) -> None:
        self.total = 0
        self.done: list[bool] = []
        self.ended = False

    def started(self, total: int) -> None:
        self.total = total

    def advanced(self, ok: bool) -> None:
        self.done.append(ok)

    def finished(self) -> None:
        self.ended = True


def test_answers_resamples_and_progress(tiny_dataset: Path) -> None:
    items = load_dataset(tiny_dataset).items
    with run_sim_in_thread(SimKnobs(tokens=6)) as sim:
        progress = Counting()
        target = SweepTarget(sim.url, "sim-model", resamples=2, max_tokens=6)
        answers = asyncio.run(collect_answers(items, target, progress=progress))
    assert [a.item_id for a in answers] == [i.id for i in items]
    assert all(a.ok and a.text and len(a.samples) == 2 for a in answers)
    assert all(a.completion_tokens == 6 and a.latency_s is not None for a in answers)
    assert progress.total == 5 and progress.done == [True] * 5 and progress.ended


def test_failures_carry_the_reason_and_skip_resamples(tiny_dataset: Path) -> None:
    items = load_dataset(tiny_dataset).items
    with run_sim_in_thread(SimKnobs(error_rate=1.0, error_status=503)) as sim:
        answers = asyncio.run(collect_answers(items, SweepTarget(sim.url, "m", resamples=3)))
        assert sim.state.requests_total == 5  # no re-sample of a failed item
    assert all(not a.ok and a.text is None for a in answers)
    assert all(a.error is not None and a.error.startswith("http_503: ") for a in answers)


def test_unreachable_endpoint_fails_every_item(tiny_dataset: Path) -> None:
    items = load_dataset(tiny_dataset).items[:2]
    answers = asyncio.run(collect_answers(items, SweepTarget("http://127.0.0.1:9", "m")))
    assert all(a.error and a.error.startswith("unreachable: cannot reach ") for a in answers)


def test_concurrency_bound_is_respected(tiny_dataset: Path) -> None:
    """The sim admits 2 generations plus 1 waiting and rejects the rest with 503: a sweep with
    concurrency 3 never has a request rejected."""
    items = load_dataset(tiny_dataset).items * 2
    knobs = SimKnobs(tokens=4, ttft_ms=30.0, slots=2, queue_limit=1)
    with run_sim_in_thread(knobs) as sim:
        answers = asyncio.run(collect_answers(items, SweepTarget(sim.url, "m", concurrency=3)))
        assert sim.state.rejected_total == 0
    assert all(a.ok for a in answers)


def test_resolve_model_lists_and_explains_failures() -> None:
    with run_sim_in_thread(SimKnobs(model="tiny-llm")) as sim:
        assert asyncio.run(resolve_model(sim.url)) == "tiny-llm"
        assert asyncio.run(resolve_model(sim.url + "/v1/")) == "tiny-llm"
    with pytest.raises(SweepError, match=r"cannot reach http://127.0.0.1:9/v1/models"):
        asyncio.run(resolve_model("http://127.0.0.1:9"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"choices": [{"message": {"content": "Paris"}}], "usage": {"completion_tokens": 2}},
            ("Paris", 2),
        ),
        ({"choices": [{"message": {"content": None}}]}, ("", None)),
    ],
)  # fmt: skip
def test_parse_chat_completion(body: Any, expected: tuple[str, int | None]) -> None:
    assert parse_chat_completion(body) == expected


@pytest.mark.parametrize(
    "body", [{}, {"choices": []}, {"choices": [{"message": {"content": 3}}]}, []]
)
def test_parse_chat_completion_rejects_other_shapes(body: Any) -> None:
    with pytest.raises(ValueError):
        parse_chat_completion(body)


def test_score_items_skips_failures_uses_group_peers_and_counts_scorer_errors(
    tiny_dataset: Path, hash_embed: Callable[[Sequence[str]], Any]
) -> None:
    items = load_dataset(tiny_dataset).items
    answers = [
        Answer("fr-1", "Paris is the capital."),
        Answer("fr-2", "It is Paris."),
        Answer("add", None, "http_500: boom"),
        Answer("sky", "Blue.", samples=("Blue", "Blue, mostly")),
        Answer("ctx", "Ana lives in Lisbon."),
    ]

    class Broken:
        name = "broken"
        higher_is_better = True

        def applies(self, item: ScoreInput) -> bool:
            return True

        def score(self, item: ScoreInput, embed: Any) -> Any:
            raise AssertionError

        def score_many(self, items: Sequence[ScoreInput], embed: Any) -> Any:
            raise RuntimeError("model missing")

    scorers = [*make_scorers(["accuracy", "consistency", "hallucination"]), Broken()]
    results = score_items(items, answers, scorers, hash_embed)
    by_id = {r.item.id: r for r in results}
    assert by_id["add"].failed and by_id["add"].scores == {}
    assert by_id["fr-1"].scores["accuracy"].passed and by_id["ctx"].scores["accuracy"].passed
    # consistency: fr-1 with its paraphrase fr-2, sky with its re-samples; ctx has neither
    assert by_id["fr-1"].scores["consistency"].details["answers"] == 2
    assert by_id["sky"].scores["consistency"].details["answers"] == 3
    assert "consistency" not in by_id["ctx"].scores
    assert by_id["ctx"].scores["hallucination"].passed
    assert all(r.scores["broken"].error == "model missing" for r in results if not r.failed)


def test_a_stopped_sweep_abandons_scoring_and_is_not_stored(
    tiny_dataset: Path, hash_embed: Callable[[Sequence[str]], Any], tmp_path: Path
) -> None:
    """The worker threads of a cancelled sweep see the stop: scoring stops at the next
    scorer, and the store is not written."""
    import threading

    from infersight.quality.pipeline import _store_and_compare
    from infersight.quality.results import SweepReport
    from infersight.store.sqlite import SqliteStore

    items = load_dataset(tiny_dataset).items
    answers = [Answer(item.id, "Paris") for item in items]
    stop = threading.Event()
    stop.set()
    with pytest.raises(SweepStopped):
        score_items(items, answers, make_scorers(["accuracy"]), hash_embed, stop)
    results = score_items(items, answers, make_scorers(["accuracy"]), hash_embed)
    report = SweepReport(
        id="s1", name="n", dataset="tiny", model="m", endpoint="http://x/v1", started_at=1.0,
        finished_at=2.0, results=tuple(results), groups=(), scorers=(), config={}, notes=(),
    )  # fmt: skip
    store = SqliteStore(tmp_path / "q.db")
    with pytest.raises(SweepStopped):
        _store_and_compare(store, report, 0.05, stop)
    assert store.quality.list_sweeps(0, 2e9) == []
    _store_and_compare(store, report, 0.05, threading.Event())
    assert len(store.quality.list_sweeps(0, 2e9)) == 1
    store.close()
