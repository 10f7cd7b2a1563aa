"""Report files and their key snapshot, and the `loadtests` table.

The key snapshot lives in tests/fixtures/loadtest_schema.json. A deliberate change of keys
bumps `report_json.SCHEMA_VERSION` and rewrites the snapshot:
`UPDATE_LOADTEST_SCHEMA=1 .venv/bin/pytest tests/unit/loadtest/test_report_store.py`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from infersight.loadtest.analysis import Pricing, capacity_summary
from infersight.loadtest.capture import ServerSample
from infersight.loadtest.output import write_reports
from infersight.loadtest.persist import loadtest_row
from infersight.loadtest.preflight import PreflightInfo
from infersight.loadtest.profiles import Level
from infersight.loadtest.report_csv import LEVEL_COLUMNS, REQUEST_COLUMNS
from infersight.loadtest.report_json import SCHEMA_VERSION, report_dict
from infersight.loadtest.results import Slo
from infersight.loadtest.runner import LoadTestResult, RunSpec, SearchOutcome
from infersight.loadtest.summary import summarize_level
from infersight.store.sqlite import SqliteStore

from .conftest import T0, RowFactory

SNAPSHOT = Path(__file__).parents[2] / "fixtures" / "loadtest_schema.json"


def _result(row: RowFactory, *, search: bool = False) -> LoadTestResult:
    slo = Slo(ttft_s=0.2, e2e_s=2.0)
    levels, rows = [], []
    for idx, c in enumerate((1, 2, 4)):
        lv_rows = [row(idx * 100 + i, start=idx * 10 + i * 0.1, level=idx, ttft=0.05 * c,
                       measured=i > 0) for i in range(40)]  # fmt: skip
        lv_rows.append(row(idx * 100 + 99, start=idx * 10 + 5, level=idx, error="http_503"))
        rows += lv_rows
        level = Level("concurrency", c, duration_s=9.0, warmup_s=0.1)
        levels.append(summarize_level(idx, level, lv_rows, measure_start_s=T0 + idx * 10, slo=slo))
    spec = RunSpec(
        endpoint="http://127.0.0.1:1/v1",
        profile="search" if search else "sweep",
        levels=tuple(s.level for s in levels),
        slo=slo,
        engine_metrics_url="http://e",
    )
    outcome = SearchOutcome(1.0, ((1.0, True, "ok", 0), (2.0, False, "slow", 1)), 1.0, 2.0, 0,
                            "converged") if search else None  # fmt: skip
    return LoadTestResult(
        id="abc123",
        spec=spec,
        workload={"api": "chat", "model": "m"},
        endpoint_base="http://127.0.0.1:1/v1",
        started_at=T0,
        ended_at=T0 + 30,
        status="completed",
        stop_reason=None,
        preflight=PreflightInfo(("m",), True, 0.01, 0.02, True),
        levels=levels,
        rows=rows,
        server_samples=[ServerSample(T0 + 1, "engine", "engine_requests_waiting", 2.0)],
        capture_problems={},
        search=outcome,
    )


def _keys(report: dict[str, Any]) -> dict[str, list[str]]:
    return {
        "schema_version": [str(report["schema_version"])],
        "top": sorted(report),
        "level": sorted(report["levels"][0]),
        "request": sorted(report["requests"][0]),
        "capacity": sorted(report["capacity"]),
        "search": sorted(report["search"]),
        "preflight": sorted(report["preflight"]),
        "server_metrics": sorted(report["server_metrics"]),
    }


def test_json_keys_match_the_snapshot(row: RowFactory) -> None:
    result = _result(row, search=True)
    report = report_dict(result, capacity_summary(result.levels, searched=True,
                                                  search_best_level=0))  # fmt: skip
    keys = _keys(report)
    if os.environ.get("UPDATE_LOADTEST_SCHEMA"):
        SNAPSHOT.write_text(json.dumps(keys, indent=1) + "\n")
    assert keys == json.loads(SNAPSHOT.read_text()), "report keys changed: bump SCHEMA_VERSION"
    assert keys["schema_version"] == [str(SCHEMA_VERSION)]


def test_vllm_compatible_fields(row: RowFactory) -> None:
    result = _result(row)
    capacity = capacity_summary(result.levels)
    report = report_dict(result, capacity)
    lv = report["levels"][1]
    assert lv["completed"] == 39 and lv["failed"] == 1 and lv["num_prompts"] == 40
    assert len(lv["ttfts"]) == len(lv["itls"]) == len(lv["errors"]) == 40
    assert lv["ttfts"][-1] is None and lv["errors"][-1].startswith("HTTP 500")
    assert lv["median_ttft_ms"] == lv["p50_ttft_ms"] == 100.0
    assert lv["p99_ttft_ms"] is None  # fewer than 100 samples
    assert lv["max_concurrency"] == 2 and lv["request_rate"] is None
    assert report["headline_level"] == capacity.knee_level
    head = report["levels"][report["headline_level"]]
    for key in ("request_throughput", "mean_ttft_ms", "p99_e2el_ms", "completed", "duration"):
        assert report[key] == head[key]
    json.dumps(report, allow_nan=False)  # strict JSON


def test_report_files(row: RowFactory, tmp_path: Path) -> None:
    result = _result(row)
    capacity = capacity_summary(result.levels, target_rate_per_s=50, pricing=Pricing(2.0, "test"))
    _, written = write_reports(result, capacity, tmp_path / "out")
    names = {p.relative_to(tmp_path / "out").as_posix() for p in written}
    assert names == {"report.json", "requests.csv", "levels.csv", "report.html",
                     "charts/latency_vs_load.png", "charts/throughput_vs_load.png",
                     "charts/server_metrics.png"}  # fmt: skip
    assert json.loads((tmp_path / "out/report.json").read_text())["id"] == "abc123"
    reqs = list(csv.DictReader(io.StringIO((tmp_path / "out/requests.csv").read_text())))
    assert len(reqs) == len(result.rows) and tuple(reqs[0]) == REQUEST_COLUMNS
    levels = list(csv.DictReader(io.StringIO((tmp_path / "out/levels.csv").read_text())))
    assert len(levels) == 3 and tuple(levels[0]) == LEVEL_COLUMNS
    html = (tmp_path / "out/report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "<script" not in html
    assert "replicas for 50 req/s" in html
    assert (tmp_path / "out/charts/latency_vs_load.png").read_bytes()[:4] == b"\x89PNG"


def test_loadtests_table_roundtrip(row: RowFactory) -> None:
    result = _result(row)
    capacity = capacity_summary(result.levels)
    report = report_dict(result, capacity)
    store = SqliteStore(":memory:")
    try:
        r = loadtest_row(result, capacity, report, report_path="/tmp/x")
        store.loadtests.write_loadtest(r)
        got = store.loadtests.get_loadtest("abc123")
        assert got == r
        assert (got.requests, got.errors, got.levels, got.status) == (120, 3, 3, "completed")
        summary = got.summary_json()
        assert "requests" not in summary and "ttfts" not in summary["levels"][0]
        assert summary["capacity"]["knee_level"] == capacity.knee_level
        older = loadtest_row(result, capacity, report, report_path=None)
        store.loadtests.write_loadtest(
            type(older)(
                **{
                    **{f: getattr(older, f) for f in older.__slots__},
                    "id": "old",
                    "started_at": T0 - 100,
                }
            )
        )
        assert [x.id for x in store.loadtests.list_loadtests()] == ["abc123", "old"]
        assert store.loadtests.get_loadtest("missing") is None
    finally:
        store.close()
