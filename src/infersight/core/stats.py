"""Percentiles and simple summaries over plain sequences of numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence


def quantile_sorted(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default method) of already sorted values."""
    if not sorted_values:
        raise ValueError("quantile of an empty sequence")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def percentiles(values: Sequence[float], quantiles: Sequence[float]) -> dict[float, float]:
    """{q: value} for each quantile; an empty input gives an empty dict."""
    if not values:
        return {}
    ordered = sorted(values)
    return {q: quantile_sorted(ordered, q) for q in quantiles}


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
