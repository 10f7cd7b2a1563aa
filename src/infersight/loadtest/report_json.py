"""The JSON report: run metadata, per-level summaries, per-request rows, capacity, server data.

Per level, the keys overlap vLLM's `benchmark_serving` result JSON where the quantity is the
same (`duration`, `completed`, `total_input_tokens`, `total_output_tokens`,
`request_throughput`, `request_goodput`, `output_throughput`, `total_token_throughput`,
`input_lens`, `output_lens`, `ttfts`, `itls`, `errors`, `mean_/median_/std_/pNN_ttft_ms`,
`..._tpot_ms`, `..._itl_ms`, `..._e2el_ms`, `max_concurrency`, `request_rate`, `burstiness`).
Times in the arrays are seconds, `_ms` keys milliseconds. Failed requests have null timings in
the arrays (vLLM writes 0) and their message in `errors` ("" for a success). The top level
repeats the vLLM keys of the headline level (the only level, or the capacity point), so tools
reading vLLM's files read one level of ours. `schema_version` changes with any key change.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Final

from infersight import __version__
from infersight.loadtest.analysis import CapacitySummary
from infersight.loadtest.results import RequestRow, Slo
from infersight.loadtest.runner import LoadTestResult
from infersight.loadtest.summary import Dist, LevelSummary, dist_fields

SCHEMA_VERSION: Final = 1
VLLM_KEYS: Final = (
    "duration", "completed", "total_input_tokens", "total_output_tokens", "request_throughput",
    "request_goodput", "output_throughput", "total_token_throughput", "max_concurrency",
    "request_rate", "burstiness",
)  # fmt: skip
_DISTS: Final = ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms")
_EMPTY: Final = Dist.of([])


def _clean(v: Any) -> Any:
    """JSON-safe: NaN/inf become null, tuples lists."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, tuple | list):
        return [_clean(x) for x in v]
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


def row_json(row: RequestRow, slo: Slo | None) -> dict[str, Any]:
    return {
        "index": row.index,
        "level": row.level,
        "measured": row.measured,
        "start_s": row.start_s,
        "offset_s": row.offset_s,
        "status": row.status,
        "error_class": row.error_class,
        "error": row.error,
        "ttft_s": row.ttft_s,
        "tpot_s": row.tpot_s,
        "e2e_s": row.e2e_s,
        "itl_max_s": row.itl_max_s,
        "output_tokens": row.output_tokens,
        "prompt_tokens": row.prompt_tokens,
        "tokens_estimated": row.tokens_estimated,
        "finish_reason": row.finish_reason,
        "output_tokens_per_s": row.output_tokens_per_s,
        "slo_ok": slo.meets(row) if slo is not None and slo.any else None,
    }


def level_json(s: LevelSummary, *, arrays: bool = True) -> dict[str, Any]:
    lv = s.level
    out: dict[str, Any] = {
        "index": s.index,
        "label": s.label,
        "mode": lv.mode,
        "concurrency": lv.concurrency,
        "max_concurrency": lv.concurrency if lv.mode == "concurrency" else lv.max_concurrency,
        "request_rate": lv.rate_per_s,
        "burstiness": lv.burstiness,
        "warmup_s": lv.warmup_s,
        "started_at": s.started_at,
        "ended_at": s.ended_at,
        "duration": s.duration_s,
        "num_prompts": len(s.rows),
        "warmup_requests": s.warmup_requests,
        "completed": s.completed,
        "failed": s.failed,
        "errors_by_class": s.errors_by_class,
        "total_input_tokens": s.total_input_tokens,
        "total_output_tokens": s.total_output_tokens,
        "request_throughput": s.request_throughput,
        "request_goodput": s.request_goodput,
        "request_goodput_ci95": s.request_goodput_ci95,
        "slo_attainment": s.slo_attainment,
        "slo_attainment_ci95": s.slo_attainment_ci95,
        "output_throughput": s.output_throughput,
        "total_token_throughput": s.total_token_throughput,
        "mean_concurrency": s.mean_concurrency,
        "send_rate": s.send_rate_per_s,
    }
    for name in _DISTS:
        out.update(dist_fields(name, getattr(s, name)))
    out.update(dist_fields("request_output_throughput", s.request_output_tokens_per_s))
    out["saturation"] = s.saturation
    out["stopped"] = s.stopped
    out["server"] = s.server
    if arrays:
        rows = s.rows
        out["input_lens"] = [r.prompt_tokens for r in rows]
        out["output_lens"] = [r.output_tokens for r in rows]
        out["ttfts"] = [r.ttft_s for r in rows]
        out["tpots"] = [r.tpot_s for r in rows]
        out["itls"] = [list(r.itl_s) for r in rows]
        out["e2els"] = [r.e2e_s if r.ok else None for r in rows]
        out["errors"] = [r.error or "" for r in rows]
    return out


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def report_dict(
    result: LoadTestResult, capacity: CapacitySummary, *, requests: bool = True
) -> dict[str, Any]:
    spec = result.spec
    levels = [level_json(s) for s in result.levels]
    headline = capacity.knee_level
    if headline is None and len(result.levels) == 1:
        headline = result.levels[0].index
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": "infersight loadtest",
        "infersight_version": __version__,
        "id": result.id,
        "date": _iso(result.started_at),
        "started_at": result.started_at,
        "ended_at": result.ended_at,
        "status": result.status,
        "stop_reason": result.stop_reason,
        "endpoint": spec.endpoint,
        "base_url": result.endpoint_base,
        "backend": "openai-chat" if result.workload.get("api") == "chat" else "openai",
        "model_id": result.workload.get("model"),
        "profile": spec.profile,
        "config": spec.describe(),
        "workload": result.workload,
        "preflight": {
            "models": list(result.preflight.models),
            "model_listed": result.preflight.model_listed,
            "usage_reported": result.preflight.usage_reported,
            "probe_ttft_s": result.preflight.probe_ttft_s,
            "probe_e2e_s": result.preflight.probe_e2e_s,
            "notes": list(result.preflight.notes),
        },
        "headline_level": headline,
    }
    head = next((lv for lv in levels if lv["index"] == headline), None)
    for key in VLLM_KEYS:
        out[key] = head.get(key) if head else None
    for name in (*_DISTS, "request_output_throughput"):
        for key in dist_fields(name, _EMPTY):
            out[key] = head.get(key) if head else None
    out["levels"] = levels
    out["search"] = _search_json(result, capacity)
    out["capacity"] = capacity.to_json()
    out["server_metrics"] = {
        "sources": [
            s
            for s, url in (("engine", spec.engine_metrics_url), ("gateway", spec.gateway_url))
            if url
        ],
        "problems": result.capture_problems,
        "samples": [
            {"ts": x.ts, "source": x.source, "name": x.name, "value": x.value}
            for x in result.server_samples
        ],
    }
    out["requests"] = [row_json(r, spec.slo) for r in result.rows] if requests else []
    cleaned: dict[str, Any] = _clean(out)
    return cleaned


def _search_json(result: LoadTestResult, capacity: CapacitySummary) -> dict[str, Any] | None:
    s = result.search
    if s is None:
        return None
    best = next((lv for lv in result.levels if lv.index == s.best_level), None)
    return {
        "start_rate": s.start_rate_per_s,
        "probes": [
            {"rate": rate, "passed": ok, "reason": why, "level": i} for rate, ok, why, i in s.probes
        ],
        "max_rate_meeting_slo": s.best_rate_per_s,
        "lowest_failing_rate": s.lowest_failing_rate_per_s,
        "goodput": best.request_goodput if best else None,
        "goodput_ci95": best.request_goodput_ci95 if best else None,
        "slo_attainment": best.slo_attainment if best else None,
        "slo_attainment_ci95": best.slo_attainment_ci95 if best else None,
        "finished": s.finished,
    }
