"""The Serving and Infrastructure pages' data: every chart of the page in one call.

Serving charts come from the per-minute series the store derives from request records
(`store.derived`): latency quantiles are the per-minute p50/p95/p99, averaged over the minutes
of a bucket and, within a group, the worst label set (max); rates and token counts are summed.
Infrastructure charts are the collectors' samples (NVML / DCGM GPUs, engine /metrics, host).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Final

from infersight.dashboard.endpoints import Call, Context, Endpoint
from infersight.dashboard.panels import LineSpec, Panel, PanelBuilder
from infersight.dashboard.params import STEP_PARAM, TIME_PARAMS, Param, time_window
from infersight.dashboard.providers import Json, collector_state_json
from infersight.status_view import gather_status

QUANTILES: Final = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))
LATENCY_PANELS: Final = (
    ("ttft", "ttft_seconds", "Time to first token (TTFT)"),
    ("itl", "itl_seconds", "Inter-token latency (ITL, per-request mean)"),
    ("tpot", "tpot_seconds", "Time per output token (TPOT)"),
    ("e2e", "e2e_seconds", "End-to-end latency (E2E)"),
)
ENGINE_QUEUE_LINES: Final = (
    LineSpec("engine_requests_running", suffix="running"),
    LineSpec("engine_requests_waiting", suffix="waiting"),
)
# key, title, unit, series, how the GPUs of a group combine
GPU_PANELS: Final = (
    ("gpu_utilization", "GPU utilisation", "ratio", "gpu_utilization_ratio", "avg"),
    ("gpu_memory", "GPU memory used", "bytes", "gpu_memory_used_bytes", "sum"),
    ("gpu_power", "GPU power", "watts", "gpu_power_watts", "sum"),
    ("gpu_temperature", "GPU temperature", "celsius", "gpu_temperature_celsius", "max"),
)
SPLITS: Final = ("none", "model", "upstream")
MINUTE_S: Final = 60.0


def no_traffic_hint(base_url: str) -> str:
    return (
        "no requests in this time range: send traffic through the gateway "
        f"(OPENAI_BASE_URL={base_url}/v1)"
    )


def traffic_panels(
    b: PanelBuilder, *, by: Sequence[str] = (), hint: str
) -> tuple[Panel, Panel, Panel]:
    """Requests per second, output tokens per second and the error ratio (the Serving and the
    Overview pages both draw them)."""
    return (
        b.panel(
            "requests_per_s",
            "Requests per second",
            "per_s",
            [LineSpec("requests_per_s", minute_rate=True)],
            by=by,
            hint=hint,
        ),
        b.panel(
            "output_tokens_per_s",
            "Output tokens per second",
            "tokens_per_s",
            [LineSpec("output_tokens_per_s", minute_rate=True)],
            by=by,
            hint=hint,
        ),
        b.ratio_panel(
            "error_ratio", "Error ratio", "request_errors_per_s", "requests_per_s", by=by, hint=hint
        ),
    )


def serving(ctx: Context, call: Call) -> Json:
    v = call.values
    window = time_window(v, call.now)
    base = {k: v[k] for k in ("model", "upstream", "source") if v.get(k)}
    by = () if v["by"] == "none" else (v["by"],)
    b = PanelBuilder(ctx.store, window, base)
    hint = no_traffic_hint(call.base_url)
    panels: list[Panel] = []
    for key, name, title in LATENCY_PANELS:
        specs = [
            LineSpec(name, {"quantile": q}, combine="max", suffix=label) for q, label in QUANTILES
        ]
        panels.append(b.panel(key, title, "seconds", specs, by=by, hint=hint))
    panels += [
        *traffic_panels(b, by=by, hint=hint),
        b.panel(
            "in_flight",
            "Requests in flight at start (gateway)",
            "count",
            [LineSpec("requests_in_flight")],
            by=by,
            hint=hint,
        ),
    ]
    engine = PanelBuilder(ctx.store, window, {"upstream": v["upstream"]} if v["upstream"] else {})
    engine_hint = (
        "no engine samples: set upstreams[].engine_metrics_url to the engine's Prometheus "
        "/metrics to see its queue"
    )
    panels.append(
        engine.panel(
            "queue",
            "Engine queue: running and waiting",
            "count",
            ENGINE_QUEUE_LINES,
            by=("upstream",),
            hint=engine_hint,
        )
    )
    return {
        **window.to_json(),
        "by": v["by"],
        "filters": base,
        "panels": [p.to_json() for p in panels],
        "summary": _summary(b, by),
    }


def _summary(b: PanelBuilder, by: tuple[str, ...]) -> list[Json]:
    """Per group over the range: requests, errors, tokens (exact sums of the minutes), and the
    per-minute p95s averaged over the minutes."""
    sums = {
        name: b.panel(name, name, "", [LineSpec(name, agg="sum")], by=by)
        for name in ("requests_per_s", "request_errors_per_s", "output_tokens_per_s")
    }
    p95 = {
        name: b.panel(name, name, "", [LineSpec(name, {"quantile": "0.95"}, combine="max")], by=by)
        for name in ("ttft_seconds", "e2e_seconds")
    }
    rows: dict[str, Json] = {}
    for name, panel in sums.items():
        for line in panel.lines:
            row = rows.setdefault(line.label, {"group": line.group, "label": line.label})
            row[name.replace("_per_s", "")] = sum(x for x in line.values if x) * MINUTE_S
    for name, panel in p95.items():
        for line in panel.lines:
            present = [x for x in line.values if x is not None]
            if line.label in rows and present:
                rows[line.label][name.replace("_seconds", "_p95_s")] = sum(present) / len(present)
    out = []
    for row in rows.values():
        n = row.get("requests", 0.0)
        row["error_ratio"] = row.get("request_errors", 0.0) / n if n else None
        out.append(row)
    return sorted(out, key=lambda r: str(r["label"]))


def infrastructure(ctx: Context, call: Call) -> Json:
    window = time_window(call.values, call.now)
    snap = gather_status(ctx.store, ctx.settings, now=call.now)
    b = PanelBuilder(ctx.store, window)
    gpu_hint = snap.hints.get("gpus") or "no GPU samples in this time range"
    engine_hint = snap.hints.get("engines") or "no engine samples in this time range"
    host_hint = snap.hints.get("host") or "no host samples in this time range"
    gpu = ("upstream", "gpu")
    panels = [
        *(
            b.panel(key, title, unit, [LineSpec(name, combine=combine)], by=gpu, hint=gpu_hint)
            for key, title, unit, name, combine in GPU_PANELS
        ),
        b.panel(
            "kv_cache",
            "Engine KV-cache usage",
            "ratio",
            [LineSpec("engine_kv_cache_usage_ratio", combine="max")],
            by=("upstream",),
            hint=engine_hint,
        ),
        b.panel(
            "engine_requests",
            "Engine requests running / waiting",
            "count",
            ENGINE_QUEUE_LINES,
            by=("upstream",),
            hint=engine_hint,
        ),
        b.panel(
            "host_cpu",
            "Host CPU",
            "ratio",
            [LineSpec("host_cpu_utilization_ratio")],
            hint=host_hint,
        ),
        b.panel(
            "host_memory",
            "Host memory",
            "bytes",
            [
                LineSpec("host_memory_used_bytes", suffix="used"),
                LineSpec("host_memory_total_bytes", suffix="total"),
            ],
            hint=host_hint,
        ),
        b.panel(
            "host_disk",
            "Host disk used",
            "ratio",
            [LineSpec("host_disk_used_ratio", combine="max")],
            by=("path",),
            hint=host_hint,
        ),
    ]
    live = [collector_state_json(s) for s in ctx.collectors()] if ctx.collectors else []
    return {
        **window.to_json(),
        "panels": [p.to_json() for p in panels],
        "gpus": [asdict(g) for g in snap.gpus],
        "engines": [asdict(e) for e in snap.engines],
        "host": None if snap.host is None else asdict(snap.host),
        "collectors": {
            "live": live,
            "stored": [asdict(c) for c in snap.collectors],
            "hint": snap.hints.get("collectors"),
        },
        "hints": dict(snap.hints),
    }


ENDPOINTS: Final = (
    Endpoint(
        "/serving",
        "pages",
        "Everything the Serving page draws",
        serving,
        params=(
            *TIME_PARAMS,
            STEP_PARAM,
            Param(
                "by", "string", "Split the charts by this label.", default="none", choices=SPLITS
            ),
            Param("model", "string", "Only this model."),
            Param("upstream", "string", "Only this upstream."),
            Param("source", "string", "Only this traffic source (user, demo, sweep, loadtest)."),
        ),
        description="TTFT/ITL/TPOT/E2E p50/p95/p99 over time, requests and tokens per second, "
        "error ratio, in-flight and engine queue depth, and a per-group summary.",
    ),
    Endpoint(
        "/infrastructure",
        "pages",
        "Everything the Infrastructure page draws",
        infrastructure,
        params=(*TIME_PARAMS, STEP_PARAM),
        description="Per-GPU utilisation, memory, power, temperature; engine KV cache, running "
        "and waiting; host CPU, memory, disk; collectors with their state.",
    ),
)
