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
        }


@dataclass(frozen=True)
class LineSpec:
    """One logical line family of a panel: a series name, a label filter, how to combine."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    combine: str = "sum"
    agg: str = "avg"
    suffix: str = ""  # appended to each line's label ("p95")


def group_key(series: Series, by: Sequence[str]) -> tuple[tuple[str, str], ...]:
    labels = dict(series.labels)
    return tuple((k, labels.get(k, "")) for k in by)


def combine_groups(
    series: Iterable[Series], by: Sequence[str], combine: str
) -> dict[tuple[tuple[str, str], ...], dict[float, float]]:
    """{group: {bucket: combined value}} over the label sets of each group."""
    reduce = COMBINE[combine]
    gathered: dict[tuple[tuple[str, str], ...], dict[float, list[float]]] = {}
    for s in series:
        buckets = gathered.setdefault(group_key(s, by), {})
        for ts, value in s.points:
            buckets.setdefault(ts, []).append(value)
    return {
        key: {ts: reduce(values) for ts, values in buckets.items()}
        for key, buckets in gathered.items()
    }


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
            combined = combine_groups(
                self.fetch(spec.name, spec.labels, spec.agg), by, spec.combine
            )
            for group, points in combined.items():
                found.append((group, i, label_of(group, spec.suffix), points))
        # grouped by label value first (llama p50, llama p95, ..., qwen p50, ...)
        groups = [(label, dict(group), points) for group, _, label, points in sorted(found)]
        t, lines = align(groups)
        return Panel(key, title, unit, t, lines, hint, description)

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
        num = combine_groups(self.fetch(numerator), by, "sum")
        den = combine_groups(self.fetch(denominator), by, "sum")
        groups: list[tuple[str, dict[str, str], dict[float, float]]] = []
        for group in sorted(den):
            n = num.get(group, {})
            points = {ts: n.get(ts, 0.0) / d for ts, d in den[group].items() if d > 0}
            groups.append((label_of(group), dict(group), points))
        t, lines = align(groups)
        return Panel(key, title, "ratio", t, lines, hint, description)


def latest(panel: Panel) -> float | None:
    """The newest bucket's value summed over the panel's lines (None without data)."""
    for i in range(len(panel.t) - 1, -1, -1):
        values = [line.values[i] for line in panel.lines if line.values[i] is not None]
        if values:
            return sum(v for v in values if v is not None)
    return None
