from __future__ import annotations

import itertools
import math
import random

import pytest

from infersight.core.arrivals import poisson_arrivals, spike_multiplier


def test_poisson_count_matches_rate_over_long_window() -> None:
    rate, duration = 5.0, 20_000.0
    times = poisson_arrivals(rate, 100.0, 100.0 + duration, random.Random(42))
    expected = rate * duration
    # Poisson: sd = sqrt(mean); 4 sd is a tolerance a correct generator essentially never misses.
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)


def test_poisson_times_sorted_within_window_and_gaps_exponential() -> None:
    times = poisson_arrivals(2.0, 10.0, 5010.0, random.Random(1))
    assert times == sorted(times)
    assert all(10.0 <= t < 5010.0 for t in times)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert sum(gaps) / len(gaps) == pytest.approx(0.5, rel=0.05)


def test_poisson_tick_by_tick_matches_rate() -> None:
    rng = random.Random(7)
    total = sum(len(poisson_arrivals(3.0, t * 0.1, (t + 1) * 0.1, rng)) for t in range(100_000))
    assert abs(total - 30_000) < 4 * math.sqrt(30_000)


def test_poisson_seeded_is_deterministic() -> None:
    a = poisson_arrivals(1.0, 0.0, 100.0, random.Random(3))
    b = poisson_arrivals(1.0, 0.0, 100.0, random.Random(3))
    assert a == b


def test_poisson_empty_cases_and_bad_rate() -> None:
    rng = random.Random(0)
    assert poisson_arrivals(0.0, 0.0, 100.0, rng) == []
    assert poisson_arrivals(10.0, 5.0, 5.0, rng) == []
    assert poisson_arrivals(10.0, 6.0, 5.0, rng) == []
    with pytest.raises(ValueError, match="rate_per_s"):
        poisson_arrivals(-1.0, 0.0, 1.0, rng)
    with pytest.raises(ValueError, match="rate_per_s"):
        poisson_arrivals(math.inf, 0.0, 1.0, rng)


def spike(t: float) -> float:
    return spike_multiplier(t, origin=1000.0, period_s=300.0, spike_s=60.0, factor=8.0)


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (999.0, 1.0),  # before origin
        (1000.0, 1.0),  # steady part first
        (1239.999, 1.0),
        (1240.0, 8.0),  # last 60 s of the first period
        (1299.999, 8.0),
        (1300.0, 1.0),  # next period starts steady
        (1540.0, 8.0),
        (1000.0 + 300 * 100 + 250, 8.0),
        (1000.0 + 300 * 100 + 200, 1.0),
    ],
)
def test_spike_windows(t: float, expected: float) -> None:
    assert spike(t) == expected


def test_spike_fraction_of_time() -> None:
    samples = [spike(1000.0 + i * 0.5) for i in range(6000)]  # 10 periods
    assert sum(1 for m in samples if m > 1) / len(samples) == pytest.approx(0.2)


def test_spike_edge_parameters() -> None:
    assert spike_multiplier(5.0, origin=0.0, period_s=10.0, spike_s=0.0, factor=8.0) == 1.0
    assert spike_multiplier(5.0, origin=0.0, period_s=10.0, spike_s=10.0, factor=3.0) == 3.0
    with pytest.raises(ValueError, match="period_s"):
        spike_multiplier(0.0, origin=0.0, period_s=0.0, spike_s=0.0, factor=2.0)
    with pytest.raises(ValueError, match="spike_s"):
        spike_multiplier(0.0, origin=0.0, period_s=10.0, spike_s=11.0, factor=2.0)
    with pytest.raises(ValueError, match="factor"):
        spike_multiplier(0.0, origin=0.0, period_s=10.0, spike_s=1.0, factor=0.0)
