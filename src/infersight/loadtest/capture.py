"""Server-side metrics sampled during a load test, for lining up with the client's numbers.

Sources (either or both):
- the engine's Prometheus endpoint, read with `collectors.engine_metrics.EngineCollector`
  (vLLM, TGI, SGLang, llama.cpp, DCGM names mapped onto one vocabulary by `engine_maps`);
- an infersight gateway's /metrics: its `infersight_requests_in_flight` and the
  `infersight_engine_*` / `infersight_gpu_*` series its own collectors export.

Kept series (same names from both sources; labelled by `source`):
  engine_requests_waiting       queue depth (summed over engines)
  engine_requests_running       requests in the running batch (summed)
  engine_kv_cache_usage_ratio   KV-cache usage 0..1 (max over engines)
  gpu_utilization_ratio         GPU utilisation 0..1 (max over GPUs)
  gateway_requests_in_flight    requests the gateway is serving (gateway only)

`ServerCapture` is a Daemon: every `interval_s` it samples each source at wall-clock `now`;
a source that fails is noted (once per distinct reason) and retried on the next tick, never
stopping the run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families

from infersight.collectors.base import CollectorError
from infersight.collectors.engine_metrics import EngineCollector
from infersight.core.clock import Clock
from infersight.core.records import MetricSample
from infersight.daemons import Daemon

log = logging.getLogger(__name__)

SUMMED: Final = ("engine_requests_waiting", "engine_requests_running")
MAXED: Final = ("engine_kv_cache_usage_ratio", "gpu_utilization_ratio")
KEPT: Final = (*SUMMED, *MAXED, "gateway_requests_in_flight")
_GATEWAY_PREFIX: Final = "infersight_"


@dataclass(frozen=True, slots=True)
class ServerSample:
    ts: float  # wall-clock Unix seconds
    source: str  # "engine" or "gateway"
    name: str
    value: float


def reduce_samples(
    ts: float, source: str, points: Iterable[tuple[str, float]]
) -> list[ServerSample]:
    """Collapse label sets onto one value per kept name (sum for counts, max for ratios)."""
    acc: dict[str, float] = {}
    for name, value in points:
        if name not in KEPT:
            continue
        if name in MAXED:
            acc[name] = max(acc.get(name, value), value)
        else:
            acc[name] = acc.get(name, 0.0) + value
    return [ServerSample(ts, source, n, v) for n, v in sorted(acc.items())]


def gateway_points(text: str) -> list[tuple[str, float]]:
    """(kept name, value) pairs from a gateway's exposition text."""
    out: list[tuple[str, float]] = []
    for family in text_string_to_metric_families(text):
        name = str(family.name)
        if not name.startswith(_GATEWAY_PREFIX):
            continue
        short = name[len(_GATEWAY_PREFIX) :]
        if short == "requests_in_flight":
            short = "gateway_requests_in_flight"
        if short not in KEPT:
            continue
        for sample in family.samples:
            if sample.name == name:
                out.append((short, float(sample.value)))
    return out


class Source(Protocol):
    name: str

    async def sample(self, now: float) -> list[ServerSample]: ...

    async def aclose(self) -> None: ...


class EngineSource:
    name = "engine"

    def __init__(self, url: str, *, timeout_s: float = 3.0) -> None:
        self.url = url
        self.collector = EngineCollector("loadtest", url, timeout_s=timeout_s)

    async def sample(self, now: float) -> list[ServerSample]:
        samples: list[MetricSample] = await self.collector.collect(now)
        return reduce_samples(now, self.name, ((s.name, s.value) for s in samples))

    async def aclose(self) -> None:
        await self.collector.aclose()


class GatewaySource:
    name = "gateway"

    def __init__(self, url: str, *, timeout_s: float = 3.0) -> None:
        url = url.rstrip("/")
        self.url = url if url.endswith("/metrics") else url + "/metrics"
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s))

    async def sample(self, now: float) -> list[ServerSample]:
        try:
            resp = await self._client.get(self.url)
        except httpx.HTTPError as exc:
            raise CollectorError(f"cannot read {self.url}: {type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            raise CollectorError(f"{self.url} answered HTTP {resp.status_code}")
        try:
            points = gateway_points(resp.text)
        except Exception as exc:  # the parser raises several types on bad input
            raise CollectorError(f"{self.url} is not Prometheus text ({exc})") from None
        return reduce_samples(now, self.name, points)

    async def aclose(self) -> None:
        await self._client.aclose()


class ServerCapture(Daemon):
    """Samples every source each tick; `samples` grows, `problems` keeps distinct failures."""

    name = "loadtest-capture"

    def __init__(self, sources: list[Any], clock: Clock, *, interval_s: float = 1.0) -> None:
        super().__init__(clock, interval_s)
        self.sources: list[Source] = sources
        self.samples: list[ServerSample] = []
        self.problems: dict[str, str] = {}

    async def tick(self, now: float) -> None:
        for source in self.sources:
            try:
                self.samples.extend(await source.sample(now))
            except Exception as exc:
                reason = str(exc)
                if self.problems.get(source.name) != reason:
                    log.warning("server capture (%s): %s", source.name, reason)
                self.problems[source.name] = reason

    async def on_stop(self) -> None:
        for source in self.sources:
            try:
                await source.aclose()
            except Exception:
                log.debug("closing capture source %s failed", source.name, exc_info=True)


def window_stats(
    samples: Iterable[ServerSample], start: float, end: float
) -> dict[str, dict[str, float]]:
    """Per `source:name`, mean and max of the samples taken in [start, end]."""
    groups: dict[str, list[float]] = {}
    for s in samples:
        if start <= s.ts <= end:
            groups.setdefault(f"{s.source}:{s.name}", []).append(s.value)
    return {
        key: {"mean": sum(vs) / len(vs), "max": max(vs), "samples": float(len(vs))}
        for key, vs in sorted(groups.items())
    }
