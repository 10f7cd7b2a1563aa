"""Alert engine persistence on SQLite (migration 4); composed into SqliteStore as `.alerts`.

Tables: `alert_state` (one row per alarm instance: rule × label group, upserted after each
evaluation), `alert_events` (history: transitions, notifications, failures, silences) and
`alert_silences`. JSON columns hold the free-form parts (learned baselines, SLO detail).

`count_good_total` is the SLO query: per time bucket, how many requests were good (a latency
field under a threshold, or no error) out of how many, straight from the request records, so
a latency SLO is exact rather than estimated from per-minute percentiles.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from infersight.core.alarms import AlarmRecord, AlarmState, AlertEvent, Silence

# Request columns count_good_total may filter on, and the latency fields it may measure.
FILTER_COLUMNS: Final = ("model", "upstream", "route", "client")
GOOD_FIELDS: Final = ("ttft_s", "e2e_s", "tpot_s", "itl_mean_s", "itl_p50_s", "itl_p90_s")

_STATE_COLUMNS: Final = (
    "rule, instance, labels, state, since, evaluated_at, value, threshold, lower, upper, "
    "severity, alarm_since, notified_at, last_notified_at, notified_severity, learned, detail"
)
_EVENT_COLUMNS: Final = "ts, rule, kind, instance, state, previous_state, value, message, detail"
_SILENCE_COLUMNS: Final = "id, rule, created_at, expires_at, reason, created_by"


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"), default=str)


def _record_row(r: AlarmRecord) -> tuple[Any, ...]:
    return (
        r.rule,
        r.instance,
        json.dumps(list(r.labels)),
        r.state.value,
        r.since,
        r.evaluated_at,
        r.value,
        r.threshold,
        r.lower,
        r.upper,
        r.severity,
        r.alarm_since,
        r.notified_at,
        r.last_notified_at,
        r.notified_severity,
        _json(r.learned),
        _json(r.detail),
    )


def _to_record(row: Sequence[Any]) -> AlarmRecord:
    labels = tuple((str(k), str(v)) for k, v in json.loads(row[2]))
    return AlarmRecord(
        rule=row[0],
        instance=row[1],
        labels=labels,
        state=AlarmState(row[3]),
        since=row[4],
        evaluated_at=row[5],
        value=row[6],
        threshold=row[7],
        lower=row[8],
        upper=row[9],
        severity=row[10],
        alarm_since=row[11],
        notified_at=row[12],
        last_notified_at=row[13],
        notified_severity=row[14],
        learned=json.loads(row[15]),
        detail=json.loads(row[16]),
    )


def _to_event(row: Sequence[Any]) -> AlertEvent:
    return AlertEvent(
        ts=row[0],
        rule=row[1],
        kind=row[2],
        instance=row[3],
        state=row[4] or "",
        previous_state=row[5] or "",
        value=row[6],
        message=row[7],
        detail=json.loads(row[8]),
    )


class SqliteAlerts:
    """The alert half of SqliteStore; shares its connection and lock."""

    def __init__(self, connection: Callable[[], sqlite3.Connection], lock: threading.Lock) -> None:
        self._connection = connection
        self._lock = lock

    # -- alarm state ---------------------------------------------------------------------------

    def load_alarms(self) -> list[AlarmRecord]:
        rows = self._fetch(f"SELECT {_STATE_COLUMNS} FROM alert_state ORDER BY rule, instance")
        return [_to_record(r) for r in rows]

    def save_alarms(self, records: Sequence[AlarmRecord]) -> None:
        """Insert or replace each instance's row, in one transaction."""
        if not records:
            return
        marks = ", ".join("?" * 17)
        with self._write() as conn:
            conn.executemany(
                f"INSERT OR REPLACE INTO alert_state ({_STATE_COLUMNS}) VALUES ({marks})",
                [_record_row(r) for r in records],
            )

    def delete_alarms(self, keys: Sequence[tuple[str, str]]) -> None:
        """Forget (rule, instance) rows."""
        if keys:
            with self._write() as conn:
                conn.executemany("DELETE FROM alert_state WHERE rule = ? AND instance = ?", keys)

    # -- history -------------------------------------------------------------------------------

    def append_events(self, events: Sequence[AlertEvent]) -> None:
        if not events:
            return
        rows = [
            (
                e.ts,
                e.rule,
                e.kind,
                e.instance,
                e.state,
                e.previous_state,
                e.value,
                e.message,
                _json(e.detail),
            )
            for e in events
        ]
        with self._write() as conn:
            conn.executemany(
                f"INSERT INTO alert_events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def events(
        self, start: float, end: float, *, rule: str | None = None, limit: int = 1000
    ) -> list[AlertEvent]:
        """Events with start <= ts < end, newest first (ties: last written first)."""
        sql = f"SELECT {_EVENT_COLUMNS} FROM alert_events WHERE ts >= ? AND ts < ?"
        params: list[Any] = [start, end]
        if rule is not None:
            sql += " AND rule = ?"
            params.append(rule)
        sql += " ORDER BY ts DESC, id DESC LIMIT ?"
        params.append(max(0, limit))
        return [_to_event(r) for r in self._fetch(sql, params)]

    def prune_events(self, before: float) -> int:
        """Delete events older than `before`; returns how many."""
        with self._write() as conn:
            return conn.execute("DELETE FROM alert_events WHERE ts < ?", (before,)).rowcount

    # -- silences ------------------------------------------------------------------------------

    def add_silence(self, silence: Silence) -> None:
        with self._write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO alert_silences ({_SILENCE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    silence.id,
                    silence.rule,
                    silence.created_at,
                    silence.expires_at,
                    silence.reason,
                    silence.created_by,
                ),
            )

    def silences(self, now: float | None = None) -> list[Silence]:
        """Every silence (newest first), or only those active at `now`."""
        sql = f"SELECT {_SILENCE_COLUMNS} FROM alert_silences"
        params: list[Any] = []
        if now is not None:
            sql += " WHERE created_at <= ? AND expires_at > ?"
            params = [now, now]
        sql += " ORDER BY created_at DESC, id"
        return [Silence(*row) for row in self._fetch(sql, params)]

    def end_silences(self, rule: str, now: float) -> int:
        """Let the active silences of `rule` expire now; returns how many were active."""
        with self._write() as conn:
            return conn.execute(
                "UPDATE alert_silences SET expires_at = ? "
                "WHERE rule = ? AND created_at <= ? AND expires_at > ?",
                (now, rule, now, now),
            ).rowcount

    # -- SLO counts from request records -------------------------------------------------------

    def count_good_total(
        self,
        start: float,
        end: float,
        *,
        step_s: float,
        field: str | None,
        threshold: float | None = None,
        sources: Sequence[str] = ("user",),
        labels: Mapping[str, str] | None = None,
    ) -> list[tuple[float, int, int]]:
        """(bucket start, good, total) per epoch-aligned bucket of step_s with requests that
        started in [start, end); buckets without requests are absent.

        field set (a latency field): total = requests with a value for it, good = those with
        value < threshold (requests that failed before producing it are left to the
        availability SLO). field None: total = every request, good = those without an error.
        """
        if not step_s > 0 or not math.isfinite(step_s):
            raise ValueError(f"step_s must be a positive number of seconds, got {step_s}")
        if field is not None and field not in GOOD_FIELDS:
            raise ValueError(f"unknown field {field!r}; allowed: {', '.join(GOOD_FIELDS)}")
        if field is not None and threshold is None:
            raise ValueError("a latency count needs a threshold")
        wanted = dict(labels or {})
        bad_keys = sorted(set(wanted) - set(FILTER_COLUMNS))
        if bad_keys:
            raise ValueError(
                f"cannot filter requests by {', '.join(bad_keys)}; "
                f"allowed: {', '.join(FILTER_COLUMNS)}"
            )
        if not sources or end <= start:
            return []
        good = f"{field} < ?" if field is not None else "error_class IS NULL"
        sql = (
            "SELECT CAST(started_at / ? AS INTEGER), COUNT(*), "
            f"SUM(CASE WHEN {good} THEN 1 ELSE 0 END) FROM requests "
            f"WHERE source IN ({', '.join('?' * len(sources))}) "
            "AND started_at >= ? AND started_at < ?"
        )
        params: list[Any] = [step_s]
        if field is not None:
            params.append(threshold)
        params += [*sources, start, end]
        if field is not None:
            sql += f" AND {field} IS NOT NULL"
        for key in sorted(wanted):
            sql += f" AND {key} = ?"
            params.append(wanted[key])
        sql += " GROUP BY 1 ORDER BY 1"
        return [(int(b) * step_s, int(g or 0), int(n)) for b, n, g in self._fetch(sql, params)]

    # -- plumbing ------------------------------------------------------------------------------

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
