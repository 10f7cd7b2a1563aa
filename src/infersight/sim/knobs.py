"""The knobs of the simulated upstream: one frozen value, validated on construction.

Times are in milliseconds (`_ms`), probabilities are in [0, 1] (`_rate`). Randomness (jitter and
faults) comes from an RNG seeded per request from (server seed, request arrival index), so a run
with the same seed and the same request order behaves the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Statuses that make sense for an injected upstream failure.
ERROR_STATUSES: frozenset[int] = frozenset({400, 408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class SimKnobs:
    """What the simulated LLM does.

    - `tokens`: completion length when the request sets no `max_tokens` (the model "stops"
      there, finish_reason "stop"); a smaller `max_tokens` caps it (finish_reason "length").
    - `tokens_per_chunk`: K tokens per SSE chunk (the last chunk may carry fewer).
    - `ttft_ms`: time from the slot being granted to the first content chunk (one sleep);
      time waiting for a slot adds to it. `itl_ms`: per-token inter-token latency; a chunk of
      k tokens follows the previous one after k * itl_ms. Jitter is uniform in [-j, +j] ms,
      applied to the TTFT sleep and to each chunk gap, never going below 0.
    - `error_rate`: probability of answering `error_status` (OpenAI error JSON) at once.
    - `stall_rate` / `stall_ms`: probability of one pause of stall_ms halfway through a stream.
    - `disconnect_rate`: probability of closing the connection after half the chunks, without
      the finish chunk or `data: [DONE]`.
    - `slots`: concurrent generations (0 = unlimited); others wait FIFO for a slot.
    - `queue_limit`: most requests waiting for a slot (0 = unbounded); beyond it → 503 at once.
    """

    model: str = "sim-model"
    tokens: int = 64
    tokens_per_chunk: int = 1
    ttft_ms: float = 0.0
    itl_ms: float = 0.0
    ttft_jitter_ms: float = 0.0
    itl_jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    stall_rate: float = 0.0
    stall_ms: float = 0.0
    disconnect_rate: float = 0.0
    slots: int = 0
    queue_limit: int = 0

    def __post_init__(self) -> None:
        problems = validate_knobs(self)
        if problems:
            raise ValueError("invalid sim knobs: " + "; ".join(problems))

    @property
    def has_timing(self) -> bool:
        """True when a request may sleep at all (TTFT, ITL, jitter or stalls)."""
        return (
            self.ttft_ms > 0
            or self.itl_ms > 0
            or self.ttft_jitter_ms > 0
            or self.itl_jitter_ms > 0
            or (self.stall_rate > 0 and self.stall_ms > 0)
        )

    @property
    def needs_rng(self) -> bool:
        """True when a request needs random draws (a rate strictly between 0 and 1, or jitter)."""
        rates = (self.error_rate, self.stall_rate, self.disconnect_rate)
        return (
            any(0.0 < r < 1.0 for r in rates) or self.ttft_jitter_ms > 0 or self.itl_jitter_ms > 0
        )


def validate_knobs(k: SimKnobs) -> list[str]:
    """Every problem with `k`, each naming the knob, the rule and the value seen."""
    problems: list[str] = []
    if not k.model or not isinstance(k.model, str):
        problems.append(f"model: must be a non-empty string, got {k.model!r}")
    for name, value in (("tokens", k.tokens), ("tokens_per_chunk", k.tokens_per_chunk)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(f"{name}: must be an integer >= 1, got {value!r}")
    for name, value in (("slots", k.slots), ("queue_limit", k.queue_limit)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(f"{name}: must be an integer >= 0 (0 = unlimited), got {value!r}")
    for name, ms in (
        ("ttft_ms", k.ttft_ms),
        ("itl_ms", k.itl_ms),
        ("ttft_jitter_ms", k.ttft_jitter_ms),
        ("itl_jitter_ms", k.itl_jitter_ms),
        ("stall_ms", k.stall_ms),
    ):
        if not _finite_number(ms) or ms < 0:
            problems.append(f"{name}: must be a finite number >= 0, got {ms!r}")
    for name, rate in (
        ("error_rate", k.error_rate),
        ("stall_rate", k.stall_rate),
        ("disconnect_rate", k.disconnect_rate),
    ):
        if not _finite_number(rate) or not 0.0 <= rate <= 1.0:
            problems.append(f"{name}: must be a probability between 0 and 1, got {rate!r}")
    if k.error_status not in ERROR_STATUSES:
        allowed = ", ".join(str(s) for s in sorted(ERROR_STATUSES))
        problems.append(f"error_status: must be one of {allowed}, got {k.error_status!r}")
    if k.queue_limit > 0 and k.slots == 0:
        problems.append("queue_limit: needs slots > 0 (with unlimited slots nothing ever waits)")
    return problems


def _finite_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
