"""Pure time-series math: epoch-aligned buckets, rollup rows, aggregation, tier planning.

Every tier of the metric store is read as *rows* of one shape::

    (bucket_ts, count, sum, min, max, first, last, increase)

A raw sample (ts, v) is the row (ts, 1, v, v, v, v, v, 0.0); a 1-minute or 1-hour rollup row
summarises the samples of its bucket. Gauges and counters are rolled up the same way, so the
store needs no metric types:

* avg / min / max / sum come from count, sum, min and max (exact across tiers);
* rate is the counter increase per second. `increase` holds the increase between consecutive
  samples *inside* the row, with Prometheus' reset rule: a value lower than the previous one
  means the counter restarted from 0, so that step adds the new value. The step from one row's
  `last` to the next row's `first` is added at query time (`counter_increase`), so rows stay
  independent and an hour row is exactly the merge of its minute rows;
* p50/p90/p95/p99 are quantiles of the per-row means (sum / count): exact on raw samples,
  quantiles of the 1-minute (or 1-hour) averages on rollup tiers.

Which tier answers (`choose_tier`, `plan_segments`): raw for steps under 60 s, the 1-hour tier
for whole-hour steps with an exact aggregation, the 1-minute tier otherwise. A range is then
stitched: the part retention deleted from that tier comes from the next coarser one, and the
partial rows at the edges and the minutes not rolled up yet from the finer ones, so a query
always sees the most recent samples. Buckets are multiples of step_s (epoch-aligned); a rollup
row counts in the bucket holding its start, so a step that is not a multiple of the row width
(e.g. 90 s on minute rows) puts whole minutes in buckets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import groupby
from typing import Final

from infersight.core.stats import quantile_sorted

# Aggregations `series` understands. "rate" is the per-second increase of a counter.
AGGREGATIONS: Final = ("avg", "min", "max", "sum", "rate", "p50", "p90", "p95", "p99")
PERCENTILE_AGGS: Final = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
# Aggregations whose value over a bucket is exact from coarser rows of whole sub-buckets.
EXACT_ON_ROLLUPS: Final = frozenset(("avg", "min", "max", "sum", "rate"))

# Tiers, finest first, and the width of their rows.
RAW: Final = 0
MINUTE: Final = 1
HOUR: Final = 2
TIER_NAMES: Final = ("raw", "1m", "1h")
TIER_RESOLUTION_S: Final = (0.0, 60.0, 3600.0)

# (bucket_ts, count, sum, min, max, first, last, increase)
Row = tuple[float, int, float, float, float, float, float, float]
Point = tuple[float, float]


def check_query(start: float, end: float, step_s: float, agg: str) -> None:
    """ValueError with the valid choices when a series query cannot be answered."""
    if agg not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {agg!r}; valid: {', '.join(AGGREGATIONS)}")
    if not step_s > 0 or not math.isfinite(step_s):
        raise ValueError(f"step_s must be a positive number of seconds, got {step_s}")
    if not end > start:
        raise ValueError(f"a series query needs end > start, got start={start} end={end}")


def bucket_start(ts: float, step_s: float) -> float:
    """The epoch-aligned bucket holding ts: the largest multiple of step_s <= ts."""
    return float(math.floor(ts / step_s) * step_s)


def bucket_ceil(ts: float, step_s: float) -> float:
    """The smallest multiple of step_s >= ts."""
    return float(math.ceil(ts / step_s) * step_s)


def counter_increase(previous: float, current: float) -> float:
    """Increase of a counter between two readings; a drop means it restarted from 0."""
    return current - previous if current >= previous else current


def sample_row(ts: float, value: float) -> Row:
    return (ts, 1, value, value, value, value, value, 0.0)


def rollup_samples(samples: Iterable[tuple[float, float]], resolution_s: float) -> list[Row]:
    """Rows of width resolution_s from (ts, value) samples sorted by ts."""
    return merge_rows((sample_row(ts, v) for ts, v in samples), resolution_s)


def merge_rows(rows: Iterable[Row], resolution_s: float) -> list[Row]:
    """Merge rows sorted by bucket_ts into rows of width resolution_s (a multiple of theirs)."""
    out: list[Row] = []
    bucket = -math.inf
    count = 0
    total = low = high = first = last = increase = 0.0
    for ts, n, s, lo, hi, f, la, inc in rows:
        b = float(math.floor(ts / resolution_s) * resolution_s)
        if b != bucket:
            if count:
                out.append((bucket, count, total, low, high, first, last, increase))
            bucket, count, total, low, high, first, last, increase = b, n, s, lo, hi, f, la, inc
            continue
        increase += inc + (f - last if f >= last else f)
        count += n
        total += s
        low = min(low, lo)
        high = max(high, hi)
        last = la
    if count:
        out.append((bucket, count, total, low, high, first, last, increase))
    return out


# The fields each aggregation reads, bucket_ts first: the store selects only these columns
# (fetching rows dominates a query's cost). "mean" is sum / count.
ROW_FIELDS: Final = ("bucket_ts", "count", "sum", "min", "max", "first", "last", "increase")
PROJECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "avg": ("bucket_ts", "count", "sum"),
    "sum": ("bucket_ts", "sum"),
    "min": ("bucket_ts", "min"),
    "max": ("bucket_ts", "max"),
    "rate": ("bucket_ts", "count", "first", "last", "increase"),
    **{name: ("bucket_ts", "mean") for name in PERCENTILE_AGGS},
}


def project(row: Row, agg: str) -> tuple[float, ...]:
    """The fields of `row` that `agg` reads (PROJECTIONS), in that order."""
    return tuple(
        row[2] / row[1] if field == "mean" else row[ROW_FIELDS.index(field)]
        for field in PROJECTIONS[agg]
    )


def aggregate(
    rows: Sequence[Row], agg: str, start: float, end: float, step_s: float
) -> list[Point]:
    """(bucket start, value) for each step_s bucket that has data, in time order.

    `rows` are sorted by bucket_ts. Rows with start <= bucket_ts < end count; an earlier row
    only provides the previous reading for `rate`. A bucket aligned to a multiple of step_s
    covers [max(b, start), min(b + step_s, end)), so the first and last may be partial.
    rate = (reset-aware increase between consecutive readings whose later one falls in the
    bucket) / the bucket's covered seconds; a bucket without a pair of readings has no rate.
    """
    check_query(start, end, step_s, agg)
    return aggregate_projected([project(r, agg) for r in rows], agg, start, end, step_s)


def aggregate_projected(
    rows: Sequence[tuple[float, ...]], agg: str, start: float, end: float, step_s: float
) -> list[Point]:
    """`aggregate` on rows already reduced to PROJECTIONS[agg], as the store selects them."""
    check_query(start, end, step_s, agg)
    if agg == "rate":
        return _rate(rows, start, end, step_s)
    inside = (r for r in rows if start <= r[0] < end)
    out: list[Point] = []
    quantile = PERCENTILE_AGGS.get(agg)
    for b, group in groupby(inside, key=lambda r: math.floor(r[0] / step_s)):
        bucket = float(b * step_s)
        if agg == "avg":
            count = total = 0.0
            for _, n, s in group:
                count += n
                total += s
            out.append((bucket, total / count))
        elif agg == "sum":
            out.append((bucket, sum(r[1] for r in group)))
        elif agg == "min":
            out.append((bucket, min(r[1] for r in group)))
        elif agg == "max":
            out.append((bucket, max(r[1] for r in group)))
        elif quantile is not None:
            out.append((bucket, quantile_sorted(sorted(r[1] for r in group), quantile)))
    return out


def _rate(
    rows: Sequence[tuple[float, ...]], start: float, end: float, step_s: float
) -> list[Point]:
    out: list[Point] = []
    bucket = -math.inf
    pairs = 0
    increase = 0.0
    previous: float | None = None  # last reading before the current row

    def flush() -> None:
        if pairs:
            span_s = min(bucket + step_s, end) - max(bucket, start)
            out.append((bucket, increase / span_s))

    for ts, n, first, last, inc in rows:
        if ts < start:
            previous = last
            continue
        if ts >= end:
            break
        b = float(math.floor(ts / step_s) * step_s)
        if b != bucket:
            flush()
            bucket, pairs, increase = b, 0, 0.0
        pairs += int(n) - 1
        increase += inc
        if previous is not None:
            pairs += 1
            increase += first - previous if first >= previous else first
        previous = last
    flush()
    return out


def choose_tier(step_s: float, agg: str) -> int:
    """The tier a query reads, before `plan_segments` stitches in others.

    Raw when step_s < 60 s; the 1-hour tier when step_s is a whole number of hours and the
    aggregation is exact on rollups (the same answer from 60x fewer rows); else 1-minute.
    """
    if step_s < TIER_RESOLUTION_S[MINUTE]:
        return RAW
    if agg in EXACT_ON_ROLLUPS and step_s % TIER_RESOLUTION_S[HOUR] == 0:
        return HOUR
    return MINUTE


def plan_segments(
    start: float,
    end: float,
    tier: int,
    *,
    native: int,
    watermarks: Sequence[float],
    horizons: Sequence[float],
) -> list[tuple[int, float, float]]:
    """Which tier serves which part of [start, end), as (tier, lo, hi) in time order.

    watermarks[t] (t >= MINUTE): everything before it has been rolled up into tier t.
    horizons[t]: retention deleted tier t before it (-inf: nothing deleted). `native` is the
    finest tier the series exists in (RAW for written samples, MINUTE for series derived from
    request records). What `tier` no longer holds comes from the next coarser tier, from the
    first of its rows past the horizon. Tier `tier` serves the whole rows between start and end
    it holds; the partial head and tail, and what has not been rolled up yet, come from the next
    finer tier, recursively; a head the finer tier no longer holds is left out.
    """
    if end <= start:
        return []
    tier = max(tier, native)
    if tier < HOUR and start < horizons[tier]:
        split = bucket_ceil(horizons[tier], TIER_RESOLUTION_S[tier + 1])
        return [
            *plan_segments(
                start,
                min(split, end),
                tier + 1,
                native=native,
                watermarks=watermarks,
                horizons=horizons,
            ),
            *plan_segments(
                split, end, tier, native=native, watermarks=watermarks, horizons=horizons
            ),
        ]
    if tier == native:
        return [(native, start, end)]
    finer = tier - 1
    resolution_s = TIER_RESOLUTION_S[tier]
    lo = bucket_ceil(start, resolution_s)
    if start < horizons[finer]:
        lo = start
    hi = min(bucket_start(end, resolution_s), watermarks[tier])
    if hi <= lo:
        return plan_segments(
            start, end, finer, native=native, watermarks=watermarks, horizons=horizons
        )
    return [
        *plan_segments(start, lo, finer, native=native, watermarks=watermarks, horizons=horizons),
        (tier, lo, hi),
        *plan_segments(hi, end, finer, native=native, watermarks=watermarks, horizons=horizons),
    ]
