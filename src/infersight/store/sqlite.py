"""The embedded default Store: one SQLite file in WAL mode.

One connection guarded by a lock, so the event-loop thread (queries) and the BatchWriter's
thread (writes) can share a store. SQLite has no percentile function: queries fetch the
non-null values of a window and `core.stats.percentiles` computes them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from operator import attrgetter
from pathlib import Path
from typing import Any, Final, TypeVar

from infersight.core.records import MetricSample, RequestRecord
from infersight.core.stats import mean, percentiles
from infersight.settings import RetentionSettings
from infersight.store.base import (
    GROUP_FIELDS,
    LATENCY_FIELDS,
    FieldPercentiles,
    RequestSummary,
    Series,
)
from infersight.store.migrations import (
    SQLITE_MIGRATIONS,
    Migration,
    StoreOpenError,
    apply_migrations,
)
from infersight.store.sqlite_alerts import SqliteAlerts
from infersight.store.sqlite_loadtests import SqliteLoadtests
from infersight.store.sqlite_metrics import ROLLUP_DELAY_S, SqliteMetrics
from infersight.store.sqlite_quality import SqliteQuality

MEMORY: Final = ":memory:"
# One column per RequestRecord field, in dataclass order (rows map back positionally).
COLUMNS: Final = tuple(f.name for f in fields(RequestRecord))
_BOOL_POSITIONS: Final = tuple(
    i for i, f in enumerate(fields(RequestRecord)) if f.type in ("bool", bool)
)
_COLUMN_LIST: Final = ", ".join(COLUMNS)
_INSERT: Final = (
    f"INSERT OR REPLACE INTO requests ({_COLUMN_LIST}) VALUES ({', '.join('?' * len(COLUMNS))})"
)
_as_row = attrgetter(*COLUMNS)
# Columns summarize() needs after the group columns, in this order.
_SUMMARY_COLUMNS: Final = tuple(
    "error_class ttft_s itl_mean_s tpot_s e2e_s output_tokens_per_s completion_tokens".split()  # noqa: SIM905
)

GroupKey = tuple[tuple[str, str | None], ...]
_T = TypeVar("_T")


class SqliteStore:
    """Store backend on SQLite. `path` is a file path or ":memory:" (tests).

    Writing a record whose id already exists replaces it, so retrying a batch is harmless.
    Time windows are half-open: start <= started_at < end. Metric samples, their rollups and
    retention (`retention`, used by `compact`) live in `store.sqlite_metrics`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        migrations: Sequence[Migration] = SQLITE_MIGRATIONS,
        retention: RetentionSettings | None = None,
        rollup_delay_s: float = ROLLUP_DELAY_S,
    ) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        label = "in-memory SQLite store" if self.path == MEMORY else f"SQLite store {self.path!r}"
        conn = _connect(self.path)
        try:
            apply_migrations(conn, migrations, db_label=label)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreOpenError(f"cannot open {label}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._metrics = SqliteMetrics(
            self._connection,
            self._lock,
            retention if retention is not None else RetentionSettings(),
            rollup_delay_s=rollup_delay_s,
        )
        self.loadtests = SqliteLoadtests(self._connection, self._lock)  # load test runs
        self.alerts = SqliteAlerts(self._connection, self._lock)  # alarm state, history, silences
        self.quality = SqliteQuality(self._connection, self._lock)  # quality sweeps and items

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def write_records(self, records: Sequence[RequestRecord]) -> None:
        """Insert (or replace by id) the records in one transaction."""
        if not records:
            return
        rows = [_as_row(r) for r in records]
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def get_record(self, record_id: str) -> RequestRecord | None:
        row = self._fetch(f"SELECT {_COLUMN_LIST} FROM requests WHERE id = ?", (record_id,))
        return _to_record(row[0]) if row else None

    def list_records(
        self,
        start: float,
        end: float,
        *,
        model: str | None = None,
        limit: int = 100,
    ) -> list[RequestRecord]:
        """Records in the window, newest first (ties by id), all sources."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        sql = f"SELECT {_COLUMN_LIST} FROM requests WHERE started_at >= ? AND started_at < ?"
        params: list[Any] = [start, end]
        if model is not None:
            sql += " AND model = ?"
            params.append(model)
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
        params.append(limit)
        return [_to_record(row) for row in self._fetch(sql, params)]

    def count_records(self, start: float, end: float) -> int:
        """Records in the window, all sources."""
        rows = self._fetch(
            "SELECT COUNT(*) FROM requests WHERE started_at >= ? AND started_at < ?", (start, end)
        )
        return int(rows[0][0])

    def percentiles(
        self,
        field: str,
        start: float,
        end: float,
        *,
        group_by: Sequence[str] = (),
        quantiles: Sequence[float] = (0.5, 0.95, 0.99),
        sources: Sequence[str] = ("user",),
    ) -> list[FieldPercentiles]:
        """Percentiles of `field` per group, over rows where it is not null; groups sorted."""
        _check_name("field", field, LATENCY_FIELDS)
        _check_group_by(group_by)
        _check_quantiles(quantiles)
        rows = self._window_rows((*group_by, field), start, end, sources, f"{field} IS NOT NULL")
        width = len(group_by)
        values: dict[GroupKey, list[float]] = {}
        for row in rows:
            values.setdefault(_group_key(group_by, row), []).append(row[width])
        return [
            FieldPercentiles(
                group=key, field=field, count=len(vs), values=percentiles(vs, quantiles)
            )
            for key, vs in _sorted_groups(values)
        ]

    def summarize(
        self,
        start: float,
        end: float,
        *,
        group_by: Sequence[str] = ("model",),
        quantiles: Sequence[float] = (0.5, 0.95, 0.99),
        sources: Sequence[str] = ("user",),
    ) -> list[RequestSummary]:
        """One RequestSummary per group with at least one request in the window; groups sorted.

        Latency percentiles cover every request with a value, failed ones included (a timeout's
        E2E is what the client waited); `errors` counts rows whose error_class is set.
        """
        _check_group_by(group_by)
        _check_quantiles(quantiles)
        window_s = end - start
        if window_s <= 0:
            raise ValueError(f"summarize needs end > start, got start={start} end={end}")
        rows = self._window_rows((*group_by, *_SUMMARY_COLUMNS), start, end, sources)
        width = len(group_by)
        groups: dict[GroupKey, list[tuple[Any, ...]]] = {}
        for row in rows:
            groups.setdefault(_group_key(group_by, row), []).append(row[width:])
        return [
            _summary(key, group_rows, window_s, quantiles)
            for key, group_rows in _sorted_groups(groups)
        ]

    # -- metric samples: see store.sqlite_metrics ---------------------------------------------

    def write_samples(self, samples: Sequence[MetricSample]) -> None:
        self._metrics.write_samples(samples)

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
        return self._metrics.series(name, start, end, step_s=step_s, agg=agg, labels=labels)

    def metric_names(self) -> list[str]:
        return self._metrics.metric_names()

    def complete_until(self, name: str) -> float:
        return self._metrics.complete_until(name)

    def compact(self, now: float) -> None:
        self._metrics.compact(now)

    def close(self) -> None:
        """Close the connection; idempotent. Later calls raise RuntimeError."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self!r} is closed")
        return self._conn

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def _window_rows(
        self,
        columns: Iterable[str],
        start: float,
        end: float,
        sources: Sequence[str],
        extra_condition: str | None = None,
    ) -> list[Any]:
        # Column names are whitelisted by the callers; values are always bound parameters.
        if not sources:
            return []
        sql = (
            f"SELECT {', '.join(columns)} FROM requests "
            f"WHERE source IN ({', '.join('?' * len(sources))}) "
            "AND started_at >= ? AND started_at < ?"
        )
        if extra_condition:
            sql += f" AND {extra_condition}"
        return self._fetch(sql, [*sources, start, end])


def _connect(path: str) -> sqlite3.Connection:
    target = path if path == MEMORY else str(Path(path).expanduser())
    parent = Path(target).resolve().parent
    if target != MEMORY and not parent.is_dir():
        raise StoreOpenError(
            f"cannot open SQLite store {path!r}: directory {str(parent)!r} does not exist; "
            "create it, or set store.path to a file in an existing directory"
        )
    try:
        conn = sqlite3.connect(
            target,
            isolation_level=None,  # autocommit; transactions are explicit
            check_same_thread=False,  # shared between threads under SqliteStore._lock
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
    except sqlite3.DatabaseError as exc:
        raise StoreOpenError(
            f"cannot open SQLite store {path!r}: {exc} "
            "(is it an SQLite database, readable and writable by this user?)"
        ) from exc
    return conn


def _to_record(row: Sequence[Any]) -> RequestRecord:
    values = list(row)
    for i in _BOOL_POSITIONS:
        values[i] = bool(values[i])
    return RequestRecord(*values)


def _check_name(kind: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; allowed: {', '.join(allowed)}")


def _check_group_by(group_by: Sequence[str]) -> None:
    if isinstance(group_by, str):
        raise ValueError(f"group_by must be a sequence of field names, got the string {group_by!r}")
    for name in group_by:
        _check_name("group_by field", name, GROUP_FIELDS)


def _check_quantiles(quantiles: Sequence[float]) -> None:
    for q in quantiles:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantiles must be within [0, 1], got {q}")


def _group_key(group_by: Sequence[str], row: Sequence[Any]) -> GroupKey:
    return tuple((n, None if v is None else str(v)) for n, v in zip(group_by, row, strict=False))


def _sorted_groups(groups: dict[GroupKey, _T]) -> list[tuple[GroupKey, _T]]:
    # None sorts first within a position; values are all strings, so the order is total.
    return sorted(groups.items(), key=lambda item: [(v is not None, v or "") for _, v in item[0]])


def _summary(
    key: GroupKey, rows: list[tuple[Any, ...]], window_s: float, quantiles: Sequence[float]
) -> RequestSummary:
    def column(i: int) -> list[float]:
        return [row[i] for row in rows if row[i] is not None]

    completion_tokens = sum(int(t) for t in column(6))
    return RequestSummary(
        group=key,
        requests=len(rows),
        errors=sum(1 for row in rows if row[0] is not None),
        window_s=window_s,
        ttft_s=percentiles(column(1), quantiles),
        itl_s=percentiles(column(2), quantiles),
        tpot_s=percentiles(column(3), quantiles),
        e2e_s=percentiles(column(4), quantiles),
        output_tokens_per_s_mean=mean(column(5)),
        completion_tokens=completion_tokens,
        throughput_tokens_per_s=completion_tokens / window_s,
    )
