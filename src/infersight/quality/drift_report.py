"""Drift report: have the prompts, the answers or their relation to load changed?

Reads the request records of two windows from the store (per model, successful requests of
the configured sources), and computes with core.drift:

- prompt drift: embeddings of the captured prompt text (`RequestRecord.prompt_text`, present
  when `gateway.capture_text` is on): centroid cosine distance and an MMD permutation test;
- prompt length drift: PSI and KS on `prompt_tokens`;
- answer length drift: PSI, KS and Wasserstein distance on `completion_tokens`;
- length vs load: Spearman correlation of `completion_tokens` with `inflight_at_start` in
  the current window (answers that shrink under load are a batching / truncation symptom);
  quality vs load likewise when a `QualityLookup` supplies scores for the current records.

Each signal is None when its inputs are missing or short (fewer than `min_requests` per
window; `notes` say which and why). Windows larger than `max_requests_per_window` are
subsampled (seeded). Lengths are in tokens (estimated when the upstream reports no usage).

`DriftReport.samples()` turns the report into series, label `model`:
    drift_prompt_mmd_p_value, drift_prompt_centroid_distance, drift_prompt_length_psi,
    drift_answer_length_psi, quality_length_load_correlation, quality_score_load_correlation
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from infersight.core.drift import (
    Correlation,
    KSResult,
    MMDResult,
    centroid_cosine_distance,
    ks_two_sample,
    mmd_test,
    psi,
    psi_noise_floor,
    spearman,
    wasserstein_1d,
)
from infersight.core.records import MetricSample, RequestRecord
from infersight.quality.drift_settings import DriftSettings
from infersight.store.base import Store

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]
# Quality scores in [0, 1] of some of these records, by record id (e.g. the online sampler's).
QualityLookup = Callable[[Sequence[RequestRecord]], Mapping[str, float]]

# Records read per window before filtering, per analysed request allowed.
FETCH_FACTOR: Final = 10


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """[start, end) in Unix seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError(f"a window must end after it starts, got [{self.start}, {self.end})")

    @property
    def duration_s(self) -> float:
        return self.end - self.start


def windows_ending_at(now: float, settings: DriftSettings) -> tuple[TimeWindow, TimeWindow]:
    """(baseline, current): the current window ends now, the baseline ends where it starts."""
    split = now - settings.current_window_s
    return TimeWindow(split - settings.baseline_window_s, split), TimeWindow(split, now)


@dataclass(frozen=True, slots=True)
class LengthDrift:
    """One length distribution (tokens), baseline against current. `drifted` needs both a
    PSI above drift.psi_threshold and a KS p-value below drift.alpha: on a few dozen requests
    PSI alone exceeds 0.25 by chance (`psi_noise_floor` is its expected value with no change).
    """

    psi: float
    psi_noise_floor: float
    ks: KSResult
    wasserstein_tokens: float
    baseline_mean_tokens: float
    current_mean_tokens: float
    drifted: bool


@dataclass(frozen=True, slots=True)
class PromptDrift:
    centroid_distance: float
    mmd: MMDResult
    drifted: bool


@dataclass(frozen=True, slots=True)
class ModelDrift:
    model: str
    n_baseline: int
    n_current: int
    prompt: PromptDrift | None = None
    prompt_length: LengthDrift | None = None
    answer_length: LengthDrift | None = None
    length_load: Correlation | None = None
    quality_load: Correlation | None = None
    notes: tuple[str, ...] = ()

    @property
    def drifted(self) -> bool:
        return any(
            s is not None and s.drifted
            for s in (self.prompt, self.prompt_length, self.answer_length)
        )


@dataclass(frozen=True, slots=True)
class DriftReport:
    baseline: TimeWindow
    current: TimeWindow
    generated_at: float
    models: tuple[ModelDrift, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def drifted(self) -> bool:
        return any(m.drifted for m in self.models)

    def to_json(self) -> dict[str, Any]:
        def window(w: TimeWindow) -> dict[str, float]:
            return {"start": w.start, "end": w.end, "duration_s": w.duration_s}

        models = []
        for m in self.models:
            entry = asdict(m)
            entry["notes"] = list(m.notes)
            entry["drifted"] = m.drifted
            models.append(entry)
        return {
            "generated_at": self.generated_at,
            "baseline": window(self.baseline),
            "current": window(self.current),
            "drifted": self.drifted,
            "models": models,
            "notes": list(self.notes),
        }

    def samples(self) -> list[MetricSample]:
        """The report's series at `generated_at`, one label set per model; absent signals are
        absent series."""
        ts = self.generated_at
        out: list[MetricSample] = []

        def add(name: str, value: float | None, model: str) -> None:
            if value is not None:
                out.append(MetricSample.make(name, ts, value, model=model))

        for m in self.models:
            add("drift_prompt_mmd_p_value", m.prompt.mmd.p_value if m.prompt else None, m.model)
            add(
                "drift_prompt_centroid_distance",
                m.prompt.centroid_distance if m.prompt else None,
                m.model,
            )
            add(
                "drift_prompt_length_psi", m.prompt_length.psi if m.prompt_length else None, m.model
            )
            add(
                "drift_answer_length_psi", m.answer_length.psi if m.answer_length else None, m.model
            )
            add(
                "quality_length_load_correlation",
                m.length_load.r if m.length_load else None,
                m.model,
            )
            add(
                "quality_score_load_correlation",
                m.quality_load.r if m.quality_load else None,
                m.model,
            )
        return out


def _usable(record: RequestRecord, sources: Sequence[str]) -> bool:
    return record.source in sources and record.error_class is None and record.status < 400


def fetch_window(
    store: Store, window: TimeWindow, settings: DriftSettings
) -> dict[str, list[RequestRecord]]:
    """Successful records of the configured sources, by model, each list at most
    max_requests_per_window long (a seeded random subsample of what was read)."""
    cap = settings.max_requests_per_window
    rows = store.list_records(window.start, window.end, limit=cap * FETCH_FACTOR)
    by_model: dict[str, list[RequestRecord]] = {}
    for record in rows:
        if _usable(record, settings.sources):
            by_model.setdefault(record.model, []).append(record)
    rng = np.random.default_rng(settings.seed)
    for model, records in by_model.items():
        records.sort(key=lambda r: (r.started_at, r.id))
        if len(records) > cap:
            keep = np.sort(rng.choice(len(records), size=cap, replace=False))
            by_model[model] = [records[i] for i in keep.tolist()]
    return by_model


def _length_drift(base: list[float], cur: list[float], settings: DriftSettings) -> LengthDrift:
    value = psi(base, cur, n_bins=settings.psi_bins)
    ks = ks_two_sample(base, cur)
    return LengthDrift(
        psi=value,
        psi_noise_floor=psi_noise_floor(settings.psi_bins, len(base), len(cur)),
        ks=ks,
        wasserstein_tokens=wasserstein_1d(base, cur),
        baseline_mean_tokens=float(np.mean(base)),
        current_mean_tokens=float(np.mean(cur)),
        drifted=value > settings.psi_threshold and ks.p_value < settings.alpha,
    )


def _enough(what: str, n_base: int, n_cur: int, settings: DriftSettings, notes: list[str]) -> bool:
    if min(n_base, n_cur) >= settings.min_requests:
        return True
    notes.append(
        f"{what}: too few requests ({n_base} baseline, {n_cur} current; "
        f"need {settings.min_requests} in each, drift.min_requests)"
    )
    return False


def _prompt_drift(
    base: list[RequestRecord],
    cur: list[RequestRecord],
    embed: Embed | None,
    settings: DriftSettings,
    notes: list[str],
) -> PromptDrift | None:
    base_text = [r.prompt_text for r in base if r.prompt_text]
    cur_text = [r.prompt_text for r in cur if r.prompt_text]
    if not base_text and not cur_text:
        notes.append("prompt drift: no prompt text captured (set gateway.capture_text: true)")
        return None
    if embed is None:
        notes.append("prompt drift: no sentence embedder available")
        return None
    if not _enough("prompt drift", len(base_text), len(cur_text), settings, notes):
        return None
    try:
        vectors = np.asarray(embed(base_text + cur_text), dtype=np.float64)
    except Exception as exc:  # an embedder failure must not cost the length signals
        log.exception("drift: embedding the prompts failed")
        notes.append(f"prompt drift: embedding failed: {exc}")
        return None
    x, y = vectors[: len(base_text)], vectors[len(base_text) :]
    result = mmd_test(x, y, n_permutations=settings.mmd_permutations, seed=settings.seed)
    return PromptDrift(
        centroid_distance=centroid_cosine_distance(x, y),
        mmd=result,
        drifted=result.p_value < settings.alpha,
    )


def _model_drift(
    model: str,
    base: list[RequestRecord],
    cur: list[RequestRecord],
    embed: Embed | None,
    quality: QualityLookup | None,
    settings: DriftSettings,
) -> ModelDrift:
    notes: list[str] = []
    prompt = _prompt_drift(base, cur, embed, settings, notes)

    def lengths(records: list[RequestRecord], attr: str) -> list[float]:
        values = (getattr(r, attr) for r in records)
        return [float(v) for v in values if v is not None]

    prompt_length = answer_length = None
    pb, pc = lengths(base, "prompt_tokens"), lengths(cur, "prompt_tokens")
    if _enough("prompt length", len(pb), len(pc), settings, notes):
        prompt_length = _length_drift(pb, pc, settings)
    ab, ac = lengths(base, "completion_tokens"), lengths(cur, "completion_tokens")
    if _enough("answer length", len(ab), len(ac), settings, notes):
        answer_length = _length_drift(ab, ac, settings)

    with_len = [r for r in cur if r.completion_tokens is not None]
    length_load = None
    if len(with_len) >= settings.min_requests:
        length_load = spearman(
            [float(r.completion_tokens or 0) for r in with_len],
            [float(r.inflight_at_start) for r in with_len],
        )
        if length_load is None:
            notes.append("length vs load: constant answer length or in-flight count")
    quality_load = None
    if quality is not None:
        scores = quality(cur)
        scored = [r for r in cur if r.id in scores]
        if len(scored) >= settings.min_requests:
            quality_load = spearman(
                [scores[r.id] for r in scored], [float(r.inflight_at_start) for r in scored]
            )
        else:
            notes.append(f"quality vs load: {len(scored)} scored requests in the current window")
    return ModelDrift(
        model=model,
        n_baseline=len(base),
        n_current=len(cur),
        prompt=prompt,
        prompt_length=prompt_length,
        answer_length=answer_length,
        length_load=length_load,
        quality_load=quality_load,
        notes=tuple(notes),
    )


def build_drift_report(
    store: Store,
    *,
    baseline: TimeWindow,
    current: TimeWindow,
    now: float,
    settings: DriftSettings | None = None,
    embed: Embed | None = None,
    quality: QualityLookup | None = None,
) -> DriftReport:
    """Compare the two windows, model by model (models seen in either window). Blocking (store
    reads, embeddings): call it off the event loop. `embed` None skips prompt drift."""
    settings = settings if settings is not None else DriftSettings()
    base_by_model = fetch_window(store, baseline, settings)
    cur_by_model = fetch_window(store, current, settings)
    models = sorted(set(base_by_model) | set(cur_by_model))
    notes: list[str] = []
    if not models:
        notes.append(
            "no successful requests of sources "
            f"{', '.join(settings.sources)} in either window; send traffic through the gateway"
        )
    results = tuple(
        _model_drift(
            model,
            base_by_model.get(model, []),
            cur_by_model.get(model, []),
            embed,
            quality,
            settings,
        )
        for model in models
    )
    return DriftReport(baseline, current, now, results, tuple(notes))
