"""The newest value of every collected or derived series, exported on /metrics.

Collectors, the cost daemon and others submit MetricSamples to a fan-out sink: the store keeps
the history, this table keeps the last value so that Prometheus sees GPU, engine, host and cost
numbers under `infersight_*` names next to the gateway's own histograms. Entries not refreshed
for `stale_after_s` disappear, as Prometheus expects of a target that stopped reporting them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from infersight.collectors.base import SampleSink
from infersight.core.clock import Clock
from infersight.core.records import MetricSample

PREFIX: Final = "infersight_"
_INVALID: Final = re.compile(r"[^a-zA-Z0-9_:]")

Key = tuple[str, tuple[tuple[str, str], ...]]


def exported_name(name: str) -> str:
    """`gpu_utilization_ratio` -> `infersight_gpu_utilization_ratio` (made Prometheus-safe)."""
    return PREFIX + _INVALID.sub("_", name)


class LatestSamples:
    """A sink (`submit_many`) and a Prometheus collector (`collect`)."""

    def __init__(self, clock: Clock, *, stale_after_s: float = 300.0) -> None:
        self.clock = clock
        self.stale_after_s = stale_after_s
        self._latest: dict[Key, tuple[float, float]] = {}

    def submit_many(self, samples: Sequence[MetricSample]) -> int:
        for s in samples:
            key = (s.name, s.labels)
            held = self._latest.get(key)
            if held is None or s.ts >= held[0]:
                self._latest[key] = (s.ts, s.value)
        return len(samples)

    def value(self, name: str, **labels: str) -> float | None:
        """The newest value of one series (labels must match exactly), or None."""
        held = self._latest.get((name, tuple(sorted(labels.items()))))
        return None if held is None else held[1]

    def values(self, name: str) -> list[tuple[dict[str, str], float]]:
        """Every fresh series called `name`, with its labels."""
        cutoff = self.clock.now() - self.stale_after_s
        return [
            (dict(labels), value)
            for (n, labels), (ts, value) in self._latest.items()
            if n == name and ts >= cutoff
        ]

    def collect(self) -> Iterator[Metric]:
        cutoff = self.clock.now() - self.stale_after_s
        by_name: dict[str, list[tuple[tuple[tuple[str, str], ...], float]]] = {}
        for (name, labels), (ts, value) in list(self._latest.items()):
            if ts < cutoff:
                del self._latest[(name, labels)]
                continue
            by_name.setdefault(name, []).append((labels, value))
        for name in sorted(by_name):
            rows = by_name[name]
            label_names = sorted({k for labels, _ in rows for k, _ in labels})
            family: GaugeMetricFamily | CounterMetricFamily
            if name.endswith("_total"):
                family = CounterMetricFamily(
                    exported_name(name[: -len("_total")]), f"{name} (collected)", labels=label_names
                )
            else:
                family = GaugeMetricFamily(
                    exported_name(name), f"{name} (collected)", labels=label_names
                )
            for labels, value in rows:
                as_dict = dict(labels)
                family.add_metric([as_dict.get(k, "") for k in label_names], value)
            yield family


class FanOut:
    """One sink that hands every batch of samples to several sinks."""

    def __init__(self, *sinks: SampleSink) -> None:
        self.sinks = sinks

    def submit_many(self, samples: Sequence[MetricSample]) -> int:
        for sink in self.sinks:
            sink.submit_many(samples)
        return len(samples)
