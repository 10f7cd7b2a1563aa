"""`infersight eval`: one quality sweep, printed, reported and stored.

    infersight eval default                                   # through the local gateway
    infersight eval qa.jsonl --endpoint http://127.0.0.1:8000/v1 --model llama --scorers accuracy
    infersight eval default --fail-on-regression              # CI: exit 3 on a significant drop

Asks the endpoint every item (tagged as sweep traffic), scores the answers, prints a table of
the aggregates with 95 % intervals per dataset and tag, compares with the previous sweep of the
same dataset in the store (listing the items that regressed), writes a JSON and an HTML report
to --out, and stores the sweep, its items and its series.

Exit codes: 0 done; 1 could not run (endpoint unreachable, every item failed, embedding model
missing, store unusable); 2 bad arguments or a bad dataset (every problem with its line);
3 a significant regression against the previous sweep, with --fail-on-regression.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infersight.cli._common import (
    CliError,
    checked_url,
    default_embed,
    opened_store,
    settings_from_args,
)
from infersight.cli.eval_view import fail, print_report
from infersight.clock import SystemClock
from infersight.quality.datasets import DatasetError
from infersight.quality.pipeline import SweepSpec, open_dataset, run_sweep
from infersight.quality.report_html import render_sweep_html
from infersight.quality.results import SweepReport, item_from_row
from infersight.quality.scorers import SCORERS
from infersight.quality.scorers.base import Embed
from infersight.quality.sweep import SweepError, SweepTarget
from infersight.settings import Settings

EXIT_REGRESSED: Final = 3


# Tests replace it with a deterministic embedding where the real model is not the point.
LOAD_EMBED: Callable[[], Embed] = default_embed


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "eval",
        help="run one quality sweep of a dataset against an endpoint",
        description="Ask an OpenAI-compatible endpoint every item of a JSONL dataset (or the "
        "packaged 'default' one), score the answers, compare with the previous sweep of the "
        "dataset, and store and report the result.",
    )
    p.add_argument("dataset", metavar="DATASET", help="JSONL dataset file, or 'default'")
    p.add_argument(
        "--endpoint",
        metavar="URL",
        help="OpenAI-compatible base URL (default: the gateway of the config, gateway.port)",
    )
    p.add_argument("--model", help="model to ask (default: the first one the endpoint lists)")
    p.add_argument(
        "--scorers",
        default=",".join(SCORERS),
        metavar="LIST",
        help=f"comma-separated scorers (default: all of {','.join(SCORERS)})",
    )
    p.add_argument("--tags", default="", metavar="LIST", help="only items with one of these tags")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    p.add_argument("--max-tokens", type=int, default=128, help="max_tokens per answer (128)")
    p.add_argument("--temperature", type=float, default=0.0, help="temperature (default 0)")
    p.add_argument(
        "--resamples", type=int, default=0, help="extra answers per item for self-consistency"
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per answer (120)")
    p.add_argument("--api-key-env", metavar="VAR", help="environment variable with the API key")
    p.add_argument("--name", help="sweep name in the store (default: eval-<dataset>)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    p.add_argument(
        "--out", default="eval-reports", metavar="DIR", help="report folder (eval-reports)"
    )
    p.add_argument("--db", metavar="PATH", help="SQLite database file; overrides store.path")
    p.add_argument("--config", metavar="FILE", help="infersight YAML config")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of tables")
    p.add_argument(
        "--fail-on-regression",
        action="store_true",
        help=f"exit {EXIT_REGRESSED} when a scorer regressed significantly",
    )
    p.set_defaults(handler=main)


def gateway_url(settings: Settings) -> str:
    host = settings.gateway.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.gateway.port}"


def _check(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    scorers = [s.strip() for s in args.scorers.split(",") if s.strip()]
    unknown = [s for s in scorers if s not in SCORERS]
    if not scorers or unknown:
        raise CliError(
            f"--scorers: unknown scorer(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(SCORERS)}"
            if unknown
            else "--scorers: name at least one scorer"
        )
    for flag, value, low in (
        ("--concurrency", args.concurrency, 1),
        ("--max-tokens", args.max_tokens, 1),
        ("--resamples", args.resamples, 0),
    ):
        if value < low:
            raise CliError(f"{flag} must be at least {low}, got {value}")
    if not 0 < args.alpha < 1:
        raise CliError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if args.timeout <= 0:
        raise CliError(f"--timeout must be > 0, got {args.timeout}")
    if not 0 <= args.temperature <= 2:
        raise CliError(f"--temperature must be between 0 and 2, got {args.temperature}")
    if args.endpoint is not None:
        args.endpoint = checked_url("--endpoint", args.endpoint)
    if args.api_key_env is not None and not os.environ.get(args.api_key_env, "").strip():
        state = "is not set" if args.api_key_env not in os.environ else "is empty"
        raise CliError(
            f"--api-key-env: environment variable {args.api_key_env} {state} "
            f"(export {args.api_key_env}=... first, or leave the option out to send no key)"
        )
    return scorers, [t.strip() for t in args.tags.split(",") if t.strip()]


class _RichProgress:
    """A progress bar of answered items (only when stderr is a terminal)."""

    def __init__(self, console: Console, label: str) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.label = label
        self.task: Any = None
        self.failed = 0

    def started(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=total, failed=0)

    def advanced(self, ok: bool) -> None:
        self.failed += 0 if ok else 1
        self.progress.update(self.task, advance=1, failed=self.failed)

    def finished(self) -> None:
        self.progress.stop()


class _LineProgress:
    """Progress as plain lines on stderr when it is not a terminal (CI logs, pipes): one at
    the start, then one every LINE_EVERY_S while items are answered."""

    LINE_EVERY_S = 10.0

    def __init__(self, console: Console, label: str) -> None:
        self.console = console
        self.label = label
        self.total = self.done = self.failed = 0
        self.t0 = self.last = 0.0

    def started(self, total: int) -> None:
        self.total, self.t0 = total, time.monotonic()
        self.last = self.t0
        self.console.print(f"{self.label}: {total} items to answer", soft_wrap=True)

    def advanced(self, ok: bool) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        now = time.monotonic()
        if now - self.last >= self.LINE_EVERY_S:
            self.last = now
            self.console.print(
                f"{self.label}: {self.done}/{self.total} answered, {self.failed} failed, "
                f"{now - self.t0:.0f} s",
                soft_wrap=True,
            )

    def finished(self) -> None:
        self.console.print(
            f"{self.label}: {self.done}/{self.total} answered, {self.failed} failed, in "
            f"{time.monotonic() - self.t0:.1f} s; scoring",
            soft_wrap=True,
        )


def main(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False)
    try:
        scorers, tags = _check(args)
        settings = settings_from_args(args, db_path=args.db)
    except CliError as exc:
        return fail(f"infersight eval: {exc}")
    try:
        dataset = open_dataset(args.dataset)
    except DatasetError as exc:
        return fail(f"infersight eval: the dataset cannot be used:\n{exc}")
    api_key = os.environ[args.api_key_env].strip() if args.api_key_env else None
    target = SweepTarget(
        base_url=(args.endpoint or gateway_url(settings)).rstrip("/"),
        model=args.model or "",
        api_key=api_key,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        resamples=args.resamples,
        concurrency=args.concurrency,
        timeout_s=args.timeout,
    )
    spec = SweepSpec(
        name=args.name or f"eval-{dataset.name}",
        dataset=dataset,
        target=target,
        scorers=tuple(scorers),
        tags=tuple(tags),
        alpha=args.alpha,
        config={
            "max_tokens": args.max_tokens,
            "temperature": args.temperature,
            "resamples": args.resamples,
            "concurrency": args.concurrency,
            "scorers": scorers,
        },
    )
    if not spec.items().items:
        return fail(f"infersight eval: no item of {args.dataset} has a tag in {tags}")
    try:
        embed = LOAD_EMBED()
    except Exception as exc:  # EmbedderUnavailable, with the install command
        fail(f"infersight eval: {exc}")
        return 1
    progress: _RichProgress | _LineProgress = (
        _RichProgress(err, dataset.name) if err.is_terminal else _LineProgress(err, dataset.name)
    )
    try:
        with opened_store(settings.store, hint=None) as store:
            try:
                report = asyncio.run(
                    run_sweep(
                        spec, clock=SystemClock(), embed=embed, store=store, progress=progress
                    )
                )
            except SweepError as exc:
                fail(f"infersight eval: {exc}")
                return 1
            store.write_samples(report.samples())
            previous = (
                {r.item_id: item_from_row(r) for r in store.quality.sweep_items(report.previous_id)}
                if report.previous_id
                else {}
            )
            prev_row = store.quality.get_sweep(report.previous_id) if report.previous_id else None
    except CliError as exc:
        fail(f"infersight eval: {exc}")
        return exc.exit_code
    paths = _write_reports(
        report, previous, prev_row.summary_json() if prev_row else None, args.out
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2, default=str))
    else:
        print_report(Console(highlight=False), report, previous, paths or [], settings.store.path)
    if report.status == "failed":
        first = next((r.answer.error for r in report.results if r.answer.error), "")
        fail(f"infersight eval: every item failed (first: {first}); check --endpoint and --model")
        return 1
    if paths is None:  # the sweep is stored; only its report files are missing
        return 1
    if args.fail_on_regression and report.regressed:
        return EXIT_REGRESSED
    return 0


def _write_reports(
    report: SweepReport,
    previous: dict[str, dict[str, Any]],
    previous_summary: dict[str, Any] | None,
    out_dir: str,
) -> list[Path] | None:
    """The JSON and HTML report files written into `out_dir`; None (after saying why on
    stderr) when they cannot be written."""
    folder = Path(out_dir).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(report.started_at, UTC).strftime("%Y%m%d-%H%M%S")
        base = folder / f"sweep-{report.dataset}-{stamp}-{report.id[:8]}"
        json_path = base.with_suffix(".json")
        json_path.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
        html_path = base.with_suffix(".html")
        html_path.write_text(render_sweep_html(report.to_json(), previous, previous_summary))
    except OSError as exc:
        fail(
            f"infersight eval: cannot write the reports to {folder}: {exc.strerror or exc} "
            "(the sweep is stored; name a folder you can write to with --out)"
        )
        return None
    return [json_path, html_path]
