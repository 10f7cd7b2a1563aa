"""Dashboard API tests run the real ASGI app on a real SQLite file seeded through the Store API
(`dashboard.sample_data`: write_records, write_samples, compact), with a FakeClock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from infersight.core.clock import FakeClock
from infersight.dashboard import create_dashboard
from infersight.dashboard.providers import AlertsProvider, QualityProvider
from infersight.dashboard.sample_data import (
    SampleSummary,
    evaluate_alerts,
    sample_settings,
    seed_sample_data,
)
from infersight.settings import Settings
from infersight.store.sqlite import SqliteStore

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a whole hour


@dataclass
class Seeded:
    db: Path
    summary: SampleSummary


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    db = tmp_path_factory.mktemp("dashboard") / "seeded.db"
    store = SqliteStore(db)
    try:
        summary = seed_sample_data(store, now=NOW)
        evaluate_alerts(store, sample_settings(), now=NOW)
    finally:
        store.close()
    return Seeded(db, summary)


def settings_for(db: Path, **gateway: object) -> Settings:
    s = sample_settings()
    return s.model_copy(
        update={
            "store": s.store.model_copy(update={"path": str(db)}),
            "gateway": s.gateway.model_copy(update=gateway),
        }
    )


ClientFactory = Callable[..., TestClient]
AlertsFactory = Callable[[Settings, SqliteStore], AlertsProvider]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    """make_client(db=None (an empty store), alerts=None, quality=None, **gateway) -> client;
    alerts builds the provider from the settings and the store."""
    stores: list[SqliteStore] = []

    def make(
        db: Path | None = None,
        *,
        alerts: AlertsFactory | None = None,
        quality: QualityProvider | None = None,
        **gateway: object,
    ) -> TestClient:
        path = db if db is not None else tmp_path / "empty.db"
        store = SqliteStore(path)
        stores.append(store)
        settings = settings_for(path, **gateway)
        app = create_dashboard(
            settings,
            store=store,
            clock=FakeClock(NOW),
            alerts=alerts(settings, store) if alerts is not None else None,
            quality=quality,
        )
        return TestClient(app, base_url="http://127.0.0.1:8400", follow_redirects=False)

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def client(make_client: ClientFactory, seeded: Seeded) -> TestClient:
    return make_client(seeded.db)
