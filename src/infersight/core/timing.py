"""Streaming timings with vLLM's benchmark definitions.

  TTFT  = time of the first content-bearing event - request start
  E2E   = time the response ended - request start
  TPOT  = (E2E - TTFT) / (output_tokens - 1)            (None when output_tokens < 2)
  ITL   = the gaps between tokens; an event carrying k tokens after a gap g counts as
          k gaps of g / k, so multi-token chunks do not inflate ITL
  output tokens/s (per request) = output_tokens / E2E

When the upstream reports no per-event token counts, the request's output tokens (from usage,
or one per content event as a marked estimate) are spread as evenly as integers allow over the
content events, earliest events taking the remainder.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

from infersight.core.stats import quantile_sorted


@dataclass(frozen=True, slots=True)
class StreamTiming:
    ttft_s: float | None
    e2e_s: float
    tpot_s: float | None
    output_tokens: int
    itl_gaps_s: tuple[float, ...]  # one entry per inter-token gap, sorted ascending
    itl_mean_s: float | None
    itl_p50_s: float | None
    itl_p90_s: float | None
    itl_p99_s: float | None
    itl_max_s: float | None
    output_tokens_per_s: float | None


def tokens_per_event(output_tokens: int, n_events: int) -> list[int]:
    """Spread output_tokens over n_events as evenly as integers allow (each event >= 1)."""
    if n_events <= 0:
        return []
    if output_tokens <= n_events:
        return [1] * n_events
    base, extra = divmod(output_tokens, n_events)
    return [base + 1 if i < extra else base for i in range(n_events)]


def itl_gaps(event_times: Sequence[float], per_event_tokens: Sequence[int]) -> list[float]:
    """Per-token gaps: the gap before event i (i >= 1) split into k_i gaps of gap / k_i."""
    gaps: list[float] = []
    for i in range(1, len(event_times)):
        k = per_event_tokens[i]
        gap = event_times[i] - event_times[i - 1]
        if k == 1:
            gaps.append(gap)
        else:
            gaps.extend([gap / k] * k)
    return gaps


def stream_timing(
    start_s: float,
    end_s: float,
    event_times: Sequence[float],
    output_tokens: int | None,
    per_event_tokens: Sequence[int] | None = None,
) -> StreamTiming:
    """Timings of one streamed response.

    event_times: arrival time of each content-bearing event, ascending.
    output_tokens: the upstream's completion_tokens, or None to count one token per event.
    per_event_tokens: exact tokens per event when known (overrides the even spread).
    """
    e2e = max(end_s - start_s, 0.0)
    n_events = len(event_times)
    tokens = output_tokens if output_tokens is not None else n_events
    ttft = event_times[0] - start_s if n_events else None
    if per_event_tokens is None and tokens <= n_events:
        # one token per event (the usual stream): the gaps between events, at C speed
        gaps = sorted(map(operator.sub, event_times[1:], event_times[:-1]))
    else:
        if per_event_tokens is None:
            per_event_tokens = tokens_per_event(tokens, n_events)
        gaps = sorted(itl_gaps(event_times, per_event_tokens))
    itl_mean: float | None
    p50: float | None
    p90: float | None
    p99: float | None
    itl_max: float | None
    tpot = (e2e - ttft) / (tokens - 1) if ttft is not None and tokens > 1 else None
    itl_mean = p50 = p90 = p99 = itl_max = None
    if gaps:
        itl_mean = sum(gaps) / len(gaps)
        p50, p90, p99 = (quantile_sorted(gaps, q) for q in (0.5, 0.9, 0.99))
        itl_max = gaps[-1]
    return StreamTiming(
        ttft_s=ttft,
        e2e_s=e2e,
        tpot_s=tpot,
        output_tokens=tokens,
        itl_gaps_s=tuple(gaps),
        itl_mean_s=itl_mean,
        itl_p50_s=p50,
        itl_p90_s=p90,
        itl_p99_s=p99,
        itl_max_s=itl_max,
        output_tokens_per_s=tokens / e2e if e2e > 0 and tokens > 0 else None,
    )
