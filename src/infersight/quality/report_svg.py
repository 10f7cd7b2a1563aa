"""Inline SVG charts for the quality reports: no scripts, no external files, print-friendly.

- `time_chart`: one line per series over time, each point with its interval drawn as a shaded
  band (and a whisker when there is a single point);
- `interval_chart`: one row per estimate, a dot and its interval on a shared 0..1 axis.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

COLOURS: Final = ("#1f5fbf", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207")
WIDTH: Final = 720
HEIGHT: Final = 240
PAD_L, PAD_R, PAD_T, PAD_B = 52, 150, 16, 34


@dataclass(frozen=True, slots=True)
class Point:
    ts: float
    value: float
    low: float | None = None
    high: float | None = None


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _date(ts: float, span_s: float) -> str:
    d = datetime.fromtimestamp(ts, UTC)
    return d.strftime("%m-%d %H:%M") if span_s < 3 * 86400 else d.strftime("%Y-%m-%d")


def time_chart(
    series: Sequence[tuple[str, Sequence[Point]]],
    *,
    title: str,
    y_max: float = 1.0,
    percent: bool = True,
) -> str:
    """Lines over time with interval bands; y from 0 to `y_max`."""
    points = [p for _, ps in series for p in ps]
    if not points:
        return ""
    t0 = min(p.ts for p in points)
    t1 = max(p.ts for p in points)
    span = max(t1 - t0, 1.0)
    if t1 == t0:
        t0, t1 = t0 - 0.5, t0 + 0.5
    top = max(y_max, *(p.high if p.high is not None else p.value for p in points))
    plot_w = WIDTH - PAD_L - PAD_R
    plot_h = HEIGHT - PAD_T - PAD_B

    def x(ts: float) -> float:
        return PAD_L + (ts - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return PAD_T + plot_h - max(0.0, min(v, top)) / top * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h}" fill="#fafbfd" '
        'stroke="#dde"/>',
    ]
    for k in range(5):
        v = top * k / 4
        label = f"{v:.0%}" if percent else f"{v:.3g}"
        parts.append(
            f'<line x1="{PAD_L}" x2="{PAD_L + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#e5e7ef"/><text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="#556">{label}</text>'
        )
    for ts, anchor in ((t0, "start"), (t1, "end")):
        parts.append(
            f'<text x="{x(ts):.1f}" y="{HEIGHT - 10}" font-size="11" text-anchor="{anchor}" '
            f'fill="#556">{_e(_date(ts, span))}</text>'
        )
    for i, (label, ps) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        ordered = sorted(ps, key=lambda p: p.ts)
        banded = [p for p in ordered if p.low is not None and p.high is not None]
        if len(banded) >= 2:
            upper = " ".join(f"{x(p.ts):.1f},{y(p.high or 0):.1f}" for p in banded)
            lower = " ".join(f"{x(p.ts):.1f},{y(p.low or 0):.1f}" for p in reversed(banded))
            parts.append(f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.13"/>')
        for p in banded:
            parts.append(
                f'<line x1="{x(p.ts):.1f}" x2="{x(p.ts):.1f}" y1="{y(p.low or 0):.1f}" '
                f'y2="{y(p.high or 0):.1f}" stroke="{colour}" stroke-opacity="0.6"/>'
            )
        if len(ordered) >= 2:
            line = " ".join(f"{x(p.ts):.1f},{y(p.value):.1f}" for p in ordered)
            parts.append(
                f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.8"/>'
            )
        for p in ordered:
            tip = f"{label} {p.value:.3f}" + (
                f" [{p.low:.3f}, {p.high:.3f}]" if p.low is not None and p.high is not None else ""
            )
            parts.append(
                f'<circle cx="{x(p.ts):.1f}" cy="{y(p.value):.1f}" r="3" fill="{colour}">'
                f"<title>{_e(tip)}</title></circle>"
            )
        ly = PAD_T + 12 + i * 16
        parts.append(
            f'<rect x="{WIDTH - PAD_R + 12}" y="{ly - 9}" width="10" height="10" '
            f'fill="{colour}"/><text x="{WIDTH - PAD_R + 27}" y="{ly}" font-size="11" '
            f'fill="#223">{_e(label[:22])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def interval_chart(rows: Sequence[tuple[str, float, float, float]], *, title: str) -> str:
    """One row per (label, value, low, high) on a 0..100 % axis."""
    if not rows:
        return ""
    row_h = 22
    left, right = 170, 20
    height = PAD_T + len(rows) * row_h + 28
    plot_w = WIDTH - left - right

    def x(v: float) -> float:
        return left + max(0.0, min(v, 1.0)) * plot_w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
    ]
    for k in range(5):
        v = k / 4
        parts.append(
            f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{PAD_T - 4}" y2="{height - 24}" '
            f'stroke="#e5e7ef"/><text x="{x(v):.1f}" y="{height - 8}" font-size="11" '
            f'text-anchor="middle" fill="#556">{v:.0%}</text>'
        )
    for i, (label, value, low, high) in enumerate(rows):
        cy = PAD_T + i * row_h + row_h / 2
        colour = COLOURS[0]
        parts.append(
            f'<text x="{left - 8}" y="{cy + 4:.1f}" font-size="12" text-anchor="end" '
            f'fill="#223">{_e(label[:26])}</text>'
            f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{cy:.1f}" y2="{cy:.1f}" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<circle cx="{x(value):.1f}" cy="{cy:.1f}" r="4" fill="{colour}">'
            f"<title>{_e(f'{label}: {value:.3f} [{low:.3f}, {high:.3f}]')}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["Point", "interval_chart", "time_chart"]
