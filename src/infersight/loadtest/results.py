"""Per-request results and SLOs (pure values).

Times: `start_s` is wall-clock Unix seconds (for aligning with server metrics); `offset_s` is
seconds since the run started; durations come from one monotonic clock (perf_counter), the same
clock that timestamps every socket read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

# Error classes a request can end in (see `loadtest.client`).
ERROR_CLASSES: Final = (
    "connect",  # the TCP connection could not be made
    "timeout",  # no response headers, or no body bytes, within the request timeout
    "http_<status>",  # the endpoint answered this status (http_429, http_503, ...)
    "protocol",  # the connection closed mid-response or the HTTP was malformed
    "stream_error",  # an SSE error event inside a 200 stream
    "incomplete",  # the stream ended without content or without its finish/[DONE]
    "not_openai",  # a 200 answer that is not an OpenAI stream (HTML, other JSON)
    "not_streaming",  # a whole JSON completion where a stream was asked for (no TTFT)
    "client",  # an unexpected error inside the load tester (reported, never fatal)
)


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One request of a load test. Timing fields are None when the request failed first."""

    index: int
    level: int
    start_s: float
    offset_s: float
    measured: bool  # sent after the level's warm-up
    status: int
    error_class: str | None
    error: str | None
    ttft_s: float | None
    e2e_s: float
    tpot_s: float | None
    itl_s: tuple[float, ...]  # per-token gaps in arrival order (a k-token chunk gives k gaps)
    output_tokens: int
    prompt_tokens: int
    tokens_estimated: bool  # no usage from the endpoint: one token per content event
    finish_reason: str | None

    @property
    def ok(self) -> bool:
        return self.error_class is None

    @property
    def itl_max_s(self) -> float | None:
        return max(self.itl_s) if self.itl_s else None

    @property
    def output_tokens_per_s(self) -> float | None:
        """Per-request output speed: output_tokens / E2E."""
        if not self.ok or self.e2e_s <= 0 or self.output_tokens <= 0:
            return None
        return self.output_tokens / self.e2e_s


@dataclass(frozen=True, slots=True)
class Slo:
    """Per-request service-level objectives, in seconds; None = not checked.

    A request meets the SLO when it succeeded and TTFT <= ttft_s, TPOT <= tpot_s, every
    inter-token gap <= max_itl_s, and E2E <= e2e_s (TPOT and ITL are not checked for responses
    of fewer than two tokens, where they are undefined).
    """

    ttft_s: float | None = None
    tpot_s: float | None = None
    max_itl_s: float | None = None
    e2e_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("ttft_s", "tpot_s", "max_itl_s", "e2e_s"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"SLO {name} must be a number > 0, got {v!r}")

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.ttft_s, self.tpot_s, self.max_itl_s, self.e2e_s))

    def meets(self, row: RequestRow) -> bool:
        if not row.ok:
            return False
        if self.ttft_s is not None and (row.ttft_s is None or row.ttft_s > self.ttft_s):
            return False
        if self.tpot_s is not None and row.tpot_s is not None and row.tpot_s > self.tpot_s:
            return False
        if self.max_itl_s is not None and row.itl_s and max(row.itl_s) > self.max_itl_s:
            return False
        return not (self.e2e_s is not None and row.e2e_s > self.e2e_s)

    def describe(self) -> dict[str, float | None]:
        return {
            "ttft_ms": _ms(self.ttft_s),
            "tpot_ms": _ms(self.tpot_s),
            "max_itl_ms": _ms(self.max_itl_s),
            "e2el_ms": _ms(self.e2e_s),
        }


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1000.0
