"""Metric samples on SQLite: three tiers, rollups, retention; composed into SqliteStore.

Tables (migration 2): `metric_series` (id, name, labels as canonical JSON, resolution_s),
`samples_raw` (series_id, ts, value) and the rollup tiers `samples_1m` / `samples_1h`
(series_id, bucket_ts, count, sum, min, max, first, last, increase), all WITHOUT ROWID tables
keyed by (series_id, time): a series query is one contiguous range read, and time-window scans
over every series (rollups, retention) are one index seek per series. `core.series` explains the
row shape and how rates survive counter resets.

`compact(now)` is incremental: `rollup_state` remembers, per step, the time up to which work is
done (a watermark), and each chunk commits its rows together with the new watermark, so a crash
or a second call repeats nothing. A minute is rolled up once it ended `rollup_delay_s` ago (the
writers' flush delay); samples that arrive later than that for an already rolled-up minute stay
in the raw tier only. Retention deletes only what was rolled up, and records each tier's
horizon, which `series` uses to pick a tier that still holds the start of the range.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter
from typing import Final

from infersight.core.records import MetricSample
from infersight.core.series import (
    HOUR,
    MINUTE,
    PROJECTIONS,
    RAW,
    TIER_RESOLUTION_S,
    Row,
    aggregate_projected,
    bucket_start,
    check_query,
    choose_tier,
    merge_rows,
    plan_segments,
    rollup_samples,
)
from infersight.settings import RetentionSettings
from infersight.store.base import Series
from infersight.store.derived import DERIVED_SERIES, derive_window, first_finished_at

DAY_S: Final = 86_400.0
ROLLUP_DELAY_S: Final = 10.0
RAW_CHUNK_S: Final = 15 * 60.0  # raw samples rolled up per transaction
HOUR_CHUNK_S: Final = 6 * 3600.0  # minute rows rolled up per transaction

# rollup_state keys
RAW_DONE: Final = "raw_to_1m"  # raw samples before this are in samples_1m
REQUESTS_DONE: Final = "requests_to_1m"  # requests finished before this are derived
MINUTE_DONE: Final = "1m_to_1h"  # minute rows before this are in samples_1h
HORIZONS: Final = ("horizon_raw", "horizon_1m", "horizon_1h")  # oldest time each tier holds
COMPACTED_AT: Final = "compacted_at"

_TABLES: Final = ("samples_raw", "samples_1m", "samples_1h")
_TIME: Final = ("ts", "bucket_ts", "bucket_ts")
_ROW_COLUMNS: Final = "bucket_ts, count, sum, min, max, first, last, increase"
# SQL for each core.series field, per tier: a raw sample is a row of one reading.
_RAW_FIELDS: Final = {"bucket_ts": "ts", "count": "1", "increase": "0.0"}
_ROLLUP_FIELDS: Final = {"mean": "sum / count"}


def _select(tier: int, fields: Sequence[str], condition: str) -> str:
    table, t = _TABLES[tier], _TIME[tier]
    mapping = _RAW_FIELDS if tier == RAW else _ROLLUP_FIELDS
    default = "value" if tier == RAW else None
    columns = ", ".join(mapping.get(f, default or f) for f in fields)
    return f"SELECT {columns} FROM {table} WHERE series_id = ? AND {condition.format(t=t)}"


# (tier, agg) -> rows of PROJECTIONS[agg] in [lo, hi); tier -> the last rate row before lo
_SELECT_ROWS: Final = {
    (tier, agg): _select(tier, fields, "{t} >= ? AND {t} < ? ORDER BY {t}")
    for tier in (RAW, MINUTE, HOUR)
    for agg, fields in PROJECTIONS.items()
}
_SELECT_PREVIOUS: Final = tuple(
    _select(tier, PROJECTIONS["rate"], "{t} < ? ORDER BY {t} DESC LIMIT 1")
    for tier in (RAW, MINUTE, HOUR)
)
_INSERT_ROLLUP: Final = "INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_FIRST_AFTER: Final = (
    "SELECT MIN((SELECT {t} FROM {table} WHERE series_id = s.id AND {t} >= ? ORDER BY {t} "
    "LIMIT 1)) FROM metric_series s WHERE s.resolution_s <= ?"
)
_WINDOW_ALL_SERIES: Final = (
    "SELECT series_id, {cols} FROM {table} WHERE series_id IN "
    "(SELECT id FROM metric_series WHERE resolution_s <= ?) AND {t} >= ? AND {t} < ? "
    "ORDER BY series_id, {t}"
)

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Labels]


def canonical_labels(labels: Labels | Mapping[str, str]) -> str:
    """The labels as stored: a JSON object with sorted keys and no spaces."""
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class SqliteMetrics:
    """The metric half of SqliteStore; shares its connection and lock."""

    def __init__(
        self,
        connection: Callable[[], sqlite3.Connection],
        lock: threading.Lock,
        retention: RetentionSettings,
        *,
        rollup_delay_s: float = ROLLUP_DELAY_S,
    ) -> None:
        if rollup_delay_s < 0:
            raise ValueError(f"rollup_delay_s must be >= 0, got {rollup_delay_s}")
        self._connection = connection
        self._lock = lock
        self.retention = retention
        self.rollup_delay_s = rollup_delay_s
        self.skipped_nonfinite_total = 0
        self._ids: dict[SeriesKey, int] = {}  # written under the lock, after a commit

    # -- writes ------------------------------------------------------------------------------

    def write_samples(self, samples: Sequence[MetricSample]) -> None:
        """Insert raw samples in one transaction. Same series and ts again: the later wins.

        NaN and infinite values are skipped and counted (`skipped_nonfinite_total`).
        """
        if not samples:
            return
        with self._lock:
            conn = self._connection()
            created: dict[SeriesKey, int] = {}
            rows: list[tuple[int, float, float]] = []
            skipped = 0
            ids = self._ids
            with _transaction(conn):
                for s in samples:
                    if not math.isfinite(s.value):
                        skipped += 1
                        continue
                    key = (s.name, s.labels)
                    sid = ids.get(key)
                    if sid is None:
                        sid = created.get(key)
                        if sid is None:
                            sid = created[key] = _series_id(conn, s.name, s.labels, 0.0)
                    rows.append((sid, s.ts, s.value))
                conn.executemany("INSERT OR REPLACE INTO samples_raw VALUES (?, ?, ?)", rows)
            ids.update(created)
            self.skipped_nonfinite_total += skipped

    # -- queries -----------------------------------------------------------------------------

    def metric_names(self) -> list[str]:
        with self._lock:
            rows = self._connection().execute(
                "SELECT DISTINCT name FROM metric_series ORDER BY name"
            )
            return [str(r[0]) for r in rows.fetchall()]

    def series(
        self,
        name: str,
        start: float,
        end: float,
        *,
        step_s: float,
        agg: str = "avg",
        labels: Mapping[str, str] | None = None,
    ) -> list[Series]:
        """One Series per label set of `name` matching `labels` with data in [start, end)."""
        check_query(start, end, step_s, agg)
        wanted = dict(labels or {})
        fetched: list[tuple[Labels, list[tuple[float, ...]]]] = []
        with self._lock:
            conn = self._connection()
            candidates = conn.execute(
                "SELECT id, labels, resolution_s FROM metric_series WHERE name = ?", (name,)
            ).fetchall()
            state = _read_state(conn)
            horizons = [state.get(key, -math.inf) for key in HORIZONS]
            watermarks = [
                math.inf,
                state.get(RAW_DONE, -math.inf),
                state.get(MINUTE_DONE, -math.inf),
            ]
            tier = choose_tier(step_s, agg)
            for sid, labels_json, resolution_s in candidates:
                series_labels: dict[str, str] = json.loads(labels_json)
                if any(series_labels.get(k) != v for k, v in wanted.items()):
                    continue
                native = MINUTE if resolution_s >= TIER_RESOLUTION_S[MINUTE] else RAW
                segments = plan_segments(
                    start,
                    end,
                    tier,
                    native=native,
                    watermarks=watermarks,
                    horizons=horizons,
                )
                rows: list[tuple[float, ...]] = []
                if agg == "rate" and segments:
                    first_tier, lo, _ = segments[0]
                    rows.extend(conn.execute(_SELECT_PREVIOUS[first_tier], (sid, lo)))
                for seg_tier, lo, hi in segments:
                    rows.extend(conn.execute(_SELECT_ROWS[seg_tier, agg], (sid, lo, hi)))
                fetched.append((tuple(sorted(series_labels.items())), rows))
        out = [
            Series(name, series_labels_key, points)
            for series_labels_key, rows in fetched
            if (points := aggregate_projected(rows, agg, start, end, step_s))
        ]
        return sorted(out, key=lambda s: s.labels)

    def complete_until(self, name: str) -> float:
        """How far `compact` derived `name` from the request records (+inf: not derived)."""
        if name not in DERIVED_SERIES:
            return math.inf
        with self._lock:
            return _read_state(self._connection()).get(REQUESTS_DONE, math.inf)

    # -- compaction --------------------------------------------------------------------------

    def compact(self, now: float) -> None:
        """Roll up what is complete, derive request series, apply retention. Idempotent."""
        minute_s = TIER_RESOLUTION_S[MINUTE]
        target = bucket_start(now - self.rollup_delay_s, minute_s)
        self._advance(RAW_DONE, target, self._first_raw, self._roll_raw)
        self._advance(REQUESTS_DONE, target, first_finished_at, self._derive)
        with self._lock:
            state = _read_state(self._connection())
        minutes_done = min(state.get(RAW_DONE, target), state.get(REQUESTS_DONE, target))
        hour_target = bucket_start(minutes_done, TIER_RESOLUTION_S[HOUR])
        self._advance(MINUTE_DONE, hour_target, self._first_minute, self._roll_minutes)
        self._apply_retention(now)

    def _advance(
        self,
        key: str,
        target: float,
        first_after: Callable[[sqlite3.Connection, float], float | None],
        process: Callable[[sqlite3.Connection, float, float], None],
    ) -> None:
        """Move watermark `key` up to target, one chunk per transaction, skipping empty gaps."""
        while True:
            with self._lock:
                conn = self._connection()
                with _transaction(conn):
                    done = _read_state(conn).get(key)
                    if done is not None and done >= target:
                        return
                    after = -math.inf if done is None else done
                    first = first_after(conn, after)
                    if first is None or first >= target:
                        _write_state(conn, key, target)
                        return
                    chunk_s = HOUR_CHUNK_S if key == MINUTE_DONE else RAW_CHUNK_S
                    align_s = TIER_RESOLUTION_S[HOUR if key == MINUTE_DONE else MINUTE]
                    lo = max(after, bucket_start(first, align_s))
                    hi = min(lo + chunk_s, target)
                    process(conn, lo, hi)
                    _write_state(conn, key, hi)

    def _first_raw(self, conn: sqlite3.Connection, after: float) -> float | None:
        sql = _FIRST_AFTER.format(t="ts", table="samples_raw")
        return _scalar(conn.execute(sql, (after, 0.0)).fetchone())

    def _first_minute(self, conn: sqlite3.Connection, after: float) -> float | None:
        sql = _FIRST_AFTER.format(t="bucket_ts", table="samples_1m")
        return _scalar(conn.execute(sql, (after, math.inf)).fetchone())

    def _roll_raw(self, conn: sqlite3.Connection, lo: float, hi: float) -> None:
        sql = _WINDOW_ALL_SERIES.format(cols="ts, value", table="samples_raw", t="ts")
        out: list[tuple[float, ...]] = []
        for sid, group in groupby(conn.execute(sql, (0.0, lo, hi)), key=itemgetter(0)):
            samples = ((ts, value) for _, ts, value in group)
            out.extend((sid, *row) for row in rollup_samples(samples, TIER_RESOLUTION_S[MINUTE]))
        conn.executemany(_INSERT_ROLLUP.format(table="samples_1m"), out)

    def _roll_minutes(self, conn: sqlite3.Connection, lo: float, hi: float) -> None:
        sql = _WINDOW_ALL_SERIES.format(cols=_ROW_COLUMNS, table="samples_1m", t="bucket_ts")
        out: list[tuple[float, ...]] = []
        for sid, group in groupby(conn.execute(sql, (math.inf, lo, hi)), key=itemgetter(0)):
            rows: list[Row] = [r[1:] for r in group]
            out.extend((sid, *row) for row in merge_rows(rows, TIER_RESOLUTION_S[HOUR]))
        conn.executemany(_INSERT_ROLLUP.format(table="samples_1h"), out)

    def _derive(self, conn: sqlite3.Connection, lo: float, hi: float) -> None:
        samples = derive_window(conn, lo, hi)
        created: dict[SeriesKey, int] = {}
        out = []
        for s in samples:
            key = (s.name, s.labels)
            sid = created.get(key)
            if sid is None:
                sid = created[key] = _series_id(conn, s.name, s.labels, TIER_RESOLUTION_S[MINUTE])
            v = s.value
            out.append((sid, s.ts, 1, v, v, v, v, v, 0.0))
        conn.executemany(_INSERT_ROLLUP.format(table="samples_1m"), out)

    def _apply_retention(self, now: float) -> None:
        r = self.retention
        with self._lock:
            conn = self._connection()
            with _transaction(conn):
                state = _read_state(conn)
                cutoffs = (
                    min(now - r.raw_days * DAY_S, state.get(RAW_DONE, -math.inf)),
                    min(now - r.minute_days * DAY_S, state.get(MINUTE_DONE, -math.inf)),
                    now - r.hour_days * DAY_S,
                )
                for key, table, t, cutoff in zip(HORIZONS, _TABLES, _TIME, cutoffs, strict=True):
                    if cutoff <= state.get(key, -math.inf):
                        continue  # nothing new to delete: keep compact cheap
                    conn.execute(
                        f"DELETE FROM {table} WHERE series_id IN (SELECT id FROM metric_series) "
                        f"AND {t} < ?",
                        (cutoff,),
                    )
                    _write_state(conn, key, cutoff)
                requests_cutoff = min(
                    now - r.requests_days * DAY_S, state.get(REQUESTS_DONE, -math.inf)
                )
                conn.execute("DELETE FROM requests WHERE started_at < ?", (requests_cutoff,))
                if now > state.get(COMPACTED_AT, -math.inf):
                    _write_state(conn, COMPACTED_AT, now)


def _series_id(conn: sqlite3.Connection, name: str, labels: Labels, resolution_s: float) -> int:
    labels_json = canonical_labels(labels)
    conn.execute(
        "INSERT INTO metric_series (name, labels, resolution_s) VALUES (?, ?, ?) "
        "ON CONFLICT (name, labels) DO NOTHING",
        (name, labels_json, resolution_s),
    )
    row = conn.execute(
        "SELECT id FROM metric_series WHERE name = ? AND labels = ?", (name, labels_json)
    ).fetchone()
    return int(row[0])


def _read_state(conn: sqlite3.Connection) -> dict[str, float]:
    return {str(k): float(v) for k, v in conn.execute("SELECT name, value FROM rollup_state")}


def _write_state(conn: sqlite3.Connection, key: str, value: float) -> None:
    conn.execute("INSERT OR REPLACE INTO rollup_state (name, value) VALUES (?, ?)", (key, value))


def _scalar(row: tuple[float | None] | None) -> float | None:
    return None if row is None or row[0] is None else float(row[0])


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back by itself (disk full, I/O)
            conn.execute("ROLLBACK")
        raise
