"""DriftDaemon: the drift report every `drift.interval_s`, its series into a sample sink.

Each tick compares the current window [now - current_window_s, now) with the baseline window
before it (`drift_report.windows_ending_at`), off the event loop (store reads and sentence
embeddings block), and hands `report.samples()` to the sink: the SampleWriter for the store,
or a `FanOut` of it and `LatestSamples` for /metrics. The newest report stays in
`last_report` (for the dashboard / status).

The sentence embedder is loaded on first use through `load_embed` (default: the shared
all-MiniLM-L6-v2 `get_embedder().encode`). When it is not installed, prompt drift is skipped
(one warning, a note in each report) and the length / load signals still flow; loading is
retried on later ticks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from infersight.collectors.base import SampleSink
from infersight.core.clock import Clock
from infersight.daemons import Daemon
from infersight.quality.drift_report import (
    DriftReport,
    Embed,
    ModelDrift,
    QualityLookup,
    build_drift_report,
    windows_ending_at,
)
from infersight.quality.drift_settings import DriftSettings
from infersight.store.base import Store

log = logging.getLogger(__name__)


def default_embed() -> Embed:
    """The process-wide sentence embedder's `encode` (raises EmbedderUnavailable)."""
    from infersight.quality.embedder import get_embedder

    return get_embedder().encode


class DriftDaemon(Daemon):
    name = "drift"

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        sink: SampleSink,
        settings: DriftSettings | None = None,
        load_embed: Callable[[], Embed] | None = default_embed,
        quality: QualityLookup | None = None,
    ) -> None:
        self.settings = settings if settings is not None else DriftSettings()
        super().__init__(clock, self.settings.interval_s)
        self.store = store
        self.sink = sink
        self.quality = quality
        self._load_embed = load_embed
        self._embed: Embed | None = None
        self._embed_warned = False
        self.last_report: DriftReport | None = None
        self.reports_total = 0

    def _embedder(self) -> Embed | None:
        """Blocking (loads the model on first call): run in a worker thread."""
        if self._embed is None and self._load_embed is not None:
            try:
                self._embed = self._load_embed()
            except Exception as exc:
                if not self._embed_warned:
                    log.warning("drift: prompt drift disabled until this is fixed: %s", exc)
                    self._embed_warned = True
        return self._embed

    def _report(self, now: float) -> DriftReport:
        baseline, current = windows_ending_at(now, self.settings)
        embed = self._embedder()
        report = build_drift_report(
            self.store,
            baseline=baseline,
            current=current,
            now=now,
            settings=self.settings,
            embed=embed,
            quality=self.quality,
        )
        if embed is None and self._load_embed is not None:
            note = "prompt drift: the sentence embedder could not be loaded (see the log)"
            report = DriftReport(
                report.baseline, report.current, now, report.models, (*report.notes, note)
            )
        return report

    async def tick(self, now: float) -> None:
        report = await asyncio.to_thread(self._report, now)
        self.last_report = report
        self.reports_total += 1
        samples = report.samples()
        if samples:
            self.sink.submit_many(samples)
        for model in report.models:
            if model.drifted:
                log.info("drift: model %s drifted: %s", model.model, _summary(model))


def _summary(model: ModelDrift) -> str:
    parts = []
    if model.prompt is not None and model.prompt.drifted:
        parts.append(f"prompts (MMD p={model.prompt.mmd.p_value:.3g})")
    if model.prompt_length is not None and model.prompt_length.drifted:
        parts.append(f"prompt length (PSI {model.prompt_length.psi:.2f})")
    if model.answer_length is not None and model.answer_length.drifted:
        parts.append(f"answer length (PSI {model.answer_length.psi:.2f})")
    return ", ".join(parts)
