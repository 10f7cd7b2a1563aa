"""Arrival schedules: seeded, pure, checked over many arrivals."""

from __future__ import annotations

import random

import pytest

from infersight.loadtest.arrivals import (
    achieved_rate_per_s,
    arrival_offsets_s,
    coefficient_of_variation,
    interarrival_gaps_s,
)


@pytest.mark.parametrize("rate", [1.0, 100.0, 500.0])
def test_poisson_rate_within_two_percent_over_many_arrivals(rate: float) -> None:
    offsets = arrival_offsets_s(rate, random.Random(7), count=50_000)
    achieved = achieved_rate_per_s(offsets)
    assert achieved is not None
    assert abs(achieved / rate - 1) < 0.02
    cv = coefficient_of_variation(offsets)
    assert cv is not None and abs(cv - 1.0) < 0.03  # exponential gaps


@pytest.mark.parametrize("burstiness", [0.25, 0.5, 4.0])
def test_gamma_keeps_the_mean_rate_and_sets_the_spread(burstiness: float) -> None:
    offsets = arrival_offsets_s(50.0, random.Random(3), burstiness=burstiness, count=50_000)
    achieved = achieved_rate_per_s(offsets)
    assert achieved is not None and abs(achieved / 50.0 - 1) < 0.02
    cv = coefficient_of_variation(offsets)
    assert cv is not None and abs(cv - burstiness**-0.5) < 0.05 * burstiness**-0.5


def test_same_seed_same_schedule_and_different_seed_differs() -> None:
    a = arrival_offsets_s(10.0, random.Random(1), duration_s=20.0)
    b = arrival_offsets_s(10.0, random.Random(1), duration_s=20.0)
    c = arrival_offsets_s(10.0, random.Random(2), duration_s=20.0)
    assert a == b and a != c


def test_duration_and_count_bound_the_schedule() -> None:
    by_time = arrival_offsets_s(100.0, random.Random(0), duration_s=2.0)
    assert by_time and by_time[-1] < 2.0 and by_time == sorted(by_time)
    assert len(arrival_offsets_s(100.0, random.Random(0), count=37)) == 37
    both = arrival_offsets_s(100.0, random.Random(0), duration_s=0.5, count=10_000)
    assert both[-1] < 0.5
    assert arrival_offsets_s(100.0, random.Random(0), duration_s=0.0) == []


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        next(interarrival_gaps_s(0.0, random.Random(0)))
    with pytest.raises(ValueError, match="burstiness"):
        next(interarrival_gaps_s(1.0, random.Random(0), burstiness=-1))
    with pytest.raises(ValueError, match="duration_s or count"):
        arrival_offsets_s(1.0, random.Random(0))
    assert achieved_rate_per_s([1.0]) is None
    assert coefficient_of_variation([0.0, 1.0]) is None
