"""RollupDaemon: runs `store.compact(now)` every store.rollup_interval_s, off the event loop.

Compaction is SQL work (rollups, derived request series, retention deletes), so each tick runs
it in a worker thread with `asyncio.to_thread`; ticks never overlap because the Daemon loop
awaits each one. Tests call `await daemon.tick(fake_clock.now())` directly.
"""

from __future__ import annotations

import asyncio
import logging

from infersight.core.clock import Clock
from infersight.daemons import Daemon
from infersight.settings import StoreSettings
from infersight.store.base import Store

log = logging.getLogger(__name__)

SLOW_COMPACT_WARNING_RATIO = 0.5  # warn when a compaction takes half the interval or more


class RollupDaemon(Daemon):
    """Compacts the store periodically. Counters: `runs_total`, `last_duration_s`."""

    name = "rollup"

    def __init__(self, store: Store, clock: Clock, interval_s: float) -> None:
        super().__init__(clock, interval_s)
        self.store = store
        self.runs_total = 0
        self.last_duration_s: float | None = None

    @classmethod
    def from_settings(cls, store: Store, clock: Clock, settings: StoreSettings) -> RollupDaemon:
        return cls(store, clock, settings.rollup_interval_s)

    async def tick(self, now: float) -> None:
        started = self.clock.monotonic()
        await asyncio.to_thread(self.store.compact, now)
        self.last_duration_s = self.clock.monotonic() - started
        self.runs_total += 1
        if self.last_duration_s >= self.interval_s * SLOW_COMPACT_WARNING_RATIO:
            log.warning(
                "rollup: compaction took %.1f s of a %.1f s interval; raise "
                "store.rollup_interval_s or shorten store.retention",
                self.last_duration_s,
                self.interval_s,
            )
