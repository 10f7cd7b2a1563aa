"""Per-minute series derived from request records, so every signal is queried the same way.

A request counts in the minute it *finished* (started_at + e2e_s), as a Prometheus histogram
observes at completion: a minute is final once its end has passed (plus the writer's delay),
even for requests that streamed for minutes. Each minute gives one sample per series below,
labelled model, upstream and source (user, sweep, loadtest, demo), with ts = the minute's
start. Minutes without requests for a label set have no samples (no fake zeros).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

from infersight.core.records import MetricSample
from infersight.core.stats import percentiles

MINUTE_S: Final = 60.0
DERIVED_QUANTILES: Final = (0.5, 0.9, 0.95, 0.99)

# Series name -> what its per-minute sample is. Latency series carry one series per quantile,
# labelled quantile="0.5" / "0.9" / "0.95" / "0.99", over the minute's requests with a value.
DERIVED_SERIES: Final[dict[str, str]] = {
    "requests_per_s": "requests that finished in the minute / 60",
    "request_errors_per_s": "of those, requests with an error_class / 60",
    "request_serving_errors_per_s": (
        "of those, requests that failed on the serving side (upstream 5xx, timeout, "
        "unreachable, broken stream, gateway error; not client hang-ups or bad requests) / 60"
    ),
    "request_error_ratio": "errors / requests in the minute (0-1)",
    "ttft_seconds": "quantiles of ttft_s (time to first token)",
    "itl_seconds": "quantiles of itl_mean_s (each request's mean inter-token latency)",
    "tpot_seconds": "quantiles of tpot_s (time per output token after the first)",
    "e2e_seconds": "quantiles of e2e_s (request start to last byte)",
    "output_tokens_per_s": "sum of completion_tokens / 60",
    "requests_in_flight": "mean inflight_at_start (requests already in flight at each start)",
}
# Quantile series name -> the FinishedRequest field it summarises.
_LATENCY_FIELDS: Final = (
    ("ttft_seconds", "ttft_s"),
    ("itl_seconds", "itl_mean_s"),
    ("tpot_seconds", "tpot_s"),
    ("e2e_seconds", "e2e_s"),
)
LABEL_KEYS: Final = ("model", "upstream", "source")
# Error classes of the serving side: what an operator of the endpoint is paged for. A client
# that hangs up (client_disconnect) or sends a bad request (invalid_request, upstream_4xx) is
# not the endpoint failing.
SERVING_ERROR_CLASSES: Final = (
    "upstream_5xx", "upstream_timeout", "upstream_unreachable", "midstream_error", "gateway_error",
)  # fmt: skip


class FinishedRequest(NamedTuple):
    """The fields of a RequestRecord the derived series need."""

    finished_at: float  # started_at + e2e_s
    model: str
    upstream: str
    source: str
    error_class: str | None
    ttft_s: float | None
    itl_mean_s: float | None
    tpot_s: float | None
    e2e_s: float
    completion_tokens: int | None
    inflight_at_start: int


def quantile_label(q: float) -> str:
    return f"{q:g}"


def minute_samples(minute_ts: float, requests: Sequence[FinishedRequest]) -> list[MetricSample]:
    """The derived samples of one minute and one label set (all requests share the labels)."""
    if not requests:
        return []
    first = requests[0]
    labels = (("model", first.model), ("source", first.source), ("upstream", first.upstream))
    n = len(requests)
    errors = sum(1 for r in requests if r.error_class is not None)
    serving = sum(1 for r in requests if r.error_class in SERVING_ERROR_CLASSES)
    tokens = sum(r.completion_tokens or 0 for r in requests)

    def sample(name: str, value: float, extra: tuple[tuple[str, str], ...] = ()) -> MetricSample:
        return MetricSample(name, minute_ts, value, tuple(sorted(labels + extra)))

    out = [
        sample("requests_per_s", n / MINUTE_S),
        sample("request_errors_per_s", errors / MINUTE_S),
        sample("request_serving_errors_per_s", serving / MINUTE_S),
        sample("request_error_ratio", errors / n),
        sample("output_tokens_per_s", tokens / MINUTE_S),
        sample("requests_in_flight", sum(r.inflight_at_start for r in requests) / n),
    ]
    for name, field in _LATENCY_FIELDS:
        values = [v for r in requests if (v := getattr(r, field)) is not None]
        for q, value in percentiles(values, DERIVED_QUANTILES).items():
            out.append(sample(name, value, (("quantile", quantile_label(q)),)))
    return out


def derive_minutes(requests: Iterable[FinishedRequest]) -> list[MetricSample]:
    """Derived samples for every (minute of finished_at, model, upstream, source) group."""
    groups: dict[tuple[float, str, str, str], list[FinishedRequest]] = {}
    for r in requests:
        minute_ts = (r.finished_at // MINUTE_S) * MINUTE_S
        groups.setdefault((minute_ts, r.model, r.upstream, r.source), []).append(r)
    out: list[MetricSample] = []
    for key in sorted(groups):
        out.extend(minute_samples(key[0], groups[key]))
    return out
