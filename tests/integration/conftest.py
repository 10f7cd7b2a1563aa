"""Real servers on 127.0.0.1: the sim upstream and the gateway, each on its own event loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infersight.core.records import RequestRecord
from infersight.service import ThreadedGateway
from infersight.settings import GatewaySettings, Settings, StoreSettings, UpstreamSettings
from infersight.sim.knobs import SimKnobs
from infersight.sim.server import SimThread, run_sim_in_thread
from infersight.store.sqlite import SqliteStore


class Stack:
    """A sim and a gateway in front of it; `records()` stops the gateway (flushing) and reads."""

    def __init__(self, sim: SimThread | None, gateway: ThreadedGateway, db: Path) -> None:
        self.sim = sim
        self.gateway = gateway
        self.db = db
        self.url = gateway.url
        self._stopped = False

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.gateway.stop()

    def records(self) -> list[RequestRecord]:
        self.stop()
        store = SqliteStore(self.db)
        try:
            return store.list_records(0, 4e9, limit=100_000)
        finally:
            store.close()


StackFactory = Callable[..., Stack]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[StackFactory]:
    """make(knobs=SimKnobs(...), upstream_url=None, **gateway_settings) -> Stack."""
    cleanups: list[Callable[[], None]] = []

    def make(
        knobs: SimKnobs | None = None, *, upstream_url: str | None = None, **gateway: object
    ) -> Stack:
        sim = None
        if upstream_url is None:
            sim = run_sim_in_thread(knobs or SimKnobs())
            cleanups.append(sim.stop)
            upstream_url = sim.url
        db = tmp_path / f"gw{len(cleanups)}.db"
        settings = Settings(
            gateway=GatewaySettings(port=0, **gateway),  # type: ignore[arg-type]
            upstreams=[UpstreamSettings(name="sim", url=upstream_url)],
            store=StoreSettings(path=str(db)),
        )
        gw = ThreadedGateway(settings).start()
        s = Stack(sim, gw, db)
        cleanups.append(s.stop)
        return s

    yield make
    for cleanup in reversed(cleanups):
        cleanup()
