"""The capacity summary of a load test: knee, max goodput, replicas for a target rate, cost.

- capacity point: for `search`, the highest rate that met the SLOs; for a ladder of three or
  more levels, the knee of request throughput vs load (`core.capacity.knee_index`, concave;
  log2 x for doubling ladders); otherwise, or with no knee, the unsaturated level with the
  highest throughput.
- knee concurrency: the level's concurrency (closed loop), and in every case its mean number
  of requests in flight by Little's law (Σ E2E / duration).
- replicas for a target rate: `core.capacity.replicas_needed(target, mean E2E at the capacity
  point, mean concurrency there, headroom)`, i.e. ceil(target × E2E × headroom / concurrency).
- cost per 1M output tokens at the capacity point: `core.cost.cost_per_1m_output_tokens_usd`
  (USD per instance-hour / output tokens per second there).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infersight.core.capacity import knee_index, replicas_needed
from infersight.core.cost import cost_per_1m_output_tokens_usd
from infersight.loadtest.summary import LevelSummary


@dataclass(frozen=True, slots=True)
class Pricing:
    usd_per_hour: float
    source: str  # e.g. "ml.g5.xlarge from the price table (...)" or "--usd-per-hour"


@dataclass(frozen=True, slots=True)
class CapacitySummary:
    basis: str
    knee_level: int | None
    knee_label: str | None
    knee_concurrency: float | None
    knee_mean_concurrency: float | None
    knee_request_throughput: float | None
    knee_output_throughput: float | None
    knee_mean_e2e_s: float | None
    knee_p50_ttft_ms: float | None
    max_request_throughput: float | None
    max_goodput: float | None
    max_goodput_ci95: tuple[float, float] | None
    max_goodput_level: int | None
    target_rate_per_s: float | None
    headroom: float
    replicas_needed: int | None
    usd_per_hour: float | None
    price_source: str | None
    cost_per_1m_output_tokens_usd: float | None
    fleet_usd_per_hour: float | None

    def to_json(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__slots__}
        ci = self.max_goodput_ci95
        out["max_goodput_ci95"] = list(ci) if ci is not None else None
        return out


def _geometric(xs: Sequence[float]) -> bool:
    return len(xs) >= 3 and all(b / a >= 1.5 for a, b in itertools.pairwise(xs))


def capacity_point(
    levels: Sequence[LevelSummary], *, search_best_level: int | None = None, searched: bool = False
) -> tuple[LevelSummary | None, str]:
    """The level that stands for the endpoint's capacity, and why it was chosen."""
    by_index = {s.index: s for s in levels}
    if searched:
        if search_best_level is not None and search_best_level in by_index:
            return by_index[search_best_level], "highest rate meeting the SLOs (search)"
        return None, "no probed rate met the SLOs"
    usable = [s for s in levels if s.completed > 0 and s.stopped is None]
    if not usable:
        cut = [s for s in levels if s.completed > 0]  # interrupted or stopped early
        if not cut:
            return None, "no level completed requests"
        best = max(cut, key=lambda s: s.request_throughput)
        return best, f"only a partial level, cut short: {best.stopped}"
    modes = {s.level.mode for s in usable}
    ordered = sorted(usable, key=lambda s: s.load_value)
    if len(ordered) >= 3 and len(modes) == 1:
        xs = [s.load_value for s in ordered]
        if len(set(xs)) == len(xs):
            ys = [s.request_throughput for s in ordered]
            i = knee_index(xs, ys, curve="concave", log_x=_geometric(xs))
            if i is not None:
                return ordered[i], "knee of request throughput vs load"
    healthy = [s for s in ordered if s.saturation is None] or ordered
    best = max(healthy, key=lambda s: s.request_throughput)
    if len(ordered) >= 3:
        return best, "no knee in the tested range: the unsaturated level with the most throughput"
    return best, "the level with the most throughput (too few levels for a knee)"


def capacity_summary(
    levels: Sequence[LevelSummary],
    *,
    search_best_level: int | None = None,
    searched: bool = False,
    target_rate_per_s: float | None = None,
    headroom: float = 1.0,
    pricing: Pricing | None = None,
) -> CapacitySummary:
    knee, basis = capacity_point(levels, search_best_level=search_best_level, searched=searched)
    goodputs = [s for s in levels if s.request_goodput is not None]
    top = max(goodputs, key=lambda s: s.request_goodput or 0.0) if goodputs else None
    e2e_s = knee.e2el_ms.mean / 1000.0 if knee and knee.e2el_ms.mean is not None else None
    replicas = None
    if target_rate_per_s is not None and knee and e2e_s is not None and knee.mean_concurrency > 0:
        replicas = replicas_needed(
            target_rate_per_s, e2e_s, knee.mean_concurrency, headroom=headroom
        )
    cost = None
    if pricing is not None and knee is not None:
        cost = cost_per_1m_output_tokens_usd(pricing.usd_per_hour, knee.output_throughput)
    return CapacitySummary(
        basis=basis,
        knee_level=knee.index if knee else None,
        knee_label=knee.label if knee else None,
        knee_concurrency=(
            knee.level.value
            if knee and knee.level.mode == "concurrency"
            else (knee.mean_concurrency if knee else None)
        ),
        knee_mean_concurrency=knee.mean_concurrency if knee else None,
        knee_request_throughput=knee.request_throughput if knee else None,
        knee_output_throughput=knee.output_throughput if knee else None,
        knee_mean_e2e_s=e2e_s,
        knee_p50_ttft_ms=knee.ttft_ms.median if knee else None,
        max_request_throughput=max((s.request_throughput for s in levels), default=None),
        max_goodput=top.request_goodput if top else None,
        max_goodput_ci95=top.request_goodput_ci95 if top else None,
        max_goodput_level=top.index if top else None,
        target_rate_per_s=target_rate_per_s,
        headroom=headroom,
        replicas_needed=replicas,
        usd_per_hour=pricing.usd_per_hour if pricing else None,
        price_source=pricing.source if pricing else None,
        cost_per_1m_output_tokens_usd=cost,
        fleet_usd_per_hour=(
            replicas * pricing.usd_per_hour if replicas is not None and pricing else None
        ),
    )
