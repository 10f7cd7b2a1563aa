"""Series derived from request records: the per-minute math (pure) and compact() writing it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from infersight.core.derived import (
    DERIVED_QUANTILES,
    DERIVED_SERIES,
    FinishedRequest,
    derive_minutes,
    minute_samples,
)
from infersight.core.records import RequestRecord
from infersight.settings import RetentionSettings
from infersight.store.derived import DERIVED_SERIES as STORE_TABLE
from infersight.store.sqlite import SqliteStore

M0 = 1_699_999_200.0  # a minute (and hour) boundary
USER = (("model", "llama"), ("source", "user"), ("upstream", "vllm-a"))


def finished(i: int, **kw: object) -> FinishedRequest:
    base = FinishedRequest(
        finished_at=M0 + i,
        model="llama",
        upstream="vllm-a",
        source="user",
        error_class=None,
        ttft_s=0.1 * (i + 1),
        itl_mean_s=0.02,
        tpot_s=0.03,
        e2e_s=1.5,
        completion_tokens=100,
        inflight_at_start=i,
    )
    return base._replace(**kw)


def test_minute_samples_cover_every_documented_series() -> None:
    requests = [finished(i) for i in range(7)] + [
        finished(7, error_class="client_disconnect"),  # an error, not the serving side's
        finished(8, error_class="upstream_timeout", ttft_s=None, completion_tokens=None),
        finished(9, error_class="upstream_5xx", ttft_s=None, completion_tokens=0),
    ]
    samples = minute_samples(M0, requests)
    assert {s.name for s in samples} == set(DERIVED_SERIES) == set(STORE_TABLE)
    assert all(s.ts == M0 for s in samples)
    plain = {s.name: s.value for s in samples if s.labels == USER}
    assert plain == {
        "requests_per_s": 10 / 60,
        "request_errors_per_s": 3 / 60,
        "request_serving_errors_per_s": 2 / 60,
        "request_error_ratio": 0.3,
        "output_tokens_per_s": 800 / 60,
        "requests_in_flight": pytest.approx(4.5),
    }
    ttft = {dict(s.labels)["quantile"]: s.value for s in samples if s.name == "ttft_seconds"}
    assert set(ttft) == {"0.5", "0.9", "0.95", "0.99"}
    values = [0.1 * (i + 1) for i in range(8)]  # errors without a TTFT are left out
    for q in DERIVED_QUANTILES:
        assert ttft[f"{q:g}"] == pytest.approx(float(np.quantile(values, q)))
    e2e = [s for s in samples if s.name == "e2e_seconds"]
    assert len(e2e) == 4 and all(s.value == 1.5 for s in e2e)
    assert all(s.labels == tuple(sorted(s.labels)) for s in samples)


def test_latency_series_are_absent_without_values() -> None:
    samples = minute_samples(M0, [finished(0, ttft_s=None, itl_mean_s=None, tpot_s=None)])
    names = {s.name for s in samples}
    assert "ttft_seconds" not in names and "itl_seconds" not in names
    assert "e2e_seconds" in names
    assert minute_samples(M0, []) == []


def test_derive_minutes_groups_by_finish_minute_and_labels() -> None:
    requests = [
        finished(5),
        finished(65),
        finished(70, model="qwen"),
        finished(71, source="sweep"),
    ]
    samples = derive_minutes(requests)
    rps = sorted(
        (s.ts, dict(s.labels)["model"], dict(s.labels)["source"], s.value)
        for s in samples
        if s.name == "requests_per_s"
    )
    assert rps == [
        (M0, "llama", "user", 1 / 60),
        (M0 + 60, "llama", "sweep", 1 / 60),
        (M0 + 60, "llama", "user", 1 / 60),
        (M0 + 60, "qwen", "user", 1 / 60),
    ]


def rec(i: int, started_at: float, **kw: object) -> RequestRecord:
    base = RequestRecord(f"r{i}", started_at, "llama", "vllm-a", "/v1/chat", True, 200, 1.0)
    fields: dict[str, object] = {"ttft_s": 0.2, "completion_tokens": 60, **kw}
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def test_compact_counts_requests_in_the_minute_they_finished() -> None:
    store = SqliteStore(":memory:")
    store.write_records(
        [
            rec(0, M0 + 10),
            rec(1, M0 + 20, e2e_s=300.0),  # a 5-minute stream: finishes in minute 5
            rec(2, M0 + 30, inflight_at_start=4),
        ]
    )
    store.compact(M0 + 200)  # minutes 0-2 complete; the long request is not finished yet there
    [rps] = store.series("requests_per_s", M0, M0 + 600, step_s=60)
    assert rps.points == [(M0, 2 / 60)]
    [inflight] = store.series("requests_in_flight", M0, M0 + 600, step_s=60)
    assert inflight.points == [(M0, 2.0)]
    store.compact(M0 + 400)
    [rps] = store.series("requests_per_s", M0, M0 + 600, step_s=60)
    assert rps.points == [(M0, 2 / 60), (M0 + 300, 1 / 60)]
    [tokens] = store.series("output_tokens_per_s", M0, M0 + 600, step_s=300, agg="sum")
    assert tokens.points == [(M0, 120 / 60), (M0 + 300, 60 / 60)]
    store.close()


def test_derived_series_at_fine_steps_and_over_hours() -> None:
    store = SqliteStore(":memory:")
    store.write_records([rec(i, M0 + 60 * i + 5) for i in range(180)])  # one a minute, 3 hours
    store.compact(M0 + 4 * 3600)
    # a 10 s step still reads the 1-minute rows: derived series have no raw tier
    [s] = store.series("requests_per_s", M0, M0 + 180, step_s=10)
    assert s.points == [(M0, 1 / 60), (M0 + 60, 1 / 60), (M0 + 120, 1 / 60)]
    # an hour step reads the hour rows the minutes rolled up into
    [h] = store.series("requests_per_s", M0, M0 + 3 * 3600, step_s=3600, agg="sum")
    assert h.points == [(M0 + 3600 * k, pytest.approx(1.0)) for k in range(3)]
    rows = store._connection().execute("SELECT COUNT(*) FROM samples_1h").fetchone()[0]
    assert rows > 0
    store.close()


def test_request_retention_waits_for_derivation() -> None:
    day_s = 86_400.0
    store = SqliteStore(":memory:", retention=RetentionSettings(requests_days=1))
    store.write_records([rec(0, M0), rec(1, M0 + 2 * day_s)])
    store.compact(M0 + 2 * day_s + 600)
    assert store.count_records(0, M0 * 2) == 1  # the old one is gone, after being derived
    [s] = store.series("requests_per_s", M0, M0 + 3 * day_s, step_s=60)
    assert [p[0] for p in s.points] == [M0, M0 + 2 * day_s]
    store.close()


def test_complete_until_is_how_far_compaction_derived_the_request_series() -> None:
    store = SqliteStore(":memory:")
    assert store.complete_until("requests_per_s") == float("inf")  # never compacted
    store.write_records([rec(0, M0 + 10)])
    store.compact(M0 + 200)  # 10 s rollup delay: minutes before M0 + 180 are derived
    assert store.complete_until("requests_per_s") == M0 + 180
    assert store.complete_until("ttft_seconds") == M0 + 180
    assert store.complete_until("gpu_utilization_ratio") == float("inf")  # raw: readable at once
    store.close()
