"""One base for every background loop: start/stop, and a tick(now) that tests call directly."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from infersight.core.clock import Clock
from infersight.store.errors import store_hint, store_unavailable

log = logging.getLogger(__name__)


class Daemon:
    """A periodic task on the event loop. Subclasses implement `tick(now)`.

    Tests never wait for the loop: they call `await daemon.tick(fake_clock.now())`.
    A tick that raises is logged and the loop keeps going.
    """

    name = "daemon"

    def __init__(self, clock: Clock, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError(f"{self.name}: interval_s must be > 0, got {interval_s}")
        self.clock = clock
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def tick(self, now: float) -> None:
        raise NotImplementedError

    async def on_stop(self) -> None:
        """Called once when the daemon stops (flush, close)."""

    def start(self) -> None:
        if self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        await self.on_stop()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick(self.clock.now())
            except Exception as exc:
                if store_unavailable(exc):  # not a bug: one line, and the next tick tries again
                    log.warning(
                        "%s: tick failed, the store is unavailable (%s: %s); %s; trying again "
                        "in %g s",
                        self.name, type(exc).__name__, exc, store_hint(exc), self.interval_s,
                    )  # fmt: skip
                else:
                    log.exception("%s: tick failed; continuing", self.name)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_s)
