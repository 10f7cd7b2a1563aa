"""CostDaemon turns prices, token counters and GPU utilisation into cost series (fake clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample
from infersight.cost_daemon import CostDaemon
from infersight.exporters.latest import LatestSamples
from infersight.settings import PricingSettings, Settings, UpstreamSettings


class ListSink:
    def __init__(self) -> None:
        self.samples: list[MetricSample] = []

    def submit_many(self, samples: Sequence[MetricSample]) -> int:
        self.samples.extend(samples)
        return len(samples)

    def last(self, name: str, upstream: str) -> float | None:
        hits = [
            s.value
            for s in self.samples
            if s.name == name and dict(s.labels)["upstream"] == upstream
        ]
        return hits[-1] if hits else None


def settings() -> Settings:
    return Settings(
        upstreams=[
            UpstreamSettings(
                name="gpu",
                url="http://a:1",
                pricing=PricingSettings(usd_per_hour=4.0, instances=2, monthly_budget_usd=10_000),
            ),
            UpstreamSettings(
                name="api",
                url="http://b:1",
                models=["gpt"],
                pricing=PricingSettings(usd_per_1m_input_tokens=1.0, usd_per_1m_output_tokens=3.0),
            ),
            UpstreamSettings(name="free", url="http://c:1", models=["x"]),
        ]
    )


def test_cost_series_from_prices_tokens_and_gpu_idleness() -> None:
    clock = FakeClock(start=1_767_225_600.0)  # 2026-01-01 00:00 UTC
    sink = ListSink()
    latest = LatestSamples(clock)
    totals = {"gpu": (0, 0), "api": (0, 0)}
    daemon = CostDaemon(
        settings(), clock=clock, sink=sink, latest=latest, token_totals=lambda: totals
    )
    latest.submit_many([MetricSample.make("gpu_utilization_ratio", clock.now(), 0.01, gpu="0")])
    asyncio.run(daemon.tick(clock.now()))
    clock.advance(30)
    # 30 s later: 3,000 completion tokens on the GPU upstream (100 tok/s), and on the API
    # 30,000 prompt + 6,000 completion tokens (1,000 / 200 tok/s)
    totals.update({"gpu": (500, 3000), "api": (30_000, 6_000)})
    latest.submit_many([MetricSample.make("gpu_utilization_ratio", clock.now(), 0.02, gpu="0")])
    asyncio.run(daemon.tick(clock.now()))
    # instance-priced: 4 $/h × 2 instances = 8 $/h; per 1M tokens: 8 × 1e6 / (3600 × 100)
    assert sink.last("cost_usd_per_hour", "gpu") == pytest.approx(8.0)
    assert sink.last("cost_usd_per_1m_output_tokens", "gpu") == pytest.approx(8e6 / 360_000)
    # GPU at 2 % < 5 %: all of it is idle spend
    assert sink.last("cost_idle_usd_per_hour", "gpu") == pytest.approx(8.0)
    # token-priced: (1000 × 1 + 200 × 3) $/1M per s × 3600 = 5.76 $/h
    assert sink.last("cost_usd_per_hour", "api") == pytest.approx(5.76)
    assert sink.last("cost_idle_usd_per_hour", "api") is None
    # unpriced upstreams get no cost series
    assert all(dict(s.labels)["upstream"] != "free" for s in sink.samples)
    # 31-day January at 8 $/h, 30 s in: projection ≈ 8 × 744
    assert sink.last("cost_projected_month_usd", "gpu") == pytest.approx(8 * 744, rel=1e-3)
    assert sink.last("cost_budget_remaining_usd", "gpu") == pytest.approx(10_000, abs=1)


def test_busy_gpu_is_not_idle_spend() -> None:
    clock = FakeClock()
    sink = ListSink()
    latest = LatestSamples(clock)
    latest.submit_many([MetricSample.make("gpu_utilization_ratio", clock.now(), 0.7, gpu="0")])
    daemon = CostDaemon(settings(), clock=clock, sink=sink, latest=latest, token_totals=dict)
    asyncio.run(daemon.tick(clock.now()))
    assert sink.last("cost_idle_usd_per_hour", "gpu") == 0.0
    assert sink.last("cost_usd_per_1m_output_tokens", "gpu") is None  # no tokens flowing
