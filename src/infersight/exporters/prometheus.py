"""Prometheus exposition of the gateway's measurements (`/metrics`).

Histograms are kept as plain cumulative bucket counts and fed per request: a request's
inter-token gaps arrive sorted, so counting them into buckets is one bisect per edge instead
of one observe() per token. prometheus_client renders the text format.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from infersight.core.records import RequestRecord
from infersight.core.timing import StreamTiming

# vLLM's bucket edges, plus finer edges for fast paths and edges at common SLO thresholds.
TTFT_BUCKETS_S: Final = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.05, 0.06, 0.08, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75,
    1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
ITL_BUCKETS_S: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15,
    0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
E2E_BUCKETS_S: Final = (
    0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
    40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip

Labels = tuple[str, ...]
# Model names come from clients: a name gets a label of their own once the upstream took a
# request for it (answered 2xx, or failed serving it: a 5xx, a broken or silent stream), and
# at most this many do, so that made-up names (refused, or tried while the upstream was down)
# cannot grow /metrics without bound. The rest are counted under OTHER_MODEL.
MAX_MODEL_LABELS: Final = 100
OTHER_MODEL: Final = "(other)"
_SERVED_FAILURES: Final = frozenset({"upstream_5xx", "midstream_error", "upstream_timeout"})


class _Collects(Protocol):
    def collect(self) -> Iterable[Metric]: ...


@dataclass(slots=True)
class _Histogram:
    edges: tuple[float, ...]
    cumulative: list[int] = field(default_factory=list)
    count: int = 0
    total: float = 0.0

    def __post_init__(self) -> None:
        self.cumulative = [0] * len(self.edges)

    def observe(self, value: float) -> None:
        for i in range(bisect.bisect_left(self.edges, value), len(self.edges)):
            self.cumulative[i] += 1
        self.count += 1
        self.total += value

    def observe_sorted(self, values: Sequence[float]) -> None:
        if not values:
            return
        for i, edge in enumerate(self.edges):
            self.cumulative[i] += bisect.bisect_right(values, edge)
        self.count += len(values)
        self.total += sum(values)

    def buckets(self) -> list[tuple[str, float]]:
        out = [(repr(float(e)), float(c)) for e, c in zip(self.edges, self.cumulative, strict=True)]
        out.append(("+Inf", float(self.count)))
        return out


class GatewayMetrics:
    """Counters, gauges and histograms of everything the gateway measured."""

    HIST_LABELS: Final = ("model", "upstream")

    def __init__(self) -> None:
        self.ttft: dict[Labels, _Histogram] = {}
        self.itl: dict[Labels, _Histogram] = {}
        self.tpot: dict[Labels, _Histogram] = {}
        self.e2e: dict[Labels, _Histogram] = {}
        self.requests: dict[Labels, int] = {}  # model, upstream, route, status
        self.errors: dict[Labels, int] = {}  # model, upstream, error_class
        self.prompt_tokens: dict[Labels, int] = {}
        self.completion_tokens: dict[Labels, int] = {}
        self.in_flight: dict[str, int] = {}
        self._models: set[str] = set()
        # name -> (help, reader): extra counters owned by other parts (the record writer)
        self.extra_counters: dict[str, tuple[str, Callable[[], float]]] = {}
        # other Prometheus collectors rendered on the same page (collected samples)
        self.extra_collectors: list[_Collects] = []
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def tokens_by_upstream(self) -> dict[str, tuple[int, int]]:
        """(prompt, completion) tokens served so far, per upstream (all models)."""
        out: dict[str, tuple[int, int]] = {}
        for (_, upstream), n in self.prompt_tokens.items():
            p, c = out.get(upstream, (0, 0))
            out[upstream] = (p + n, c)
        for (_, upstream), n in self.completion_tokens.items():
            p, c = out.get(upstream, (0, 0))
            out[upstream] = (p, c + n)
        return out

    def model_label(self, record: RequestRecord) -> str:
        """The `model` label for this request's model (see MAX_MODEL_LABELS)."""
        model = record.model
        if model in self._models:
            return model
        taken = 200 <= record.status < 300 or record.error_class in _SERVED_FAILURES
        if not taken or len(self._models) >= MAX_MODEL_LABELS:
            return OTHER_MODEL
        self._models.add(model)
        return model

    def observe(self, record: RequestRecord, timing: StreamTiming | None) -> None:
        model = self.model_label(record)
        key = (model, record.upstream)
        req_key = (model, record.upstream, record.route, str(record.status))
        self.requests[req_key] = self.requests.get(req_key, 0) + 1
        if record.error_class is not None:
            err_key = (model, record.upstream, record.error_class)
            self.errors[err_key] = self.errors.get(err_key, 0) + 1
        if record.prompt_tokens:
            self.prompt_tokens[key] = self.prompt_tokens.get(key, 0) + record.prompt_tokens
        if record.completion_tokens:
            self.completion_tokens[key] = (
                self.completion_tokens.get(key, 0) + record.completion_tokens
            )
        if record.status == 0 or record.error_class in ("upstream_unreachable", "invalid_request"):
            return
        _hist(self.e2e, key, E2E_BUCKETS_S).observe(record.e2e_s)
        if record.ttft_s is not None:
            _hist(self.ttft, key, TTFT_BUCKETS_S).observe(record.ttft_s)
        if record.tpot_s is not None:
            _hist(self.tpot, key, ITL_BUCKETS_S).observe(record.tpot_s)
        if timing is not None and timing.itl_gaps_s:
            _hist(self.itl, key, ITL_BUCKETS_S).observe_sorted(timing.itl_gaps_s)

    def collect(self) -> Iterator[Metric]:
        yield from _histograms("infersight_ttft_seconds", "Time to first token (s).", self.ttft)
        yield from _histograms(
            "infersight_inter_token_latency_seconds",
            "Gaps between output tokens (s); a chunk of k tokens counts as k gaps.",
            self.itl,
        )
        yield from _histograms(
            "infersight_tpot_seconds",
            "Time per output token after the first, (E2E - TTFT)/(tokens - 1) (s).",
            self.tpot,
        )
        yield from _histograms(
            "infersight_e2e_request_latency_seconds", "End-to-end request latency (s).", self.e2e
        )
        yield _counter(
            "infersight_requests",
            "Requests by model, upstream, route and HTTP status.",
            ("model", "upstream", "route", "status"),
            self.requests.items(),
        )
        yield _counter(
            "infersight_request_errors",
            "Failed requests by error class.",
            ("model", "upstream", "error_class"),
            self.errors.items(),
        )
        yield _counter(
            "infersight_prompt_tokens",
            "Prompt tokens (from upstream usage, or estimated).",
            self.HIST_LABELS,
            self.prompt_tokens.items(),
        )
        yield _counter(
            "infersight_completion_tokens",
            "Generated tokens (from upstream usage, or estimated).",
            self.HIST_LABELS,
            self.completion_tokens.items(),
        )
        gauge = GaugeMetricFamily(
            "infersight_requests_in_flight", "Requests being served now.", labels=["upstream"]
        )
        for upstream, n in self.in_flight.items():
            gauge.add_metric([upstream], float(n))
        yield gauge
        for name, (doc, read) in self.extra_counters.items():
            counter = CounterMetricFamily(name, doc)
            counter.add_metric([], read())
            yield counter
        for extra in self.extra_collectors:
            yield from extra.collect()

    def exposition(self) -> bytes:
        return bytes(generate_latest(self._registry))


def _hist(table: dict[Labels, _Histogram], key: Labels, edges: tuple[float, ...]) -> _Histogram:
    hist = table.get(key)
    if hist is None:
        hist = table[key] = _Histogram(edges)
    return hist


def _histograms(name: str, doc: str, table: dict[Labels, _Histogram]) -> Iterator[Metric]:
    family = HistogramMetricFamily(name, doc, labels=list(GatewayMetrics.HIST_LABELS))
    for key, hist in table.items():
        family.add_metric(list(key), hist.buckets(), hist.total)
    yield family


def _counter(
    name: str, doc: str, labels: Sequence[str], items: Iterable[tuple[Labels, int]]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=list(labels))
    for key, value in items:
        family.add_metric(list(key), float(value))
    return family
