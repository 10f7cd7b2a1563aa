"""Run load levels against an endpoint: closed loops, open-loop arrivals, auto-stop, Ctrl-C.

`Driver.run_level(index, level)` sends the level's requests and returns its `LevelSummary`:

- concurrency N: N workers, each sending its next request as soon as the previous one ended;
- rate R: one scheduler sleeping until each arrival time of a seeded Poisson/gamma schedule
  (absolute times from the level start, so a late wake-up never shifts later arrivals), one
  task per request; `max_concurrency` holds arrivals until a request finishes.

Requests sent during the level's warm-up are recorded with `measured=False`. A level ends when
its duration is over (no new requests; those in flight are awaited) or its measured request
count was sent. It stops early, with the reason on the summary, when errors climb, when more
than `max_in_flight` requests are outstanding (the endpoint is not keeping up), or when the
task running it is cancelled (Ctrl-C): then the rows so far are kept, `interrupted` is set and
the cancellation is absorbed so the caller can write the partial report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import replace

from infersight.core.clock import Clock
from infersight.loadtest.arrivals import interarrival_gaps_s
from infersight.loadtest.client import LoadClient, exchange_row
from infersight.loadtest.profiles import Level
from infersight.loadtest.progress import NullProgress, ProgressSink
from infersight.loadtest.results import RequestRow, Slo
from infersight.loadtest.saturation import SaturationPolicy, errors_climbing, level_saturation
from infersight.loadtest.summary import LevelSummary, summarize_level
from infersight.loadtest.workload import Workload

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted (Ctrl-C): partial results"


class Driver:
    """Runs levels one after another against one client; keeps every row for the report."""

    def __init__(
        self,
        client: LoadClient,
        workload: Workload,
        *,
        clock: Clock,
        seed: int = 0,
        slo: Slo | None = None,
        policy: SaturationPolicy | None = None,
        progress: ProgressSink | None = None,
        auto_stop: bool = True,
        max_in_flight: int = 10_000,
        perf: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.client = client
        self.workload = workload
        self.seed = seed
        self.slo = slo
        self.policy = policy or SaturationPolicy()
        self.progress: ProgressSink = progress or NullProgress()
        self.auto_stop = auto_stop
        self.max_in_flight = max_in_flight
        self._perf = perf
        # wall-clock Unix time = perf_counter reading + offset (socket reads are perf-stamped)
        self.wall_offset_s = clock.now() - perf()
        self.run_start = perf()
        self.rows: list[RequestRow] = []
        self.interrupted = False

    def wall(self, t_perf: float) -> float:
        return t_perf + self.wall_offset_s

    async def run_level(self, index: int, level: Level) -> LevelSummary:
        run = _LevelRun(self, index, level)
        self.progress.level_started(index, level.label, self._perf())
        try:
            await run.run()
        except asyncio.CancelledError:
            await run.abandon()
            self.interrupted = True
            run.stopped = INTERRUPTED
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        summary = run.summary()
        self.progress.level_finished(summary, self._perf())
        return summary


class _LevelRun:
    def __init__(self, driver: Driver, index: int, level: Level) -> None:
        self.d = driver
        self.index = index
        self.level = level
        self.rows: list[RequestRow] = []
        self.failed = 0
        self.in_flight: set[asyncio.Task[None]] = set()
        self.workers: list[asyncio.Task[None]] = []
        self.stop = asyncio.Event()
        self.stopped: str | None = None
        self.measured_sent = 0
        self.t0 = driver._perf()
        self.measure_start = self.t0 + level.warmup_s
        self.end = (
            self.measure_start + level.duration_s if level.duration_s is not None else math.inf
        )
        self.t_stop: float | None = None

    # -- sending ------------------------------------------------------------------------------
    def admit(self, t: float) -> bool | None:
        """Whether a request at time t is measured; None when the level sends no more."""
        if self.stop.is_set() or t >= self.end:
            return None
        measured = t >= self.measure_start
        if measured and self.level.num_requests is not None:
            if self.measured_sent >= self.level.num_requests:
                return None
            self.measured_sent += 1
        return measured

    async def one(self, measured: bool) -> None:
        d = self.d
        request = d.workload.next_request()
        ex = await d.client.execute(request)
        row = exchange_row(
            ex,
            request,
            level=self.index,
            measured=measured,
            wall_offset_s=d.wall_offset_s,
            run_start_perf=d.run_start,
        )
        self.rows.append(row)
        d.rows.append(row)
        d.progress.request_done(row, ex.t_end)
        if row.error_class is not None:
            self.failed += 1
            if d.auto_stop and not self.stop.is_set():
                reason = errors_climbing(self.failed, len(self.rows), d.policy)
                if reason is not None:
                    warm = sum(1 for r in self.rows if not r.measured and r.error_class is not None)
                    self.halt(
                        reason + (f" ({warm} of the failed were warm-up requests)" if warm else "")
                    )

    def halt(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stopped = reason
            self.t_stop = self.d._perf()
            self.stop.set()
            log.warning("level %s stopped: %s", self.level.label, reason)

    async def closed_worker(self, delay_s: float) -> None:
        perf = self.d._perf
        if delay_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), delay_s)
        while (measured := self.admit(perf())) is not None:
            await self.one(measured)

    async def scheduler(self) -> None:
        level, d = self.level, self.d
        assert level.rate_per_s is not None
        rng = random.Random(d.seed * 1_000_003 + self.index)
        gaps = interarrival_gaps_s(level.rate_per_s, rng, burstiness=level.burstiness)
        slots = asyncio.Semaphore(level.max_concurrency) if level.max_concurrency else None
        perf = d._perf
        t = self.t0
        for gap in gaps:
            t += gap
            if t >= self.end or self.stop.is_set():
                break
            delay = t - perf()
            if delay > 0.05:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
            elif delay > 0:
                await asyncio.sleep(delay)
            if slots is not None:
                await slots.acquire()
            measured = self.admit(t)
            if measured is None:
                if slots is not None:
                    slots.release()
                break
            task = asyncio.create_task(self.one(measured))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
            if slots is not None:
                task.add_done_callback(_releaser(slots))
            if d.auto_stop and len(self.in_flight) > d.max_in_flight:
                self.halt(
                    f"more than {d.max_in_flight} requests in flight at {level.rate_per_s:g}/s: "
                    "the endpoint is not keeping up (queue growing)"
                )
                for pending in list(self.in_flight):
                    pending.cancel()
                break

    async def run(self) -> None:
        level = self.level
        if level.mode == "concurrency":
            n = int(level.value)
            step = level.ramp_s / n
            self.workers = [asyncio.create_task(self.closed_worker(i * step)) for i in range(n)]
        else:
            self.workers = [asyncio.create_task(self.scheduler())]
        await asyncio.gather(*self.workers)
        while self.in_flight:
            await asyncio.gather(*list(self.in_flight), return_exceptions=True)

    async def abandon(self) -> None:
        """Cancel everything still running (Ctrl-C); the rows so far stay."""
        self.t_stop = self.d._perf()
        tasks = [*self.workers, *self.in_flight]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- result -------------------------------------------------------------------------------
    def summary(self) -> LevelSummary:
        d = self.d
        end = self.end if self.t_stop is None else min(self.end, self.t_stop)
        measure_end = None if math.isinf(end) else d.wall(max(end, self.measure_start))
        summary = summarize_level(
            self.index,
            self.level,
            self.rows,
            measure_start_s=d.wall(self.measure_start),
            measure_end_s=measure_end,
            slo=d.slo,
            warmup_requests=sum(1 for r in self.rows if not r.measured),
        )
        saturation = self.stopped if self.stopped and self.stopped != INTERRUPTED else None
        if saturation is None and self.stopped is None:
            saturation = level_saturation(summary, d.policy)
        return replace(summary, saturation=saturation, stopped=self.stopped)


def _releaser(slots: asyncio.Semaphore) -> Callable[[asyncio.Task[None]], None]:
    def release(_task: asyncio.Task[None]) -> None:
        slots.release()

    return release
