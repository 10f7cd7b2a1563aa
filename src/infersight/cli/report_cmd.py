"""`infersight report`: the quality evidence report of a period, for reviewers and auditors.

    infersight report --since 30d                       # ./quality-report.html
    infersight report --since 7d --out q.html --pdf     # and q.pdf (headless Chromium)
    infersight report --since 90d --dataset default --json

One self-contained HTML file (inline SVG charts, no scripts): sweep history per dataset and tag
with 95 % intervals, regressions with the items that got worse, quality alerts with what was
sent and how they ended, live sampling, scorer versions and thresholds, and the method. --pdf
prints it with headless Chromium when one is installed.

Exit codes: 0 written; 1 the store cannot be read, or the PDF was asked for and could not be
made (the HTML is still written); 2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

from rich.console import Console

from infersight.cli._common import CliError, opened_store, settings_from_args
from infersight.cli._durations import duration_arg, format_duration
from infersight.cli.eval_view import fail
from infersight.clock import SystemClock
from infersight.quality.evidence import collect_evidence
from infersight.quality.report_html import render_evidence_html
from infersight.settings import Settings

# Browsers that can print HTML to PDF headless, tried in order (tests replace the list).
PDF_CONVERTERS: list[str] = ["/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"]
PDF_TIMEOUT_S: Final = 120.0
NO_DATABASE_HINT: Final = (
    "Run sweeps first (`infersight eval`, or quality.sweeps in `infersight run`), or point "
    "--db / --config at the store."
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="write the quality evidence report of a period (HTML, optionally PDF)",
        description="Sweeps, intervals, regressions, quality alerts and scorer versions over a "
        "period, as one self-contained HTML file.",
    )
    p.add_argument(
        "--since",
        type=duration_arg,
        default=30 * 86400.0,
        metavar="DURATION",
        help="how far back: 7d, 30d, 12h (default: 30d)",
    )
    p.add_argument("--out", default="quality-report.html", metavar="FILE", help="HTML file")
    p.add_argument("--pdf", action="store_true", help="also print it to FILE.pdf (Chromium)")
    p.add_argument("--dataset", help="only this dataset")
    p.add_argument("--db", metavar="PATH", help="SQLite database file; overrides store.path")
    p.add_argument("--config", metavar="FILE", help="infersight YAML config")
    p.add_argument("--json", action="store_true", help="print the evidence as JSON as well")
    p.set_defaults(handler=main)


def quality_rules(settings: Settings) -> list[dict[str, Any]]:
    """The configured alert rules on quality series (name, metric, comparison, threshold)."""
    out = []
    for rule in settings.alerting.rules:
        if rule.metric.startswith("quality_") or rule.name.startswith("quality"):
            out.append(
                {
                    "name": rule.name,
                    "metric": rule.metric,
                    "comparison": rule.comparison,
                    "threshold": rule.threshold,
                    "severity": rule.severity,
                    "enabled": rule.enabled,
                }
            )
    return out


def find_converter() -> str | None:
    for candidate in PDF_CONVERTERS:
        path = shutil.which(candidate) if "/" not in candidate else candidate
        if path and Path(path).is_file():
            return path
    return None


def print_pdf(html_path: Path, pdf_path: Path) -> str | None:
    """Print the HTML to PDF; None when done, else why not."""
    browser = find_converter()
    if browser is None:
        return (
            "no PDF converter found (looked for " + ", ".join(PDF_CONVERTERS) + "); install "
            "chromium (`apt install chromium`), or open the HTML in a browser and print to PDF"
        )
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf_path.resolve()}",
        html_path.resolve().as_uri(),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=PDF_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{browser} could not print the PDF: {exc}"
    if done.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return f"{browser} exited {done.returncode} without a PDF: {' / '.join(tail)}"
    return None


def main(args: argparse.Namespace) -> int:
    out = Console(highlight=False, stderr=bool(args.json))  # stdout is the JSON then
    end = SystemClock().now()
    start = end - args.since
    try:
        settings = settings_from_args(args, db_path=args.db)
        with opened_store(settings.store, hint=NO_DATABASE_HINT) as store:
            evidence = collect_evidence(
                store, start, end, quality_rules=quality_rules(settings), dataset=args.dataset
            )
    except CliError as exc:
        fail(f"infersight report: {exc}")
        return exc.exit_code
    html_path = Path(args.out).expanduser()
    title = f"Quality evidence report: last {format_duration(args.since)}"
    try:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_evidence_html(evidence, title=title), encoding="utf-8")
    except OSError as exc:
        fail(f"infersight report: cannot write {html_path}: {exc}")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(evidence.to_json(), indent=2, default=str) + "\n")
    out.print(
        f"{len(evidence.sweeps)} sweeps, {len(evidence.regressions)} regressions, "
        f"{len(evidence.alerts)} quality alert episodes → {html_path}",
        markup=False,
    )
    if args.pdf:
        pdf_path = html_path.with_suffix(".pdf")
        problem = print_pdf(html_path, pdf_path)
        if problem is not None:
            fail(f"infersight report: PDF unavailable: {problem} (the HTML is written)")
            return 1
        out.print(f"PDF → {pdf_path}", markup=False)
    return 0
