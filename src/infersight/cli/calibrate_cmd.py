"""`infersight calibrate`: how well do the quality scorers separate good answers from bad?

    infersight calibrate labelled.jsonl                     # every scorer, a table
    infersight calibrate labelled.jsonl --scorer accuracy --objective youden --json

The file holds one labelled answer per line (label 0 good, 1 bad; see
`infersight.quality.calibrate` for the fields). For each scorer: AUROC, precision / recall /
F1 of its current verdicts, and the threshold that would maximise F1 (or Youden's J) here.

Exit codes: 0 done; 1 the embedding model is missing; 2 bad arguments or a bad file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from infersight.cli._common import default_embed, fail
from infersight.quality.calibrate import (
    LabelledDataError,
    Objective,
    ScorerCalibration,
    calibrate,
    load_labelled,
)
from infersight.quality.scorers import SCORERS
from infersight.quality.scorers.base import CachedEmbed, Embed

ALL: Final = "all"


# Tests replace it with a deterministic embedding when the model package is missing.
LOAD_EMBED: Callable[[], Embed] = default_embed


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "calibrate",
        help="measure the quality scorers against labelled answers and suggest thresholds",
        description="Score a labelled JSONL file (question, answer, reference?, context?, "
        "label 0 good / 1 bad, or labels {scorer: 0/1}) with each scorer and print its AUROC, "
        "the F1 of its current verdicts, and a suggested threshold.",
    )
    p.add_argument("file", metavar="LABELLED.jsonl", help="labelled answers, one JSON per line")
    p.add_argument(
        "--scorer",
        choices=(*SCORERS, ALL),
        default=ALL,
        help="which scorer to calibrate (default: all)",
    )
    p.add_argument(
        "--objective",
        choices=("f1", "youden"),
        default="f1",
        help="what the suggested threshold maximises: F1 of the 'bad' class, or Youden's J "
        "(recall + specificity - 1; steadier when bad answers are rare). Default: f1",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    names = list(SCORERS) if args.scorer == ALL else [args.scorer]
    try:
        items = load_labelled(args.file, scorer_names=list(SCORERS))
    except LabelledDataError as exc:
        return fail(f"infersight calibrate: {exc}")
    try:
        embed = LOAD_EMBED()
    except Exception as exc:  # EmbedderUnavailable, with the install command
        fail(f"infersight calibrate: {exc}")
        return 1
    scorers = {name: SCORERS[name] for name in names}
    objective: Objective = args.objective
    # one cache for every scorer: they embed many of the same answers and questions
    cached = embed if isinstance(embed, CachedEmbed) else CachedEmbed(embed)
    results = calibrate(items, scorers, cached, objective=objective)
    if args.json:
        payload = {
            "file": args.file,
            "items": len(items),
            "objective": objective,
            "positive_class": "bad (label 1)",
            "scorers": [r.to_json() for r in results],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    out = Console(highlight=False)
    # with --scorer all, scorers that had nothing labelled for them get one line, not a row
    idle = [r for r in results if r.n == 0 and r.n_errors == 0 and r.higher_is_better is not None]
    shown = [r for r in results if r not in idle] if args.scorer == ALL else results
    if shown:
        out.print(_table(shown, args.file, len(items), objective))
    for r in shown:
        if r.note:
            out.print(f"{r.scorer}: {r.note}", markup=False)
    if args.scorer == ALL and idle:
        out.print(
            f"no labelled items these scorers apply to: {', '.join(r.scorer for r in idle)}",
            markup=False,
        )
    return 0


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(results: Sequence[ScorerCalibration], file: str, n_items: int, objective: str) -> Table:
    table = Table(
        title=f"{file} · {n_items} labelled answers · 'bad' is the positive class",
        caption=f"suggested threshold maximises {'F1' if objective == 'f1' else 'Youden J'} "
        "on this file: check it on held-out labels before adopting it",
    )
    table.add_column("scorer")
    for name in (
        "scored",
        "bad/good",
        "AUROC",
        "threshold",
        "P / R",
        "F1",
        "suggested",
        "F1 there",
    ):
        table.add_column(name, justify="right")
    for r in results:
        pr = (
            "-"
            if r.current_precision is None or r.current_recall is None
            else f"{r.current_precision:.2f} / {r.current_recall:.2f}"
        )
        table.add_row(
            r.scorer,
            f"{r.n}" + (f" ({r.n_errors} failed)" if r.n_errors else ""),
            f"{r.n_bad}/{r.n_good}",
            _num(r.auroc, 3),
            _num(r.current_threshold),
            pr,
            _num(r.current_f1),
            _num(r.suggested_threshold),
            _num(r.suggested_f1),
        )
    return table
