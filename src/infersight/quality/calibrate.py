"""Calibrate quality scorers against labelled answers: AUROC, F1 now, a better threshold.

Input: a JSONL file, one labelled answer per line:

    {"question": "...", "answer": "...", "reference": "..." | ["...", ...],
     "context": "...", "samples": ["...", ...], "label": 0 | 1}
    {"question": "...", "answer": "...", "labels": {"accuracy": 1, "toxicity": 0}}

`label` 0 means good, 1 means bad, for every scorer; `labels` gives one label per scorer
(overriding `label`), so one file can hold items for scorers that judge different things
(a wrong answer is not a toxic one). `samples` are other answers to the same question (for
the consistency scorer). Lines without a label for a scorer, or that the scorer
does not apply to (accuracy needs a reference), are skipped for it. Blank lines and lines
starting with `#` are ignored. Every problem is reported with its line number.

Per scorer, with "bad" as the positive class (a scorer is a detector of bad answers):
- AUROC of its badness (1 - score when higher is better, the score itself otherwise);
- precision, recall and F1 of its current verdicts (`ScoreResult.passed`: failing = bad);
- a suggested threshold on the scorer's own scale maximising F1 or Youden's J
  (core.metrics_auc.best_threshold), with the F1 it would give on this file.
A suggestion fitted on the same file it is measured on is optimistic: hold out a part of the
labelled data before adopting it.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from infersight.core.metrics_auc import at_threshold, auroc, best_threshold
from infersight.quality.scorers.base import Embed, ScoreInput, Scorer

log = logging.getLogger(__name__)

Objective = Literal["f1", "youden"]
KNOWN_KEYS: Final = frozenset(
    {
        "id",
        "question",
        "answer",
        "reference",
        "references",
        "context",
        "samples",
        "label",
        "labels",
    }
)
MAX_REPORTED_PROBLEMS: Final = 20


class LabelledDataError(ValueError):
    """The labelled file is unusable; the message lists each problem as PATH:LINE: ..."""


@dataclass(frozen=True, slots=True)
class LabelledItem:
    line: int
    item: ScoreInput
    label: int | None  # for every scorer
    labels: Mapping[str, int]  # per scorer, overriding `label`

    def label_for(self, scorer: str) -> int | None:
        return self.labels.get(scorer, self.label)


@dataclass(frozen=True, slots=True)
class ScorerCalibration:
    scorer: str
    higher_is_better: bool | None  # None: the scorer could not be built
    n: int  # labelled items scored
    n_bad: int
    n_good: int
    n_skipped: int  # no label for this scorer, or the scorer does not apply
    n_errors: int  # the scorer failed on the item
    auroc: float | None
    current_threshold: float | None
    current_precision: float | None
    current_recall: float | None
    current_f1: float | None
    suggested_threshold: float | None
    suggested_f1: float | None
    objective: str
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _label(value: object, where: str) -> tuple[int | None, str | None]:
    if isinstance(value, bool) or value not in (0, 1):
        return None, f"{where} must be 0 (good) or 1 (bad), got {json.dumps(value)}"
    return (1 if value == 1 else 0), None


def _text(obj: Mapping[str, Any], key: str, required: bool) -> tuple[str | None, str | None]:
    value = obj.get(key)
    if value is None:
        return None, (f"missing required field {key!r}" if required else None)
    if not isinstance(value, str):
        return None, f"field {key!r} must be a string, got {type(value).__name__}"
    return value, None


def _strings(obj: Mapping[str, Any], key: str) -> tuple[tuple[str, ...], str | None]:
    value = obj.get(key)
    if value is None:
        return (), None
    if isinstance(value, str):
        return (value,), None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value), None
    return (), f"field {key!r} must be a string or a list of strings"


def _parse_line(
    obj: Any, scorer_names: Sequence[str] | None
) -> tuple[LabelledItem | None, list[str]]:
    if not isinstance(obj, dict):
        return None, [f"expected a JSON object, got {type(obj).__name__}"]
    problems: list[str] = []
    unknown = sorted(set(obj) - KNOWN_KEYS)
    if unknown:
        problems.append(
            f"unknown field(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(KNOWN_KEYS))}"
        )
    question, err_q = _text(obj, "question", True)
    answer, err_a = _text(obj, "answer", True)
    context, err_c = _text(obj, "context", False)
    refs, err_r = _strings(obj, "reference" if "reference" in obj else "references")
    samples, err_s = _strings(obj, "samples")
    problems += [e for e in (err_q, err_a, err_c, err_r, err_s) if e]
    label: int | None = None
    if "label" in obj:
        label, err = _label(obj["label"], "field 'label'")
        problems += [err] if err else []
    labels: dict[str, int] = {}
    raw_labels = obj.get("labels")
    if raw_labels is not None:
        if not isinstance(raw_labels, dict):
            problems.append("field 'labels' must be an object of scorer name -> 0/1")
        else:
            for name, value in raw_labels.items():
                if scorer_names is not None and name not in scorer_names:
                    problems.append(
                        f"labels: unknown scorer {name!r}; known: {', '.join(scorer_names)}"
                    )
                    continue
                one, err = _label(value, f"labels.{name}")
                if err:
                    problems.append(err)
                elif one is not None:
                    labels[name] = one
    if "label" not in obj and raw_labels is None:
        problems.append("missing 'label' (0 good, 1 bad) or 'labels' ({scorer: 0/1})")
    if problems or question is None or answer is None:
        return None, problems
    item = ScoreInput(
        question=question, answer=answer, references=refs, context=context, samples=samples
    )
    return LabelledItem(0, item, label, labels), []


def load_labelled(
    path: str | Path, scorer_names: Sequence[str] | None = None
) -> list[LabelledItem]:
    """Parse and validate a labelled JSONL file. Raises LabelledDataError listing every
    problem (up to MAX_REPORTED_PROBLEMS) as `PATH:LINE: message`."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LabelledDataError(f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelledDataError(f"{file}: cannot read it: {exc}") from None
    items: list[LabelledItem] = []
    problems: list[str] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{file}:{number}: not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        parsed, errors = _parse_line(obj, scorer_names)
        problems += [f"{file}:{number}: {e}" for e in errors]
        if parsed is not None:
            items.append(LabelledItem(number, parsed.item, parsed.label, parsed.labels))
    if problems:
        shown = problems[:MAX_REPORTED_PROBLEMS]
        more = len(problems) - len(shown)
        tail = [f"... and {more} more problem(s)"] if more else []
        raise LabelledDataError("\n".join([*shown, *tail]))
    if not items:
        raise LabelledDataError(
            f"{file}: no labelled items; write one JSON object per line with question, "
            "answer and label (0 good, 1 bad)"
        )
    return items


def current_threshold(scorer: Scorer) -> float | None:
    """The scorer's `threshold` attribute, else its module's THRESHOLD constant, if numeric."""
    value = getattr(scorer, "threshold", None)
    if value is None:
        value = getattr(inspect.getmodule(type(scorer)), "THRESHOLD", None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def calibrate_scorer(
    name: str,
    scorer: Scorer,
    items: Sequence[LabelledItem],
    embed: Embed,
    *,
    objective: Objective = "f1",
) -> ScorerCalibration:
    """Score the items labelled for `name` and measure the scorer against the labels."""
    chosen = [(it, it.label_for(name)) for it in items]
    usable = [(it, lab) for it, lab in chosen if lab is not None and scorer.applies(it.item)]
    results = scorer.score_many([it.item for it, _ in usable], embed) if usable else []
    badness: list[float] = []
    labels: list[int] = []
    verdict_bad: list[float] = []
    errors = 0
    for (_, lab), result in zip(usable, results, strict=True):
        if result.error is not None or lab is None:
            errors += 1
            continue
        badness.append(1.0 - result.score if scorer.higher_is_better else result.score)
        labels.append(lab)
        verdict_bad.append(1.0 if result.passed is False else 0.0)
    n_bad = sum(labels)
    threshold = current_threshold(scorer)

    empty = ScorerCalibration(
        scorer=name,
        higher_is_better=scorer.higher_is_better,
        n=len(labels),
        n_bad=n_bad,
        n_good=len(labels) - n_bad,
        n_skipped=len(items) - len(usable),
        n_errors=errors,
        auroc=None,
        current_threshold=threshold,
        current_precision=None,
        current_recall=None,
        current_f1=None,
        suggested_threshold=None,
        suggested_f1=None,
        objective=objective,
    )
    if not labels or n_bad == 0 or n_bad == len(labels):
        note = (
            f"needs both good and bad items labelled for {name} "
            f"({len(labels) - n_bad} good, {n_bad} bad scored)"
        )
        return replace(empty, note=note)
    now = at_threshold(verdict_bad, labels, 0.5)
    best = best_threshold(badness, labels, objective=objective)
    suggested = 1.0 - best.threshold if scorer.higher_is_better else best.threshold
    return replace(
        empty,
        auroc=auroc(badness, labels),
        current_precision=now.precision,
        current_recall=now.recall,
        current_f1=now.f1,
        suggested_threshold=min(1.0, max(0.0, suggested)),
        suggested_f1=best.f1,
    )


def calibrate(
    items: Sequence[LabelledItem],
    scorers: Mapping[str, Callable[[], Scorer]],
    embed: Embed,
    *,
    objective: Objective = "f1",
) -> list[ScorerCalibration]:
    """One calibration per scorer factory (e.g. `scorers.SCORERS`), in the mapping's order.
    A scorer that cannot be built or run (its model is missing) gets a calibration with no
    numbers and the reason in `note`."""
    out: list[ScorerCalibration] = []
    for name, factory in scorers.items():
        scorer: Scorer | None = None
        try:
            scorer = factory()
            out.append(calibrate_scorer(name, scorer, items, embed, objective=objective))
        except Exception as exc:
            log.debug("calibrate: scorer %s failed", name, exc_info=True)
            out.append(_failed(name, scorer, objective, f"could not run: {exc}"))
    return out


def _failed(name: str, scorer: Scorer | None, objective: str, note: str) -> ScorerCalibration:
    return ScorerCalibration(
        scorer=name,
        higher_is_better=None if scorer is None else scorer.higher_is_better,
        n=0,
        n_bad=0,
        n_good=0,
        n_skipped=0,
        n_errors=0,
        auroc=None,
        current_threshold=None if scorer is None else current_threshold(scorer),
        current_precision=None,
        current_recall=None,
        current_f1=None,
        suggested_threshold=None,
        suggested_f1=None,
        objective=objective,
        note=note,
    )
