"""The Store protocol: what every backend (SQLite now, PostgreSQL later) must provide."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from infersight.core.alarms import AlarmRecord, AlertEvent, Silence
from infersight.core.records import MetricSample, RequestRecord
from infersight.core.series import AGGREGATIONS
from infersight.store.sqlite_loadtests import LoadtestRow
from infersight.store.sqlite_quality import SweepItemRow, SweepRow

__all__ = [
    "AGGREGATIONS",
    "GROUP_FIELDS",
    "LATENCY_FIELDS",
    "AlertStore",
    "FieldPercentiles",
    "LoadtestStore",
    "QualityStore",
    "RequestSummary",
    "Series",
    "Store",
]

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


@dataclass(frozen=True, slots=True)
class Series:
    """One labelled time series as returned by `Store.series`: (bucket start, value) points."""

    name: str
    labels: tuple[tuple[str, str], ...]
    points: list[tuple[float, float]]


class AlertStore(Protocol):
    """The alert engine's persistence (`Store.alerts`): alarm state per instance, history,
    silences, and the SLO query. SQLite: `store.sqlite_alerts`."""

    def load_alarms(self) -> list[AlarmRecord]: ...

    def save_alarms(self, records: Sequence[AlarmRecord]) -> None: ...

    def delete_alarms(self, keys: Sequence[tuple[str, str]]) -> None: ...

    def append_events(self, events: Sequence[AlertEvent]) -> None: ...

    def events(
        self, start: float, end: float, *, rule: str | None = None, limit: int = 1000
    ) -> list[AlertEvent]: ...

    def prune_events(self, before: float) -> int: ...

    def add_silence(self, silence: Silence) -> None: ...

    def silences(self, now: float | None = None) -> list[Silence]: ...

    def end_silences(self, rule: str, now: float) -> int: ...

    def count_good_total(
        self,
        start: float,
        end: float,
        *,
        step_s: float,
        field: str | None,
        threshold: float | None = None,
        sources: Sequence[str] = ("user",),
        labels: Mapping[str, str] | None = None,
    ) -> list[tuple[float, int, int]]:
        """(bucket start, good, total) per bucket of request records; see sqlite_alerts."""
        ...


class QualityStore(Protocol):
    """Quality sweeps and their items (`Store.quality`). SQLite: `store.sqlite_quality`."""

    def write_sweep(self, sweep: SweepRow, items: Sequence[SweepItemRow]) -> None: ...

    def get_sweep(self, sweep_id: str) -> SweepRow | None: ...

    def list_sweeps(
        self,
        start: float,
        end: float,
        *,
        dataset: str | None = None,
        name: str | None = None,
        limit: int = 100,
    ) -> list[SweepRow]: ...

    def previous_sweep(
        self, dataset: str, before: float, *, name: str | None = None, model: str | None = None
    ) -> SweepRow | None: ...

    def sweep_items(self, sweep_id: str) -> list[SweepItemRow]: ...

    def prune_sweeps(self, before: float) -> int: ...


class LoadtestStore(Protocol):
    """`infersight loadtest` runs (`Store.loadtests`). SQLite: `store.sqlite_loadtests`."""

    def write_loadtest(self, row: LoadtestRow) -> None: ...

    def get_loadtest(self, loadtest_id: str) -> LoadtestRow | None: ...

    def list_loadtests(self, *, limit: int = 50) -> list[LoadtestRow]: ...


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

    # -- metric samples (collectors, derived series) -----------------------------------
    def write_samples(self, samples: Sequence[MetricSample]) -> None:
        """Store raw samples; the same series and ts again replaces the value. Batched by
        `store.sample_writer.SampleWriter`."""
        ...

    def series(
        self,
        name: str,
        start: float,
        end: float,
        *,
        step_s: float,
        agg: str = "avg",
        labels: Mapping[str, str] | None = None,
    ) -> list[Series]:
        """One Series per label set of `name` matching `labels` (exact match on the given
        keys, others free) with data in [start, end), sorted by labels. Points are
        (bucket start, value) for buckets aligned to multiples of step_s, aggregated with agg
        (AGGREGATIONS); buckets without data are absent. The tier (raw, 1m, 1h) follows the
        step and the range; see `core.series`. ValueError for an unknown agg, step_s <= 0 or
        end <= start."""
        ...

    def metric_names(self) -> list[str]:
        """Every metric name stored, sorted (derived request series included)."""
        ...

    def complete_until(self, name: str) -> float:
        """The time before which `series(name, ...)` holds all it will ever hold. Series derived
        from request records (`core.derived.DERIVED_SERIES`) exist only for the minutes that
        `compact` derived, so for them this is how far it got; samples written directly are
        readable at once (+inf), as are derived names in a store never compacted."""
        ...

    def compact(self, now: float) -> None:
        """Roll complete minutes up into the 1m tier and complete hours into the 1h tier,
        derive the request series, and apply retention (request records included).
        Incremental and idempotent; called by `store.rollup_daemon.RollupDaemon`."""
        ...

    @property
    def alerts(self) -> AlertStore:
        """Alarm state, history and silences of the alert engine."""
        ...

    @property
    def quality(self) -> QualityStore:
        """Quality sweeps and their items."""
        ...

    @property
    def loadtests(self) -> LoadtestStore:
        """Stored load test runs (headline figures and the report without per-request rows)."""
        ...

    def close(self) -> None: ...
