"""The Collector port and the daemon that runs one collector on its interval.

A `Collector` turns "now" into MetricSamples (GPU, engine /metrics, host). `CollectorDaemon`
owns everything around it, the same for every collector:

- a timeout per collection (`timeout_s`; the daemon abandons a collection `TIMEOUT_GRACE_S`
  after it, collectors that enforce it themselves report first, with a precise reason);
- state: up / down / unavailable, the last error with its reason, consecutive failures, last
  success time, and notes (facts the user should know, e.g. "no utilisation per MIG instance");
- exponential backoff after failures: tick() is still called on schedule, but attempts are
  skipped until the backoff expires (1, 2, 4, ... intervals, capped at `backoff_max_s`);
- "unavailable" (the collector raised `CollectorUnavailable`: no NVIDIA driver on this host):
  reported once (a warning and the state), then ticks are cheap no-ops, retried every
  `unavailable_retry_s` (5 min). An unavailable collector emits no samples at all, so a CPU-only
  host does not carry a `collector_up 0` series for a GPU it does not have;
- hands the samples to a `SampleSink` (`submit_many`), with `collector_up{collector=...}` 1/0
  and `collector_duration_seconds{collector=...}` appended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from infersight.core.clock import Clock
from infersight.core.records import MetricSample
from infersight.daemons import Daemon

log = logging.getLogger(__name__)

Status = Literal["starting", "up", "down", "unavailable"]

DEFAULT_BACKOFF_MAX_S = 60.0
DEFAULT_UNAVAILABLE_RETRY_S = 300.0
# The daemon's own timeout is a backstop: it fires this much after timeout_s, so a collector
# that enforces timeout_s itself (the engine scrape) gets to report its more precise reason.
TIMEOUT_GRACE_S = 0.1


class Collector(Protocol):
    """Reads one source. `collect` raises `CollectorError` (or any exception) on failure."""

    name: str

    async def collect(self, now: float) -> list[MetricSample]: ...


@runtime_checkable
class HasNotes(Protocol):
    """A collector that has facts for the user beyond up/down (shown in the daemon's state)."""

    @property
    def notes(self) -> Sequence[str]: ...


@runtime_checkable
class Closable(Protocol):
    """A collector that holds resources (an HTTP client, an NVML session)."""

    async def aclose(self) -> None: ...


class SampleSink(Protocol):
    """Where samples go (the store-side sample writer). Must not block or raise."""

    def submit_many(self, samples: Sequence[MetricSample]) -> object: ...


class CollectorError(Exception):
    """A collection failed; the message says what failed, where, and how to fix it."""


class CollectorUnavailable(CollectorError):
    """The source cannot exist on this host (e.g. no NVIDIA driver); retried rarely."""


@dataclass(frozen=True, slots=True)
class CollectorState:
    """A snapshot of one collector daemon. Times are Unix seconds."""

    collector: str
    status: Status
    last_error: str | None
    last_error_at: float | None
    consecutive_failures: int
    last_success_at: float | None
    next_attempt_at: float | None
    samples_last: int
    notes: tuple[str, ...]

    @property
    def up(self) -> bool:
        return self.status == "up"


def backoff_delay_s(failures: int, interval_s: float, backoff_max_s: float) -> float:
    """Seconds to wait after `failures` consecutive failures: interval * 2^(failures-1), capped.

    The first failure waits one interval (the next tick retries), then 2, 4, 8 ... intervals.
    """
    if failures <= 0:
        return interval_s
    return min(backoff_max_s, interval_s * 2.0 ** min(failures - 1, 30))


class CollectorDaemon(Daemon):
    """Runs one Collector every `interval_s`; see the module docstring for the policy."""

    def __init__(
        self,
        collector: Collector,
        sink: SampleSink,
        *,
        clock: Clock,
        interval_s: float,
        timeout_s: float,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
        unavailable_retry_s: float = DEFAULT_UNAVAILABLE_RETRY_S,
    ) -> None:
        self.name = f"collector:{collector.name}"
        super().__init__(clock, interval_s)
        if timeout_s <= 0:
            raise ValueError(f"{self.name}: timeout_s must be > 0, got {timeout_s}")
        self.collector = collector
        self.sink = sink
        self.timeout_s = timeout_s
        self.backoff_max_s = max(backoff_max_s, interval_s)
        self.unavailable_retry_s = unavailable_retry_s
        # A tick that arrives a hair early still attempts (loop jitter must not cost an interval).
        self._slack_s = min(0.25, interval_s / 10.0)
        self._status: Status = "starting"
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._failures = 0
        self._last_success_at: float | None = None
        self._next_attempt_at: float | None = None
        self._samples_last = 0
        self._labels = (("collector", collector.name),)

    @property
    def state(self) -> CollectorState:
        notes = tuple(self.collector.notes) if isinstance(self.collector, HasNotes) else ()
        return CollectorState(
            collector=self.collector.name,
            status=self._status,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            consecutive_failures=self._failures,
            last_success_at=self._last_success_at,
            next_attempt_at=self._next_attempt_at,
            samples_last=self._samples_last,
            notes=notes,
        )

    async def tick(self, now: float) -> None:
        if self._next_attempt_at is not None and now + self._slack_s < self._next_attempt_at:
            if self._status == "down":  # keep the up series continuous while backing off
                self._submit([self._up_sample(now, 0.0)])
            return
        t0 = self.clock.monotonic()
        try:
            samples = await asyncio.wait_for(
                self.collector.collect(now), timeout=self.timeout_s + TIMEOUT_GRACE_S
            )
        except TimeoutError:
            self._failed(
                now,
                f"no result within timeout_s={self.timeout_s:g} s; the collection was "
                "abandoned (raise collectors.<name>.timeout_s if the source is just slow)",
            )
        except CollectorUnavailable as exc:
            self._unavailable(now, str(exc))
        except CollectorError as exc:
            self._failed(now, str(exc))
        except Exception as exc:  # a bug or an unexpected library error: still never crash
            log.debug("%s: unexpected error", self.name, exc_info=True)
            self._failed(now, f"unexpected {type(exc).__name__}: {exc}")
        else:
            duration_s = max(0.0, self.clock.monotonic() - t0)
            self._succeeded(now, samples, duration_s)

    async def on_stop(self) -> None:
        if isinstance(self.collector, Closable):
            try:
                await self.collector.aclose()
            except Exception:
                log.warning("%s: closing the collector failed", self.name, exc_info=True)

    # -- transitions ---------------------------------------------------------------------
    def _succeeded(self, now: float, samples: list[MetricSample], duration_s: float) -> None:
        if self._status == "down":
            log.info("%s: up again after %d failed attempts", self.name, self._failures)
        elif self._status == "unavailable":
            log.info("%s: now available", self.name)
        self._status = "up"
        self._failures = 0
        self._last_success_at = now
        self._next_attempt_at = None
        self._samples_last = len(samples)
        labels = self._labels
        samples.append(self._up_sample(now, 1.0))
        samples.append(MetricSample("collector_duration_seconds", now, duration_s, labels))
        self._submit(samples)

    def _failed(self, now: float, reason: str) -> None:
        self._failures += 1
        delay_s = backoff_delay_s(self._failures, self.interval_s, self.backoff_max_s)
        if self._status != "down" or reason != self._last_error:
            log.warning("%s: down: %s (retrying in %g s)", self.name, reason, delay_s)
        else:
            log.debug("%s: still down (%d): %s", self.name, self._failures, reason)
        self._status = "down"
        self._last_error = reason
        self._last_error_at = now
        self._next_attempt_at = now + delay_s
        self._samples_last = 0
        self._submit([self._up_sample(now, 0.0)])

    def _unavailable(self, now: float, reason: str) -> None:
        if self._status != "unavailable" or reason != self._last_error:
            log.warning(
                "%s: unavailable: %s (checking again every %g s)",
                self.name,
                reason,
                self.unavailable_retry_s,
            )
        self._status = "unavailable"
        self._last_error = reason
        self._last_error_at = now
        self._failures = 0
        self._next_attempt_at = now + self.unavailable_retry_s
        self._samples_last = 0

    def _up_sample(self, now: float, value: float) -> MetricSample:
        return MetricSample("collector_up", now, value, self._labels)

    def _submit(self, samples: Sequence[MetricSample]) -> None:
        try:
            self.sink.submit_many(samples)
        except Exception:
            log.warning("%s: the sample sink raised; samples dropped", self.name, exc_info=True)
