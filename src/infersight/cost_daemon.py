"""Turns prices into cost series: every tick, per priced upstream, what the endpoint costs per
hour, per 1M output tokens at the current token rate, while its GPUs sit idle, and how the
month's spend and budget stand. The math is in core.cost; this module gathers the inputs.

Series written (label `upstream`):
  cost_usd_per_hour               instance-priced: price × instances; token-priced: token rates
  cost_usd_per_1m_output_tokens   $/h × 1e6 / (3600 × output tokens/s), when tokens flow
  cost_idle_usd_per_hour          $/h while mean GPU utilisation < collectors.idle_gpu_utilization
                                  (0 otherwise; absent without GPU data)
  cost_spent_today_usd, cost_spent_month_usd, cost_projected_month_usd
  cost_budget_remaining_usd       with pricing.monthly_budget_usd
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping

from infersight.collectors.base import SampleSink
from infersight.core.clock import Clock
from infersight.core.cost import (
    cost_per_1m_output_tokens_usd,
    month_bounds_s,
    project_spend,
    token_spend_usd_per_hour,
)
from infersight.core.records import MetricSample
from infersight.daemons import Daemon
from infersight.exporters.latest import LatestSamples
from infersight.pricing import ResolvedPrice, resolve_pricing
from infersight.settings import Settings
from infersight.store.base import Store

log = logging.getLogger(__name__)

# (prompt tokens, completion tokens) served so far, per upstream name
TokenTotals = Callable[[], Mapping[str, tuple[int, int]]]
RATE_WINDOW_S = 60.0


class CostDaemon(Daemon):
    name = "cost"

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        sink: SampleSink,
        latest: LatestSamples,
        token_totals: TokenTotals,
        store: Store | None = None,
        interval_s: float = 15.0,
    ) -> None:
        super().__init__(clock, interval_s)
        self.sink = sink
        self.latest = latest
        self.token_totals = token_totals
        self.store = store
        self.idle_threshold = settings.collectors.idle_gpu_utilization
        self.prices: dict[str, ResolvedPrice] = {
            u.name: resolve_pricing(u.pricing) for u in settings.upstreams if u.pricing is not None
        }
        self._history: deque[tuple[float, Mapping[str, tuple[int, int]]]] = deque()

    def _token_rates(self, now: float) -> dict[str, tuple[float, float]]:
        """(prompt, completion) tokens/s per upstream over the last RATE_WINDOW_S."""
        totals = dict(self.token_totals())
        self._history.append((now, totals))
        while len(self._history) > 2 and now - self._history[1][0] >= RATE_WINDOW_S:
            self._history.popleft()
        t0, old = self._history[0]
        span = now - t0
        rates: dict[str, tuple[float, float]] = {}
        for name, (prompt, completion) in totals.items():
            p0, c0 = old.get(name, (0, 0))
            rates[name] = (
                ((prompt - p0) / span, (completion - c0) / span) if span > 0 else (0.0, 0.0)
            )
        return rates

    def _gpu_idle(self, upstream: str) -> bool | None:
        """Mean GPU utilisation below the threshold? Engine-scraped GPUs (labelled with the
        upstream) count for that upstream; otherwise the local GPUs."""
        rows = self.latest.values("gpu_utilization_ratio")
        mine = [v for labels, v in rows if labels.get("upstream") == upstream]
        values = mine or [v for labels, v in rows if "upstream" not in labels]
        if not values:
            return None
        return sum(values) / len(values) < self.idle_threshold

    async def tick(self, now: float) -> None:
        if not self.prices:
            return
        rates = self._token_rates(now)
        samples: list[MetricSample] = []
        for name, price in self.prices.items():
            prompt_rate, completion_rate = rates.get(name, (0.0, 0.0))
            if price.is_token_priced:
                per_hour = token_spend_usd_per_hour(
                    prompt_rate,
                    completion_rate,
                    price.usd_per_1m_input_tokens or 0.0,
                    price.usd_per_1m_output_tokens or 0.0,
                )
            else:
                per_hour = price.cost_per_hour_usd or 0.0
            samples.append(MetricSample.make("cost_usd_per_hour", now, per_hour, upstream=name))
            per_1m = cost_per_1m_output_tokens_usd(per_hour, completion_rate)
            if per_1m is not None and completion_rate > 0:
                samples.append(
                    MetricSample.make("cost_usd_per_1m_output_tokens", now, per_1m, upstream=name)
                )
            idle = self._gpu_idle(name) if not price.is_token_priced else None
            if idle is not None:
                samples.append(
                    MetricSample.make(
                        "cost_idle_usd_per_hour", now, per_hour if idle else 0.0, upstream=name
                    )
                )
            samples.extend(await self._spend(name, price, now, per_hour))
        self.sink.submit_many(samples)

    async def _spend(
        self, name: str, price: ResolvedPrice, now: float, per_hour: float
    ) -> list[MetricSample]:
        points: list[tuple[float, float]] = []
        if self.store is not None:
            month_start, _ = month_bounds_s(now)
            try:
                found = await asyncio.to_thread(
                    self.store.series,
                    "cost_usd_per_hour",
                    month_start,
                    now,
                    step_s=60.0,
                    agg="avg",
                    labels={"upstream": name},
                )
                points = [p for s in found for p in s.points]
            except Exception:
                log.exception("cost: could not read this month's cost history")
        points.append((now, per_hour))
        projection = project_spend(now, points, monthly_budget_usd=price.monthly_budget_usd)
        out = [
            MetricSample.make(
                "cost_spent_today_usd", now, projection.spent_today_usd, upstream=name
            ),
            MetricSample.make(
                "cost_spent_month_usd", now, projection.spent_month_usd, upstream=name
            ),
            MetricSample.make(
                "cost_projected_month_usd", now, projection.projected_month_usd, upstream=name
            ),
        ]
        if projection.budget_remaining_usd is not None:
            out.append(
                MetricSample.make(
                    "cost_budget_remaining_usd", now, projection.budget_remaining_usd, upstream=name
                )
            )
        return out
