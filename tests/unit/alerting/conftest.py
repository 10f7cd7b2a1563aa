"""A real SQLite store, a FakeClock and recording notifiers for the alert engine tests.

The notifiers here are real `Notifier`s that keep what they receive (a list) or fail on
purpose; nothing is mocked. Ticks run with `asyncio.run` and wait for the deliveries they
started (`engine.drain()`), so no test sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from infersight.alerting.engine import AlertEngine
from infersight.alerting.model import Notification
from infersight.alerting.notifier_base import NotificationView
from infersight.alerting.settings import AlertingSettings, AlertRuleSettings
from infersight.core.alarms import AlertEvent
from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample
from infersight.store.sqlite import SqliteStore

T0 = 1_700_006_400.0  # a whole hour (and minute), UTC


class Recorder:
    """A notifier that keeps every notification it is sent."""

    def __init__(self, name: str = "rec") -> None:
        self.name = name
        self.sent: list[Notification] = []

    async def send(self, notification: NotificationView) -> None:
        assert isinstance(notification, Notification)
        self.sent.append(notification)

    def statuses(self) -> list[tuple[str, str]]:
        return [(n.status, n.state) for n in self.sent]


class Broken:
    """A notifier whose every attempt fails."""

    def __init__(self, name: str = "broken") -> None:
        self.name = name
        self.attempts = 0

    async def send(self, notification: NotificationView) -> None:
        self.attempts += 1
        raise ConnectionError("connection refused (on purpose)")


class Env:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = SqliteStore(path, rollup_delay_s=0.0)
        self.clock = FakeClock(start=T0)
        self.rec = Recorder()

    def engine(
        self, *rules: AlertRuleSettings, notifiers: Sequence[Any] = (), **settings: Any
    ) -> AlertEngine:
        configured = settings.pop("notifiers_settings", [])
        alerting = AlertingSettings.model_validate(
            {"rules": list(rules), "notifiers": configured, **settings}
        )
        chosen = {n.name: n for n in (notifiers or [self.rec])}

        async def no_sleep(_: float) -> None:
            return None

        return AlertEngine(
            alerting, store=self.store, clock=self.clock, notifiers=chosen, sleep=no_sleep
        )

    def reopen(self) -> None:
        """Close the store and open the same file again (a restart)."""
        self.store.close()
        self.store = SqliteStore(self.path, rollup_delay_s=0.0)

    def write(self, name: str, ts: float, value: float, **labels: str) -> None:
        self.store.write_samples([MetricSample.make(name, ts, value, **labels)])

    def tick(self, engine: AlertEngine) -> None:
        async def run() -> None:
            await engine.tick(self.clock.now())
            await engine.drain()

        asyncio.run(run())

    def minutes(
        self, engine: AlertEngine, values: Sequence[float | None], name: str, **labels: str
    ) -> list[str]:
        """Per minute: write the value (None: nothing) 5 s into the minute, move to the next
        minute + 1 s and tick; returns the instance's state after each tick."""
        states = []
        for v in values:
            minute = (self.clock.now() // 60) * 60
            if v is not None:
                self.write(name, minute + 5, v, **labels)
            self.clock.advance(minute + 61 - self.clock.now())
            self.tick(engine)
            records = engine.states.all()
            states.append(records[0].state.value if records else "-")
        return states

    def events(self, kind: str | None = None) -> list[AlertEvent]:
        found = self.store.alerts.events(0, 1e12)
        return [e for e in reversed(found) if kind is None or e.kind == kind]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path / "alerts.db")
    yield e
    e.store.close()
