"""build_collectors: which daemons the settings ask for, with their intervals."""

from __future__ import annotations

from collections.abc import Sequence

from infersight.collectors.engine_metrics import EngineCollector
from infersight.collectors.registry import COLLECTOR_FACTORIES, build_collectors
from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample
from infersight.settings import Settings, settings_from_mapping


class Sink:
    def submit_many(self, samples: Sequence[MetricSample]) -> None:
        pass


def build(settings: Settings) -> list[str]:
    daemons = build_collectors(settings, store_path="x.db", clock=FakeClock(), sink=Sink())
    return [d.name for d in daemons]


def test_defaults_run_nvml_and_host() -> None:
    assert set(COLLECTOR_FACTORIES) == {"nvml", "host", "engine"}
    assert build(Settings()) == ["collector:nvml", "collector:host"]


def test_one_engine_collector_per_upstream_with_a_metrics_url() -> None:
    settings = settings_from_mapping(
        {
            "upstreams": [
                {
                    "name": "a",
                    "url": "http://127.0.0.1:8001",
                    "engine_metrics_url": "http://127.0.0.1:8001/metrics",
                },
                {"name": "b", "url": "http://127.0.0.1:8002"},
                {
                    "name": "c",
                    "url": "http://127.0.0.1:8003",
                    "engine_metrics_url": "http://127.0.0.1:9400/metrics",
                },
            ],
            "collectors": {
                "nvml": {"enabled": False},
                "engine": {"interval_s": 2, "timeout_s": 1.5},
            },
        }
    )
    daemons = build_collectors(settings, store_path="x.db", clock=FakeClock(), sink=Sink())
    assert [d.name for d in daemons] == [
        "collector:host",
        "collector:engine:a",
        "collector:engine:c",
    ]
    engine = daemons[1]
    assert engine.interval_s == 2 and engine.timeout_s == 1.5
    assert isinstance(engine.collector, EngineCollector)
    assert engine.collector.url == "http://127.0.0.1:8001/metrics"
    assert engine.collector.timeout_s == 1.5


def test_disabled_sections_build_nothing() -> None:
    off = {"enabled": False}
    settings = settings_from_mapping(
        {
            "upstreams": [{"url": "http://h:1", "engine_metrics_url": "http://h:1/metrics"}],
            "collectors": {"nvml": off, "host": off, "engine": off},
        }
    )
    assert build(settings) == []
