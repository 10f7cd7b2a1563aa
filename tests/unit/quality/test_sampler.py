"""The live-traffic sampler: which records it takes, bounded queue, scoring off the caller's
thread, the published window series, the drift lookup and the SamplingSink wrapper.

Scoring runs on the fake `hash_embed` (conftest) and a stub offensive-language model (a mock:
the real one is exercised in test_scorers_auroc.py); the refusal and length paths are real."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample, RequestRecord
from infersight.quality.sampler import LiveSampler, SamplerDaemon, SamplingSink
from infersight.quality.scorers.toxicity import ToxicityScorer
from infersight.quality.settings import SamplerSettings


def stub_profanity(texts: Sequence[str]) -> npt.NDArray[np.float64]:
    return np.array([0.95 if "idiot" in t.lower() else 0.01 for t in texts])


def record(i: int, answer: str = "Paris is the capital of France.", **kw: Any) -> RequestRecord:
    base = RequestRecord(
        id=f"r{i}", started_at=1000.0 + i, model="llama", upstream="u", route="chat",
        stream=True, status=200, e2e_s=0.5, completion_tokens=8,
        prompt_text="You are helpful.\nWhat is the capital of France?", response_text=answer,
    )  # fmt: skip
    return replace(base, **kw)


def sampler(hash_embed: Any, **settings: Any) -> LiveSampler:
    s = SamplerSettings.model_validate({"enabled": True, "fraction": 1.0, "seed": 1, **settings})
    return LiveSampler(
        s, load_embed=lambda: hash_embed, toxicity=ToxicityScorer(profanity=stub_profanity)
    )


def by_name(samples: Sequence[MetricSample]) -> dict[str, float]:
    return {s.name: s.value for s in samples}


def test_offer_takes_only_successful_user_records_with_text(hash_embed: Any) -> None:
    s = sampler(hash_embed)
    assert s.offer(record(0))
    assert not s.offer(record(1, source="sweep"))
    assert not s.offer(record(2, status=500, error_class="upstream_5xx"))
    assert not s.offer(record(3, response_text=None))  # capture_text off
    assert not s.offer(record(4, prompt_text=None))
    assert (s.offered_total, s.sampled_total) == (1, 1)


def test_fraction_and_a_full_queue(hash_embed: Any) -> None:
    none = sampler(hash_embed, fraction=0.0)
    assert not any(none.offer(record(i)) for i in range(50))
    some = sampler(hash_embed, fraction=0.3, seed=7)
    taken = sum(some.offer(record(i)) for i in range(1000))
    assert 200 < taken < 400  # seeded draws: about 30 %
    small = sampler(hash_embed, queue_size=3)
    assert [small.offer(record(i)) for i in range(5)] == [True, True, True, False, False]
    assert small.dropped_total == 2


def test_publish_scores_and_aggregates_per_model(hash_embed: Any) -> None:
    s = sampler(hash_embed)
    s.offer(record(0))
    s.offer(record(1, "I'm sorry, but I can't help with that.", completion_tokens=None))
    s.offer(record(2, "You idiot, it is Paris.", completion_tokens=4))
    s.offer(record(3, model="mistral"))
    samples = s.publish(2000.0)
    llama = by_name([x for x in samples if dict(x.labels) == {"model": "llama"}])
    assert llama["quality_live_scored"] == 3
    assert llama["quality_live_refusal_rate"] == pytest.approx(1 / 3)
    # the insult is flagged (the exemplar classifier on the fake embedding may add others)
    assert llama["quality_live_toxicity_rate"] in (pytest.approx(1 / 3), pytest.approx(2 / 3))
    assert llama["quality_live_answer_tokens"] == pytest.approx((8 + 10 + 4) / 3)  # 38 chars / 4
    assert 0.0 <= llama["quality_live_relevance_ci_low"] <= llama["quality_live_relevance"]
    assert llama["quality_live_refusal_rate_ci_high"] <= 1.0
    assert all(x.ts == 2000.0 for x in samples)
    assert (
        by_name([x for x in samples if dict(x.labels) == {"model": "mistral"}])[
            "quality_live_scored"
        ]
        == 1
    )
    assert s.publish(2060.0) == []  # a fresh window: nothing scored since
    found = s.lookup([record(0), record(1), record(9)])
    assert set(found) == {"r0", "r1"} and found["r1"] == 0.0  # a refusal is not relevant


def test_without_the_embedder_refusal_and_length_still_flow(hash_embed: Any) -> None:
    def broken() -> Any:
        raise RuntimeError("the sentence embedding model is not installed")

    s = LiveSampler(SamplerSettings(enabled=True, fraction=1.0), load_embed=broken)
    s.offer(record(0, "As an AI language model I cannot answer."))
    names = by_name(s.publish(1.0))
    assert names["quality_live_refusal_rate"] == 1.0 and "quality_live_relevance" not in names
    assert "quality_live_toxicity_rate" not in names


def test_worker_thread_and_daemon(hash_embed: Any) -> None:
    s = sampler(hash_embed, batch_size=2)
    got: list[MetricSample] = []

    class Sink:
        def submit_many(self, samples: Sequence[MetricSample]) -> int:
            got.extend(samples)
            return len(samples)

    clock = FakeClock(5000.0)
    d = SamplerDaemon(s, clock=clock, sink=Sink())
    s.start()
    for i in range(5):
        s.offer(record(i))
    s.close()  # the worker scores what was queued before the stop marker
    assert s.scored_total == 5
    asyncio.run(d.tick(clock.now()))
    assert by_name(got)["quality_live_scored"] == 5


def test_sampling_sink_forwards_everything(hash_embed: Any) -> None:
    class Inner:
        written_total = 7

        def __init__(self) -> None:
            self.records: list[RequestRecord] = []

        def submit(self, r: RequestRecord) -> bool:
            self.records.append(r)
            return True

    inner = Inner()
    s = sampler(hash_embed)
    sink = SamplingSink(inner, s)
    assert sink.submit(record(0)) is True
    assert sink.submit(record(1, source="loadtest")) is True
    assert [r.id for r in inner.records] == ["r0", "r1"]
    assert s.sampled_total == 1 and sink.written_total == 7
