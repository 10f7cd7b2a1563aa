"""SampleWriter: the collectors' path to the store, off the event loop.

Collectors call `submit_many(samples)` on the event loop after each scrape. It extends a bounded
deque under a lock held only for that, and never waits on the store; a dedicated thread writes
batches with one `store.write_samples` call (one transaction) each. The queueing, batching,
retry, drop counting and close semantics are `store.writer.QueueWriter`'s, shared with the
request-record BatchWriter:

    writer = SampleWriter(store, settings.store.writer)   # or a WriterSettings of its own
    writer.start()
    accepted = writer.submit_many(samples)   # on the event loop; drops beyond queue_size
    ...
    writer.close()                           # writes what is queued, then stops the thread

`batch_size` and `queue_size` count samples. Samples are small, so the default batch_size is
raised to SAMPLE_BATCH_SIZE when the settings leave it at its default.
"""

from __future__ import annotations

from typing import Final

from infersight.core.records import MetricSample
from infersight.settings import WriterSettings
from infersight.store.base import Store
from infersight.store.writer import QueueWriter

SAMPLE_BATCH_SIZE: Final = 5_000


class SampleWriter(QueueWriter[MetricSample]):
    """Batches MetricSamples into `store.write_samples` from one background thread.

    Counters (read from any thread): `written_total`, `batches_total`, `dropped_total`,
    `write_failures_total`, and the `queue_depth` property.
    """

    label = "sample writer"
    noun = "samples"
    thread_name = "infersight-sample-writer"

    def __init__(
        self,
        store: Store,
        settings: WriterSettings | None = None,
        *,
        retry_attempts: int = 3,
        retry_backoff_s: float = 0.1,
    ) -> None:
        if settings is None:
            settings = WriterSettings()
        if "batch_size" not in settings.model_fields_set:
            settings = settings.model_copy(update={"batch_size": SAMPLE_BATCH_SIZE})
        super().__init__(
            store, settings, retry_attempts=retry_attempts, retry_backoff_s=retry_backoff_s
        )

    def _write_batch(self, batch: list[MetricSample]) -> None:
        self.store.write_samples(batch)

    def __enter__(self) -> SampleWriter:
        self.start()
        return self
