"""Request records for the dashboard: a filtered, paged list, and errors by class over time.

`Store.list_records` filters by model only, so the list is queried here in SQL. On a SQLite
file the dashboard opens its own short-lived, query-only connection per call: reads then run
beside the gateway's writer (WAL) instead of queueing on the store's lock, and never on the
event loop (callers run these in a worker thread). Any other store (an in-memory SQLite store
in tests) is filtered in Python over `Store.list_records`, up to `FALLBACK_SCAN`. Only
whitelisted column names ever reach the SQL text; every value is a bound parameter.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Final, Protocol

from infersight.core.records import ERROR_CLASSES, SOURCES, RequestRecord
from infersight.dashboard.params import Param, bad
from infersight.store.base import Store
from infersight.store.sqlite import MEMORY, SqliteStore

COLUMNS: Final = tuple(f.name for f in fields(RequestRecord))
LIST_EXCLUDED: Final = ("prompt_text", "response_text", "error_message")
FALLBACK_SCAN: Final = 100_000
ERRORS_MAX_SCAN_ROWS: Final = 100_000  # errors-by-class reads at most the newest this many
MAX_LIMIT: Final = 500

# (parameter, column, operator) for numeric thresholds.
THRESHOLDS: Final = (
    ("ttft_min_s", "ttft_s", ">="),
    ("ttft_max_s", "ttft_s", "<="),
    ("e2e_min_s", "e2e_s", ">="),
    ("e2e_max_s", "e2e_s", "<="),
    ("tpot_min_s", "tpot_s", ">="),
    ("tpot_max_s", "tpot_s", "<="),
    ("itl_min_s", "itl_mean_s", ">="),
    ("itl_max_s", "itl_mean_s", "<="),
)
EQUALS: Final = ("model", "upstream", "source", "route", "client")

REQUEST_FILTER_PARAMS: Final = (
    Param("model", "string", "Only this model."),
    Param("upstream", "string", "Only this upstream."),
    Param("source", "string", "Only this traffic source.", choices=SOURCES),
    Param("route", "string", "Only this route, e.g. /v1/chat/completions."),
    Param("client", "string", "Only this client label."),
    Param(
        "status",
        "string",
        "HTTP status: a code (502) or a class (2xx, 4xx, 5xx).",
    ),
    Param(
        "error_class",
        "string",
        "Error class; 'any' = every failed request, 'none' = successes only.",
        choices=(*ERROR_CLASSES, "any", "none"),
    ),
    Param("stream", "boolean", "Only streaming (true) or non-streaming (false) requests."),
    *(
        Param(name, "number", f"Only requests with {column} {op} this many seconds.", minimum=0)
        for name, column, op in THRESHOLDS
    ),
)
PAGE_PARAMS: Final = (
    Param("limit", "integer", "Records per page.", default=50, minimum=1, maximum=MAX_LIMIT),
    Param("offset", "integer", "Records to skip (newest first).", default=0, minimum=0),
)


@dataclass(frozen=True)
class RequestFilter:
    start: float
    end: float
    equals: dict[str, str]
    status: str | None = None
    error_class: str | None = None
    stream: bool | None = None
    thresholds: dict[str, float] | None = None

    @staticmethod
    def from_params(start: float, end: float, values: dict[str, Any]) -> RequestFilter:
        status = values.get("status")
        if status is not None:
            _status_range(status)  # validate early: a 400 names the parameter
        return RequestFilter(
            start=start,
            end=end,
            equals={k: values[k] for k in EQUALS if values.get(k) is not None},
            status=status,
            error_class=values.get("error_class"),
            stream=values.get("stream"),
            thresholds={p: values[p] for p, _, _ in THRESHOLDS if values.get(p) is not None},
        )

    def sql(self) -> tuple[str, list[Any]]:
        conds = ["started_at >= ?", "started_at < ?"]
        params: list[Any] = [self.start, self.end]
        for column, value in self.equals.items():
            conds.append(f"{column} = ?")
            params.append(value)
        if self.status is not None:
            lo, hi = _status_range(self.status)
            conds.append("status >= ? AND status < ?")
            params += [lo, hi]
        if self.error_class == "any":
            conds.append("error_class IS NOT NULL")
        elif self.error_class == "none":
            conds.append("error_class IS NULL")
        elif self.error_class is not None:
            conds.append("error_class = ?")
            params.append(self.error_class)
        if self.stream is not None:
            conds.append("stream = ?")
            params.append(int(self.stream))
        for name, column, op in THRESHOLDS:
            limit = (self.thresholds or {}).get(name)
            if limit is not None:
                conds.append(f"{column} {op} ?")
                params.append(limit)
        return " AND ".join(conds), params

    def matches(self, r: RequestRecord) -> bool:
        """The same filter in Python (for stores without SQL)."""
        if not self.start <= r.started_at < self.end:
            return False
        if any(getattr(r, k) != v for k, v in self.equals.items()):
            return False
        if self.status is not None:
            lo, hi = _status_range(self.status)
            if not lo <= r.status < hi:
                return False
        if self.error_class == "any" and r.error_class is None:
            return False
        if self.error_class == "none" and r.error_class is not None:
            return False
        if self.error_class not in (None, "any", "none") and r.error_class != self.error_class:
            return False
        if self.stream is not None and r.stream != self.stream:
            return False
        for name, column, op in THRESHOLDS:
            limit = (self.thresholds or {}).get(name)
            if limit is None:
                continue
            value = getattr(r, column)
            if value is None or (value < limit if op == ">=" else value > limit):
                return False
        return True


def _status_range(text: str) -> tuple[int, int]:
    t = text.strip().lower()
    if len(t) == 3 and t[0] in "12345" and t[1:] == "xx":
        lo = int(t[0]) * 100
        return lo, lo + 100
    if t.isdigit() and 100 <= int(t) <= 599:
        return int(t), int(t) + 1
    raise bad("status", f"{text!r} is not an HTTP status (502) or a class (2xx, 4xx, 5xx)")


def record_json(r: RequestRecord, *, full: bool = False) -> dict[str, Any]:
    d = asdict(r)
    if not full:
        for key in LIST_EXCLUDED:
            d.pop(key, None)
    return d


class RequestQuery(Protocol):
    def page(self, f: RequestFilter, *, limit: int, offset: int) -> list[RequestRecord]: ...

    def errors_by_class(
        self, start: float, end: float, step_s: float, equals: dict[str, str]
    ) -> tuple[float, list[tuple[float, str, int]]]:
        """(the start actually covered, [(bucket, error_class, count)])."""
        ...


class SqliteRequestQuery:
    """Queries one SQLite file through its own connection per call."""

    def __init__(self, path: str) -> None:
        self.path = str(Path(path).expanduser())

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        return conn

    def page(self, f: RequestFilter, *, limit: int, offset: int) -> list[RequestRecord]:
        where, params = f.sql()
        sql = (
            f"SELECT {', '.join(COLUMNS)} FROM requests WHERE {where} "
            "ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?"
        )
        conn = self._connect()
        try:
            rows = conn.execute(sql, [*params, limit, offset]).fetchall()
        finally:
            conn.close()
        return [_to_record(row) for row in rows]

    def errors_by_class(
        self, start: float, end: float, step_s: float, equals: dict[str, str]
    ) -> tuple[float, list[tuple[float, str, int]]]:
        f = RequestFilter(start, end, equals)
        where, params = f.sql()
        conn = self._connect()
        try:
            # Bound the work: only the newest ERRORS_MAX_SCAN_ROWS records of the range (an
            # index-only read finds where they start).
            row = conn.execute(
                f"SELECT MIN(started_at), COUNT(*) FROM (SELECT started_at FROM requests "
                f"WHERE {where} ORDER BY started_at DESC LIMIT ?)",
                [*params, ERRORS_MAX_SCAN_ROWS],
            ).fetchone()
            covered = start
            if row is not None and row[1] >= ERRORS_MAX_SCAN_ROWS and row[0] is not None:
                covered = float(row[0])
            where, params = RequestFilter(covered, end, equals).sql()
            rows = conn.execute(
                f"SELECT CAST(started_at / ? AS INTEGER), error_class, COUNT(*) FROM requests "
                f"WHERE {where} AND error_class IS NOT NULL GROUP BY 1, 2",
                [step_s, *params],
            ).fetchall()
        finally:
            conn.close()
        return covered, [(float(b) * step_s, str(c), int(n)) for b, c, n in rows]


class StoreRequestQuery:
    """Any Store: filters in Python over the newest FALLBACK_SCAN records of the range."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _scan(self, f: RequestFilter) -> list[RequestRecord]:
        rows = self.store.list_records(f.start, f.end, limit=FALLBACK_SCAN)
        return [r for r in rows if f.matches(r)]

    def page(self, f: RequestFilter, *, limit: int, offset: int) -> list[RequestRecord]:
        return self._scan(f)[offset : offset + limit]

    def errors_by_class(
        self, start: float, end: float, step_s: float, equals: dict[str, str]
    ) -> tuple[float, list[tuple[float, str, int]]]:
        counts: dict[tuple[float, str], int] = {}
        for r in self._scan(RequestFilter(start, end, equals, error_class="any")):
            key = ((r.started_at // step_s) * step_s, r.error_class or "")
            counts[key] = counts.get(key, 0) + 1
        return start, [(b, c, n) for (b, c), n in sorted(counts.items())]


def request_query_for(store: Store) -> RequestQuery:
    if isinstance(store, SqliteStore) and store.path != MEMORY:
        return SqliteRequestQuery(store.path)
    return StoreRequestQuery(store)


def _to_record(row: Sequence[Any]) -> RequestRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    values["stream"] = bool(values["stream"])
    values["tokens_estimated"] = bool(values["tokens_estimated"])
    return RequestRecord(**values)
