"""core.capacity: knee detection and the goodput confidence intervals."""

from __future__ import annotations

import math

import pytest

from infersight.core.capacity import (
    knee_index,
    littles_law_concurrency,
    poisson_rate_interval,
    replicas_needed,
    wilson_interval,
)


def test_concave_knee_where_throughput_flattens() -> None:
    xs = [1, 2, 4, 8, 16, 32]
    ys = [8.7, 17.4, 34.8, 34.9, 34.7, 34.8]
    assert knee_index(xs, ys) == 2
    assert knee_index(xs, ys, log_x=True) == 2


def test_convex_knee_where_latency_climbs() -> None:
    xs = [1, 2, 4, 8, 16, 32]
    latency = [0.115, 0.115, 0.117, 0.23, 0.46, 0.92]
    assert knee_index(xs, latency, curve="convex") == 2  # the last point before the climb


def test_no_knee_on_a_straight_line_or_too_few_points() -> None:
    assert knee_index([1, 2, 3, 4], [10, 20, 30, 40]) is None
    assert knee_index([1, 2], [1, 1]) is None
    assert knee_index([1, 2, 3], [5, 5, 5]) is None


def test_knee_input_errors() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        knee_index([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="strictly increasing"):
        knee_index([1, 1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="finite"):
        knee_index([1, 2, 3], [1, math.nan, 3])
    with pytest.raises(ValueError, match="curve"):
        knee_index([1, 2, 3], [1, 3, 3], curve="wavy")  # type: ignore[arg-type]


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(99, 100)
    assert lo == pytest.approx(0.9455, abs=1e-4) and hi == pytest.approx(0.9982, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and 0.65 < lo < 0.75
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_poisson_rate_interval() -> None:
    lo, hi = poisson_rate_interval(100, 10.0)
    assert (
        lo < 10.0 < hi
        and lo == pytest.approx(8.136, abs=1e-3)
        and hi == pytest.approx(12.056, abs=1e-3)
    )
    assert poisson_rate_interval(0, 4.0)[0] == 0.0
    with pytest.raises(ValueError, match="duration_s"):
        poisson_rate_interval(1, 0.0)


def test_existing_littles_law_functions_kept() -> None:
    assert littles_law_concurrency(12, 2.5) == 30
    assert replicas_needed(12, 2.5, 8, headroom=1.2) == 5
