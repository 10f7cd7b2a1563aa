"""The terminal summary of a finished load test (a rich renderable; the CLI prints it)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


def _f(v: Any, fmt: str = "{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def render_summary(report: Mapping[str, Any], out_dir: Path, stored: str | None) -> RenderableType:
    parts: list[RenderableType] = []
    status = report["status"]
    head = f"infersight loadtest · {report.get('model_id')} @ {report['base_url']} · {status}"
    parts.append(Text(head, style="bold" if status == "completed" else "bold yellow"))
    if report.get("stop_reason"):
        parts.append(Text(f"  {report['stop_reason']}", style="yellow"))
    t = Table(show_edge=False, pad_edge=False)
    for col in ("level", "ok", "fail", "req/s", "goodput/s", "tok/s", "in flight",
                "TTFT p50", "TTFT p95", "TTFT p99", "TPOT p50", "ITL p95", "E2E p50"):  # fmt: skip
        t.add_column(col, justify="left" if col == "level" else "right")
    knee = report["capacity"].get("knee_level")
    for lv in report["levels"]:
        style = "bold cyan" if lv["index"] == knee else ("yellow" if lv["saturation"] else "")
        t.add_row(
            lv["label"] + (" ◀ capacity" if lv["index"] == knee else ""),
            str(lv["completed"]),
            str(lv["failed"]),
            _f(lv["request_throughput"]),
            _f(lv["request_goodput"]),
            _f(lv["output_throughput"], "{:.0f}"),
            _f(lv["mean_concurrency"], "{:.1f}"),
            *(_f(lv[k], "{:.1f}") for k in ("p50_ttft_ms", "p95_ttft_ms", "p99_ttft_ms",
                                             "p50_tpot_ms", "p95_itl_ms", "p50_e2el_ms")),
            style=style,
        )  # fmt: skip
    parts.append(t)
    errors: dict[str, int] = {}
    for lv in report["levels"]:
        for k, v in (lv.get("errors_by_class") or {}).items():
            errors[k] = errors.get(k, 0) + v
    if errors:
        parts.append(Text("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(errors.items())),
                          style="red"))  # fmt: skip
    c = report["capacity"]
    point = c["knee_label"] or "none"
    if c["knee_label"] is None and report.get("status") == "interrupted":
        point += " (the run was interrupted)"
    lines = [f"capacity point: {point} ({c['basis']})"]
    if c["knee_request_throughput"] is not None:
        rps, tps = _f(c["knee_request_throughput"]), _f(c["knee_output_throughput"], "{:.0f}")
        inflight, e2e = _f(c["knee_mean_concurrency"], "{:.1f}"), _f(c["knee_mean_e2e_s"], "{:.3f}")
        lines.append(f"  {rps} req/s, {tps} tokens/s, {inflight} in flight, mean E2E {e2e} s")
    if c["max_goodput"] is not None:
        ci = c["max_goodput_ci95"] or [None, None]
        lines.append(f"max goodput: {_f(c['max_goodput'])} req/s (95 % CI {_f(ci[0])}–{_f(ci[1])})")
    s = report.get("search")
    if s:
        lines.append(
            f"search: highest rate meeting the SLOs {_f(s['max_rate_meeting_slo'], '{:g}')} req/s "
            f"({s['finished']})"
        )
    if c["replicas_needed"] is not None:
        lines.append(
            f"replicas for {c['target_rate_per_s']:g} req/s (headroom {c['headroom']:g}): "
            f"{c['replicas_needed']}"
        )
    if c["cost_per_1m_output_tokens_usd"] is not None:
        lines.append(
            f"cost per 1M output tokens at the capacity point: "
            f"{c['cost_per_1m_output_tokens_usd']:.3f} USD ({c['price_source']})"
        )
    parts.extend(Text(line) for line in lines)
    parts.append(Text(f"report: {out_dir}/report.html (json, csv, charts beside it)", style="dim"))
    if stored:
        parts.append(
            Text(f"recorded in {stored} (table loadtests, id {report['id']})", style="dim")
        )
    return Group(*parts)
