"""Metric store: ingest rate (target >= 50,000 samples/s) and `series` latency (target p95 <
100 ms per query over 30 days of 1-minute rollups for 50 series).

All on fresh SQLite files (WAL) in a temp dir, in one run:
  ingest   write_samples() in batches: the storage ceiling; then SampleWriter.submit_many() in
           scrape-sized calls from the caller's thread, end to end (written and committed),
           and the cost of submit_many() alone on the caller (the event loop's share)
  queries  the 1-minute tier seeded directly with 30 days x 1440 minutes x 50 series (2.16M
           rows), compact() building the 1-hour tier from it (timed), then each query kind run
           for every one of the 50 series; p50 / p95 / max per kind
Run:
    .venv/bin/python bench/store_metrics.py [--samples N] [--days D] [--series S]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from infersight.core.records import MetricSample
from infersight.core.series import bucket_start
from infersight.core.stats import percentiles
from infersight.settings import WriterSettings
from infersight.store.sample_writer import SampleWriter
from infersight.store.sqlite import SqliteStore
from infersight.store.sqlite_metrics import RAW_DONE, canonical_labels

INGEST_TARGET_PER_S = 50_000.0
QUERY_TARGET_P95_S = 0.100
DAY_S = 86_400.0
NAMES = (
    "gpu_utilization",
    "gpu_memory_used_bytes",
    "kv_cache_usage",
    "queue_depth",
    "tokens_total",
)
SCRAPE_SIZE = 200  # samples per submit_many call, as one collector scrape


def make_samples(n: int, series: int, seed: int = 1) -> list[MetricSample]:
    rng = random.Random(seed)
    t0 = time.time() - 3600
    keys = [(NAMES[i % len(NAMES)], (("gpu", str(i)), ("host", "node-1"))) for i in range(series)]
    return [
        MetricSample(
            keys[i % series][0], t0 + (i // series) * 5.0, rng.uniform(0, 100), keys[i % series][1]
        )
        for i in range(n)
    ]


def bench_direct(path: Path, samples: list[MetricSample], batch: int) -> float:
    store = SqliteStore(path)
    started = time.perf_counter()
    for i in range(0, len(samples), batch):
        store.write_samples(samples[i : i + batch])
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def bench_writer(path: Path, samples: list[MetricSample]) -> tuple[float, float, SampleWriter]:
    store = SqliteStore(path)
    writer = SampleWriter(store, WriterSettings(queue_size=len(samples), flush_interval_s=0.5))
    writer.start()
    submit_s = 0.0
    started = time.perf_counter()
    for i in range(0, len(samples), SCRAPE_SIZE):
        t = time.perf_counter()
        writer.submit_many(samples[i : i + SCRAPE_SIZE])
        submit_s += time.perf_counter() - t
    writer.close()
    elapsed = time.perf_counter() - started
    count = store._connection().execute("SELECT COUNT(*) FROM samples_raw").fetchone()[0]
    assert count == len(samples) - writer.dropped_total, (count, writer.dropped_total)
    store.close()
    return elapsed, submit_s, writer


def seed_minutes(path: Path, days: int, series: int, now: float) -> tuple[float, int]:
    """30 days of 1-minute rows per series, written straight into samples_1m."""
    store = SqliteStore(path)
    conn = store._connection()
    end = bucket_start(now, 60.0)
    minutes = int(days * DAY_S / 60)
    rng = random.Random(7)
    started = time.perf_counter()
    conn.execute("BEGIN")
    for i in range(series):
        labels = canonical_labels((("gpu", str(i % 10)), ("host", f"node-{i // 10}")))
        sid = conn.execute(
            "INSERT INTO metric_series (name, labels) VALUES (?, ?) RETURNING id",
            (NAMES[i % len(NAMES)], labels),
        ).fetchone()[0]
        rows = []
        level = rng.uniform(10, 90)
        for m in range(minutes):
            avg = level + rng.uniform(-5, 5)
            rows.append(
                (sid, end - (minutes - m) * 60.0, 12, avg * 12, avg - 5, avg + 5, avg, avg, 0.0)
            )
        conn.executemany("INSERT INTO samples_1m VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    # Everything before `end` counts as rolled up from raw, as compact() would have recorded.
    conn.execute("INSERT INTO rollup_state VALUES (?, ?)", (RAW_DONE, end))
    conn.execute("COMMIT")
    seeded_s = time.perf_counter() - started
    store.close()
    return seeded_s, series * minutes


QueryFn = Callable[[SqliteStore, str, dict[str, str]], object]


def query(window: tuple[float, float], step_s: float, agg: str) -> QueryFn:
    def run(store: SqliteStore, name: str, labels: dict[str, str]) -> object:
        return store.series(name, *window, step_s=step_s, agg=agg, labels=labels)

    return run


def time_queries(
    store: SqliteStore, keys: list[tuple[str, dict[str, str]]], run: QueryFn
) -> list[float]:
    out = []
    for name, labels in keys:
        started = time.perf_counter()
        run(store, name, labels)
        out.append(time.perf_counter() - started)
    return out


def ingest_section(tmp: Path, n: int, batch: int) -> bool:
    samples = make_samples(n, 200)
    direct_s = bench_direct(tmp / "direct.db", samples, batch)
    writer_s, submit_s, writer = bench_writer(tmp / "writer.db", samples)
    print(f"ingest: {n:,} samples over 200 series, SQLite WAL file DB")
    print(f"{'path':<38} {'samples/s':>12} {'seconds':>8}")
    for label, seconds in (
        (f"write_samples, batches of {batch:,}", direct_s),
        (f"SampleWriter end to end (batch {writer.batch_size:,})", writer_s),
        (f"submit_many({SCRAPE_SIZE}) on the caller", submit_s),
    ):
        print(f"{label:<38} {n / seconds:>12,.0f} {seconds:>8.2f}")
    print(
        f"submit_many cost: {submit_s / n * 1e9:.0f} ns/sample; "
        f"batches={writer.batches_total}, dropped={writer.dropped_total}"
    )
    ok = True
    for label, seconds in (("write_samples", direct_s), ("SampleWriter", writer_s)):
        met = n / seconds >= INGEST_TARGET_PER_S
        ok &= met
        print(f"{label} {'meets' if met else 'MISSES'} {INGEST_TARGET_PER_S:,.0f} samples/s")
    return ok


def query_section(tmp: Path, days: int, series: int) -> bool:
    path = tmp / "minutes.db"
    now = time.time()
    seeded_s, rows = seed_minutes(path, days, series, now)
    store = SqliteStore(path)
    compact_times = []
    for at in (now, now, now + 60):  # build the hour tier; nothing new; a minute, no data
        started = time.perf_counter()
        store.compact(at)
        compact_times.append(time.perf_counter() - started)
    conn = store._connection()
    hours = conn.execute("SELECT COUNT(*) FROM samples_1h").fetchone()[0]
    size_mb = sum(p.stat().st_size for p in tmp.glob("minutes.db*")) / 1e6
    print(
        f"\nqueries: {rows:,} 1-minute rows ({days} days x {series} series) seeded in "
        f"{seeded_s:.1f} s; DB {size_mb:.0f} MB"
    )
    print(
        f"compact(): built the 1-hour tier ({hours:,} rows) in {compact_times[0]:.1f} s; "
        f"again with nothing new {compact_times[1] * 1e3:.1f} ms; a minute later with no new "
        f"data {compact_times[2] * 1e3:.1f} ms"
    )
    keys = [
        (str(name), json.loads(labels))
        for name, labels in conn.execute("SELECT name, labels FROM metric_series ORDER BY id")
    ]
    month = (now - days * DAY_S, now)
    kinds: list[tuple[str, QueryFn]] = [
        (f"{days}d step 1h avg (1h tier)", query(month, 3600, "avg")),
        (f"{days}d step 1h p95 (1m tier)", query(month, 3600, "p95")),
        (f"{days}d step 1h rate (1h tier)", query(month, 3600, "rate")),
        (f"{days}d step 30m avg (1m tier)", query(month, 1800, "avg")),
        ("1d step 5m max (1m tier)", query((now - DAY_S, now), 300, "max")),
    ]
    print(f"{'query (one series each, x2)':<38} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    ok = True
    for label, run in kinds:
        times = time_queries(store, keys, run) + time_queries(store, keys, run)
        p = percentiles(times, (0.5, 0.95, 1.0))
        met = p[0.95] < QUERY_TARGET_P95_S
        ok &= met
        print(
            f"{label:<38} {p[0.5] * 1e3:>8.1f} {p[0.95] * 1e3:>8.1f} {p[1.0] * 1e3:>8.1f}"
            f"{'' if met else '  MISSES'}"
        )
    started = time.perf_counter()
    whole = store.series(NAMES[0], *month, step_s=3600, agg="p95")
    print(
        f"one name, all {len(whole)} label sets, {days}d step 1h p95: "
        f"{(time.perf_counter() - started) * 1e3:.0f} ms (informational)"
    )
    store.close()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--series", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="infersight-bench-") as tmp:
        ok = ingest_section(Path(tmp), args.samples, args.batch)
        ok &= query_section(Path(tmp), args.days, args.series)
    print(f"\nall targets {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
