"""Rollups and retention on SQLite over simulated days: a FakeClock, never a sleep.

Three days of samples every 5 s for two gauges and a counter (with a reset), written hour by
hour with a compaction after each, as the RollupDaemon would. Then: what each tier holds, that
raw older than 2 days is gone, that queries answered from rollups equal what the raw samples
give, and that compaction is idempotent and cheap when nothing is new.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import Iterator

import numpy as np
import pytest

from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample
from infersight.core.series import bucket_ceil, bucket_start, counter_increase
from infersight.settings import RetentionSettings, StoreSettings
from infersight.store.rollup_daemon import RollupDaemon
from infersight.store.sqlite import SqliteStore
from infersight.store.sqlite_metrics import MINUTE_DONE, RAW_DONE, ROLLUP_DELAY_S

DAY_S = 86_400.0
EVERY_S = 5.0
START = 1_699_920_000.0  # midnight UTC
DAYS = 3
HOUR_S = 3600.0


class Simulation:
    """Samples of three series over DAYS days, and the store they were written to."""

    def __init__(self, store: SqliteStore, clock: FakeClock) -> None:
        self.store = store
        self.clock = clock
        n = int(DAYS * DAY_S / EVERY_S)
        rng = np.random.default_rng(42)
        self.ts = START + np.arange(n) * EVERY_S
        self.util0 = rng.uniform(0, 100, n)
        self.util1 = rng.normal(50, 10, n)
        self.counter = np.cumsum(rng.integers(0, 20, n)).astype(float)
        reset_at = n // 3 + 7
        self.counter[reset_at:] -= self.counter[reset_at] - 3.0  # process restart: from 3
        self.reset_ts = float(self.ts[reset_at])

    def samples(self, lo: float, hi: float) -> list[MetricSample]:
        i, j = np.searchsorted(self.ts, [lo, hi])
        out = []
        for k in range(i, j):
            t = float(self.ts[k])
            out.append(MetricSample.make("gpu_util", t, float(self.util0[k]), gpu="0"))
            out.append(MetricSample.make("gpu_util", t, float(self.util1[k]), gpu="1"))
            out.append(MetricSample.make("tokens_total", t, float(self.counter[k])))
        return out

    def run(self, compact_every_s: float = HOUR_S) -> None:
        """Write each period's samples when the clock reaches its end, then compact."""
        t = START
        while t < START + DAYS * DAY_S:
            self.clock.advance(START + (t - START) + compact_every_s - self.clock.now())
            self.store.write_samples(self.samples(t, t + compact_every_s))
            self.store.compact(self.clock.now())
            t += compact_every_s

    def expected(
        self, values: np.ndarray, agg: str, start: float, end: float, step: float
    ) -> list[tuple[float, float]]:
        inside = (self.ts >= start) & (self.ts < end)
        buckets = np.floor(self.ts / step) * step
        fn = {"avg": np.mean, "min": np.min, "max": np.max, "sum": np.sum}[agg]
        return [
            (float(b), float(fn(values[inside & (buckets == b)])))
            for b in np.unique(buckets[inside])
        ]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulation]:
    clock = FakeClock(START)
    store = SqliteStore(":memory:")
    simulation = Simulation(store, clock)
    simulation.run()
    yield simulation
    store.close()


def table_stats(store: SqliteStore, table: str, column: str) -> tuple[int, float, float]:
    row = store._connection().execute(f"SELECT COUNT(*), MIN({column}), MAX({column}) FROM {table}")
    count, low, high = row.fetchone()
    return int(count), float(low), float(high)


def assert_points(got: list[tuple[float, float]], want: list[tuple[float, float]]) -> None:
    assert [p[0] for p in got] == [p[0] for p in want]
    assert [p[1] for p in got] == pytest.approx([p[1] for p in want], rel=1e-9)


def test_tiers_hold_what_retention_allows(sim: Simulation) -> None:
    now = sim.clock.now()
    assert now == START + DAYS * DAY_S
    count, oldest, newest = table_stats(sim.store, "samples_raw", "ts")
    assert oldest >= now - 2 * DAY_S and oldest < now - 2 * DAY_S + 60  # older raw is gone
    assert newest == now - EVERY_S
    # every complete minute of the three days is in the 1-minute tier, for each of 3 series
    done = bucket_start(now - ROLLUP_DELAY_S, 60.0)
    count, oldest, newest = table_stats(sim.store, "samples_1m", "bucket_ts")
    assert (oldest, newest) == (START, done - 60)
    assert count == 3 * int((done - START) / 60)
    count, oldest, newest = table_stats(sim.store, "samples_1h", "bucket_ts")
    assert (oldest, newest) == (START, bucket_start(done, HOUR_S) - HOUR_S)
    assert count == 3 * int((bucket_start(done, HOUR_S) - START) / HOUR_S)
    state = dict(sim.store._connection().execute("SELECT name, value FROM rollup_state"))
    assert state[RAW_DONE] == done and state[MINUTE_DONE] == bucket_start(done, HOUR_S)


@pytest.mark.parametrize("agg", ["avg", "min", "max", "sum"])
@pytest.mark.parametrize("step_s", [60.0, 300.0, HOUR_S, 6 * HOUR_S])
def test_queries_over_three_days_equal_raw(sim: Simulation, agg: str, step_s: float) -> None:
    # Raw is gone at the start, so it is minute-aligned (a partial minute there could only be
    # answered from raw); it is not hour-aligned, nor is the end: the hour tier's head comes from
    # minute rows, the tail from minutes and from raw not rolled up yet.
    start, end = START + 120.0, sim.clock.now() - 12.0
    [s] = sim.store.series("gpu_util", start, end, step_s=step_s, agg=agg, labels={"gpu": "1"})
    assert s.labels == (("gpu", "1"),)
    assert_points(s.points, sim.expected(sim.util1, agg, start, end, step_s))


def test_counter_rate_with_a_reset_equals_raw(sim: Simulation) -> None:
    increases = [0.0] + [
        counter_increase(a, b) for a, b in zip(sim.counter[:-1], sim.counter[1:], strict=True)
    ]
    inc = np.array(increases)
    inc[0] = math.nan  # the first reading has no predecessor
    buckets = np.floor(sim.ts / HOUR_S) * HOUR_S
    [s] = sim.store.series("tokens_total", START, sim.clock.now(), step_s=HOUR_S, agg="rate")
    assert len(s.points) == DAYS * 24
    for b, rate in s.points:
        want = np.nansum(inc[buckets == b]) / HOUR_S
        assert rate == pytest.approx(want, rel=1e-9), b
    # the reset hour has no dip: the rate stays near the mean increase per second
    reset_hour = dict(s.points)[bucket_start(sim.reset_ts, HOUR_S)]
    assert reset_hour == pytest.approx(9.5 / EVERY_S, rel=0.1)
    [minute] = sim.store.series(
        "tokens_total", START, START + 3600, step_s=60, agg="rate"
    )  # raw is gone there: answered from 1-minute rows, same numbers
    assert minute.points[1][1] == pytest.approx(
        np.nansum(inc[(sim.ts >= START + 60) & (sim.ts < START + 120)]) / 60
    )


def test_percentiles_on_rollups_use_minute_means(sim: Simulation) -> None:
    [s] = sim.store.series(
        "gpu_util", START, START + 6 * HOUR_S, step_s=HOUR_S, agg="p95", labels={"gpu": "0"}
    )
    minute_means = [v for _, v in sim.expected(sim.util0, "avg", START, START + HOUR_S, 60.0)]
    assert s.points[0] == (START, pytest.approx(float(np.quantile(minute_means, 0.95))))


def test_compact_again_changes_nothing_and_is_cheap(sim: Simulation) -> None:
    conn = sim.store._connection()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        changes = conn.total_changes
        sim.store.compact(sim.clock.now())
        assert conn.total_changes == changes
    finally:
        conn.set_trace_callback(None)
    assert not [s for s in statements if "INSERT OR REPLACE INTO samples" in s]
    assert not [s for s in statements if s.startswith("DELETE FROM samples")]
    assert len(statements) < 40


def test_late_samples_for_rolled_up_minutes_stay_raw(sim: Simulation) -> None:
    store = SqliteStore(":memory:")
    store.write_samples([MetricSample.make("m", START + 10, 1.0)])
    store.compact(START + 120)
    store.write_samples([MetricSample.make("m", START + 20, 3.0)])  # minute already rolled up
    store.compact(START + 180)
    assert store.series("m", START, START + 60, step_s=10)[0].points == [
        (START + 10, 1.0),
        (START + 20, 3.0),
    ]
    assert store.series("m", START, START + 60, step_s=60)[0].points == [(START, 1.0)]
    store.close()


def test_short_retention_empties_every_tier_in_order() -> None:
    clock = FakeClock(START)
    retention = RetentionSettings(raw_days=0.5, minute_days=1, hour_days=2, requests_days=1)
    store = SqliteStore(":memory:", retention=retention)
    simulation = Simulation(store, clock)
    simulation.run(compact_every_s=6 * HOUR_S)
    now = clock.now()
    assert table_stats(store, "samples_raw", "ts")[1] >= now - 0.5 * DAY_S
    assert table_stats(store, "samples_1m", "bucket_ts")[1] >= now - DAY_S
    assert table_stats(store, "samples_1h", "bucket_ts")[1] >= now - 2 * DAY_S
    # three days ago only hours are left: the query reads them, even at a 1-minute step
    [s] = store.series(
        "gpu_util", now - 1.5 * DAY_S, now - 1.5 * DAY_S + HOUR_S, step_s=60, labels={"gpu": "0"}
    )
    assert len(s.points) == 1
    assert store.series("gpu_util", START, START + HOUR_S, step_s=60) == []  # beyond all
    store.close()


def test_compact_refuses_a_closed_store() -> None:
    store = SqliteStore(":memory:")
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.compact(START)


def test_rollup_daemon_ticks_compact_in_a_thread() -> None:
    clock = FakeClock(START)
    store = SqliteStore(":memory:")
    store.write_samples([MetricSample.make("m", START + 1, 2.0)])
    daemon = RollupDaemon.from_settings(store, clock, StoreSettings(rollup_interval_s=30))
    assert daemon.interval_s == 30 and daemon.runs_total == 0
    clock.advance(120)
    asyncio.run(daemon.tick(clock.now()))
    assert daemon.runs_total == 1 and daemon.last_duration_s == 0.0  # the fake clock stood still
    rows = store._connection().execute("SELECT bucket_ts, count, sum FROM samples_1m").fetchall()
    assert rows == [(START, 1, 2.0)]
    store.close()


def test_compact_rolls_back_a_failed_chunk() -> None:
    store = SqliteStore(":memory:")
    store.write_samples([MetricSample.make("m", START + 1, 2.0)])
    conn = store._connection()
    conn.execute("DROP TABLE samples_1h")  # the hour step will fail
    with pytest.raises(sqlite3.OperationalError):
        store.compact(START + 2 * HOUR_S)
    assert not conn.in_transaction
    state = dict(conn.execute("SELECT name, value FROM rollup_state"))
    assert state[RAW_DONE] == START + 2 * HOUR_S - 60  # the minute step had committed
    assert MINUTE_DONE not in state
    store.close()


def test_a_fine_step_across_the_raw_horizon_uses_minutes_for_the_older_part(
    sim: Simulation,
) -> None:
    now = sim.clock.now()
    [s] = sim.store.series("gpu_util", START, now, step_s=10, labels={"gpu": "0"})
    split = bucket_ceil(now - 2 * DAY_S, 60.0)  # the first whole minute raw still holds
    older = [p for p in s.points if p[0] < split]
    recent = [p for p in s.points if p[0] >= split]
    assert len(older) == (split - START) / 60  # one point a minute: the 1-minute rows
    assert len(recent) == (now - split) / 10  # one point per 10 s bucket: raw samples
    assert_points(older, sim.expected(sim.util0, "avg", START, split, 60.0))
    assert_points(recent, sim.expected(sim.util0, "avg", split, now, 10.0))
