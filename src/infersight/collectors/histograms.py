"""Prometheus histograms between two scrapes: bucket deltas and interval quantiles (pure).

A scraped histogram is cumulative since the engine started. The difference of two scrapes is
the histogram of the observations made in between, so its quantiles are the latency quantiles
of that interval (what a dashboard wants), not of the engine's lifetime.

Quantiles follow Prometheus' `histogram_quantile`: find the bucket holding rank q * count and
interpolate linearly inside it (the lower edge of the first bucket is 0 when its upper bound is
positive); a rank that falls in the +Inf bucket answers the highest finite bound. The result is
only as precise as the bucket layout (vLLM's TTFT buckets are 1 ms ... 2560 s).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """Cumulative bucket counts at ascending upper bounds (the last usually +Inf), sum, count."""

    bounds: tuple[float, ...]
    cumulative: tuple[float, ...]
    sum: float
    count: float

    @staticmethod
    def from_buckets(
        buckets: Iterable[tuple[float, float]], sum_: float, count: float
    ) -> HistogramSnapshot:
        """From (upper bound, cumulative count) pairs in any order."""
        pairs = sorted(buckets)
        return HistogramSnapshot(
            tuple(b for b, _ in pairs), tuple(c for _, c in pairs), float(sum_), float(count)
        )


def interval_delta(
    prev: HistogramSnapshot | None, cur: HistogramSnapshot
) -> HistogramSnapshot | None:
    """The observations between `prev` and `cur`; None without a comparable previous scrape.

    A counter reset (engine restart: a count went down) makes `cur` itself the interval.
    Different bucket layouts (a reconfigured engine) are not comparable: None.
    """
    if prev is None or prev.bounds != cur.bounds:
        return None
    if cur.count < prev.count or any(
        c < p for c, p in zip(cur.cumulative, prev.cumulative, strict=True)
    ):
        return cur
    return HistogramSnapshot(
        cur.bounds,
        tuple(c - p for c, p in zip(cur.cumulative, prev.cumulative, strict=True)),
        cur.sum - prev.sum,
        cur.count - prev.count,
    )


def bucket_quantile(q: float, h: HistogramSnapshot) -> float | None:
    """The q-quantile (0 <= q <= 1) estimated from the buckets; None when there is nothing."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be between 0 and 1, got {q}")
    if not h.bounds:
        return None
    total = h.cumulative[-1] if math.isinf(h.bounds[-1]) else max(h.count, h.cumulative[-1])
    if total <= 0:
        return None
    rank = q * total
    for i, (bound, cum) in enumerate(zip(h.bounds, h.cumulative, strict=True)):
        if cum >= rank and cum > 0:
            if math.isinf(bound):
                finite = [b for b in h.bounds if not math.isinf(b)]
                return finite[-1] if finite else None
            if i == 0:
                lower, below = (0.0 if bound > 0 else bound), 0.0
            else:
                lower, below = h.bounds[i - 1], h.cumulative[i - 1]
            in_bucket = cum - below
            if in_bucket <= 0:
                return bound
            return lower + (bound - lower) * (rank - below) / in_bucket
    finite = [b for b in h.bounds if not math.isinf(b)]
    return finite[-1] if finite else None


def interval_quantiles(
    prev: HistogramSnapshot | None, cur: HistogramSnapshot, qs: Sequence[float]
) -> dict[float, float]:
    """{q: value} for the observations between two scrapes; empty when there were none."""
    delta = interval_delta(prev, cur)
    if delta is None or delta.count <= 0:
        return {}
    out: dict[float, float] = {}
    for q in qs:
        v = bucket_quantile(q, delta)
        if v is not None:
            out[q] = v
    return out
