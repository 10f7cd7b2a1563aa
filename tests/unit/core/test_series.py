"""core.series: buckets, rollup rows, aggregation (vs numpy), counter resets, tier planning."""

from __future__ import annotations

import math

import numpy as np
import pytest

from infersight.core.series import (
    AGGREGATIONS,
    HOUR,
    MINUTE,
    RAW,
    Row,
    aggregate,
    bucket_ceil,
    bucket_start,
    check_query,
    choose_tier,
    counter_increase,
    merge_rows,
    plan_segments,
    rollup_samples,
    sample_row,
)

M0 = bucket_start(1_700_000_000.0, 3600.0)  # an hour boundary


def raw_rows(samples: list[tuple[float, float]]) -> list[Row]:
    return [sample_row(ts, v) for ts, v in samples]


def test_buckets_are_epoch_aligned() -> None:
    assert bucket_start(125.0, 60.0) == 120.0
    assert bucket_start(120.0, 60.0) == 120.0
    assert bucket_start(-1.0, 60.0) == -60.0
    assert bucket_ceil(121.0, 60.0) == 180.0 and bucket_ceil(120.0, 60.0) == 120.0
    assert isinstance(bucket_start(125, 60), float)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.0, 10.0, 1.0, "median"), "unknown aggregation 'median'; valid: avg, min, max"),
        ((0.0, 10.0, 0.0, "avg"), "step_s must be a positive"),
        ((0.0, 10.0, -5.0, "avg"), "step_s must be a positive"),
        ((0.0, 10.0, math.nan, "avg"), "step_s must be a positive"),
        ((10.0, 10.0, 1.0, "avg"), "end > start"),
        ((10.0, 5.0, 1.0, "avg"), "end > start"),
    ],
)
def test_check_query(args: tuple[float, float, float, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_query(*args)


def test_counter_increase_treats_a_drop_as_a_restart_from_zero() -> None:
    assert counter_increase(10.0, 15.0) == 5.0
    assert counter_increase(10.0, 10.0) == 0.0
    assert counter_increase(10.0, 3.0) == 3.0


def test_rollup_samples_summarise_each_bucket() -> None:
    samples = [(M0 + 5, 1.0), (M0 + 30, 5.0), (M0 + 55, 2.0), (M0 + 65, 4.0), (M0 + 190, 7.0)]
    rows = rollup_samples(samples, 60.0)
    assert rows == [
        # bucket, count, sum, min, max, first, last, increase (2 -> counter reset: +2)
        (M0, 3, 8.0, 1.0, 5.0, 1.0, 2.0, 4.0 + 2.0),
        (M0 + 60, 1, 4.0, 4.0, 4.0, 4.0, 4.0, 0.0),
        (M0 + 180, 1, 7.0, 7.0, 7.0, 7.0, 7.0, 0.0),
    ]
    assert rollup_samples([], 60.0) == []


def test_merging_minutes_into_hours_equals_rolling_raw_into_hours() -> None:
    rng = np.random.default_rng(5)
    ts = np.sort(rng.uniform(M0, M0 + 5 * 3600, 3000))
    values = np.cumsum(rng.uniform(0, 3, ts.size))
    values[1500:] -= values[1500] - 1.0  # a counter reset midway
    samples = list(zip(ts.tolist(), values.tolist(), strict=True))
    direct = rollup_samples(samples, 3600.0)
    via_minutes = merge_rows(rollup_samples(samples, 60.0), 3600.0)
    assert len(direct) == len(via_minutes) == 5
    for a, b in zip(direct, via_minutes, strict=True):
        assert a[:2] == b[:2]
        assert a[2:] == pytest.approx(b[2:], rel=1e-12)


@pytest.mark.parametrize("agg", ["avg", "min", "max", "sum", "p50", "p90", "p95", "p99"])
def test_aggregate_raw_matches_numpy(agg: str) -> None:
    rng = np.random.default_rng(11)
    ts = np.sort(rng.uniform(M0, M0 + 600, 400))
    values = rng.lognormal(0, 1, ts.size)
    rows = raw_rows(list(zip(ts.tolist(), values.tolist(), strict=True)))
    start, end, step = M0 + 30.0, M0 + 570.0, 60.0
    points = aggregate(rows, agg, start, end, step)
    inside = (ts >= start) & (ts < end)
    buckets = np.floor(ts / step) * step
    expected = []
    for b in np.unique(buckets[inside]):
        v = values[inside & (buckets == b)]
        fn = {"avg": np.mean, "min": np.min, "max": np.max, "sum": np.sum}.get(agg)
        value = fn(v) if fn else np.quantile(v, int(agg[1:]) / 100)
        expected.append((float(b), float(value)))
    assert [p[0] for p in points] == [e[0] for e in expected]
    assert points[0][0] == M0  # the first bucket is aligned, though partial
    assert [p[1] for p in points] == pytest.approx([e[1] for e in expected], rel=1e-12)


def test_missing_buckets_are_absent() -> None:
    rows = raw_rows([(M0 + 1, 1.0), (M0 + 301, 3.0)])
    assert aggregate(rows, "avg", M0, M0 + 600, 60.0) == [(M0, 1.0), (M0 + 300, 3.0)]
    assert aggregate([], "avg", M0, M0 + 600, 60.0) == []


def test_rate_handles_resets_partial_buckets_and_the_previous_reading() -> None:
    # A counter read every 10 s, +5 per reading, restarting from 0 at M0 + 70.
    values = [100.0 + 5 * i for i in range(7)] + [2.0 + 5 * i for i in range(6)]
    samples = [(M0 + 10 * i, v) for i, v in enumerate(values)]
    rows = raw_rows(samples)
    points = dict(aggregate(rows, "rate", M0, M0 + 120, 60.0))
    # first minute: 5 pairs of +5; second: 125 -> 130 (+5), 130 -> 2 is a reset (+2), then
    # 2 -> 22 in four pairs of +5 (the reading at M0 + 120 is past `end`)
    assert points == {M0: 25 / 60, M0 + 60: (5 + 2 + 20) / 60}
    # Starting mid-way, the reading before `start` still pairs with the first one inside.
    later = dict(aggregate(rows, "rate", M0 + 30, M0 + 120, 60.0))
    assert later[M0] == pytest.approx(3 * 5 / 30)  # 3 pairs over the 30 s covered
    # One reading alone has no rate.
    assert aggregate(raw_rows([(M0 + 5, 1.0)]), "rate", M0, M0 + 60, 60.0) == []


def test_rate_is_the_same_from_raw_minute_and_hour_rows() -> None:
    rng = np.random.default_rng(2)
    ts = np.arange(M0, M0 + 6 * 3600, 5.0)
    values = np.cumsum(rng.uniform(0, 10, ts.size))
    values[2000:] -= values[2000] - 3.0  # reset
    samples = list(zip(ts.tolist(), values.tolist(), strict=True))
    raw = raw_rows(samples)
    minutes = rollup_samples(samples, 60.0)
    hours = merge_rows(minutes, 3600.0)
    for agg in ("rate", "avg", "min", "max", "sum"):
        expected = aggregate(raw, agg, M0, M0 + 6 * 3600, 3600.0)
        assert len(expected) == 6
        for rows in (minutes, hours):
            got = aggregate(rows, agg, M0, M0 + 6 * 3600, 3600.0)
            assert [p[0] for p in got] == [p[0] for p in expected]
            assert [p[1] for p in got] == pytest.approx([p[1] for p in expected], rel=1e-12)


def test_percentiles_on_rollups_are_quantiles_of_the_row_means() -> None:
    minutes = rollup_samples([(M0 + 60 * i + s, float(i)) for i in range(10) for s in (0, 30)], 60)
    [(_, p90)] = aggregate(minutes, "p90", M0, M0 + 600, 600.0)
    assert p90 == pytest.approx(np.quantile(np.arange(10.0), 0.9))


def test_every_aggregation_is_accepted() -> None:
    rows = raw_rows([(M0 + 1, 1.0), (M0 + 2, 2.0)])
    for agg in AGGREGATIONS:
        assert aggregate(rows, agg, M0, M0 + 60, 60.0)


NO_HORIZONS = (-math.inf, -math.inf, -math.inf)


def test_choose_tier() -> None:
    assert choose_tier(10.0, "avg") == RAW
    assert choose_tier(60.0, "avg") == MINUTE
    assert choose_tier(300.0, "p95") == MINUTE
    assert choose_tier(3600.0, "avg") == HOUR  # exact from hour rows
    assert choose_tier(7200.0, "rate") == HOUR
    assert choose_tier(3600.0, "p95") == MINUTE  # quantiles of minute means
    assert choose_tier(5400.0, "avg") == MINUTE  # 90 min: not whole hours


def test_plan_stitches_tiers_by_watermark_and_alignment() -> None:
    watermarks = (math.inf, M0 + 7200 + 600, M0 + 7200)  # minutes done to 2h10m, hours to 2h
    plan = plan_segments(
        M0 + 90, M0 + 7200 + 900, HOUR, native=RAW, watermarks=watermarks, horizons=NO_HORIZONS
    )
    assert plan == [
        (RAW, M0 + 90, M0 + 120),  # the partial minute at the head
        (MINUTE, M0 + 120, M0 + 3600),  # the partial hour
        (HOUR, M0 + 3600, M0 + 7200),  # whole hours rolled up
        (MINUTE, M0 + 7200, M0 + 7200 + 600),  # minutes not yet in an hour
        (RAW, M0 + 7200 + 600, M0 + 7200 + 900),  # not yet rolled up at all
    ]


def test_plan_without_rollups_reads_raw_and_derived_series_read_minutes() -> None:
    never = (math.inf, -math.inf, -math.inf)
    assert plan_segments(
        M0, M0 + 900, MINUTE, native=RAW, watermarks=never, horizons=NO_HORIZONS
    ) == [(RAW, M0, M0 + 900)]
    assert plan_segments(
        M0 + 30, M0 + 900, MINUTE, native=MINUTE, watermarks=never, horizons=NO_HORIZONS
    ) == [(MINUTE, M0 + 30, M0 + 900)]
    watermarks = (math.inf, M0 + 7200, M0 + 3600)
    assert plan_segments(
        M0 + 30, M0 + 4000, HOUR, native=MINUTE, watermarks=watermarks, horizons=NO_HORIZONS
    ) == [(MINUTE, M0 + 30, M0 + 4000)]  # no whole hour inside: minutes only
    watermarks = (math.inf, M0 + 7200, M0 + 7200)
    assert plan_segments(
        M0 + 30, M0 + 7300, HOUR, native=MINUTE, watermarks=watermarks, horizons=NO_HORIZONS
    ) == [
        (MINUTE, M0 + 30, M0 + 3600),
        (HOUR, M0 + 3600, M0 + 7200),
        (MINUTE, M0 + 7200, M0 + 7300),
    ]


def test_plan_leaves_out_a_head_the_finer_tier_no_longer_holds() -> None:
    watermarks = (math.inf, M0 + 7200, M0 + 7200)
    horizons = (M0 + 5000, -math.inf, -math.inf)  # raw deleted before M0 + 5000
    plan = plan_segments(
        M0 + 90, M0 + 600, MINUTE, native=RAW, watermarks=watermarks, horizons=horizons
    )
    assert plan == [(MINUTE, M0 + 90, M0 + 600)]  # rows from M0 + 120 on; no raw head


def test_plan_reads_what_retention_deleted_from_the_coarser_tier() -> None:
    watermarks = (math.inf, M0 + 30 * 3600, M0 + 29 * 3600)
    horizons = (M0 + 20 * 3600 + 90, M0 + 3 * 3600 + 30, -math.inf)
    plan = plan_segments(
        M0, M0 + 30 * 3600, RAW, native=RAW, watermarks=watermarks, horizons=horizons
    )
    assert plan == [
        (HOUR, M0, M0 + 4 * 3600),  # minutes are gone before M0 + 3h00m30s: whole hours
        (MINUTE, M0 + 4 * 3600, M0 + 20 * 3600 + 120),  # raw is gone before 20h01m30s
        (RAW, M0 + 20 * 3600 + 120, M0 + 30 * 3600),
    ]
    # derived series (native MINUTE) never read raw
    plan = plan_segments(
        M0, M0 + 5 * 3600, RAW, native=MINUTE, watermarks=watermarks, horizons=horizons
    )
    assert plan == [(HOUR, M0, M0 + 4 * 3600), (MINUTE, M0 + 4 * 3600, M0 + 5 * 3600)]
