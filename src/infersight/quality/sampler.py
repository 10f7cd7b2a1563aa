"""Live-traffic quality: score a share of real user requests with reference-free scorers.

Needs `gateway.capture_text: true` (records then carry prompt and answer text). The gateway's
record sink is wrapped in `SamplingSink(inner, sampler)`: every record goes on to `inner`
unchanged, and `LiveSampler.offer` takes a successful user record with text with probability
`fraction` into a bounded queue (a random draw and a put: nothing else on the event loop; a
full queue drops and counts). A worker thread scores queued records in batches, pausing
between batches so that it is busy at most `max_busy_share` of the wall time (scoring is
CPU work: on a 2-core machine an unpaced worker would take cores from the gateway):

* relevance: the relevance scorer (question = the prompt text's tail, since the gateway keeps
  the chat joined into one text), mean score;
* toxicity: the toxicity scorer, share judged toxic;
* refusal: the refusal / disclaimer pattern of the relevance scorer, share refusing;
* answer_length: completion tokens (estimated from the text when the upstream sent none).

`SamplerDaemon` publishes, every `publish_interval_s`, per model over the requests scored since
the last publication: `quality_live_relevance`, `quality_live_toxicity_rate`,
`quality_live_refusal_rate`, `quality_live_answer_tokens`, `quality_live_scored` (how many),
and `_ci_low` / `_ci_high` of the first three (Wilson for rates, bootstrap for the mean).
A window with nothing scored publishes nothing. `lookup` gives the drift report the relevance
of the records it scored (`drift_report.QualityLookup`).

If the sentence embedder cannot load, relevance and toxicity are skipped (one warning) and
refusal and answer length still flow.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from infersight.collectors.base import SampleSink
from infersight.core.clock import Clock
from infersight.core.records import MetricSample, RequestRecord
from infersight.core.significance import bootstrap_mean_ci, wilson_interval
from infersight.daemons import Daemon
from infersight.quality.scorers.base import CachedEmbed, Embed, ScoreInput
from infersight.quality.scorers.relevance import RelevanceScorer, is_refusal
from infersight.quality.scorers.toxicity import ToxicityScorer
from infersight.quality.settings import SamplerSettings

log = logging.getLogger(__name__)

QUESTION_CHARS: Final = 2000
LOOKUP_SIZE: Final = 20_000
_STOP: Final = object()


def default_embed() -> Embed:
    from infersight.quality.embedder import get_embedder

    return get_embedder().encode


@dataclass
class _Window:
    relevance: list[float] = field(default_factory=list)
    toxic: list[bool] = field(default_factory=list)
    refusal: list[bool] = field(default_factory=list)
    tokens: list[float] = field(default_factory=list)
    scored: int = 0


class _Emitter:
    """Appends one series value (and its interval) for one model."""

    def __init__(self, out: list[MetricSample], now: float, model: str) -> None:
        self.out, self.now, self.model = out, now, model

    def __call__(
        self, name: str, value: float, low: float | None = None, high: float | None = None
    ) -> None:
        self.out.append(MetricSample.make(name, self.now, value, model=self.model))
        if low is not None and high is not None:
            self.out.append(MetricSample.make(f"{name}_ci_low", self.now, low, model=self.model))
            self.out.append(MetricSample.make(f"{name}_ci_high", self.now, high, model=self.model))


class LiveSampler:
    """The queue, the scoring and the per-window aggregates. Thread-safe where it must be:
    `offer` on the event loop; `process_pending`, `publish` on worker threads."""

    def __init__(
        self,
        settings: SamplerSettings,
        *,
        load_embed: Callable[[], Embed] | None = default_embed,
        toxicity: ToxicityScorer | None = None,
        sources: Sequence[str] = ("user",),
    ) -> None:
        self.settings = settings
        self.sources = frozenset(sources)
        self._rng = random.Random(settings.seed)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=settings.queue_size)
        self._load_embed = load_embed
        self._embed: CachedEmbed | None = None
        self._embed_failed = False
        self._relevance = RelevanceScorer()
        self._toxicity = toxicity or ToxicityScorer()
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()  # windows and lookup
        self._score_lock = threading.Lock()  # one scoring batch at a time
        self._lookup: OrderedDict[str, float] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self.offered_total = 0
        self.sampled_total = 0
        self.dropped_total = 0
        self.scored_total = 0
        self.errors_total = 0

    # -- event loop side ---------------------------------------------------------------------

    def offer(self, record: RequestRecord) -> bool:
        """Maybe take the record for scoring; never blocks. True when it was queued."""
        if (
            record.source not in self.sources
            or record.error_class is not None
            or record.status != 200
            or not record.response_text
            or not record.prompt_text
        ):
            return False
        self.offered_total += 1
        if self._rng.random() >= self.settings.fraction:
            return False
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped_total += 1
            return False
        self.sampled_total += 1
        return True

    # -- worker side ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="infersight-quality-sampler", daemon=True
            )
            self._thread.start()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the worker: what was queued before the call is still scored, then it ends."""
        if self._thread is not None:
            self._closing.set()
            try:
                self._queue.put(_STOP, timeout=timeout_s)  # room appears as the worker drains
            except queue.Full:
                log.warning("quality sampler: the worker did not drain its queue at close")
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        share = self.settings.max_busy_share
        warm = False  # the first batch loads the models: not a pace to keep
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first, *self._take(self.settings.batch_size - 1)]
            stop = _STOP in batch
            t0 = time.perf_counter()
            self._score([r for r in batch if isinstance(r, RequestRecord)])
            if stop:
                return
            busy_s = time.perf_counter() - t0
            if share < 1.0 and warm and not self._closing.is_set():
                # busy at most `share` of the wall time; close() cuts the pause short
                self._closing.wait(busy_s * (1.0 - share) / share)
            warm = True

    def _take(self, n: int) -> list[object]:
        out: list[object] = []
        for _ in range(n):
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return out

    def process_pending(self) -> int:
        """Score everything queued now, on the calling thread (tests; publish without a
        worker). Returns how many records were scored."""
        done = 0
        while True:
            batch = [r for r in self._take(self.settings.batch_size) if r is not _STOP]
            if not batch:
                return done
            records = [r for r in batch if isinstance(r, RequestRecord)]
            self._score(records)
            done += len(records)

    def _embedder(self) -> CachedEmbed | None:
        if self._embed is None and not self._embed_failed and self._load_embed is not None:
            try:
                self._embed = CachedEmbed(self._load_embed(), max_entries=5000)
            except Exception as exc:
                self._embed_failed = True
                log.warning("quality sampler: relevance and toxicity are off: %s", exc)
        return self._embed

    def _score(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        wanted = set(self.settings.scorers)
        with self._score_lock:
            inputs = [
                ScoreInput((r.prompt_text or "")[-QUESTION_CHARS:], r.response_text or "")
                for r in records
            ]
            embed = self._embedder() if wanted & {"relevance", "toxicity"} else None
            relevance: list[float | None] = [None] * len(records)
            toxic: list[bool | None] = [None] * len(records)
            if embed is not None:
                try:
                    if "relevance" in wanted:
                        relevance = [s.score for s in self._relevance.score_many(inputs, embed)]
                    if "toxicity" in wanted:
                        toxic = [
                            s.passed is False for s in self._toxicity.score_many(inputs, embed)
                        ]
                except Exception as exc:
                    self.errors_total += 1
                    log.warning("quality sampler: scoring a batch failed: %s", exc)
        with self._lock:
            for i, r in enumerate(records):
                w = self._windows.setdefault(r.model or "unknown", _Window())
                w.scored += 1
                rel, tox = relevance[i], toxic[i]
                if rel is not None:
                    w.relevance.append(rel)
                    self._lookup[r.id] = rel
                    if len(self._lookup) > LOOKUP_SIZE:
                        self._lookup.popitem(last=False)
                if tox is not None:
                    w.toxic.append(tox)
                if "refusal" in wanted:
                    w.refusal.append(is_refusal(r.response_text or ""))
                if "answer_length" in wanted:
                    tokens = r.completion_tokens
                    if tokens is None:
                        tokens = max(1, round(len(r.response_text or "") / 4))
                    w.tokens.append(float(tokens))
            self.scored_total += len(records)

    # -- publication ---------------------------------------------------------------------------

    def publish(self, now: float) -> list[MetricSample]:
        """The window's series per model (scoring what is queued first if no worker runs),
        and a fresh window."""
        if self._thread is None:
            self.process_pending()
        with self._lock:
            windows, self._windows = self._windows, {}
        out: list[MetricSample] = []
        for model, w in sorted(windows.items()):
            put = _Emitter(out, now, model)
            put("quality_live_scored", float(w.scored))
            if w.relevance:
                ci = bootstrap_mean_ci(w.relevance, n_resamples=1000)
                put("quality_live_relevance", sum(w.relevance) / len(w.relevance), ci.low, ci.high)
            for name, flags in (
                ("quality_live_toxicity_rate", w.toxic),
                ("quality_live_refusal_rate", w.refusal),
            ):
                if flags:
                    hits = sum(flags)
                    rate_ci = wilson_interval(hits, len(flags))
                    put(name, hits / len(flags), rate_ci.low, rate_ci.high)
            if w.tokens:
                put("quality_live_answer_tokens", sum(w.tokens) / len(w.tokens))
        return out

    def lookup(self, records: Sequence[RequestRecord]) -> Mapping[str, float]:
        """Relevance of the given records that were scored (drift_report.QualityLookup)."""
        with self._lock:
            return {r.id: self._lookup[r.id] for r in records if r.id in self._lookup}


class SamplerDaemon(Daemon):
    """Publishes the sampler's window every `publish_interval_s`; starts and stops its worker."""

    name = "quality-sampler"

    def __init__(self, sampler: LiveSampler, *, clock: Clock, sink: SampleSink) -> None:
        super().__init__(clock, sampler.settings.publish_interval_s)
        self.sampler = sampler
        self.sink = sink

    def start(self) -> None:
        self.sampler.start()
        super().start()

    async def tick(self, now: float) -> None:
        samples = await asyncio.to_thread(self.sampler.publish, now)
        if samples:
            self.sink.submit_many(samples)

    async def on_stop(self) -> None:
        await asyncio.to_thread(self.sampler.close)


class RecordSink(Protocol):
    """What the gateway hands records to (`gateway.proxy.RecordSink`)."""

    def submit(self, record: RequestRecord) -> object: ...


class SamplingSink:
    """Forwards every record to `inner` (the BatchWriter) and offers it to the sampler.
    Other attributes (counters, flush, close) are the inner sink's."""

    def __init__(self, inner: RecordSink, sampler: LiveSampler) -> None:
        self.inner = inner
        self.sampler = sampler

    def submit(self, record: RequestRecord) -> object:
        accepted = self.inner.submit(record)
        try:
            self.sampler.offer(record)
        except Exception:  # sampling must never take a request down
            log.exception("quality sampler: offer failed")
        return accepted

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


__all__ = ["LiveSampler", "SamplerDaemon", "SamplingSink"]
