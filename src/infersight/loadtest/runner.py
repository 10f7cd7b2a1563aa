"""One load test end to end: preflight, server capture, the profile's levels, the result.

`run_loadtest(spec, workload, clock=...)` raises `EndpointError` before any load when the
endpoint is unusable. Otherwise it returns a `LoadTestResult` whatever happens during the run:
`status` is "completed", "stopped" (auto-stop: the reason is in `stop_reason`) or
"interrupted" (its task was cancelled, e.g. by Ctrl-C; the levels so far are kept).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from infersight.core.clock import Clock
from infersight.loadtest.capture import (
    EngineSource,
    GatewaySource,
    ServerCapture,
    ServerSample,
    window_stats,
)
from infersight.loadtest.client import LoadClient
from infersight.loadtest.driver import INTERRUPTED, Driver
from infersight.loadtest.preflight import PreflightInfo, preflight
from infersight.loadtest.profiles import Level
from infersight.loadtest.progress import NullProgress, ProgressSink
from infersight.loadtest.results import RequestRow, Slo
from infersight.loadtest.saturation import SaturationPolicy, ladder_plateau
from infersight.loadtest.search import RateSearch, SearchSpec, probe_verdict
from infersight.loadtest.summary import LevelSummary
from infersight.loadtest.workload import Workload

log = logging.getLogger(__name__)

Profile = Literal["concurrency", "rate", "sweep", "search"]
Status = Literal["completed", "stopped", "interrupted"]


@dataclass(frozen=True, slots=True)
class RunSpec:
    endpoint: str
    profile: Profile
    levels: tuple[Level, ...] = ()  # concurrency / rate / sweep
    search: SearchSpec | None = None
    probe: Level | None = None  # search: duration / warm-up / burstiness of each probe
    slo: Slo | None = None
    auto_stop: bool = True
    policy: SaturationPolicy = field(default_factory=SaturationPolicy)
    api_key: str | None = None
    timeout_s: float = 300.0
    seed: int = 0
    max_in_flight: int = 10_000
    engine_metrics_url: str | None = None
    gateway_url: str | None = None
    capture_interval_s: float = 1.0

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "profile": self.profile,
            "levels": [lv.label for lv in self.levels],
            "slo": self.slo.describe() if self.slo else None,
            "auto_stop": self.auto_stop,
            "seed": self.seed,
            "timeout_s": self.timeout_s,
            "max_in_flight": self.max_in_flight,
            "engine_metrics_url": self.engine_metrics_url,
            "gateway_url": self.gateway_url,
        }
        ref = self.probe or (self.levels[0] if self.levels else None)
        if ref is not None:
            out["duration_s"] = ref.duration_s
            out["num_requests"] = ref.num_requests
            out["warmup_s"] = ref.warmup_s
            out["burstiness"] = ref.burstiness
            out["ramp_s"] = ref.ramp_s
        if self.search is not None:
            s = self.search
            out["search"] = {
                "attainment": s.attainment,
                "start_rate": s.start_rate_per_s,
                "max_rate": s.max_rate_per_s,
                "tolerance": s.tolerance,
                "max_probes": s.max_probes,
            }
        return out


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    start_rate_per_s: float
    probes: tuple[tuple[float, bool, str, int], ...]  # (rate, passed, why, level index)
    best_rate_per_s: float | None
    lowest_failing_rate_per_s: float | None
    best_level: int | None
    finished: str | None


@dataclass
class LoadTestResult:
    id: str
    spec: RunSpec
    workload: dict[str, Any]
    endpoint_base: str
    started_at: float
    ended_at: float
    status: Status
    stop_reason: str | None
    preflight: PreflightInfo
    levels: list[LevelSummary]
    rows: list[RequestRow]
    server_samples: list[ServerSample]
    capture_problems: dict[str, str]
    search: SearchOutcome | None = None


async def run_loadtest(
    spec: RunSpec,
    workload: Workload,
    *,
    clock: Clock,
    progress: ProgressSink | None = None,
    client: LoadClient | None = None,
) -> LoadTestResult:
    client = client or LoadClient(
        spec.endpoint, path=workload.path, api_key=spec.api_key, timeout_s=spec.timeout_s
    )
    progress = progress or NullProgress()
    try:
        info = await preflight(client, workload)
        for note in info.notes:
            progress.note(note)
        return await _Run(spec, workload, clock, progress, client, info).run()
    finally:
        client.close()


class _Run:
    def __init__(
        self,
        spec: RunSpec,
        workload: Workload,
        clock: Clock,
        progress: ProgressSink,
        client: LoadClient,
        info: PreflightInfo,
    ) -> None:
        self.spec, self.workload, self.clock, self.client, self.info = (
            spec, workload, clock, client, info
        )  # fmt: skip
        self.progress = progress
        self.driver = Driver(
            client,
            workload,
            clock=clock,
            seed=spec.seed,
            slo=spec.slo,
            policy=spec.policy,
            progress=progress,
            auto_stop=spec.auto_stop,
            max_in_flight=spec.max_in_flight,
        )
        self.levels: list[LevelSummary] = []
        self.status: Status = "completed"
        self.stop_reason: str | None = None
        self.search: SearchOutcome | None = None
        sources: list[Any] = []
        if spec.engine_metrics_url:
            sources.append(EngineSource(spec.engine_metrics_url))
        if spec.gateway_url:
            sources.append(GatewaySource(spec.gateway_url))
        self.capture = (
            ServerCapture(sources, clock, interval_s=spec.capture_interval_s) if sources else None
        )

    async def run(self) -> LoadTestResult:
        started = self.clock.now()
        if self.capture is not None:
            self.capture.start()
        try:
            if self.spec.profile == "search":
                await self._search()
            else:
                await self._ladder(self.spec.levels)
        except asyncio.CancelledError:  # between levels (a level absorbs its own)
            self.status, self.stop_reason = "interrupted", INTERRUPTED
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        finally:
            if self.capture is not None:
                await self.capture.stop()
        samples = self.capture.samples if self.capture else []
        levels = [
            replace(s, server=window_stats(samples, s.started_at, s.ended_at)) for s in self.levels
        ]
        return LoadTestResult(
            id=uuid.uuid4().hex[:16],
            spec=self.spec,
            workload=self.workload.describe(),
            endpoint_base=self.client.base_url,
            started_at=started,
            ended_at=self.clock.now(),
            status=self.status,
            stop_reason=self.stop_reason,
            preflight=self.info,
            levels=levels,
            rows=list(self.driver.rows),
            server_samples=list(samples),
            capture_problems=dict(self.capture.problems) if self.capture else {},
            search=self.search,
        )

    async def _level(self, level: Level) -> LevelSummary | None:
        """Run one level; None once the run is interrupted."""
        summary = await self.driver.run_level(len(self.levels), level)
        self.levels.append(summary)
        if self.driver.interrupted:
            self.status, self.stop_reason = "interrupted", summary.stopped
            return None
        return summary

    async def _ladder(self, levels: Sequence[Level]) -> None:
        ladder = len(levels) > 1
        for level in levels:
            s = await self._level(level)
            if s is None:
                return
            if s.stopped is not None:  # auto-stop cut this level short: the run ends here
                self.status = "stopped"
                self.stop_reason = f"auto-stop in {s.label}: {s.stopped}"
                self.progress.note(self.stop_reason)
                return
            if not self.spec.auto_stop or not ladder:
                continue
            reason = s.saturation or ladder_plateau(self.levels, self.spec.policy)
            if reason is not None and level is not levels[-1]:
                self.status = "stopped"
                self.stop_reason = f"auto-stop after {s.label}: {reason}"
                self.progress.note(self.stop_reason)
                return

    async def _search(self) -> None:
        spec = self.spec.search
        probe = self.spec.probe
        assert spec is not None and probe is not None
        start = spec.start_rate_per_s or await self._calibrate()
        search = RateSearch(spec, start)
        probes: list[tuple[float, bool, str, int]] = []
        while (rate := search.next_rate()) is not None:
            level = replace(probe, mode="rate", value=float(f"{rate:.3g}"))
            s = await self._level(level)
            if s is None:
                break
            passed, why = probe_verdict(s, spec)
            search.record(level.value, passed, why)
            probes.append((level.value, passed, why, s.index))
            self.progress.note(f"probe {level.value:g}/s: {'pass' if passed else 'fail'} ({why})")
        best = search.best_pass
        best_level = next((i for r, ok, _, i in probes if ok and r == best), None)
        self.search = SearchOutcome(
            start_rate_per_s=search.start_rate_per_s,
            probes=tuple(probes),
            best_rate_per_s=best,
            lowest_failing_rate_per_s=search.lowest_fail,
            best_level=best_level,
            finished=search.finished,
        )

    async def _calibrate(self) -> float:
        """The search's first rate: 1 / median E2E of three requests sent one at a time (from a
        copy of the workload with another seed, so the run's own requests stay as seeded)."""
        e2e: list[float] = []
        sample = replace(self.workload, seed=self.workload.seed + 7919)
        for _ in range(3):
            ex = await self.client.execute(sample.next_request())
            if ex.error_class is None:
                e2e.append(max(ex.t_end - ex.t_start, 1e-3))
        if not e2e:
            return 1.0
        e2e.sort()
        return 1.0 / e2e[len(e2e) // 2]
