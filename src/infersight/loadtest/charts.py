"""PNG charts of a load test (matplotlib, Agg canvas; no pyplot, no display).

- latency: TTFT p50/p95/p99 and E2E p50/p95 against load, the capacity point marked;
- throughput: request and output-token throughput (and goodput) against load, knee marked;
- server: the captured server metrics over the run's time, level boundaries shaded.

Each function returns PNG bytes, or None when there is nothing to draw. matplotlib is imported
on first use (it costs about half a second).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infersight.loadtest.capture import ServerSample
from infersight.loadtest.summary import LevelSummary

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 110


def _figure(width: float = 7.5, height: float = 4.2) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _xlabel(levels: Sequence[LevelSummary]) -> str:
    modes = {s.level.mode for s in levels}
    if modes == {"concurrency"}:
        return "concurrency (requests in flight)"
    if modes == {"rate"}:
        return "offered rate (requests/s)"
    return "load"


def _log_axis(ax: Axes, xs: Sequence[float]) -> None:
    if len(xs) >= 3 and min(xs) > 0 and max(xs) / min(xs) >= 8:
        ax.set_xscale("log", base=2)


def _mark(ax: Axes, x: float | None, label: str) -> None:
    if x is not None:
        ax.axvline(x, color="tab:red", linestyle="--", linewidth=1.2, label=label)


def _ordered(levels: Sequence[LevelSummary]) -> list[LevelSummary]:
    return sorted((s for s in levels if s.completed > 0), key=lambda s: s.load_value)


def latency_chart(levels: Sequence[LevelSummary], knee_x: float | None) -> bytes | None:
    pts = _ordered(levels)
    if not pts:
        return None
    xs = [s.load_value for s in pts]
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    series: list[tuple[str, list[float | None], str]] = [
        ("TTFT p50", [s.ttft_ms.pcts[50] for s in pts], "-o"),
        ("TTFT p95", [s.ttft_ms.pcts[95] for s in pts], "-s"),
        ("TTFT p99", [s.ttft_ms.pcts[99] for s in pts], "-^"),
        ("E2E p50", [s.e2el_ms.pcts[50] for s in pts], "--o"),
        ("E2E p95", [s.e2el_ms.pcts[95] for s in pts], "--s"),
    ]
    for label, ys, style in series:
        xy = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
        if xy:
            ax.plot([p[0] for p in xy], [p[1] for p in xy], style, label=label, markersize=4)
    _mark(ax, knee_x, "capacity point")
    _log_axis(ax, xs)
    ax.set_xlabel(_xlabel(pts))
    ax.set_ylabel("latency (ms)")
    ax.set_title("Latency percentiles vs load")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def throughput_chart(levels: Sequence[LevelSummary], knee_x: float | None) -> bytes | None:
    pts = _ordered(levels)
    if not pts:
        return None
    xs = [s.load_value for s in pts]
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(xs, [s.request_throughput for s in pts], "-o", label="requests/s", color="tab:blue")
    goodput = [(x, s.request_goodput) for x, s in zip(xs, pts, strict=True)]
    if any(g is not None for _, g in goodput):
        ax.plot(
            [x for x, g in goodput if g is not None],
            [g for _, g in goodput if g is not None],
            "--o",
            label="goodput (met SLOs)/s",
            color="tab:green",
        )
    _mark(ax, knee_x, "knee")
    _log_axis(ax, xs)
    ax.set_xlabel(_xlabel(pts))
    ax.set_ylabel("requests/s")
    ax2: Any = ax.twinx()
    ax2.plot(xs, [s.output_throughput for s in pts], ":^", color="tab:orange", label="tokens/s")
    ax2.set_ylabel("output tokens/s")
    ax.set_title("Throughput vs load")
    ax.grid(True, alpha=0.3)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="lower right")
    return _png(fig)


def server_chart(
    samples: Sequence[ServerSample], levels: Sequence[LevelSummary], t0: float
) -> bytes | None:
    if not samples:
        return None
    groups: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        groups.setdefault(f"{s.source}:{s.name}", []).append((s.ts - t0, s.value))
    ratios = {k: v for k, v in groups.items() if k.endswith("_ratio")}
    counts = {k: v for k, v in groups.items() if not k.endswith("_ratio")}
    fig = _figure(height=5.0)
    axes = [fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2)]
    for ax, data, ylabel in ((axes[0], counts, "requests"), (axes[1], ratios, "ratio (0-1)")):
        for key, pts in sorted(data.items()):
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key, linewidth=1.2)
        for i, lv in enumerate(levels):
            ax.axvspan(lv.started_at - t0, lv.ended_at - t0, alpha=0.07 if i % 2 else 0.14,
                       color="tab:gray")  # fmt: skip
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if data:
            ax.legend(fontsize=7, loc="upper left")
    axes[0].set_title("Server metrics during the run (shaded: measured part of each level)")
    axes[1].set_xlabel("seconds since the run started")
    return _png(fig)


def all_charts(
    levels: Sequence[LevelSummary],
    samples: Sequence[ServerSample],
    *,
    knee_x: float | None,
    t0: float,
) -> dict[str, bytes]:
    """{file name: PNG bytes} for every chart that has data."""
    out: dict[str, bytes] = {}
    for name, png in (
        ("latency_vs_load.png", latency_chart(levels, knee_x)),
        ("throughput_vs_load.png", throughput_chart(levels, knee_x)),
        ("server_metrics.png", server_chart(samples, levels, t0)),
    ):
        if png is not None:
            out[name] = png
    return out
