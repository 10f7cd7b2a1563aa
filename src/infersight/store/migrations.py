"""Versioned schema migrations for the SQLite store.

The schema is an ordered list of `Migration`s. Each is applied in its own transaction together
with its row in `schema_version`, so a database is always at exactly one known version. Never
edit a released migration: append a new one (and extend `RequestRecord` in the same change; a
test checks that the `requests` columns match the dataclass fields).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final


class StoreOpenError(RuntimeError):
    """The store could not be opened; the message says where and what to do."""


class SchemaTooNewError(StoreOpenError):
    """The database was written by a newer infersight than this one."""


class MigrationError(StoreOpenError):
    """A migration step failed; its transaction was rolled back."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


SQLITE_MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        1,
        "requests table",
        (
            """CREATE TABLE requests (
                id TEXT PRIMARY KEY,
                started_at REAL NOT NULL,
                model TEXT NOT NULL,
                upstream TEXT NOT NULL,
                route TEXT NOT NULL,
                stream INTEGER NOT NULL,
                status INTEGER NOT NULL,
                e2e_s REAL NOT NULL,
                error_class TEXT,
                error_message TEXT,
                ttft_s REAL,
                tpot_s REAL,
                itl_mean_s REAL,
                itl_p50_s REAL,
                itl_p90_s REAL,
                itl_p99_s REAL,
                itl_max_s REAL,
                output_tokens_per_s REAL,
                prompt_tokens INTEGER,
                completion_tokens INTEGER,
                tokens_estimated INTEGER NOT NULL DEFAULT 0,
                finish_reason TEXT,
                inflight_at_start INTEGER NOT NULL DEFAULT 0,
                client TEXT,
                source TEXT NOT NULL DEFAULT 'user',
                prompt_text TEXT,
                response_text TEXT
            )""",
            "CREATE INDEX requests_started_at ON requests (started_at)",
            "CREATE INDEX requests_source_started_at ON requests (source, started_at)",
        ),
    ),
    Migration(
        2,
        "metric samples: series, raw, 1-minute and 1-hour tiers, rollup state",
        (
            # labels: canonical JSON object, keys sorted. resolution_s: the finest tier the
            # series is written to (0 = raw samples; 60 = derived straight into the 1m tier).
            """CREATE TABLE metric_series (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                labels TEXT NOT NULL,
                resolution_s REAL NOT NULL DEFAULT 0,
                UNIQUE (name, labels)
            )""",
            """CREATE TABLE samples_raw (
                series_id INTEGER NOT NULL,
                ts REAL NOT NULL,
                value REAL NOT NULL,
                PRIMARY KEY (series_id, ts)
            ) WITHOUT ROWID""",
            *(
                f"""CREATE TABLE {table} (
                series_id INTEGER NOT NULL,
                bucket_ts REAL NOT NULL,
                count INTEGER NOT NULL,
                sum REAL NOT NULL,
                min REAL NOT NULL,
                max REAL NOT NULL,
                first REAL NOT NULL,
                last REAL NOT NULL,
                increase REAL NOT NULL,
                PRIMARY KEY (series_id, bucket_ts)
            ) WITHOUT ROWID"""
                for table in ("samples_1m", "samples_1h")
            ),
            # Watermarks and retention horizons of compact(), by name.
            "CREATE TABLE rollup_state (name TEXT PRIMARY KEY, value REAL NOT NULL)",
            # Derived request series bucket requests by the time they finished.
            "CREATE INDEX requests_finished_at ON requests (started_at + e2e_s)",
        ),
    ),
    Migration(
        3,
        "loadtests table (infersight loadtest runs)",
        (
            # summary: the JSON report without per-request rows (levels, capacity, search).
            """CREATE TABLE loadtests (
                id TEXT PRIMARY KEY,
                started_at REAL NOT NULL,
                ended_at REAL NOT NULL,
                endpoint TEXT NOT NULL,
                model TEXT NOT NULL,
                profile TEXT NOT NULL,
                status TEXT NOT NULL,
                stop_reason TEXT,
                levels INTEGER NOT NULL,
                requests INTEGER NOT NULL,
                errors INTEGER NOT NULL,
                knee_concurrency REAL,
                knee_request_throughput REAL,
                max_goodput REAL,
                report_path TEXT,
                summary TEXT NOT NULL
            )""",
            "CREATE INDEX loadtests_started_at ON loadtests (started_at)",
        ),
    ),
    Migration(
        4,
        "alert engine: alarm state, history, silences",
        (
            # One row per alarm instance (rule x label group); learned/detail are JSON objects.
            """CREATE TABLE alert_state (
                rule TEXT NOT NULL,
                instance TEXT NOT NULL,
                labels TEXT NOT NULL,
                state TEXT NOT NULL,
                since REAL NOT NULL,
                evaluated_at REAL NOT NULL,
                value REAL,
                threshold REAL,
                lower REAL,
                upper REAL,
                severity TEXT NOT NULL DEFAULT '',
                alarm_since REAL,
                notified_at REAL,
                last_notified_at REAL,
                notified_severity TEXT NOT NULL DEFAULT '',
                learned TEXT NOT NULL DEFAULT '{}',
                detail TEXT NOT NULL DEFAULT '{}',
                PRIMARY KEY (rule, instance)
            ) WITHOUT ROWID""",
            """CREATE TABLE alert_events (
                id INTEGER PRIMARY KEY,
                ts REAL NOT NULL,
                rule TEXT NOT NULL,
                kind TEXT NOT NULL,
                instance TEXT NOT NULL DEFAULT '',
                state TEXT,
                previous_state TEXT,
                value REAL,
                message TEXT NOT NULL DEFAULT '',
                detail TEXT NOT NULL DEFAULT '{}'
            )""",
            "CREATE INDEX alert_events_ts ON alert_events (ts)",
            """CREATE TABLE alert_silences (
                id TEXT PRIMARY KEY,
                rule TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                created_by TEXT NOT NULL DEFAULT ''
            )""",
        ),
    ),
    Migration(
        5,
        "quality sweeps and their items",
        (
            # summary: JSON (aggregates with intervals, comparison, scorer versions, thresholds)
            """CREATE TABLE sweeps (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                dataset TEXT NOT NULL,
                model TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                started_at REAL NOT NULL,
                finished_at REAL NOT NULL,
                status TEXT NOT NULL,
                items INTEGER NOT NULL,
                failed INTEGER NOT NULL,
                summary TEXT NOT NULL
            )""",
            "CREATE INDEX sweeps_dataset_started_at ON sweeps (dataset, started_at)",
            "CREATE INDEX sweeps_started_at ON sweeps (started_at)",
            # One row per item: every answer, its status/failure reason and its scores (JSON).
            """CREATE TABLE sweep_items (
                sweep_id TEXT NOT NULL,
                item_id TEXT NOT NULL,
                position INTEGER NOT NULL,
                tags TEXT NOT NULL,
                question TEXT NOT NULL,
                refs TEXT NOT NULL,
                status TEXT NOT NULL,
                error TEXT,
                answer TEXT,
                samples TEXT NOT NULL,
                latency_s REAL,
                scores TEXT NOT NULL,
                PRIMARY KEY (sweep_id, item_id)
            ) WITHOUT ROWID""",
        ),
    ),
)

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at REAL NOT NULL
)"""


def current_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration, 0 for a fresh database."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def _check_sequence(migrations: Sequence[Migration]) -> None:
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(
                f"migrations must be numbered 1, 2, 3, ... in order; "
                f"position {expected} holds version {migration.version}"
            )


def apply_migrations(
    conn: sqlite3.Connection,
    migrations: Sequence[Migration] = SQLITE_MIGRATIONS,
    *,
    db_label: str = "database",
) -> int:
    """Bring the schema up to the latest migration; returns the resulting version.

    `conn` must be in autocommit mode (isolation_level=None): transactions are explicit here.
    Each step takes the write lock (BEGIN IMMEDIATE) and re-reads the version, so two processes
    opening the same fresh file do not both apply it.
    """
    _check_sequence(migrations)
    latest = len(migrations)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_VERSION_TABLE)
        version = current_version(conn)
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    if version > latest:
        raise SchemaTooNewError(
            f"{db_label} has schema version {version}, but this infersight only knows versions "
            f"up to {latest}: it was written by a newer infersight. Upgrade infersight, or point "
            f"store.path at a different file."
        )
    for migration in migrations[version:]:
        _apply_one(conn, migration, db_label)
    return max(version, latest)


def _apply_one(conn: sqlite3.Connection, migration: Migration, db_label: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if current_version(conn) >= migration.version:  # applied meanwhile by another process
            _rollback(conn)
            return
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.description, time.time()),
        )
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn)
        raise MigrationError(
            f"{db_label}: schema migration {migration.version} ({migration.description}) "
            f"failed and was rolled back: {exc}"
        ) from exc
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite rolls back by itself on some errors (disk full, I/O); ROLLBACK would then fail.
    if conn.in_transaction:
        conn.execute("ROLLBACK")
