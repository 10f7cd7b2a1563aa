"""Learned thresholds and bands for alert rules (pure: stdlib + core.stats).

* `median_mad` / `mad_threshold`: a robust baseline. The MAD (median absolute deviation) is
  scaled by 1.4826 so that, on normal data, median ± k·MAD matches mean ± k·σ while a few
  outliers in the baseline window barely move it.
* `percentile_threshold`: the q-quantile of the baseline values (linear interpolation).
* `ewma_band`: exponentially weighted mean and variance of the history, mean ± k·σ.
* `seasonal_band`: the values at the same phase of previous seasons (same minute of the day on
  the last 7 days), mean ± k·σ.
* `same_hour_windows`: the baseline windows "the same hour of day on each of the last N days".

A band never gets narrower than `min_deviation` on either side of its center, so a flat series
(σ = 0) does not alarm on the smallest move.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from infersight.core.stats import quantile_sorted

MAD_TO_SIGMA: Final = 1.4826  # σ of a normal distribution / its MAD
DAY_S: Final = 86_400.0
HOUR_S: Final = 3600.0

Direction = Literal["upper", "lower", "both"]


@dataclass(frozen=True, slots=True)
class Band:
    """An expected range: values outside (lower, upper) are anomalous. `points` learned from."""

    center: float
    lower: float
    upper: float
    points: int

    def breaches(self, value: float, direction: Direction = "both") -> bool:
        if direction == "upper":
            return value > self.upper
        if direction == "lower":
            return value < self.lower
        return value > self.upper or value < self.lower


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of an empty sequence")
    return quantile_sorted(sorted(values), 0.5)


def median_mad(values: Sequence[float]) -> tuple[float, float]:
    """(median, MAD scaled to σ) of the values; ValueError when empty."""
    center = median(values)
    mad = median([abs(v - center) for v in values])
    return center, mad * MAD_TO_SIGMA


def mad_threshold(
    values: Sequence[float], k: float, *, above: bool = True, min_margin: float = 0.0
) -> float:
    """median + k·MAD (above) or median − k·MAD (below), at least `min_margin` from the median."""
    center, sigma = median_mad(values)
    margin = max(k * sigma, min_margin)
    return center + margin if above else center - margin


def percentile_threshold(values: Sequence[float], q: float) -> float:
    """The q-quantile (0-1) of the values; ValueError when empty."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    return quantile_sorted(sorted(values), q)


def _band(center: float, sigma: float, k: float, points: int, min_deviation: float) -> Band:
    margin = max(k * sigma, min_deviation)
    return Band(center, center - margin, center + margin, points)


def ewma_band(
    values: Sequence[float], *, alpha: float, k: float, min_deviation: float = 0.0
) -> Band:
    """mean ± k·σ where mean and variance are exponentially weighted (weight alpha on the newest).

    Incremental form (West 1979): diff = x - mean; incr = alpha·diff; mean += incr;
    var = (1 - alpha)·(var + diff·incr). ValueError when empty or alpha is not in (0, 1].
    """
    if not values:
        raise ValueError("EWMA band of an empty sequence")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be within (0, 1], got {alpha}")
    mean = values[0]
    var = 0.0
    for x in values[1:]:
        diff = x - mean
        incr = alpha * diff
        mean += incr
        var = (1.0 - alpha) * (var + diff * incr)
    return _band(mean, math.sqrt(max(var, 0.0)), k, len(values), min_deviation)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation; ValueError when empty."""
    if not values:
        raise ValueError("mean of an empty sequence")
    m = sum(values) / len(values)
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / len(values))


def seasonal_values(
    points: Iterable[tuple[float, float]], ts: float, *, season_s: float, seasons: int
) -> list[float]:
    """The values at ts - j·season_s for j = 1..seasons (exact bucket timestamps)."""
    wanted = {round(ts - j * season_s, 6) for j in range(1, seasons + 1)}
    return [v for t, v in points if round(t, 6) in wanted]


def seasonal_band(
    points: Sequence[tuple[float, float]],
    ts: float,
    *,
    season_s: float,
    seasons: int,
    k: float,
    min_deviation: float = 0.0,
) -> Band | None:
    """mean ± k·σ of the same-phase values of previous seasons; None when there are none."""
    values = seasonal_values(points, ts, season_s=season_s, seasons=seasons)
    if not values:
        return None
    center, sigma = mean_std(values)
    return _band(center, sigma, k, len(values), min_deviation)


def same_hour_windows(
    now: float, days: int, *, width_s: float = HOUR_S
) -> list[tuple[float, float]]:
    """[start, end) windows of the hour of day holding `now`, on each of the `days` days before
    today, oldest first: the baseline "same hour on the last 7 days"."""
    hour = math.floor(now / width_s) * width_s
    return [(hour - d * DAY_S, hour - d * DAY_S + width_s) for d in range(days, 0, -1)]


def in_windows(ts: float, windows: Sequence[tuple[float, float]]) -> bool:
    return any(lo <= ts < hi for lo, hi in windows)
