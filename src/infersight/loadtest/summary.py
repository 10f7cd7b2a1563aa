"""Per-level aggregates with vLLM's benchmark definitions (pure).

Over the measured requests of one level (sent after its warm-up):

  duration            = last measured completion - start of measurement (the window)
  request_throughput  = requests completed in the window / duration   (requests/s)
  output_throughput   = Σ their output tokens / duration               (tokens/s, aggregate)
  total_token_throughput = Σ their (input + output tokens) / duration
  request_goodput     = of those, requests that met every SLO / duration (with a 95 % interval)
  mean_concurrency    = Σ time each request was in flight inside the window / duration
                        (Little's law: time-average of requests in flight)
  TTFT, TPOT, E2E     per completed measured request; ITL per token gap over all of them
  per-request output tokens/s = output tokens / E2E

The rates count every request that *ended* inside the window, warm-up requests included: at a
saturated level the warm-up requests still queued when measuring starts hold the endpoint's
slots for a while, and leaving them out (while the window starts at the end of the warm-up)
would report less than the endpoint delivered. Latencies and counts are over the measured
requests alone.

Percentiles interpolate linearly between closest ranks (numpy's default, as vLLM). p99 is
reported only with at least `MIN_P99_SAMPLES` values (null otherwise: with fewer, the "p99" is
just the maximum).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from infersight.core.capacity import poisson_rate_interval, wilson_interval
from infersight.loadtest.arrivals import achieved_rate_per_s
from infersight.loadtest.profiles import Level
from infersight.loadtest.results import RequestRow, Slo

PERCENTILES: Final = (50, 90, 95, 99)
MIN_P99_SAMPLES: Final = 100


@dataclass(frozen=True, slots=True)
class Dist:
    """mean / median / std and p50, p90, p95, p99 of one quantity (ms or tokens/s)."""

    count: int
    mean: float | None
    median: float | None
    std: float | None
    pcts: dict[int, float | None]

    @staticmethod
    def of(values: Sequence[float]) -> Dist:
        if not values:
            return Dist(0, None, None, None, dict.fromkeys(PERCENTILES))
        arr = np.asarray(values, dtype=float)
        qs = np.percentile(arr, PERCENTILES)
        pcts: dict[int, float | None] = {p: float(q) for p, q in zip(PERCENTILES, qs, strict=True)}
        if len(values) < MIN_P99_SAMPLES:
            pcts[99] = None
        return Dist(len(values), float(arr.mean()), float(np.median(arr)), float(arr.std()), pcts)


def _ms(values: Sequence[float | None]) -> list[float]:
    return [v * 1000.0 for v in values if v is not None]


@dataclass(frozen=True, slots=True)
class LevelSummary:
    index: int
    level: Level
    started_at: float  # wall-clock Unix seconds when measurement began
    duration_s: float
    rows: tuple[RequestRow, ...]  # measured requests, in send order
    warmup_requests: int
    completed: int
    failed: int
    errors_by_class: dict[str, int]
    total_input_tokens: int
    total_output_tokens: int
    request_throughput: float
    output_throughput: float
    total_token_throughput: float
    mean_concurrency: float
    send_rate_per_s: float | None
    ttft_ms: Dist
    tpot_ms: Dist
    itl_ms: Dist
    e2el_ms: Dist
    request_output_tokens_per_s: Dist
    slo: Slo | None
    good: int | None
    request_goodput: float | None
    request_goodput_ci95: tuple[float, float] | None
    slo_attainment: float | None
    slo_attainment_ci95: tuple[float, float] | None
    saturation: str | None = None
    stopped: str | None = None  # why the level ended early (interrupt, auto-stop)
    # completions of the measured requests alone per second: what to hold against their
    # send rate (request_throughput also counts warm-up requests ending in the window)
    measured_throughput: float = 0.0
    server: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def ended_at(self) -> float:
        return self.started_at + self.duration_s

    @property
    def label(self) -> str:
        return self.level.label

    @property
    def load_value(self) -> float:
        """The x of load curves: concurrency, or the offered rate."""
        return self.level.value


def summarize_level(
    index: int,
    level: Level,
    rows: Sequence[RequestRow],
    *,
    measure_start_s: float,
    measure_end_s: float | None = None,
    slo: Slo | None = None,
    warmup_requests: int = 0,
) -> LevelSummary:
    """Aggregate the measured rows of one level. Times are wall-clock Unix seconds.

    duration: from `measure_start_s` to the last measured completion (or `measure_end_s` when
    later, e.g. a level that sent nothing), at least 1 ms.
    """
    measured = sorted((r for r in rows if r.measured), key=lambda r: (r.start_s, r.index))
    ok = [r for r in measured if r.ok]
    last_end = max((r.start_s + r.e2e_s for r in measured), default=measure_start_s)
    end = max(last_end, measure_end_s if measure_end_s is not None else last_end)
    duration = max(end - measure_start_s, 1e-3)
    errors = Counter(r.error_class for r in measured if r.error_class is not None)
    out_tokens = sum(r.output_tokens for r in ok)
    in_tokens = sum(r.prompt_tokens for r in ok)
    # Rates: every request that ended inside the window (warm-up ones included).
    ended = [r for r in rows if measure_start_s <= r.start_s + r.e2e_s <= end]
    ended_ok = [r for r in ended if r.ok]
    window_out = sum(r.output_tokens for r in ended_ok)
    window_in = sum(r.prompt_tokens for r in ended_ok)
    in_flight_s = sum(
        max(0.0, min(r.start_s + r.e2e_s, end) - max(r.start_s, measure_start_s)) for r in rows
    )
    gaps = [g for r in ok for g in r.itl_s]
    good: int | None = None
    goodput = goodput_ci = attain = attain_ci = None
    if slo is not None and slo.any:
        good = sum(1 for r in measured if slo.meets(r))
        window_good = sum(1 for r in ended if slo.meets(r))
        goodput = window_good / duration
        goodput_ci = poisson_rate_interval(window_good, duration)
        if measured:
            attain = good / len(measured)
            attain_ci = wilson_interval(good, len(measured))
    return LevelSummary(
        index=index,
        level=level,
        started_at=measure_start_s,
        duration_s=duration,
        rows=tuple(measured),
        warmup_requests=warmup_requests,
        completed=len(ok),
        failed=len(measured) - len(ok),
        errors_by_class=dict(sorted(errors.items())),
        total_input_tokens=in_tokens,
        total_output_tokens=out_tokens,
        request_throughput=len(ended_ok) / duration,
        measured_throughput=len(ok) / duration,
        output_throughput=window_out / duration,
        total_token_throughput=(window_in + window_out) / duration,
        mean_concurrency=in_flight_s / duration,
        send_rate_per_s=achieved_rate_per_s([r.start_s for r in measured]),
        ttft_ms=Dist.of(_ms([r.ttft_s for r in ok])),
        tpot_ms=Dist.of(_ms([r.tpot_s for r in ok])),
        itl_ms=Dist.of(_ms(gaps)),
        e2el_ms=Dist.of(_ms([r.e2e_s for r in ok])),
        request_output_tokens_per_s=Dist.of(
            [v for v in (r.output_tokens_per_s for r in ok) if v is not None]
        ),
        slo=slo if slo is not None and slo.any else None,
        good=good,
        request_goodput=goodput,
        request_goodput_ci95=goodput_ci,
        slo_attainment=attain,
        slo_attainment_ci95=attain_ci,
    )


def dist_fields(name: str, d: Dist) -> dict[str, Any]:
    """vLLM's keys for one distribution: mean_/median_/std_/pNN_<name>."""
    out: dict[str, Any] = {
        f"mean_{name}": d.mean,
        f"median_{name}": d.median,
        f"std_{name}": d.std,
    }
    for p in PERCENTILES:
        out[f"p{p}_{name}"] = d.pcts.get(p)
    return out
