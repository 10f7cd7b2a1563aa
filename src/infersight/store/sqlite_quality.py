"""Quality sweeps on SQLite (tables `sweeps` and `sweep_items`, migration 5); composed into
SqliteStore as `.quality`.

One `sweeps` row per sweep: identity, outcome and counts as columns (for listing), and the
aggregates, comparison with the previous sweep, scorer versions and thresholds as JSON in
`summary`. One `sweep_items` row per dataset item: the question, references, every answer
(the first and any re-samples), status and failure reason, and each scorer's score, verdict
and reason as JSON in `scores`. Rows are backend-neutral dataclasses; `quality.store_rows`
maps sweep results onto them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class SweepRow:
    id: str
    name: str
    dataset: str
    model: str
    endpoint: str
    started_at: float
    finished_at: float
    status: str  # completed | failed
    items: int
    failed: int
    summary: str  # JSON object

    def summary_json(self) -> dict[str, Any]:
        obj = json.loads(self.summary)
        return obj if isinstance(obj, dict) else {}


@dataclass(frozen=True, slots=True)
class SweepItemRow:
    sweep_id: str
    item_id: str
    position: int
    tags: str  # JSON list
    question: str
    refs: str  # JSON list of reference answers
    status: str  # ok | failed
    error: str | None
    answer: str | None
    samples: str  # JSON list of the extra answers
    latency_s: float | None
    scores: str  # JSON {scorer: {score, verdict, reason, passed, details, error}}


_SWEEP_COLUMNS: Final = tuple(f.name for f in fields(SweepRow))
_ITEM_COLUMNS: Final = tuple(f.name for f in fields(SweepItemRow))
_SWEEP_LIST: Final = ", ".join(_SWEEP_COLUMNS)
_ITEM_LIST: Final = ", ".join(_ITEM_COLUMNS)


class SqliteQuality:
    """Reads and writes sweeps over the store's connection, under the store's lock."""

    def __init__(self, connection: Callable[[], sqlite3.Connection], lock: threading.Lock) -> None:
        self._connection = connection
        self._lock = lock

    def write_sweep(self, sweep: SweepRow, items: Sequence[SweepItemRow]) -> None:
        """Insert (or replace by id) one sweep and its items, in one transaction."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                conn.execute("DELETE FROM sweep_items WHERE sweep_id = ?", (sweep.id,))
                conn.execute(
                    f"INSERT OR REPLACE INTO sweeps ({_SWEEP_LIST}) "
                    f"VALUES ({', '.join('?' * len(_SWEEP_COLUMNS))})",
                    tuple(getattr(sweep, c) for c in _SWEEP_COLUMNS),
                )
                conn.executemany(
                    f"INSERT INTO sweep_items ({_ITEM_LIST}) "
                    f"VALUES ({', '.join('?' * len(_ITEM_COLUMNS))})",
                    [tuple(getattr(i, c) for c in _ITEM_COLUMNS) for i in items],
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def get_sweep(self, sweep_id: str) -> SweepRow | None:
        rows = self._fetch(f"SELECT {_SWEEP_LIST} FROM sweeps WHERE id = ?", (sweep_id,))
        return SweepRow(*rows[0]) if rows else None

    def list_sweeps(
        self,
        start: float,
        end: float,
        *,
        dataset: str | None = None,
        name: str | None = None,
        limit: int = 100,
    ) -> list[SweepRow]:
        """Sweeps that started in [start, end), newest first (ties by id)."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        sql = f"SELECT {_SWEEP_LIST} FROM sweeps WHERE started_at >= ? AND started_at < ?"
        params: list[Any] = [start, end]
        for column, value in (("dataset", dataset), ("name", name)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
        params.append(limit)
        return [SweepRow(*r) for r in self._fetch(sql, params)]

    def previous_sweep(
        self, dataset: str, before: float, *, name: str | None = None, model: str | None = None
    ) -> SweepRow | None:
        """The newest completed sweep of `dataset` (and `name` / `model` when given) that
        started before `before`."""
        sql = (
            f"SELECT {_SWEEP_LIST} FROM sweeps WHERE dataset = ? AND started_at < ? "
            "AND status = 'completed'"
        )
        params: list[Any] = [dataset, before]
        for column, value in (("name", name), ("model", model)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        sql += " ORDER BY started_at DESC, id DESC LIMIT 1"
        rows = self._fetch(sql, params)
        return SweepRow(*rows[0]) if rows else None

    def sweep_items(self, sweep_id: str) -> list[SweepItemRow]:
        """The items of one sweep in dataset order."""
        sql = f"SELECT {_ITEM_LIST} FROM sweep_items WHERE sweep_id = ? ORDER BY position"
        return [SweepItemRow(*r) for r in self._fetch(sql, (sweep_id,))]

    def prune_sweeps(self, before: float) -> int:
        """Delete sweeps (and their items) that started before `before`; returns how many."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                conn.execute(
                    "DELETE FROM sweep_items WHERE sweep_id IN "
                    "(SELECT id FROM sweeps WHERE started_at < ?)",
                    (before,),
                )
                n = conn.execute("DELETE FROM sweeps WHERE started_at < ?", (before,)).rowcount
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return int(n)

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()


__all__ = ["SqliteQuality", "SweepItemRow", "SweepRow"]
