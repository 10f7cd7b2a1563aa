"""The daemon loop: a tick that fails is logged and the loop goes on; a store that is
unavailable is one line with what to check, a bug is a traceback."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest

from infersight.clock import SystemClock
from infersight.daemons import Daemon


class Failing(Daemon):
    name = "failing"

    def __init__(self, errors: list[Exception]) -> None:
        super().__init__(SystemClock(), interval_s=0.01)
        self.errors = errors
        self.ticks = 0

    async def tick(self, now: float) -> None:
        self.ticks += 1
        if self.errors:
            raise self.errors.pop(0)


def test_failed_ticks_are_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="infersight.daemons")
    daemon = Failing([sqlite3.OperationalError("database is locked"), RuntimeError("a bug")])

    async def run() -> None:
        daemon.start()
        for _ in range(500):
            if daemon.ticks >= 3:
                break
            await asyncio.sleep(0.01)
        await daemon.stop()

    asyncio.run(run())
    assert daemon.ticks >= 3
    locked, bug = caplog.records[:2]
    assert locked.levelno == logging.WARNING and locked.exc_info is None
    assert "the store is unavailable (OperationalError: database is locked)" in locked.getMessage()
    assert "another process holds the store locked" in locked.getMessage()
    assert bug.levelno == logging.ERROR and bug.exc_info is not None
