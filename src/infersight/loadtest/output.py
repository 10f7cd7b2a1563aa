"""Write a load test's report files into one directory.

report.json     everything (levels with vLLM-compatible keys, requests, capacity, server)
requests.csv    one row per request (warm-up included, `measured` tells them apart)
levels.csv      one row per level
report.html     self-contained (charts embedded)
charts/*.png    latency_vs_load, throughput_vs_load, server_metrics
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from infersight.loadtest.analysis import CapacitySummary
from infersight.loadtest.report_csv import levels_csv, requests_csv
from infersight.loadtest.report_json import report_dict
from infersight.loadtest.runner import LoadTestResult

log = logging.getLogger(__name__)


def knee_x(result: LoadTestResult, capacity: CapacitySummary) -> float | None:
    level = next((s for s in result.levels if s.index == capacity.knee_level), None)
    return level.load_value if level else None


def write_reports(
    result: LoadTestResult,
    capacity: CapacitySummary,
    out_dir: str | Path,
    *,
    charts: bool = True,
    report: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """Write every report file; returns (the JSON report, the paths written). `report`: the
    JSON report already built from `result` and `capacity` (built here when None). Raises
    OSError when a file cannot be written."""
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    if report is None:
        report = report_dict(result, capacity)
    written: list[Path] = []

    def put(name: str, data: str | bytes) -> None:
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        written.append(path)

    put("report.json", json.dumps(report, indent=1, allow_nan=False))
    put("requests.csv", requests_csv(result.rows, result.spec.slo))
    put("levels.csv", levels_csv(result.levels))
    pngs: dict[str, bytes] = {}
    if charts:
        try:
            from infersight.loadtest.charts import all_charts

            pngs = all_charts(
                result.levels,
                result.server_samples,
                knee_x=knee_x(result, capacity),
                t0=result.started_at,
            )
        except Exception:  # charts are a convenience: the data files are already written
            log.warning(
                "drawing the charts failed; the JSON/CSV reports are complete", exc_info=True
            )
    for name, png in pngs.items():
        put(f"charts/{name}", png)
    from infersight.loadtest.report_html import render_html

    put("report.html", render_html(report, pngs))
    return report, written
