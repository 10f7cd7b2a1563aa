"""Load test runs on SQLite (table `loadtests`, migration 3); composed into SqliteStore.

One row per `infersight loadtest` run: identity, outcome and headline numbers as columns (for
listing), and the JSON report without its per-request rows in `summary`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class LoadtestRow:
    id: str
    started_at: float
    ended_at: float
    endpoint: str
    model: str
    profile: str
    status: str  # completed | stopped | interrupted
    stop_reason: str | None
    levels: int
    requests: int
    errors: int
    knee_concurrency: float | None
    knee_request_throughput: float | None
    max_goodput: float | None
    report_path: str | None
    summary: str  # JSON

    def summary_json(self) -> dict[str, Any]:
        obj = json.loads(self.summary)
        return obj if isinstance(obj, dict) else {}


_COLUMNS: Final = tuple(f.name for f in fields(LoadtestRow))
_LIST: Final = ", ".join(_COLUMNS)
_INSERT: Final = (
    f"INSERT OR REPLACE INTO loadtests ({_LIST}) VALUES ({', '.join('?' * len(_COLUMNS))})"
)


class SqliteLoadtests:
    """Reads and writes `loadtests` over the store's connection, under the store's lock."""

    def __init__(self, connection: Callable[[], sqlite3.Connection], lock: threading.Lock) -> None:
        self._connection = connection
        self._lock = lock

    def write_loadtest(self, row: LoadtestRow) -> None:
        """Insert (or replace by id) one run."""
        values = tuple(getattr(row, c) for c in _COLUMNS)
        with self._lock:
            self._connection().execute(_INSERT, values)

    def get_loadtest(self, loadtest_id: str) -> LoadtestRow | None:
        with self._lock:
            row = (
                self._connection()
                .execute(f"SELECT {_LIST} FROM loadtests WHERE id = ?", (loadtest_id,))
                .fetchone()
            )
        return LoadtestRow(*row) if row else None

    def list_loadtests(self, *, limit: int = 50) -> list[LoadtestRow]:
        """The newest runs first."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    f"SELECT {_LIST} FROM loadtests ORDER BY started_at DESC, id DESC LIMIT ?",
                    (limit,),
                )
                .fetchall()
            )
        return [LoadtestRow(*r) for r in rows]
