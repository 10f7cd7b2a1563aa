"""Stored load test runs (`infersight loadtest` writes one row per run into `Store.loadtests`):
the newest runs with their headline figures, and one run with its levels.

A run's headline figures are those of its headline level (the capacity point, or the only
level), as in its report.json; per level: throughput, goodput, latency percentiles and why it
saturated. Two charts per run plot request throughput and TTFT p50/p95 at each level's start.
"""

from __future__ import annotations

from typing import Any, Final

from infersight.dashboard.endpoints import Call, Context, Endpoint
from infersight.dashboard.panels import Line, Panel
from infersight.dashboard.params import ApiError, Param
from infersight.dashboard.providers import Json
from infersight.store.sqlite_loadtests import LoadtestRow

NO_LOADTESTS: Final = (
    "no load tests yet: `infersight loadtest --endpoint URL ...` records each run in the store "
    "this dashboard reads (store.path)"
)
# Headline keys of report.json (the headline level's values) shown for each run.
HEADLINE_KEYS: Final = (
    "request_throughput",
    "output_throughput",
    "request_goodput",
    "median_ttft_ms",
    "p95_ttft_ms",
    "p95_tpot_ms",
    "p95_e2el_ms",
)
LEVEL_KEYS: Final = (
    "index",
    "label",
    "mode",
    "concurrency",
    "request_rate",
    "started_at",
    "duration",
    "completed",
    "failed",
    "errors_by_class",
    "request_throughput",
    "output_throughput",
    "request_goodput",
    "slo_attainment",
    "mean_concurrency",
    "median_ttft_ms",
    "p95_ttft_ms",
    "p99_ttft_ms",
    "p95_tpot_ms",
    "p95_itl_ms",
    "median_e2el_ms",
    "p95_e2el_ms",
    "saturation",
    "stopped",
)


def run_json(row: LoadtestRow, summary: dict[str, Any] | None = None) -> Json:
    s = row.summary_json() if summary is None else summary
    capacity = s.get("capacity")
    basis = str(capacity.get("basis") or "") if isinstance(capacity, dict) else ""
    return {
        "id": row.id,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "duration_s": row.ended_at - row.started_at,
        "endpoint": row.endpoint,
        "model": row.model,
        "profile": row.profile,
        "status": row.status,
        "stop_reason": row.stop_reason,
        "level_count": row.levels,
        "requests": row.requests,
        "errors": row.errors,
        "error_ratio": row.errors / row.requests if row.requests else None,
        # the capacity point (the knee when one was found: knee_found); its basis says why
        "knee_concurrency": row.knee_concurrency,
        "knee_request_throughput": row.knee_request_throughput,
        "capacity_basis": basis,
        "knee_found": basis.startswith("knee"),
        "max_goodput": row.max_goodput,
        "headline_level": s.get("headline_level"),
        "headline": {k: s.get(k) for k in HEADLINE_KEYS},
        "report_path": row.report_path,
    }


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _panels(levels: list[Json]) -> list[Json]:
    """Throughput and TTFT at each level (x: the level's start time)."""
    timed = sorted(
        (lv for lv in levels if _number(lv.get("started_at")) is not None),
        key=lambda lv: float(lv["started_at"]),
    )
    t = [float(lv["started_at"]) for lv in timed]

    def values(key: str, scale: float = 1.0) -> list[float | None]:
        return [None if (v := _number(lv.get(key))) is None else v * scale for lv in timed]

    hint = "this run has no level results"
    throughput = Panel(
        "loadtest_throughput",
        "Request throughput per level",
        "per_s",
        t,
        [Line("completed requests/s", values("request_throughput"))],
        hint=hint,
        description="each point is one level, at its start",
        sparse=True,
    )
    goodput = values("request_goodput")
    if any(v is not None for v in goodput):
        throughput.lines.append(Line("goodput (met every SLO)/s", goodput))
    ttft = Panel(
        "loadtest_ttft",
        "TTFT per level",
        "seconds",
        t,
        [
            Line("p50", values("median_ttft_ms", 0.001)),
            Line("p95", values("p95_ttft_ms", 0.001)),
        ],
        hint=hint,
        description="each point is one level, at its start",
        sparse=True,
    )
    return [throughput.to_json(), ttft.to_json()]


def loadtests(ctx: Context, call: Call) -> Json:
    rows = ctx.store.loadtests.list_loadtests(limit=call.values["limit"])
    return {
        "message": None if rows else NO_LOADTESTS,
        "runs": [run_json(r) for r in rows],
    }


def loadtest(ctx: Context, call: Call) -> Json:
    run_id = call.path["id"]
    row = ctx.store.loadtests.get_loadtest(run_id)
    if row is None:
        raise ApiError(404, f"no load test {run_id!r} in the store")
    s = row.summary_json()
    raw_levels = s.get("levels")
    levels = [
        {k: lv.get(k) for k in LEVEL_KEYS}
        for lv in (raw_levels if isinstance(raw_levels, list) else [])
        if isinstance(lv, dict)
    ]
    return {
        **run_json(row, s),
        "levels": levels,
        "panels": _panels(levels),
        "capacity": s.get("capacity"),
        "search": s.get("search"),
        "config": s.get("config"),
        "workload": s.get("workload"),
    }


ENDPOINTS: Final = (
    Endpoint(
        "/loadtests",
        "loadtests",
        "Stored load test runs, newest first, with their headline figures",
        loadtests,
        params=(Param("limit", "integer", "Runs at most.", default=50, minimum=1, maximum=500),),
        description="Every run `infersight loadtest` recorded in the store, whatever the time "
        "range; headline = the figures of the run's headline level (its capacity point).",
    ),
    Endpoint(
        "/loadtests/{id}",
        "loadtests",
        "One load test run: its levels, capacity summary and charts",
        loadtest,
        path_params=(Param("id", "string", "Load test id."),),
    ),
)
