"""BatchWriter: the gateway's only path to the store, off the event loop.

`submit()` is called on the event loop for every request. It appends to a bounded deque under a
lock held only for that append, and never waits on or touches the store: a dedicated thread
takes batches and writes each with one `write_records` call (one transaction). A batch goes out
when `batch_size` records are waiting or `flush_interval_s` has passed since the last write.

When the queue is full the record is dropped and counted (`dropped_total`); the writer thread
logs a rate-limited warning, so even the warning costs the caller no I/O. A write that fails
because the store is unavailable (locked, full, gone) is retried with backoff for as long as
the writer runs, while new items queue up (to queue_size); only at close does a batch the
store still refuses get dropped, counted and logged. Nothing raises into the caller. `close()`
writes everything still queued before the thread stops.

`QueueWriter` is that machinery for any item type; `BatchWriter` writes RequestRecords and
`store.sample_writer.SampleWriter` writes MetricSamples.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import ClassVar, Generic, TypeVar

from infersight.core.records import RequestRecord
from infersight.settings import WriterSettings
from infersight.store.base import Store
from infersight.store.errors import store_hint, store_unavailable

log = logging.getLogger(__name__)

DROP_WARNING_INTERVAL_S = 10.0
# While the store fails, how often the writer says so again.
OUTAGE_REPORT_S = 30.0

T = TypeVar("T")


class QueueWriter(Generic[T]):
    """Batches items into a Store from one background thread; subclasses say how to write.

    Counters (read from any thread): `written_total`, `batches_total`, `dropped_total`
    (queue full, after close, or given up after retries), `write_failures_total` (failed write
    attempts, retried or not), and the `queue_depth` property.
    """

    # How log messages name the writer and its items, and the writer thread's name.
    label: ClassVar[str] = "store writer"
    noun: ClassVar[str] = "items"
    thread_name: ClassVar[str] = "infersight-store-writer"

    def __init__(
        self,
        store: Store,
        settings: WriterSettings,
        *,
        retry_attempts: int = 3,
        retry_backoff_s: float = 0.1,
        retry_max_backoff_s: float = 5.0,
    ) -> None:
        if retry_attempts < 0:
            raise ValueError(f"retry_attempts must be >= 0, got {retry_attempts}")
        self.store = store
        self.batch_size = settings.batch_size
        self.flush_interval_s = settings.flush_interval_s
        self.queue_size = settings.queue_size
        self.retry_attempts = retry_attempts
        self.retry_backoff_s = retry_backoff_s
        self.retry_max_backoff_s = max(retry_max_backoff_s, retry_backoff_s)
        self._stop_waiting = threading.Event()  # set by close: cuts a retry's backoff short
        self.written_total = 0
        self.batches_total = 0
        self.dropped_total = 0
        self.write_failures_total = 0
        self._queue: deque[T] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._closing = False
        self._closed = False
        self._flush_requested = False
        self._accepted = 0  # items ever queued
        self._done = 0  # items ever taken off the queue and finished (written or dropped)
        self._dropped_full = 0  # drops because the queue was full or the writer closed
        self._dropped_full_reported = 0
        self._last_drop_warning = -DROP_WARNING_INTERVAL_S

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        """Start the writer thread; idempotent."""
        with self._cond:
            if self._closed or self._closing:
                raise RuntimeError(f"{type(self).__name__} was closed; create a new one")
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> bool:
        """Queue one item; never blocks on I/O. Returns False if it was dropped."""
        with self._cond:
            if self._closing or len(self._queue) >= self.queue_size:
                self.dropped_total += 1
                self._dropped_full += 1
                return False
            self._queue.append(item)
            self._accepted += 1
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()
        return True

    def submit_many(self, items: Iterable[T]) -> int:
        """Queue items under one lock acquisition; never blocks on I/O.

        Returns how many were accepted: the rest (beyond the queue's room, or all of them
        after close) are dropped and counted, keeping the earliest.
        """
        batch = items if isinstance(items, Sequence) else list(items)
        with self._cond:
            room = 0 if self._closing else max(self.queue_size - len(self._queue), 0)
            accepted = min(room, len(batch))
            self._queue.extend(batch[:accepted] if accepted < len(batch) else batch)
            self._accepted += accepted
            dropped = len(batch) - accepted
            self.dropped_total += dropped
            self._dropped_full += dropped
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()
        return accepted

    def flush(self, timeout_s: float | None = None) -> bool:
        """Write everything submitted so far; True once done, False if `timeout_s` ran out.

        Blocks the calling thread: on the event loop use `await asyncio.to_thread(w.flush)`.
        Without a running thread the items are written on the calling thread.
        """
        if self._thread is None:
            self._drain_inline()
            return True
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            target = self._accepted
            self._flush_requested = True
            self._cond.notify_all()
            while self._done < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout_s: float | None = None) -> None:
        """Write everything queued, then stop the thread; idempotent. Does not close the store."""
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._cond.notify_all()
        self._stop_waiting.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error(
                    "%s: still writing after %.1f s at close; %d %s queued",
                    self.label,
                    timeout_s,
                    len(self._queue),
                    self.noun,
                )
                return
            with self._cond:  # a thread that died leaves its queue behind: say what is lost
                lost = len(self._queue)
                self._queue.clear()
                self.dropped_total += lost
            if lost:
                log.error(
                    "%s: the writer thread had stopped; %d queued %s were not written",
                    self.label,
                    lost,
                    self.noun,
                )
        else:
            self._drain_inline()
        self._report_drops(force=True)
        self._closed = True

    def __enter__(self) -> QueueWriter[T]:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writer side ----------------------------------------------------------------------

    def _run(self) -> None:
        last_write = time.monotonic()
        while True:
            with self._cond:
                if not self._should_write(last_write):
                    self._cond.wait(self._wait_s(last_write))
                ready = self._should_write(last_write)
                batch = self._take_batch() if ready else []
                finishing = self._closing and not self._queue
            if batch:
                self._write(batch)
            if ready:
                last_write = time.monotonic()
            self._report_drops()
            if finishing:
                return

    def _should_write(self, last_write: float) -> bool:
        return (
            self._closing
            or self._flush_requested
            or len(self._queue) >= self.batch_size
            or (bool(self._queue) and time.monotonic() - last_write >= self.flush_interval_s)
        )

    def _wait_s(self, last_write: float) -> float:
        due = last_write + self.flush_interval_s - time.monotonic()
        return max(due, 0.001) if self._queue else self.flush_interval_s

    def _take_batch(self) -> list[T]:
        count = min(self.batch_size, len(self._queue))
        batch = [self._queue.popleft() for _ in range(count)]
        if not self._queue:
            self._flush_requested = False
        return batch

    def _write_batch(self, batch: list[T]) -> None:
        """One store call (one transaction) for the batch; subclasses implement it."""
        raise NotImplementedError

    def _write(self, batch: list[T]) -> None:
        """Write one batch. While the writer runs, a store that is unavailable (locked, full,
        gone) is retried with backoff for as long as it takes: the batch waits, new items
        queue behind it (up to queue_size), and nothing is dropped for the outage itself.
        Once the writer is closing, `retry_attempts` more tries, then the batch is dropped.
        Any other failure (a bug) gets `retry_attempts` tries, then the batch is dropped with
        its traceback: one bad batch must not stop all writing."""
        delay = self.retry_backoff_s
        failing_since: float | None = None
        last_report = 0.0
        tries_closing = tries_bug = 0
        while True:
            try:
                self._write_batch(batch)
            except Exception as exc:
                self.write_failures_total += 1
                if is_bad_data(exc):  # retrying the same items cannot help: keep the good ones
                    self._write_one_by_one(batch, exc)
                    break
                if not store_unavailable(exc):
                    tries_bug += 1
                    if tries_bug > self.retry_attempts:
                        log.exception(
                            "%s: dropped %d %s: writing them failed %d times with an error "
                            "that is not the store being unavailable",
                            self.label, len(batch), self.noun, tries_bug,
                        )  # fmt: skip
                        with self._cond:
                            self.dropped_total += len(batch)
                        break
                    self._stop_waiting.wait(delay)
                    delay = min(delay * 2, self.retry_max_backoff_s)
                    continue
                now = time.monotonic()
                reason = f"{type(exc).__name__}: {exc}"
                if failing_since is None:
                    failing_since = last_report = now
                    log.warning(
                        "%s: writing %d %s failed (%s); %s. They are kept and retried",
                        self.label, len(batch), self.noun, reason, store_hint(exc),
                    )  # fmt: skip
                elif not self._closing and now - last_report >= OUTAGE_REPORT_S:
                    last_report = now
                    log.warning(
                        "%s: the store has been failing for %.0f s (%s); %d %s waiting "
                        "(at most queue_size=%d queue up, beyond that they are dropped)",
                        self.label, now - failing_since, reason,
                        len(batch) + len(self._queue), self.noun, self.queue_size,
                    )  # fmt: skip
                if self._closing:
                    tries_closing += 1
                    if tries_closing > self.retry_attempts:
                        log.error(
                            "%s: dropped %d %s: the store still failed when the writer was "
                            "stopped, after %.0f s of failures (%s); %s",
                            self.label, len(batch), self.noun, now - failing_since, reason,
                            store_hint(exc),
                        )  # fmt: skip
                        with self._cond:
                            self.dropped_total += len(batch)
                        break
                self._stop_waiting.wait(delay)  # wakes early when the writer is stopped
                delay = min(delay * 2, self.retry_max_backoff_s)
            else:
                self.written_total += len(batch)
                self.batches_total += 1
                if failing_since is not None:
                    log.warning(
                        "%s: the store works again after %.1f s; writing the %d waiting %s",
                        self.label, time.monotonic() - failing_since,
                        len(batch) + len(self._queue), self.noun,
                    )  # fmt: skip
                break
        with self._cond:
            self._done += len(batch)
            self._cond.notify_all()

    def _write_one_by_one(self, batch: list[T], first: Exception) -> None:
        """The store refused the batch for its content: write the items one at a time and
        drop only those it refuses, with one log line for all of them."""
        refused = 0
        reason = f"{type(first).__name__}: {first}"
        for item in batch:
            try:
                self._write_batch([item])
            except Exception as exc:
                refused += 1
                reason = f"{type(exc).__name__}: {exc}"
            else:
                self.written_total += 1
        if refused:
            with self._cond:
                self.dropped_total += refused
            log.error(
                "%s: dropped %d of %d %s that the store refused (%s); the others were written",
                self.label,
                refused,
                len(batch),
                self.noun,
                reason,
            )
        self.batches_total += 1

    def _drain_inline(self) -> None:
        while True:
            with self._cond:
                batch = self._take_batch()
            if not batch:
                return
            self._write(batch)

    def _report_drops(self, *, force: bool = False) -> None:
        now = time.monotonic()
        pending = self._dropped_full - self._dropped_full_reported
        if pending <= 0:
            return
        if not force and now - self._last_drop_warning < DROP_WARNING_INTERVAL_S:
            return
        self._dropped_full_reported += pending
        self._last_drop_warning = now
        log.warning(
            "%s: dropped %d %s because the queue was full (queue_size=%d; "
            "%d dropped in total); raise store.writer.queue_size or use a faster store",
            self.label,
            pending,
            self.noun,
            self.queue_size,
            self.dropped_total,
        )


def is_bad_data(exc: BaseException) -> bool:
    """A store error caused by what was written (a value it cannot encode or a constraint it
    breaks), as opposed to the store being unavailable (locked, full, read-only, gone)."""
    if isinstance(exc, (ValueError, TypeError, OverflowError)):
        return True
    return type(exc).__name__ in ("IntegrityError", "DataError", "InterfaceError")


class BatchWriter(QueueWriter[RequestRecord]):
    """Batches RequestRecords into `store.write_records` from one background thread."""

    label = "store writer"
    noun = "records"
    thread_name = "infersight-store-writer"

    def _write_batch(self, batch: list[RequestRecord]) -> None:
        self.store.write_records(batch)

    def __enter__(self) -> BatchWriter:
        self.start()
        return self
