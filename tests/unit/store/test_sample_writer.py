"""SampleWriter: submit_many never blocks, drops are counted, everything accepted lands."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import pytest

from infersight.core.records import MetricSample
from infersight.settings import WriterSettings
from infersight.store.sample_writer import SAMPLE_BATCH_SIZE, SampleWriter
from infersight.store.sqlite import SqliteStore

T0 = 1_700_000_000.0
WAIT_S = 5.0


def samples(n: int, offset: int = 0) -> list[MetricSample]:
    return [MetricSample.make("m", T0 + offset + i, float(i), k="v") for i in range(n)]


class GatedStore(SqliteStore):
    """An in-memory store whose writes wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.batches: list[int] = []

    def write_samples(self, batch: Sequence[MetricSample]) -> None:
        self.entered.set()
        assert self.gate.wait(WAIT_S)
        super().write_samples(batch)
        self.batches.append(len(batch))


def stored(store: SqliteStore) -> int:
    return int(store._connection().execute("SELECT COUNT(*) FROM samples_raw").fetchone()[0])


def test_submit_many_lands_everything_after_close() -> None:
    store = SqliteStore(":memory:")
    writer = SampleWriter(store, WriterSettings(batch_size=100, flush_interval_s=0.01))
    writer.start()
    threads = [
        threading.Thread(target=lambda k=k: writer.submit_many(samples(500, 1000 * k)))
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.submit(MetricSample.make("m", T0 - 1, 1.0, k="v"))
    writer.close()
    assert (writer.written_total, writer.dropped_total, writer.queue_depth) == (2001, 0, 0)
    assert stored(store) == 2001
    store.close()


def test_submit_many_does_not_wait_for_a_stuck_store_and_counts_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    store = GatedStore()
    writer = SampleWriter(
        store, WriterSettings(batch_size=10, flush_interval_s=0.01, queue_size=50)
    )
    writer.start()
    assert writer.submit_many(samples(10)) == 10
    assert store.entered.wait(WAIT_S)  # the writer holds the first batch, stuck in the store
    started = time.monotonic()
    accepted = writer.submit_many(samples(80, 100))
    assert time.monotonic() - started < 0.5
    assert accepted == 50 and writer.dropped_total == 30 and writer.queue_depth == 50
    assert writer.submit_many(iter(samples(3, 500))) == 0  # generators work too
    store.gate.set()
    writer.close()
    assert writer.written_total == 60 and stored(store) == 60
    assert writer.dropped_total == 33
    warnings = [r.getMessage() for r in caplog.records if "queue was full" in r.getMessage()]
    assert warnings and warnings[0].startswith("sample writer: dropped 33 samples")
    store.close()


def test_flush_without_a_thread_and_submits_after_close() -> None:
    store = SqliteStore(":memory:")
    writer = SampleWriter(store)
    assert writer.batch_size == SAMPLE_BATCH_SIZE  # the default suits samples, not records
    assert SampleWriter(store, WriterSettings(batch_size=7)).batch_size == 7
    writer.submit_many(samples(12))
    assert writer.flush()
    assert stored(store) == 12
    writer.close()
    assert writer.submit_many(samples(2, 50)) == 0
    assert writer.dropped_total == 2
    store.close()


def test_a_failing_store_never_raises_into_the_caller() -> None:
    store = SqliteStore(":memory:")
    store.close()  # every write raises RuntimeError("... is closed")
    writer = SampleWriter(store, WriterSettings(batch_size=5), retry_backoff_s=0.0)
    writer.start()
    assert writer.submit_many(samples(12)) == 12
    writer.close()
    assert writer.written_total == 0 and writer.dropped_total == 12
    assert writer.write_failures_total == 3 * 4  # three batches, four attempts each
