"""The Store protocol: what every backend (SQLite now, PostgreSQL later) must provide."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from infersight.core.records import RequestRecord

# Numeric RequestRecord fields that percentile queries may ask for.
LATENCY_FIELDS: Final = (
    "ttft_s",
    "e2e_s",
    "tpot_s",
    "itl_mean_s",
    "itl_p50_s",
    "itl_p90_s",
    "itl_p99_s",
    "itl_max_s",
    "output_tokens_per_s",
    "prompt_tokens",
    "completion_tokens",
)
# Fields a summary may be grouped by.
GROUP_FIELDS: Final = ("model", "upstream", "route", "client", "source", "status", "error_class")


@dataclass(frozen=True, slots=True)
class FieldPercentiles:
    """Percentiles of one numeric field for one group over a window."""

    group: tuple[tuple[str, str | None], ...]  # e.g. (("model", "llama"),)
    field: str
    count: int  # rows with a non-null value for the field
    values: dict[float, float]  # quantile (0-1) -> value


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """What `infersight stats` prints for one group over a window."""

    group: tuple[tuple[str, str | None], ...]
    requests: int
    errors: int
    window_s: float
    ttft_s: dict[float, float]
    itl_s: dict[float, float]  # percentiles over per-request mean ITL
    tpot_s: dict[float, float]
    e2e_s: dict[float, float]
    output_tokens_per_s_mean: float | None  # mean per-request output speed
    completion_tokens: int  # sum over the window
    throughput_tokens_per_s: float  # completion tokens / window

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


class Store(Protocol):
    """Backend-neutral storage. Writes are batched by `store.writer.BatchWriter`."""

    def write_records(self, records: Sequence[RequestRecord]) -> None: ...

    def get_record(self, record_id: str) -> RequestRecord | None: ...

    def list_records(
        self,
        start: float,
        end: float,
        *,
        model: str | None = None,
        limit: int = 100,
    ) -> list[RequestRecord]: ...

    def count_records(self, start: float, end: float) -> int: ...

    def percentiles(
        self,
        field: str,
        start: float,
        end: float,
        *,
        group_by: Sequence[str] = (),
        quantiles: Sequence[float] = (0.5, 0.95, 0.99),
        sources: Sequence[str] = ("user",),
    ) -> list[FieldPercentiles]: ...

    def summarize(
        self,
        start: float,
        end: float,
        *,
        group_by: Sequence[str] = ("model",),
        quantiles: Sequence[float] = (0.5, 0.95, 0.99),
        sources: Sequence[str] = ("user",),
    ) -> list[RequestSummary]: ...

    def close(self) -> None: ...
