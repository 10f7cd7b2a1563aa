"""What every Store backend must do with metric samples: write_samples, series, metric_names,
compact. Add a backend to BACKENDS (and to test_store_contract.py) and it runs all of this."""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from infersight.core.records import MetricSample, RequestRecord
from infersight.core.series import AGGREGATIONS
from infersight.store.base import Store
from infersight.store.sqlite import SqliteStore

BACKENDS: dict[str, Callable[[Path], Store]] = {
    "sqlite-file": lambda tmp: SqliteStore(tmp / "store.db"),
    "sqlite-memory": lambda tmp: SqliteStore(":memory:"),
}
H0 = 1_699_999_200.0  # an hour boundary (and so a minute boundary)
DAY_S = 86_400.0


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend = BACKENDS[request.param](tmp_path)
    yield backend
    backend.close()


def gauge(name: str, n: int, every_s: float = 5.0, **labels: str) -> list[MetricSample]:
    rng = np.random.default_rng(zlib.crc32(repr((name, sorted(labels.items()))).encode()))
    return [
        MetricSample.make(name, H0 + i * every_s, float(v), **labels)
        for i, v in enumerate(rng.uniform(0, 100, n))
    ]


def expected(
    samples: list[MetricSample], agg: str, start: float, end: float, step: float
) -> list[tuple[float, float]]:
    ts = np.array([s.ts for s in samples])
    vs = np.array([s.value for s in samples])
    inside = (ts >= start) & (ts < end)
    buckets = np.floor(ts / step) * step
    out = []
    for b in np.unique(buckets[inside]):
        v = vs[inside & (buckets == b)]
        fn = {"avg": np.mean, "min": np.min, "max": np.max, "sum": np.sum}.get(agg)
        out.append((float(b), float(fn(v) if fn else np.quantile(v, int(agg[1:]) / 100))))
    return out


def assert_points(got: list[tuple[float, float]], want: list[tuple[float, float]]) -> None:
    assert [p[0] for p in got] == [p[0] for p in want]
    assert [p[1] for p in got] == pytest.approx([p[1] for p in want], rel=1e-9)


@pytest.mark.parametrize("agg", ["avg", "min", "max", "sum", "p50", "p95", "p99"])
def test_series_on_raw_samples_matches_numpy(store: Store, agg: str) -> None:
    a = gauge("gpu_util", 300, gpu="0", host="h1")
    b = gauge("gpu_util", 300, gpu="1", host="h1")
    store.write_samples(a + b)
    for step in (10.0, 60.0, 300.0):
        result = store.series("gpu_util", H0 + 7, H0 + 1400, step_s=step, agg=agg)
        assert [s.labels for s in result] == [
            (("gpu", "0"), ("host", "h1")),
            (("gpu", "1"), ("host", "h1")),
        ]
        assert all(s.name == "gpu_util" for s in result)
        assert_points(result[0].points, expected(a, agg, H0 + 7, H0 + 1400, step))
        assert_points(result[1].points, expected(b, agg, H0 + 7, H0 + 1400, step))


def test_label_filter_is_exact_on_the_given_keys(store: Store) -> None:
    store.write_samples(
        gauge("m", 5, gpu="0", host="a") + gauge("m", 5, gpu="1", host="a") + gauge("m", 5)
    )
    window = (H0, H0 + 60)
    assert len(store.series("m", *window, step_s=60)) == 3
    assert [s.labels for s in store.series("m", *window, step_s=60, labels={"gpu": "1"})] == [
        (("gpu", "1"), ("host", "a"))
    ]
    assert len(store.series("m", *window, step_s=60, labels={"host": "a"})) == 2
    assert store.series("m", *window, step_s=60, labels={"host": "b"}) == []
    assert store.series("m", *window, step_s=60, labels={"gpu": "0", "host": "b"}) == []
    assert store.series("absent", *window, step_s=60) == []


def test_missing_buckets_are_absent_and_empty_series_left_out(store: Store) -> None:
    store.write_samples(
        [
            MetricSample.make("m", H0 + 5, 1.0),
            MetricSample.make("m", H0 + 185, 3.0),
            MetricSample.make("m", H0 + 5, 9.0, other="x"),
        ]
    )
    [s] = store.series("m", H0 + 60, H0 + 600, step_s=60)  # "other" has nothing in range
    assert s.points == [(H0 + 180, 3.0)]


def test_rate_of_a_counter_with_a_reset(store: Store) -> None:
    values = [1000.0 + 10 * i for i in range(24)] + [5.0 + 10 * i for i in range(24)]
    store.write_samples([MetricSample.make("c_total", H0 + 5 * i, v) for i, v in enumerate(values)])
    [s] = store.series("c_total", H0, H0 + 240, step_s=60, agg="rate")
    # 12 readings a minute; the reset at H0 + 120 adds the new value (5), not a negative jump
    assert s.points == [
        (H0, 110 / 60),
        (H0 + 60, 120 / 60),
        (H0 + 120, (5 + 110) / 60),
        (H0 + 180, 120 / 60),
    ]


def test_query_errors_name_the_fix(store: Store) -> None:
    with pytest.raises(
        ValueError, match="unknown aggregation 'median'; valid: " + ", ".join(AGGREGATIONS)
    ):
        store.series("m", H0, H0 + 60, step_s=60, agg="median")
    with pytest.raises(ValueError, match="step_s"):
        store.series("m", H0, H0 + 60, step_s=0)
    with pytest.raises(ValueError, match="end > start"):
        store.series("m", H0, H0, step_s=60)


def test_metric_names_and_rewrites(store: Store) -> None:
    assert store.metric_names() == []
    store.write_samples([])
    store.write_samples(
        [
            MetricSample.make("b", H0, 1.0),
            MetricSample.make("a", H0, 1.0, k="v"),
            MetricSample.make("b", H0, 2.0, k="w"),
        ]
    )
    assert store.metric_names() == ["a", "b"]
    store.write_samples([MetricSample.make("a", H0, 5.0, k="v")])  # same series and ts: replaces
    store.write_samples([MetricSample.make("a", H0 + 1, math.nan, k="v")])  # skipped
    [s] = store.series("a", H0, H0 + 60, step_s=60, agg="sum")
    assert s.points == [(H0, 5.0)]


def test_compact_keeps_answers_and_applies_retention(store: Store) -> None:
    samples = gauge("m", 3 * 17_280, k="v")  # three days every 5 s
    store.write_samples(samples)
    end = H0 + 3 * DAY_S
    before = {
        agg: store.series("m", H0, end, step_s=3600, agg=agg)[0].points
        for agg in ("avg", "min", "max", "sum")
    }
    store.compact(end + 60)
    store.compact(end + 60)  # idempotent
    for agg, points in before.items():
        [s] = store.series("m", H0, end, step_s=3600, agg=agg)
        assert_points(s.points, points)
    # raw is kept 2 days by default: 10 s buckets of the first day come from 1-minute rows now
    [old] = store.series("m", H0, H0 + 600, step_s=10)
    assert [p[0] for p in old.points] == [H0 + 60 * i for i in range(10)]
    assert_points(old.points, expected(samples, "avg", H0, H0 + 600, 60))
    [recent] = store.series("m", end - 600, end, step_s=10)
    assert len(recent.points) == 60


def test_compact_derives_request_series(store: Store) -> None:
    def rec(i: int, **kw: object) -> RequestRecord:
        base = RequestRecord(f"r{i}", H0 + i, "llama", "vllm-a", "/v1/chat", True, 200, 2.0)
        fields: dict[str, object] = {"ttft_s": 0.1 * (i + 1), "completion_tokens": 30, **kw}
        return dataclasses.replace(base, **fields)  # type: ignore[arg-type]

    store.write_records(
        [rec(i) for i in range(9)] + [rec(9, error_class="upstream_5xx"), rec(10, source="sweep")]
    )
    store.compact(H0 + 600)
    assert {"requests_per_s", "ttft_seconds", "request_error_ratio"} <= set(store.metric_names())
    [user] = store.series("requests_per_s", H0, H0 + 600, step_s=60, labels={"source": "user"})
    assert user.labels == (("model", "llama"), ("source", "user"), ("upstream", "vllm-a"))
    assert user.points == [(H0, 10 / 60)]
    [ratio] = store.series(
        "request_error_ratio", H0, H0 + 600, step_s=60, labels={"source": "user"}
    )
    assert ratio.points == [(H0, 0.1)]
    [p95] = store.series(
        "ttft_seconds", H0, H0 + 600, step_s=60, labels={"source": "user", "quantile": "0.95"}
    )
    assert p95.points[0][1] == pytest.approx(
        float(np.quantile([0.1 * (i + 1) for i in range(10)], 0.95))
    )
    assert len(store.series("requests_per_s", H0, H0 + 600, step_s=60)) == 2  # user and sweep
