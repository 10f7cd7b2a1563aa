"""CSV reports: one row per request (`requests.csv`) and one per level (`levels.csv`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any, Final

from infersight.loadtest.report_json import level_json, row_json
from infersight.loadtest.results import RequestRow, Slo
from infersight.loadtest.summary import LevelSummary

REQUEST_COLUMNS: Final = (
    "index", "level", "measured", "start_s", "offset_s", "status", "error_class", "error",
    "ttft_s", "tpot_s", "e2e_s", "itl_max_s", "output_tokens", "prompt_tokens",
    "tokens_estimated", "finish_reason", "output_tokens_per_s", "slo_ok",
)  # fmt: skip
LEVEL_COLUMNS: Final = (
    "index", "label", "mode", "concurrency", "request_rate", "burstiness", "duration",
    "num_prompts", "completed", "failed", "request_throughput", "request_goodput",
    "slo_attainment", "output_throughput", "total_token_throughput", "mean_concurrency",
    "send_rate",
    *(f"{k}_{m}" for m in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms")
      for k in ("mean", "median", "p90", "p95", "p99")),
    "saturation", "stopped",
)  # fmt: skip


def _write(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
    return buf.getvalue()


def requests_csv(rows: Sequence[RequestRow], slo: Slo | None) -> str:
    return _write(REQUEST_COLUMNS, [row_json(r, slo) for r in rows])


def levels_csv(levels: Sequence[LevelSummary]) -> str:
    return _write(LEVEL_COLUMNS, [level_json(s, arrays=False) for s in levels])
