"""A sweep from start to finish: ask, score, aggregate, compare, store, publish.

`SweepSpec` says what to run (from a `quality.sweeps[]` entry or the eval command's flags);
`run_sweep` runs it and returns the `SweepReport`. The previous sweep compared against is the
newest completed sweep of the same dataset in the store (any model: a model upgrade is what a
comparison is for). Store reads and writes and the scoring run in worker threads, so the
gateway's event loop, which a scheduled sweep shares, never waits on them.

Scorer versions: each scorer is recorded with its threshold and a fingerprint of its module's
source (`<infersight version>+<sha256 prefix>`), so a report shows which code scored a sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
import os
import sys
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from infersight import __version__
from infersight.collectors.base import SampleSink
from infersight.core.clock import Clock
from infersight.quality.datasets import Dataset, default_dataset, load_dataset
from infersight.quality.results import (
    SweepReport,
    aggregate,
    compare_verdicts,
    verdicts_from_rows,
    verdicts_of,
)
from infersight.quality.scorers import make_scorers
from infersight.quality.scorers.base import CachedEmbed, Embed, Scorer
from infersight.quality.scorers.judge import JudgeConfig, JudgeScorer, LlmJudge
from infersight.quality.settings import JudgeSettings, SweepSettings
from infersight.quality.sweep import (
    SweepProgress,
    SweepStopped,
    SweepTarget,
    collect_answers,
    resolve_model,
    score_items,
)
from infersight.store.base import Store

log = logging.getLogger(__name__)

_THRESHOLD_NAMES = ("THRESHOLD", "SUPPORTED")


def open_dataset(name_or_path: str) -> Dataset:
    """'default' is the packaged dataset; anything else a JSONL file (DatasetError)."""
    return default_dataset() if name_or_path == "default" else load_dataset(name_or_path)


@dataclass(frozen=True)
class SweepSpec:
    """What one sweep runs."""

    name: str
    dataset: Dataset
    target: SweepTarget
    scorers: tuple[str, ...]
    tags: tuple[str, ...] = ()
    alpha: float = 0.05
    judge: JudgeConfig | None = None
    judge_criteria: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls,
        sweep: SweepSettings,
        *,
        default_endpoint: str,
        judge: JudgeSettings | None = None,
        env: Mapping[str, str] | None = None,
    ) -> SweepSpec:
        """Loads the dataset (DatasetError); the endpoint defaults to `default_endpoint`."""
        environ = os.environ if env is None else env
        target = SweepTarget(
            base_url=sweep.endpoint or default_endpoint,
            model=sweep.model,
            api_key=environ.get(sweep.api_key_env) if sweep.api_key_env else None,
            max_tokens=sweep.max_tokens,
            temperature=sweep.temperature,
            resample_temperature=sweep.resample_temperature,
            resamples=sweep.resamples,
            concurrency=sweep.concurrency,
            timeout_s=sweep.timeout_s,
        )
        judge_config = None
        criteria: tuple[str, ...] = ()
        if sweep.use_judge and judge is not None and judge.configured:
            judge_config = JudgeConfig(
                base_url=judge.base_url,
                model=judge.model,
                api_key=environ.get(judge.api_key_env) if judge.api_key_env else None,
                timeout_s=judge.timeout_s,
            )
            criteria = tuple(judge.criteria)
        config = sweep.model_dump(mode="json", exclude={"api_key_env"})
        return cls(
            name=sweep.name,
            dataset=open_dataset(sweep.dataset),
            target=target,
            scorers=tuple(sweep.scorers),
            tags=tuple(sweep.tags),
            alpha=sweep.alpha,
            judge=judge_config,
            judge_criteria=criteria,
            config=config,
        )

    def items(self) -> Dataset:
        if not self.tags:
            return self.dataset
        chosen = tuple(i for i in self.dataset if set(i.tags) & set(self.tags))
        return Dataset(self.dataset.name, chosen)


def scorer_info(scorer: Scorer) -> dict[str, Any]:
    """Name, direction, threshold and code fingerprint of one scorer."""
    module = sys.modules.get(type(scorer).__module__)
    threshold = None
    digest = "unknown"
    if module is not None:
        threshold = next((getattr(module, n) for n in _THRESHOLD_NAMES if hasattr(module, n)), None)
        with contextlib.suppress(OSError, TypeError):
            digest = hashlib.sha256(inspect.getsource(module).encode()).hexdigest()[:12]
    info: dict[str, Any] = {
        "name": scorer.name,
        "higher_is_better": scorer.higher_is_better,
        "threshold": threshold,
        "version": f"{__version__}+{digest}",
    }
    if isinstance(scorer, JudgeScorer):
        info["judge_model"] = scorer.judge.config.model
    return info


def _store_and_compare(
    store: Store | None, report: SweepReport, alpha: float, stop: threading.Event | None = None
) -> tuple[SweepReport, str | None]:
    """Blocking: find the previous sweep, compare, write this one (not once `stop` is set)."""
    if store is None:
        return report, None
    previous = store.quality.previous_sweep(report.dataset, report.started_at)
    comparisons = {}
    if previous is not None:
        before = verdicts_from_rows(store.quality.sweep_items(previous.id))
        comparisons = compare_verdicts(before, verdicts_of(report.results), alpha=alpha)
    done = replace(report, comparisons=comparisons, previous_id=previous.id if previous else None)
    row, items = done.to_rows()
    if stop is not None and stop.is_set():
        raise SweepStopped("stopped before the sweep was stored")
    store.quality.write_sweep(row, items)
    return done, previous.id if previous else None


async def run_sweep(
    spec: SweepSpec,
    *,
    clock: Clock,
    embed: Embed,
    store: Store | None = None,
    sink: SampleSink | None = None,
    client: httpx.AsyncClient | None = None,
    progress: SweepProgress | None = None,
    sweep_id: str | None = None,
) -> SweepReport:
    """Run one sweep; SweepError when it cannot start (no model, endpoint unreachable)."""
    started = clock.now()
    target = spec.target
    if not target.model:
        model = await resolve_model(target.base_url, api_key=target.api_key, client=client)
        target = replace(target, model=model)
    dataset = spec.items()
    answers = await collect_answers(dataset.items, target, client=client, progress=progress)
    scorers: list[Scorer] = list(make_scorers(spec.scorers))
    judge = LlmJudge(spec.judge) if spec.judge is not None else None
    if judge is not None:
        scorers += [JudgeScorer(judge, c) for c in spec.judge_criteria]
    notes: list[str] = []
    stop = threading.Event()  # a cancelled sweep's worker threads stop at their next check
    try:
        results = await asyncio.to_thread(
            score_items, dataset.items, answers, scorers, CachedEmbed(embed), stop
        )
    except asyncio.CancelledError:
        stop.set()
        raise
    finally:
        if judge is not None:
            judge.close()
            notes.append(judge.stats.describe())
    failed = sum(1 for a in answers if not a.ok)
    if failed:
        kinds: dict[str, int] = {}
        for a in answers:
            if a.error is not None:
                kind = a.error.split(":", 1)[0]
                kinds[kind] = kinds.get(kind, 0) + 1
        shown = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        notes.append(f"{failed} of {len(answers)} items failed ({shown}); left out of scores")
    errors = sum(1 for r in results for s in r.scores.values() if s.error is not None)
    if errors:
        notes.append(f"{errors} scorer results could not be computed (see the items)")
    report = SweepReport(
        id=sweep_id or uuid.uuid4().hex,
        name=spec.name,
        dataset=spec.dataset.name,
        model=target.model,
        endpoint=target.api_base,
        started_at=started,
        finished_at=clock.now(),
        results=tuple(results),
        groups=tuple(aggregate(results)),
        scorers=tuple(scorer_info(s) for s in scorers),
        config={**spec.config, "alpha": spec.alpha, "tags": list(spec.tags)},
        notes=tuple(notes),
    )
    try:
        report, _ = await asyncio.to_thread(_store_and_compare, store, report, spec.alpha, stop)
    except asyncio.CancelledError:
        stop.set()  # not stored, unless the write had begun
        raise
    if sink is not None:
        sink.submit_many(report.samples())
    return report


def regressed_items(report: SweepReport, scorer: str = "accuracy") -> Sequence[str]:
    c = report.comparisons.get(scorer)
    return c.regressed_items if c is not None else ()


__all__ = ["SweepSpec", "open_dataset", "regressed_items", "run_sweep", "scorer_info"]
