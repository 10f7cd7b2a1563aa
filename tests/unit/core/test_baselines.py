"""Learned thresholds and bands: median/MAD, percentile, EWMA, seasonal, same-hour windows."""

from __future__ import annotations

import math
import random

import pytest

from infersight.core.baselines import (
    DAY_S,
    MAD_TO_SIGMA,
    Band,
    ewma_band,
    in_windows,
    mad_threshold,
    median_mad,
    percentile_threshold,
    same_hour_windows,
    seasonal_band,
)


def test_median_mad_by_hand() -> None:
    # median 3; |x - 3| = 2, 1, 0, 1, 97 -> MAD 1
    center, sigma = median_mad([1, 2, 3, 4, 100])
    assert center == 3
    assert sigma == pytest.approx(MAD_TO_SIGMA)
    assert mad_threshold([1, 2, 3, 4, 100], 3) == pytest.approx(3 + 3 * MAD_TO_SIGMA)
    assert mad_threshold([1, 2, 3, 4, 100], 3, above=False) == pytest.approx(3 - 3 * MAD_TO_SIGMA)


def test_mad_is_robust_to_outliers_and_matches_sigma_on_normal_data() -> None:
    rng = random.Random(7)
    values = [rng.gauss(10.0, 2.0) for _ in range(5000)]
    center, sigma = median_mad(values)
    assert center == pytest.approx(10.0, abs=0.1)
    assert sigma == pytest.approx(2.0, rel=0.05)
    spiky = values + [1000.0] * 50  # 1 % outliers barely move it
    assert median_mad(spiky)[1] == pytest.approx(sigma, rel=0.05)


def test_min_margin_for_a_flat_baseline() -> None:
    assert mad_threshold([5.0] * 10, 3) == 5.0
    assert mad_threshold([5.0] * 10, 3, min_margin=0.5) == 5.5


def test_percentile() -> None:
    assert percentile_threshold(list(range(101)), 0.99) == pytest.approx(99.0)
    with pytest.raises(ValueError):
        percentile_threshold([], 0.5)


def test_ewma_band_by_hand() -> None:
    # alpha 0.5 over [0, 2]: diff 2, incr 1 -> mean 1; var = 0.5 × (0 + 2 × 1) = 1
    band = ewma_band([0.0, 2.0], alpha=0.5, k=2.0)
    assert (band.center, band.lower, band.upper) == (1.0, -1.0, 3.0)
    assert band.points == 2
    # a constant series has σ = 0: the band is only min_deviation wide
    flat = ewma_band([4.0] * 20, alpha=0.1, k=3.0, min_deviation=1.0)
    assert (flat.lower, flat.upper) == (3.0, 5.0)
    with pytest.raises(ValueError):
        ewma_band([], alpha=0.1, k=3)
    with pytest.raises(ValueError):
        ewma_band([1.0], alpha=0.0, k=3)


def test_ewma_follows_a_level_shift() -> None:
    band = ewma_band([1.0] * 50 + [10.0] * 50, alpha=0.1, k=3.0)
    assert band.center == pytest.approx(10.0, abs=0.1)


def test_band_directions() -> None:
    band = Band(center=5.0, lower=4.0, upper=6.0, points=3)
    assert band.breaches(7.0, "upper") and not band.breaches(3.0, "upper")
    assert band.breaches(3.0, "lower") and not band.breaches(7.0, "lower")
    assert band.breaches(3.0) and band.breaches(7.0) and not band.breaches(5.5)


def test_seasonal_band_uses_the_same_minute_of_previous_days() -> None:
    ts = 10 * DAY_S + 3600.0
    points = [(ts - d * DAY_S, 100.0 + d) for d in range(1, 8)]  # 101 .. 107
    points += [(ts - d * DAY_S + 60.0, 5.0) for d in range(1, 8)]  # other minutes: ignored
    band = seasonal_band(points, ts, season_s=DAY_S, seasons=7, k=2.0)
    assert band is not None
    assert band.center == pytest.approx(104.0)
    assert band.upper == pytest.approx(104.0 + 2 * math.sqrt(4.0))  # population σ of 101..107
    assert band.points == 7
    assert seasonal_band(points, ts, season_s=DAY_S, seasons=3, k=2.0).points == 3  # type: ignore[union-attr]
    assert seasonal_band([], ts, season_s=DAY_S, seasons=7, k=2.0) is None


def test_same_hour_windows() -> None:
    now = 20 * DAY_S + 14 * 3600.0 + 1234.0  # 14:20:34 on day 20
    windows = same_hour_windows(now, 7)
    assert len(windows) == 7
    assert windows[0] == (13 * DAY_S + 14 * 3600.0, 13 * DAY_S + 15 * 3600.0)
    assert windows[-1] == (19 * DAY_S + 14 * 3600.0, 19 * DAY_S + 15 * 3600.0)
    assert in_windows(19 * DAY_S + 14.5 * 3600.0, windows)
    assert not in_windows(20 * DAY_S + 14.5 * 3600.0, windows)  # today is not history
