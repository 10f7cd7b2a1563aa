"""Series derived from request records during `compact`: the SQL side.

The math and the name table live in `core.derived` (pure, tested directly); this module reads
the requests that finished in a window and hands them over. Derived series are written straight
into the 1-minute tier (resolution_s = 60 in metric_series) and roll up to hours like any other.

| series                 | per-minute value (labels model, upstream, source)              |
|------------------------|----------------------------------------------------------------|
| requests_per_s         | requests that finished in the minute / 60                      |
| request_errors_per_s   | of those, requests with an error_class / 60                    |
| request_serving_errors_per_s | of those, serving-side failures / 60 (core.derived)      |
| request_error_ratio    | errors / requests                                              |
| ttft_seconds           | p50/p90/p95/p99 of ttft_s, label quantile="0.5" ... "0.99"     |
| itl_seconds            | same, of itl_mean_s (each request's mean inter-token latency)  |
| tpot_seconds           | same, of tpot_s                                                |
| e2e_seconds            | same, of e2e_s                                                 |
| output_tokens_per_s    | sum of completion_tokens / 60                                  |
| requests_in_flight     | mean inflight_at_start                                         |

Every source is derived (user, sweep, loadtest, demo) and kept apart by the `source` label:
query `--label source=user` for user traffic alone. These names are reserved: samples written
under them by a collector would mix with the derived minutes.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from infersight.core.derived import DERIVED_SERIES, FinishedRequest, derive_minutes
from infersight.core.records import MetricSample

__all__ = ["DERIVED_SERIES", "derive_window", "first_finished_at"]

_FINISHED: Final = "started_at + e2e_s"  # matches the requests_finished_at index expression
_SELECT: Final = (
    f"SELECT {_FINISHED}, model, upstream, source, error_class, ttft_s, itl_mean_s, tpot_s, "
    f"e2e_s, completion_tokens, inflight_at_start FROM requests "
    f"WHERE {_FINISHED} >= ? AND {_FINISHED} < ?"
)


def first_finished_at(conn: sqlite3.Connection, after: float) -> float | None:
    """The earliest finish time >= after, or None."""
    row = conn.execute(
        f"SELECT MIN({_FINISHED}) FROM requests WHERE {_FINISHED} >= ?", (after,)
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def derive_window(conn: sqlite3.Connection, lo: float, hi: float) -> list[MetricSample]:
    """Derived samples of the whole minutes in [lo, hi) (both multiples of 60)."""
    rows = conn.execute(_SELECT, (lo, hi)).fetchall()
    return derive_minutes(FinishedRequest(*row) for row in rows)
