"""Per-level aggregates (vLLM definitions) and the saturation checks."""

from __future__ import annotations

import math

import pytest

from infersight.loadtest.profiles import Level
from infersight.loadtest.results import Slo
from infersight.loadtest.saturation import (
    SaturationPolicy,
    errors_climbing,
    ladder_plateau,
    level_saturation,
)
from infersight.loadtest.summary import MIN_P99_SAMPLES, Dist, summarize_level

from .conftest import T0, RowFactory

LEVEL = Level("concurrency", 4, duration_s=10.0)


def test_throughputs_goodput_and_little(row: RowFactory) -> None:
    rows = [row(i, start=i * 0.5, ttft=0.1 + 0.01 * i, e2e=1.0) for i in range(10)]
    rows.append(row(10, start=5.0, error="http_500"))
    rows.append(row(11, start=-2.0, measured=False))  # warm-up ended before the window: ignored
    s = summarize_level(0, LEVEL, rows, measure_start_s=T0, slo=Slo(ttft_s=0.15))
    # last completion: row 10 at 5.0 + 1.0 → duration 6 s
    assert s.duration_s == pytest.approx(6.0)
    assert (s.completed, s.failed, s.errors_by_class) == (10, 1, {"http_500": 1})
    assert s.request_throughput == pytest.approx(10 / 6)
    assert s.output_throughput == pytest.approx(110 / 6)
    assert s.total_token_throughput == pytest.approx(160 / 6)
    assert s.mean_concurrency == pytest.approx(11 / 6)  # Σ E2E / duration
    assert s.good == 5  # ttft 0.10 .. 0.14 meet 150 ms; the error never does
    assert s.request_goodput == pytest.approx(5 / 6)
    assert s.slo_attainment == pytest.approx(5 / 11)
    lo, hi = s.slo_attainment_ci95 or (0, 0)
    assert lo < 5 / 11 < hi
    assert s.ttft_ms.median == pytest.approx(145.0)
    assert s.tpot_ms.mean == pytest.approx(
        math.fsum((1.0 - (0.1 + 0.01 * i)) / 10 for i in range(10)) * 100
    )
    assert s.itl_ms.count == 100  # 10 gaps per request
    assert s.warmup_requests == 0 and len(s.rows) == 11


def test_warmup_requests_ending_inside_the_window_count_in_the_rates(row: RowFactory) -> None:
    """A saturated level: warm-up requests still queued at the start of measuring hold the
    endpoint for a while; their completions inside the window are what it delivered then."""
    warm = [row(i, start=-0.5, e2e=1.0, measured=False) for i in range(4)]  # end at +0.5 s
    measured = [row(4 + i, start=0.5 + i * 0.25, e2e=1.0) for i in range(6)]  # end 1.5-2.75
    s = summarize_level(0, LEVEL, warm + measured, measure_start_s=T0, slo=Slo(ttft_s=1.0))
    assert s.duration_s == pytest.approx(2.75)
    assert s.request_throughput == pytest.approx(10 / 2.75)
    assert s.output_throughput == pytest.approx(10 * 11 / 2.75)
    assert s.request_goodput == pytest.approx(10 / 2.75)
    assert s.mean_concurrency == pytest.approx((4 * 0.5 + 6 * 1.0) / 2.75)  # clipped to the window
    assert (s.completed, s.good, len(s.rows)) == (6, 6, 6)  # counts and latencies: measured only


def test_p99_needs_enough_samples() -> None:
    assert Dist.of([1.0] * (MIN_P99_SAMPLES - 1)).pcts[99] is None
    d = Dist.of([float(i) for i in range(MIN_P99_SAMPLES)])
    assert d.pcts[99] == pytest.approx(98.01) and d.pcts[50] == pytest.approx(49.5)
    assert Dist.of([]).mean is None


def test_no_slo_means_no_goodput(row: RowFactory) -> None:
    s = summarize_level(0, LEVEL, [row(0)], measure_start_s=T0)
    assert s.request_goodput is None and s.slo is None and s.slo_attainment is None


def test_slo_checks_each_objective(row: RowFactory) -> None:
    r = row(0, ttft=0.2, e2e=2.0, tokens=10)
    assert Slo(ttft_s=0.25, tpot_s=0.25, max_itl_s=0.25, e2e_s=2.0).meets(r)
    assert not Slo(ttft_s=0.1).meets(r)
    assert not Slo(tpot_s=0.1).meets(r)
    assert not Slo(max_itl_s=0.1).meets(r)
    assert not Slo(e2e_s=1.0).meets(r)
    assert Slo(tpot_s=0.001).meets(row(1, tokens=1))  # undefined for one token
    with pytest.raises(ValueError, match="ttft_s"):
        Slo(ttft_s=0)


def test_errors_climbing(row: RowFactory) -> None:
    policy = SaturationPolicy(max_error_share=0.2, min_errors=3)
    assert errors_climbing(2, 4, policy) is None  # too few
    assert errors_climbing(3, 100, policy) is None  # too rare
    assert "errors climbing: 3 of 10" in (errors_climbing(3, 10, policy) or "")
    rows = [row(i, error="http_503" if i % 2 else None) for i in range(40)]
    s = summarize_level(0, LEVEL, rows, measure_start_s=T0)
    assert "http_503 20" in (level_saturation(s) or "")


def test_latency_diverging_in_open_loop(row: RowFactory) -> None:
    level = Level("rate", 10.0, duration_s=6.0)
    growing = [row(i, start=i * 0.1, ttft=0.05 + 0.02 * i, e2e=0.3 + 0.02 * i) for i in range(60)]
    s = summarize_level(0, level, growing, measure_start_s=T0)
    assert (level_saturation(s) or "").startswith("latency diverging")
    steady = [row(i, start=i * 0.1, ttft=0.05, e2e=0.3) for i in range(60)]
    assert level_saturation(summarize_level(0, level, steady, measure_start_s=T0)) is None
    # the same rows in a closed loop are not judged by the trend
    assert level_saturation(summarize_level(0, LEVEL, growing, measure_start_s=T0)) is None


def test_not_keeping_up(row: RowFactory) -> None:
    # 60 requests sent over 3 s, each taking 6 s: throughput 60/9 < 0.9 × 20/s
    rows = [row(i, start=i * 0.05, ttft=0.1, e2e=6.0) for i in range(60)]
    s = summarize_level(0, Level("rate", 20.0, duration_s=3.0), rows, measure_start_s=T0)
    assert (level_saturation(s) or "").startswith("not keeping up")


def test_ladder_plateau(row: RowFactory) -> None:
    def level(c: int, rps: float) -> object:
        n = int(rps * 10)
        rows = [row(i, start=i * 10 / n, e2e=0.01) for i in range(n)]
        lv = Level("concurrency", c, duration_s=10.0)
        return summarize_level(0, lv, rows, measure_start_s=T0, measure_end_s=T0 + 10)

    rising = [level(1, 10), level(2, 20), level(4, 40)]
    assert ladder_plateau(rising) is None  # type: ignore[arg-type]
    flat = [level(1, 10), level(2, 20), level(4, 20.5), level(8, 20.2)]
    reason = ladder_plateau(flat)  # type: ignore[arg-type]
    assert (
        reason is not None and reason.startswith("throughput plateau") and "concurrency 8" in reason
    )
