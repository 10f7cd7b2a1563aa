"""SweepDaemon schedules on a FakeClock: interval (restart-safe), cron (UTC minutes, a late
tick runs once), failures kept per sweep, /metrics refresh. Sweeps run against the sim on
127.0.0.1 with the fake `hash_embed` (see conftest) and a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample
from infersight.quality.settings import QualitySettings
from infersight.quality.sweep_daemon import SweepDaemon
from infersight.sim.knobs import SimKnobs
from infersight.sim.server import SimThread, run_sim_in_thread
from infersight.store.sqlite import SqliteStore

T0 = datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC).timestamp()


class Sink:
    def __init__(self) -> None:
        self.samples: list[MetricSample] = []

    def submit_many(self, samples: Sequence[MetricSample]) -> int:
        self.samples.extend(samples)
        return len(samples)


@pytest.fixture
def sim() -> Iterator[SimThread]:
    with run_sim_in_thread(SimKnobs(tokens=5)) as s:
        yield s


def daemon(
    store: SqliteStore,
    clock: FakeClock,
    url: str,
    embed: Callable[[Sequence[str]], Any],
    sweep: dict[str, Any],
    **kw: Any,
) -> SweepDaemon:
    settings = QualitySettings.model_validate(
        {"sweeps": [{"name": "s", "scorers": ["accuracy", "relevance"], **sweep}]}
    )
    return SweepDaemon(
        settings,
        store=store,
        clock=clock,
        sink=kw.pop("sink", Sink()),
        endpoint=lambda: url,
        load_embed=lambda: embed,
        **kw,
    )


def run(d: SweepDaemon, clock: FakeClock, advance_s: float = 0.0) -> None:
    clock.advance(advance_s)
    asyncio.run(d.tick(clock.now()))


def test_interval_schedule_and_restart(
    tmp_path: Path, sim: SimThread, tiny_dataset: Path, hash_embed: Any
) -> None:
    store = SqliteStore(tmp_path / "q.db")
    clock = FakeClock(T0)
    sink, refresh = Sink(), Sink()
    sweep = {"dataset": str(tiny_dataset), "interval_s": 600}
    d = daemon(store, clock, sim.url, hash_embed, sweep, sink=sink, refresh=refresh)
    run(d, clock)
    assert d.runs_total == 1 and d.last_reports["s"].model == "sim-model"
    assert {s.name for s in sink.samples} >= {"quality_accuracy", "quality_failure_rate"}
    assert refresh.samples and all(s.ts == T0 for s in refresh.samples)
    run(d, clock, 599)
    assert d.runs_total == 1
    assert refresh.samples[-1].ts == T0 + 599  # re-stamped for /metrics, not re-run
    run(d, clock, 1)
    assert d.runs_total == 2
    assert [s.started_at for s in store.quality.list_sweeps(0, 2e9)] == [T0 + 600, T0]
    # a restart reads the last start from the store: not due again until 600 s after it
    again = daemon(store, clock, sim.url, hash_embed, sweep)
    run(again, clock, 300)
    assert again.runs_total == 0
    run(again, clock, 300)
    assert again.runs_total == 1
    store.close()


def test_cron_schedule_runs_each_scheduled_minute_once(
    tmp_path: Path, sim: SimThread, tiny_dataset: Path, hash_embed: Any
) -> None:
    store = SqliteStore(tmp_path / "q.db")
    clock = FakeClock(T0)  # 10:00:30, inside the scheduled minute 10:00
    d = daemon(
        store, clock, sim.url, hash_embed, {"dataset": str(tiny_dataset), "cron": "*/10 * * * *"}
    )
    run(d, clock)
    assert d.runs_total == 1
    run(d, clock, 20)  # 10:00:50, same minute
    run(d, clock, 60)  # 10:01:50
    assert d.runs_total == 1
    run(d, clock, 490)  # 10:10:00
    assert d.runs_total == 2
    run(d, clock, 3600)  # 11:10:00: five scheduled minutes were missed, one run
    assert d.runs_total == 3
    run(d, clock, 30)
    assert d.runs_total == 3
    store.close()


def test_a_sweep_that_cannot_run_is_logged_and_retried(
    tmp_path: Path, sim: SimThread, tiny_dataset: Path, hash_embed: Any
) -> None:
    store = SqliteStore(tmp_path / "q.db")
    clock = FakeClock(T0)
    missing = tmp_path / "later.jsonl"
    d = daemon(store, clock, sim.url, hash_embed, {"dataset": str(missing), "interval_s": 60})
    run(d, clock)
    assert d.runs_total == 0 and "no such file" in d.errors["s"]
    missing.write_text(tiny_dataset.read_text())
    run(d, clock, 60)
    assert d.runs_total == 1 and "s" not in d.errors
    # an endpoint that is down and no model named: the sweep cannot start
    sweep = {"name": "t", "dataset": str(missing)}
    down = daemon(store, clock, "http://127.0.0.1:9", hash_embed, sweep)
    run(down, clock)
    assert "cannot reach http://127.0.0.1:9/v1/models" in down.errors["t"]
    store.close()


def test_disabled_sweeps_and_an_unanswering_endpoint(
    tmp_path: Path, tiny_dataset: Path, hash_embed: Any
) -> None:
    store = SqliteStore(tmp_path / "q.db")
    clock = FakeClock(T0)
    off = daemon(store, clock, "http://127.0.0.1:9", hash_embed, {"enabled": False})
    assert off.schedules == []
    sweep = {"dataset": str(tiny_dataset), "model": "m"}
    d = daemon(store, clock, "http://127.0.0.1:9", hash_embed, sweep)
    run(d, clock)
    report = d.last_reports["s"]  # it ran: every item failed, recorded as a failed sweep
    assert report.status == "failed" and report.failed == 5
    assert store.quality.list_sweeps(0, 2e9)[0].status == "failed"
    store.close()


def test_stop_cuts_a_running_sweep_and_stores_nothing(tmp_path: Path, hash_embed: Any) -> None:
    """A sweep against a slow model is still running when the gateway stops: the stop does
    not wait for it, and half a sweep is not stored (nor its scores published)."""
    import time

    store = SqliteStore(tmp_path / "q.db")
    sink = Sink()
    with run_sim_in_thread(SimKnobs(tokens=5, ttft_ms=400)) as slow:
        d = daemon(
            store, FakeClock(T0), slow.url, hash_embed,
            {"dataset": "default", "interval_s": 3600, "concurrency": 1}, sink=sink,
        )  # fmt: skip

        async def main() -> float:
            d.start()
            await asyncio.sleep(1.0)  # the sweep is on its first items
            t0 = time.monotonic()
            await d.stop()
            return time.monotonic() - t0

        took = asyncio.run(main())
    assert took < 3.0  # the whole built-in sweep would take ~40 s at 0.4 s an item
    assert d.runs_total == 0 and not sink.samples
    assert store.quality.list_sweeps(0, 2e9) == []
    store.close()
