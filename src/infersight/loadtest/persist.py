"""A load test as a row of the store's `loadtests` table (for the dashboard's list)."""

from __future__ import annotations

import json
from typing import Any

from infersight.loadtest.analysis import CapacitySummary
from infersight.loadtest.runner import LoadTestResult
from infersight.store.sqlite_loadtests import LoadtestRow

_ARRAYS = ("input_lens", "output_lens", "ttfts", "tpots", "itls", "e2els", "errors")


def loadtest_row(
    result: LoadTestResult,
    capacity: CapacitySummary,
    report: dict[str, Any],
    *,
    report_path: str | None,
) -> LoadtestRow:
    """The row for one run; `summary` is the report without per-request data."""
    slim = {k: v for k, v in report.items() if k != "requests"}
    slim["levels"] = [
        {k: v for k, v in lv.items() if k not in _ARRAYS} for lv in report.get("levels", [])
    ]
    slim["server_metrics"] = {
        k: v for k, v in report.get("server_metrics", {}).items() if k != "samples"
    }
    measured = [r for r in result.rows if r.measured]
    return LoadtestRow(
        id=result.id,
        started_at=result.started_at,
        ended_at=result.ended_at,
        endpoint=result.endpoint_base,
        model=str(result.workload.get("model")),
        profile=result.spec.profile,
        status=result.status,
        stop_reason=result.stop_reason,
        levels=len(result.levels),
        requests=len(measured),
        errors=sum(1 for r in measured if not r.ok),
        knee_concurrency=capacity.knee_concurrency,
        knee_request_throughput=capacity.knee_request_throughput,
        max_goodput=capacity.max_goodput,
        report_path=report_path,
        summary=json.dumps(slim, allow_nan=False),
    )
