"""LatestSamples keeps the newest value per series and exports it with the real text format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample
from infersight.exporters.latest import FanOut, LatestSamples


def parse(latest: LatestSamples) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(latest)  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_newest_value_wins_counters_and_staleness() -> None:
    clock = FakeClock()
    latest = LatestSamples(clock, stale_after_s=60)
    t = clock.now()
    latest.submit_many(
        [
            MetricSample.make("gpu_utilization_ratio", t, 0.5, gpu="0"),
            MetricSample.make("gpu_utilization_ratio", t - 5, 0.1, gpu="0"),  # older: ignored
            MetricSample.make("engine_generation_tokens_total", t, 1234, upstream="u"),
            MetricSample.make("collector_up", t, 1, collector="host"),
        ]
    )
    got = parse(latest)
    assert got[("infersight_gpu_utilization_ratio", (("gpu", "0"),))] == 0.5
    assert got[("infersight_engine_generation_tokens_total", (("upstream", "u"),))] == 1234
    assert latest.value("collector_up", collector="host") == 1
    clock.advance(120)
    assert parse(latest) == {}


def test_fan_out_reaches_every_sink() -> None:
    clock = FakeClock()
    a, b = LatestSamples(clock), LatestSamples(clock)
    FanOut(a, b).submit_many([MetricSample.make("x", clock.now(), 2.0)])
    assert a.value("x") == b.value("x") == 2.0
