"""Chart panels: store series turned into what a chart draws, so the browser does no arithmetic.

A `Panel` is one chart: a shared time axis ``t`` (bucket starts, Unix seconds) and ``lines``
whose ``values`` are aligned to it (``null`` where a line has no bucket). Label sets are grouped
by a label key (``by``: one line per model, per GPU, ...) and combined within a group bucket by
bucket (`COMBINE`): ``sum`` for rates and counts, ``max`` for latency quantiles (the worst label
set), ``avg`` for gauges. A panel without any point carries a ``hint`` saying why and what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from infersight.dashboard.params import TimeWindow
from infersight.store.base import Series, Store

Combine = Callable[[list[float]], float]
MINUTE_S: Final = 60.0


def _avg(values: list[float]) -> float:
    return sum(values) / len(values)


COMBINE: Final[dict[str, Combine]] = {"sum": sum, "avg": _avg, "max": max, "min": min}


@dataclass(frozen=True)
class Line:
    label: str
    values: list[float | None]
    group: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "group": self.group, "values": self.values}


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    unit: str  # seconds, ratio, per_s, tokens_per_s, bytes, watts, celsius, usd, usd_per_hour...
    t: list[float]
    lines: list[Line]
    hint: str | None = None
    description: str = ""
    sparse: bool = False  # few points far apart (sweeps): drawn as points joined across gaps
    # The time range the chart spans (the selected range), whatever part of it has data, so
    # every chart of a page covers the same range; None: the span of ``t`` (load test levels).
    x_range: tuple[float, float] | None = None

    @property
    def has_data(self) -> bool:
        return any(v is not None for line in self.lines for v in line.values)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "description": self.description,
            "t": self.t,
            "lines": [line.to_json() for line in self.lines],
            "hint": None if self.has_data else (self.hint or "no data in this time range"),
            "sparse": self.sparse,
            "x_range": None if self.x_range is None else list(self.x_range),
        }


@dataclass(frozen=True)
class LineSpec:
    """One logical line family of a panel: a series name, a label filter, how to combine."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    combine: str = "sum"
    agg: str = "avg"
    suffix: str = ""  # appended to each line's label ("p95")
    # A per-minute rate derived from request records (requests_per_s, ...): summed over the
    # minutes of a bucket and divided by the bucket's minutes, so a minute without requests
    # (which has no sample) counts as 0 instead of being left out of an average.
    minute_rate: bool = False


def group_key(series: Series, by: Sequence[str]) -> tuple[tuple[str, str], ...]:
    labels = dict(series.labels)
    return tuple((k, labels.get(k, "")) for k in by)


def combine_groups(
    series: Iterable[Series], by: Sequence[str], combine: str
) -> dict[tuple[tuple[str, str], ...], dict[float, float]]:
    """{group: {bucket: combined value}} over the label sets of each group."""
    members: dict[tuple[tuple[str, str], ...], list[Series]] = {}
    for s in series:
        members.setdefault(group_key(s, by), []).append(s)
    return {key: _combine(group, combine) for key, group in members.items()}


def _combine(group: list[Series], combine: str) -> dict[float, float]:
    if len(group) == 1:
        return dict(group[0].points)
    if combine == "avg":
        gathered: dict[float, list[float]] = {}
        for s in group:
            for ts, value in s.points:
                gathered.setdefault(ts, []).append(value)
        return {ts: sum(values) / len(values) for ts, values in gathered.items()}
    reduce = COMBINE[combine]  # sum, max, min: pairwise
    out = dict(group[0].points)
    for s in group[1:]:
        for ts, value in s.points:
            seen = out.get(ts)
            out[ts] = value if seen is None else reduce([seen, value])
    return out


def label_of(group: tuple[tuple[str, str], ...], suffix: str = "") -> str:
    parts = [v or "(none)" for _, v in group]
    if suffix:
        parts.append(suffix)
    return " ".join(parts) or "all"


def align(
    groups: Sequence[tuple[str, dict[str, str], dict[float, float]]],
) -> tuple[list[float], list[Line]]:
    """A shared, sorted time axis and one Line per (label, group, points)."""
    axis = sorted({ts for _, _, points in groups for ts in points})
    lines = [Line(label, [points.get(ts) for ts in axis], group) for label, group, points in groups]
    return axis, lines


@dataclass
class PanelBuilder:
    """Queries the store once per (name, labels, agg) within one API call and builds panels."""

    store: Store
    window: TimeWindow
    base_labels: dict[str, str] = field(default_factory=dict)
    cache: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[Series]] = field(
        default_factory=dict
    )

    @property
    def x_range(self) -> tuple[float, float]:
        return (self.window.start, self.window.end)

    def fetch(
        self, name: str, labels: dict[str, str] | None = None, agg: str = "avg"
    ) -> list[Series]:
        merged = {**self.base_labels, **(labels or {})}
        key = (name, agg, tuple(sorted(merged.items())))
        if key not in self.cache:
            w = self.window
            self.cache[key] = self.store.series(
                name, w.start, w.end, step_s=w.step_s, agg=agg, labels=merged or None
            )
        return self.cache[key]

    def minute_rate(self, sums: dict[float, float]) -> dict[float, float]:
        """Sums of per-minute rates -> the mean rate over each bucket's minutes in range."""
        w = self.window
        if w.step_s <= MINUTE_S:
            return sums  # one minute row per bucket: its value is the rate
        out = {}
        for b, total in sums.items():
            covered_s = min(b + w.step_s, w.end) - max(b, w.start)
            out[b] = total * MINUTE_S / max(covered_s, MINUTE_S)
        return out

    def panel(
        self,
        key: str,
        title: str,
        unit: str,
        specs: Sequence[LineSpec],
        *,
        by: Sequence[str] = (),
        hint: str | None = None,
        description: str = "",
    ) -> Panel:
        found: list[tuple[tuple[tuple[str, str], ...], int, str, dict[float, float]]] = []
        for i, spec in enumerate(specs):
            agg = "sum" if spec.minute_rate else spec.agg
            combined = combine_groups(self.fetch(spec.name, spec.labels, agg), by, spec.combine)
            for group, points in combined.items():
                if spec.minute_rate:
                    points = self.minute_rate(points)
                found.append((group, i, label_of(group, spec.suffix), points))
        # grouped by label value first (llama p50, llama p95, ..., qwen p50, ...)
        groups = [(label, dict(group), points) for group, _, label, points in sorted(found)]
        t, lines = align(groups)
        return Panel(key, title, unit, t, lines, hint, description, x_range=self.x_range)

    def ratio_panel(
        self,
        key: str,
        title: str,
        numerator: str,
        denominator: str,
        *,
        by: Sequence[str] = (),
        hint: str | None = None,
        description: str = "",
    ) -> Panel:
        """sum(numerator) / sum(denominator) per bucket and group (e.g. errors / requests)."""
        num = combine_groups(self.fetch(numerator, agg="sum"), by, "sum")
        den = combine_groups(self.fetch(denominator, agg="sum"), by, "sum")
        groups: list[tuple[str, dict[str, str], dict[float, float]]] = []
        for group in sorted(den):
            n = num.get(group, {})
            points = {ts: n.get(ts, 0.0) / d for ts, d in den[group].items() if d > 0}
            groups.append((label_of(group), dict(group), points))
        t, lines = align(groups)
        return Panel(key, title, "ratio", t, lines, hint, description, x_range=self.x_range)


def latest(panel: Panel) -> float | None:
    """The newest bucket's value summed over the panel's lines (None without data)."""
    for i in range(len(panel.t) - 1, -1, -1):
        values = [line.values[i] for line in panel.lines if line.values[i] is not None]
        if values:
            return sum(v for v in values if v is not None)
    return None
