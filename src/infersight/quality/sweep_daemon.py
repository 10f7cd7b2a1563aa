"""SweepDaemon: the configured quality sweeps, each on its schedule.

Every `quality.check_interval_s` the daemon looks for due sweeps and runs them one after the
other (one sweep at a time, so sweeps never pile up on the endpoint):

* `interval_s`: due when it never ran or its last run started `interval_s` ago. The last run
  is read from the store on the first tick, so a restart does not rerun a fresh sweep.
* `cron`: due at the start of every scheduled minute (UTC). A late tick runs a missed minute
  once, never once per missed minute.

A sweep that cannot start (dataset file broken, endpoint down) is logged and retried at its next
scheduled time; the failure is in `errors[name]`. Results go to the store (`sweeps`,
`sweep_items`) and their series to `sink` (the SampleWriter, or a FanOut of it and
LatestSamples). Sweep series arrive once per sweep, while /metrics forgets a series it has not
seen for a few minutes: each tick hands the newest sweep series again, stamped now, to
`refresh` (give it the service's LatestSamples, never the store).

The sentence embedder loads on first use, in a worker thread (`load_embed`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from infersight.collectors.base import SampleSink
from infersight.core.clock import Clock
from infersight.core.cron import CronSchedule
from infersight.core.records import MetricSample
from infersight.daemons import Daemon
from infersight.quality.pipeline import SweepSpec, run_sweep
from infersight.quality.results import SweepReport
from infersight.quality.scorers.base import Embed
from infersight.quality.settings import QualitySettings, SweepSettings
from infersight.store.base import Store

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0
DAY_S = 86_400.0


def default_embed() -> Embed:
    """The process-wide sentence embedder's `encode` (raises EmbedderUnavailable)."""
    from infersight.quality.embedder import get_embedder

    return get_embedder().encode


@dataclass
class _Schedule:
    settings: SweepSettings
    cron: CronSchedule | None
    last_started: float | None = None
    next_due: float | None = None  # cron only
    primed: bool = False

    def due(self, now: float) -> bool:
        if self.cron is not None:
            if self.next_due is None:
                self.next_due = self.cron.next_at_or_after(now)
            return now >= self.next_due
        every = self.settings.every_s
        assert every is not None
        return self.last_started is None or now - self.last_started >= every

    def ran(self, now: float) -> None:
        self.last_started = now
        if self.cron is not None:
            minute_end = (now // 60.0) * 60.0 + 60.0
            self.next_due = self.cron.next_at_or_after(minute_end)


class SweepDaemon(Daemon):
    name = "quality-sweeps"

    def __init__(
        self,
        settings: QualitySettings,
        *,
        store: Store,
        clock: Clock,
        sink: SampleSink,
        endpoint: Callable[[], str],
        refresh: SampleSink | None = None,
        load_embed: Callable[[], Embed] = default_embed,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`endpoint()` is the default base URL (this gateway's, known once it listens)."""
        super().__init__(clock, settings.check_interval_s)
        self.settings = settings
        self.store = store
        self.sink = sink
        self.refresh = refresh
        self.endpoint = endpoint
        self.env = env
        self._load_embed = load_embed
        self._embed: Embed | None = None
        self.schedules = [_Schedule(s, s.schedule()) for s in settings.sweeps if s.enabled]
        self.last_reports: dict[str, SweepReport] = {}
        self.errors: dict[str, str] = {}
        self.runs_total = 0
        self._latest: list[MetricSample] = []
        self._pruned_at = -float("inf")

    def _prime(self, schedule: _Schedule) -> None:
        """Blocking: the last start of this sweep from the store (restart-safe intervals)."""
        name = schedule.settings.name
        rows = self.store.quality.list_sweeps(0.0, float("inf"), name=name, limit=1)
        if rows:
            schedule.last_started = rows[0].started_at
        schedule.primed = True

    def _embedder(self) -> Embed:
        if self._embed is None:
            self._embed = self._load_embed()
        return self._embed

    async def tick(self, now: float) -> None:
        for schedule in self.schedules:
            if not schedule.primed:
                await asyncio.to_thread(self._prime, schedule)
            if schedule.due(now):
                schedule.ran(now)
                await self.run_one(schedule.settings)
        if self.refresh is not None and self._latest:
            stamped = self.clock.now()
            self.refresh.submit_many([replace(s, ts=stamped) for s in self._latest])
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = now
            cutoff = now - self.settings.keep_days * DAY_S
            await asyncio.to_thread(self.store.quality.prune_sweeps, cutoff)

    async def stop(self) -> None:
        """A sweep still running is cut, and not stored: a stop does not wait for it (a
        sweep against a slow model takes minutes), and half a sweep is no evidence."""
        if self._task is not None:
            self._task.cancel()
        await super().stop()

    async def run_one(self, sweep: SweepSettings) -> SweepReport | None:
        """Run one configured sweep now; None (and `errors[name]`) when it could not run."""
        name = sweep.name
        try:
            spec = SweepSpec.from_settings(
                sweep, default_endpoint=self.endpoint(), judge=self.settings.judge, env=self.env
            )
            embed = await asyncio.to_thread(self._embedder)
            report = await run_sweep(
                spec, clock=self.clock, embed=embed, store=self.store, sink=self.sink
            )
        except asyncio.CancelledError:
            log.info("quality: sweep %r stopped before it finished; nothing stored", name)
            raise
        except Exception as exc:
            if self.errors.get(name) != str(exc):
                log.warning("quality: sweep %r could not run: %s", name, exc)
            self.errors[name] = str(exc)
            return None
        self.errors.pop(name, None)
        self.runs_total += 1
        self.last_reports[name] = report
        self._remember(report.samples())
        overall = report.overall
        acc = overall.metrics.get("accuracy")
        log.info(
            "quality: sweep %r on %s (%s): %d items, %d failed%s%s",
            name,
            report.dataset,
            report.model,
            overall.items,
            overall.failed,
            f", accuracy {acc.value:.1%} [{acc.low:.1%}, {acc.high:.1%}]" if acc else "",
            ", REGRESSED against the previous sweep" if report.regressed else "",
        )
        return report

    def _remember(self, samples: Sequence[MetricSample]) -> None:
        fresh = {(s.name, s.labels): s for s in samples}
        kept = [s for s in self._latest if (s.name, s.labels) not in fresh]
        self._latest = kept + list(fresh.values())


__all__ = ["SweepDaemon", "default_embed"]
