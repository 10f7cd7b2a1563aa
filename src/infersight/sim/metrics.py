"""GET /metrics of the simulator: vLLM-named Prometheus text from its live state.

What a vLLM server would show for the same traffic, so the engine collector (and anything that
scrapes vLLM) can be tested against the sim:

    vllm:num_requests_running / vllm:num_requests_waiting    gauges (slots in use / queued)
    vllm:kv_cache_usage_perc                                  running / slots (0 when unlimited)
    vllm:num_preemptions_total                                0 (the sim never preempts)
    vllm:prompt_tokens_total / vllm:generation_tokens_total  counters
    vllm:request_success_total                                completed responses
    vllm:time_to_first_token_seconds                          histogram, streamed requests
    vllm:e2e_request_latency_seconds                          histogram, completed requests

Labels: model_name (the sim's model), engine="0". Bucket bounds are vLLM's. Observing costs one
bisect per request (never per chunk); rendering happens only when /metrics is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Final

from infersight.sim.asgi import Send, content_length
from infersight.sim.knobs import SimKnobs
from infersight.sim.state import SimState

CONTENT_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"

# vLLM's bucket bounds (vllm/v1/metrics/loggers.py), in seconds.
TTFT_BUCKETS_S: Final = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
E2E_BUCKETS_S: Final = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
    40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip


class Histogram:
    """Prometheus-style histogram: per-bucket counts (last = +Inf), sum and count."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # le semantics: value <= bound
        self.sum += value
        self.count += 1


class SimObservations:
    """The per-request timings /metrics reports; touched only from the server's event loop."""

    __slots__ = ("e2e", "ttft")

    def __init__(self) -> None:
        self.ttft = Histogram(TTFT_BUCKETS_S)
        self.e2e = Histogram(E2E_BUCKETS_S)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _histogram_lines(name: str, help_: str, labels: str, h: Histogram) -> list[str]:
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
    cumulative = 0
    for bound, n in zip(h.bounds, h.counts, strict=False):
        cumulative += n
        lines.append(f'{name}_bucket{{{labels},le="{bound!r}"}} {cumulative}.0')
    lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {h.count}.0')
    lines.append(f"{name}_count{{{labels}}} {h.count}.0")
    lines.append(f"{name}_sum{{{labels}}} {h.sum!r}")
    return lines


_SCALARS: Final = (  # (family, type, help)
    ("vllm:num_requests_running", "gauge", "Number of requests in model execution batches."),
    ("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed."),
    ("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage."),
    ("vllm:num_preemptions", "counter", "Cumulative number of preemption from the engine."),
    ("vllm:prompt_tokens", "counter", "Number of prefill tokens processed."),
    ("vllm:generation_tokens", "counter", "Number of generation tokens processed."),
    ("vllm:request_success", "counter", "Count of successfully processed requests."),
)
_TTFT = ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.")
_E2E = ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.")


def render_metrics(state: SimState, knobs: SimKnobs, obs: SimObservations) -> bytes:
    """The exposition text (format 0.0.4) for the current state."""
    labels = f'engine="0",model_name="{_escape(knobs.model)}"'
    kv = state.running / knobs.slots if knobs.slots else 0.0
    values = (
        state.running,
        state.waiting,
        kv,
        0,
        state.prompt_tokens_total,
        state.generation_tokens_total,
        state.completed_total,
    )
    lines: list[str] = []
    for (family, kind, help_), value in zip(_SCALARS, values, strict=True):
        name = f"{family}_total" if kind == "counter" else family
        lines += (f"# HELP {name} {help_}", f"# TYPE {name} {kind}")
        lines.append(f"{name}{{{labels}}} {float(value)!r}")
    lines += _histogram_lines(*_TTFT, labels, obs.ttft)
    lines += _histogram_lines(*_E2E, labels, obs.e2e)
    lines.append("")
    return "\n".join(lines).encode()


async def send_metrics(send: Send, body: bytes) -> None:
    headers = [(b"content-type", CONTENT_TYPE), content_length(body)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
