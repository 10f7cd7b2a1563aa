"""BatchWriter: nothing lost, nothing blocking, drops and failures counted."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from infersight.core.records import RequestRecord
from infersight.settings import WriterSettings
from infersight.store.sqlite import SqliteStore
from infersight.store.writer import BatchWriter

T0 = 1_700_000_000.0
WAIT_S = 5.0  # upper bound for a background write to show up; normally milliseconds


def rec(i: int) -> RequestRecord:
    return RequestRecord(f"r{i:06d}", T0 + i / 1000, "m", "u", "/v1/chat", True, 200, 1.0)


class RecordingStore(SqliteStore):
    """An in-memory store that remembers each batch and lets a test wait for writes."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.batches: list[list[str]] = []
        self.changed = threading.Condition()

    def write_records(self, records: Sequence[RequestRecord]) -> None:
        super().write_records(records)
        with self.changed:
            self.batches.append([r.id for r in records])
            self.changed.notify_all()

    def wait_for(self, count: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.total >= count, timeout=WAIT_S)

    @property
    def total(self) -> int:
        return sum(len(b) for b in self.batches)


class GatedStore(RecordingStore):
    """Every write waits until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def write_records(self, records: Sequence[RequestRecord]) -> None:
        self.entered.set()
        assert self.gate.wait(WAIT_S)
        super().write_records(records)


class FlakyStore(RecordingStore):
    """The first `failures` writes raise, as a full disk would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def write_records(self, records: Sequence[RequestRecord]) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise sqlite3.OperationalError("database or disk is full")
        super().write_records(records)


def settings(
    batch_size: int = 100, interval_s: float = 60.0, queue: int = 10_000
) -> WriterSettings:
    return WriterSettings(batch_size=batch_size, flush_interval_s=interval_s, queue_size=queue)


def test_every_record_lands_exactly_once_after_close() -> None:
    store = RecordingStore()
    writer = BatchWriter(store, settings(batch_size=64, interval_s=0.01))
    writer.start()
    threads = [
        threading.Thread(target=lambda k=k: [writer.submit(rec(k * 1000 + i)) for i in range(500)])
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    ids = [i for batch in store.batches for i in batch]
    assert len(ids) == len(set(ids)) == 2000
    assert store.count_records(0, T0 * 2) == 2000
    assert (writer.written_total, writer.dropped_total, writer.queue_depth) == (2000, 0, 0)
    assert writer.batches_total == len(store.batches)
    assert all(len(b) <= 64 for b in store.batches)


def test_flush_by_size_does_not_wait_for_the_interval() -> None:
    store = RecordingStore()
    with BatchWriter(store, settings(batch_size=10, interval_s=60.0)) as writer:
        for i in range(25):
            writer.submit(rec(i))
        assert store.wait_for(20)
        assert store.batches[:2] == [
            [rec(i).id for i in range(10)],
            [rec(i).id for i in range(10, 20)],
        ]
        assert writer.queue_depth == 5  # below batch_size: waits for the interval or a flush
    assert store.total == 25


def test_flush_by_interval() -> None:
    store = RecordingStore()
    with BatchWriter(store, settings(batch_size=1000, interval_s=0.02)) as writer:
        started = time.monotonic()
        for i in range(3):
            writer.submit(rec(i))
        assert store.wait_for(3)
        assert time.monotonic() - started < WAIT_S
        assert writer.batches_total == 1


def test_flush_writes_what_was_submitted() -> None:
    store = RecordingStore()
    with BatchWriter(store, settings(batch_size=1000, interval_s=60.0)) as writer:
        for i in range(5):
            writer.submit(rec(i))
        assert writer.flush(timeout_s=WAIT_S)
        assert store.total == 5 and writer.written_total == 5
        assert writer.flush(timeout_s=WAIT_S)  # nothing pending: returns at once


def test_without_a_thread_flush_and_close_write_inline() -> None:
    store = RecordingStore()
    writer = BatchWriter(store, settings(batch_size=2))
    for i in range(5):
        writer.submit(rec(i))
    assert writer.flush()
    assert store.batches == [["r000000", "r000001"], ["r000002", "r000003"], ["r000004"]]
    writer.submit(rec(5))
    writer.close()
    assert store.total == 6


def test_full_queue_drops_counts_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="infersight.store.writer")
    store = GatedStore()
    writer = BatchWriter(store, settings(batch_size=1, interval_s=0.01, queue=5))
    writer.start()
    assert writer.submit(rec(0))
    assert store.entered.wait(WAIT_S)  # the writer holds record 0 and is stuck in the store
    started = time.monotonic()
    accepted = [writer.submit(rec(i)) for i in range(1, 9)]
    assert time.monotonic() - started < 0.5  # submit never waits on the blocked store
    assert accepted == [True] * 5 + [False] * 3
    assert (writer.dropped_total, writer.queue_depth) == (3, 5)
    store.gate.set()
    writer.close()
    assert store.total == 6 and writer.written_total == 6
    assert writer.dropped_total == 3
    warnings = [r.getMessage() for r in caplog.records if "queue was full" in r.getMessage()]
    assert warnings and "dropped 3 records" in warnings[0] and "queue_size=5" in warnings[0]


def test_failing_store_is_retried_then_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="infersight.store.writer")
    store = FlakyStore(failures=2)
    writer = BatchWriter(store, settings(), retry_attempts=3, retry_backoff_s=0.001)
    writer.start()
    for i in range(4):
        writer.submit(rec(i))
    assert writer.flush(timeout_s=WAIT_S)
    writer.close()
    assert (writer.written_total, writer.dropped_total, writer.write_failures_total) == (4, 0, 2)
    assert store.attempts == 3
    assert any("disk is full" in r.getMessage() for r in caplog.records)


def test_a_store_outage_loses_nothing_while_the_writer_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The store fails for many more attempts than `retry_attempts` (a lock held by another
    process, say): the records wait, new ones queue behind them, and all are written once
    the store works again; the log says it failed and that it recovered."""
    caplog.set_level(logging.WARNING, logger="infersight.store.writer")
    store = FlakyStore(failures=25)
    writer = BatchWriter(
        store, settings(batch_size=3), retry_attempts=1, retry_backoff_s=0.001,
        retry_max_backoff_s=0.002,
    )  # fmt: skip
    writer.start()
    for i in range(7):
        assert writer.submit(rec(i))  # the caller never sees the failure
    assert writer.flush(timeout_s=WAIT_S)
    writer.close()
    assert (writer.written_total, writer.dropped_total) == (7, 0)
    assert store.total == 7 and writer.write_failures_total == 25
    messages = [r.getMessage() for r in caplog.records]
    assert "They are kept and retried" in messages[0] and "disk is full" in messages[0]
    assert "check the free disk space" in messages[0]
    assert any("works again" in m for m in messages)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_store_still_failing_at_close_costs_the_waiting_records_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="infersight.store.writer")
    store = FlakyStore(failures=1_000_000)
    writer = BatchWriter(store, settings(batch_size=3), retry_attempts=2, retry_backoff_s=0.001)
    writer.start()
    for i in range(7):
        assert writer.submit(rec(i))
    time.sleep(0.2)
    assert writer.dropped_total == 0  # still retrying, nothing given up while running
    t0 = time.monotonic()
    writer.close()  # does not raise, and does not wait long for a dead store
    assert time.monotonic() - t0 < 5.0
    assert (writer.written_total, writer.dropped_total) == (0, 7)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3  # one per batch
    assert "still failed when the writer was stopped" in errors[0]
    assert "OperationalError: database or disk is full" in errors[0]


class BuggyStore(RecordingStore):
    """Writing the batch that holds record r000013 fails with a bug, not an outage."""

    def write_records(self, records: Sequence[RequestRecord]) -> None:
        if any(r.id == "r000013" for r in records):
            raise KeyError("a bug")
        super().write_records(records)


def test_a_batch_failing_with_a_bug_is_dropped_and_writing_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only an unavailable store is retried for as long as it takes; a bug gets
    retry_attempts tries, then its batch is dropped (with the traceback) and the records
    after it are written."""
    caplog.set_level(logging.ERROR, logger="infersight.store.writer")
    store = BuggyStore()
    writer = BatchWriter(
        store, settings(batch_size=5, queue=50), retry_attempts=2, retry_backoff_s=0.001
    )
    writer.start()
    for i in range(40):
        writer.submit(rec(i))
    assert writer.flush(timeout_s=WAIT_S)
    writer.close()
    assert (writer.written_total, writer.dropped_total) == (35, 5)
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "dropped 5 records" in error.getMessage() and error.exc_info is not None


def test_which_sqlite_errors_mean_the_store_is_unavailable(tmp_path: Path) -> None:
    """Real SQLite errors: a lock is an outage; a missing column or a file that is not a
    database is a bug, reported as one."""
    from infersight.store.errors import store_unavailable

    db = tmp_path / "x.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE t (a)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(db, timeout=0.01)
    with pytest.raises(sqlite3.OperationalError) as locked:
        other.execute("INSERT INTO t VALUES (1)")
    holder.execute("COMMIT")
    with pytest.raises(sqlite3.OperationalError) as no_column:
        other.execute("SELECT nope FROM sqlite_master")
    holder.close()
    other.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.DatabaseError) as not_db:
        sqlite3.connect(junk).execute("SELECT * FROM sqlite_master")
    assert store_unavailable(locked.value)
    assert not store_unavailable(no_column.value)
    assert not store_unavailable(not_db.value)


def test_a_locked_sqlite_store_names_the_lock(tmp_path: object) -> None:
    from infersight.store.writer import store_hint

    assert "locked" in store_hint(sqlite3.OperationalError("database is locked"))
    assert "writable" in store_hint(
        sqlite3.OperationalError("attempt to write a readonly database")
    )


def test_close_is_idempotent_and_later_submits_are_dropped() -> None:
    store = RecordingStore()
    writer = BatchWriter(store, settings())
    writer.start()
    writer.submit(rec(1))
    writer.close()
    writer.close()
    assert not writer.submit(rec(2))
    assert (store.total, writer.dropped_total) == (1, 1)
    with pytest.raises(RuntimeError, match="closed"):
        writer.start()


def test_rejects_negative_retries() -> None:
    with pytest.raises(ValueError, match="retry_attempts"):
        BatchWriter(RecordingStore(), settings(), retry_attempts=-1)


def test_a_record_the_store_cannot_take_costs_only_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Real SQLite refuses a string with a lone surrogate: the batch is written item by item
    at once (no retries of the same data) and only that record is dropped, with one log line."""
    import dataclasses

    caplog.set_level(logging.WARNING, logger="infersight.store.writer")
    store = RecordingStore()
    writer = BatchWriter(store, settings(batch_size=50), retry_attempts=3, retry_backoff_s=5.0)
    writer.start()
    bad = dataclasses.replace(rec(7), model="m\ud800")
    for i in range(20):
        writer.submit(bad if i == 7 else rec(i))
    t0 = time.monotonic()
    writer.close()
    assert time.monotonic() - t0 < 2.0  # not the 5 s backoff of a retry
    assert (writer.written_total, writer.dropped_total) == (19, 1)
    assert len(store.list_records(0, 4e9, limit=100)) == 19
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "dropped 1 of 20 records that the store refused (UnicodeEncodeError" in errors[0]


class DyingStore(RecordingStore):
    """The writer thread dies inside the store (a BaseException no handler expects)."""

    def write_records(self, records: Sequence[RequestRecord]) -> None:
        raise SystemExit("store backend gave up")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_writer_thread_reports_what_it_left_queued(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="infersight.store.writer")
    writer = BatchWriter(DyingStore(), settings(batch_size=2), retry_backoff_s=0.001)
    writer.start()
    writer.submit(rec(0))
    writer.submit(rec(1))  # a full batch: the thread takes it and dies writing it
    assert writer._thread is not None
    writer._thread.join(WAIT_S)
    assert not writer._thread.is_alive()
    for i in range(2, 7):
        writer.submit(rec(i))
    writer.close()
    assert writer.dropped_total == 5 and writer.written_total == 0
    assert any("5 queued records were not written" in r.getMessage() for r in caplog.records)
