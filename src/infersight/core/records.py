"""The records that flow through infersight: one schema for both axes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# Error classes a RequestRecord may carry (None means success).
ERROR_CLASSES: Final = (
    "upstream_unreachable",
    "upstream_timeout",
    "upstream_4xx",
    "upstream_5xx",
    "midstream_error",
    "client_disconnect",
    "invalid_request",
    "gateway_error",
)

# Where a request came from: user traffic, or traffic infersight generated itself.
SOURCES: Final = ("user", "sweep", "loadtest", "demo")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One LLM request as the gateway saw it. Times in seconds; `started_at` is Unix time."""

    id: str
    started_at: float
    model: str
    upstream: str
    route: str
    stream: bool
    status: int
    e2e_s: float
    error_class: str | None = None
    error_message: str | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None
    itl_mean_s: float | None = None
    itl_p50_s: float | None = None
    itl_p90_s: float | None = None
    itl_p99_s: float | None = None
    itl_max_s: float | None = None
    output_tokens_per_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_estimated: bool = False
    finish_reason: str | None = None
    inflight_at_start: int = 0
    client: str | None = None
    source: str = "user"
    prompt_text: str | None = None
    response_text: str | None = None


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One point of a named time series. `labels` is a sorted tuple of (key, value) pairs."""

    name: str
    ts: float
    value: float
    labels: tuple[tuple[str, str], ...] = field(default=())

    @staticmethod
    def make(name: str, ts: float, value: float, **labels: str) -> MetricSample:
        return MetricSample(name, ts, value, tuple(sorted(labels.items())))
