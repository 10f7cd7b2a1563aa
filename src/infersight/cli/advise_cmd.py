"""`infersight advise`: right-size, scaling and saturation advice from the last N days.

    infersight advise --days 7 --config infersight.yaml
    infersight advise --db infersight.db --json

Exit codes: 0 (advice or none, including "not enough evidence yet"); 1 no database; 2 bad
arguments or config.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Final

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from infersight.advisor import AdviceReport, UpstreamAdvice, advice_report
from infersight.cli._common import (
    CliError,
    add_config_option,
    fail,
    opened_store,
    settings_from_args,
)
from infersight.cli._durations import format_duration
from infersight.clock import SystemClock
from infersight.core.advice import Advice, Evidence
from infersight.core.clock import Clock

CLOCK: Clock = SystemClock()  # tests replace it with a FakeClock
DEFAULT_DAYS: Final = 7.0
SEVERITY_STYLE: Final = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
NO_DATABASE_HINT: Final = (
    "Run infersight (`infersight run --config FILE`) for a while so the collectors and the "
    "gateway record data, or point --db / --config at an existing store."
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "advise",
        help="right-size, scaling and saturation advice from the recorded metrics",
        description="Judge the last N days of GPU, engine and request metrics against each "
        "upstream's pricing: smaller instances, fewer or more replicas, growing queues, full "
        "KV caches. Every piece of advice lists the numbers it stands on.",
    )
    p.add_argument(
        "--days",
        type=_days_arg,
        default=DEFAULT_DAYS,
        metavar="N",
        help=f"how many days to look back (default: {DEFAULT_DAYS:g})",
    )
    add_config_option(p)
    p.add_argument("--db", metavar="PATH", help="SQLite database file; overrides store.path")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args, db_path=args.db)
        with opened_store(settings.store, hint=NO_DATABASE_HINT) as store:
            report = advice_report(store, settings, now=CLOCK.now(), days=args.days)
    except CliError as exc:
        return fail(str(exc), exit_code=exc.exit_code)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        Console(highlight=False).print(render_report(report))
    return 0


def _days_arg(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not (math.isfinite(days) and days > 0):
        raise argparse.ArgumentTypeError(f"invalid --days {text!r}: expected a number > 0, e.g. 7")
    return days


# -- rendering ---------------------------------------------------------------------------------


def render_report(report: AdviceReport) -> RenderableType:
    """The whole report: one block per upstream, then the total saving."""
    window = format_duration(report.window_s)
    parts: list[RenderableType] = [Text(f"infersight advise · last {window}", style="bold")]
    if not report.has_evidence:
        parts.append(_no_evidence(report))
        return Group(*parts)
    for u in report.upstreams:
        parts.append(Text(""))
        parts.extend(_upstream(u))
    saving = report.projected_saving_usd_per_month
    if saving > 0:
        parts.append(Text(""))
        parts.append(
            Text(
                f"projected saving: up to {_usd(saving)}/month (per upstream the largest "
                "saving above; its alternatives do not add up)",
                style="bold green",
            )
        )
    return Group(*parts)


def _no_evidence(report: AdviceReport) -> RenderableType:
    lines = [
        f"Not enough evidence yet: nothing was measured for any upstream in the last "
        f"{format_duration(report.window_s)}. Advice needs GPU metrics (NVML or a DCGM "
        "exporter), engine metrics (engine_metrics_url), requests through the gateway and "
        "pricing. To configure:"
    ]
    for u in report.upstreams:
        lines.append(f"\n{u.upstream}:")
        lines.extend(f"  - {m}" for m in u.missing)
    return Text("\n".join(lines))


def _upstream(u: UpstreamAdvice) -> list[RenderableType]:
    out: list[RenderableType] = [Text(f"upstream {u.upstream}", style="bold underline")]
    if not u.advice:
        verdict = (
            "no advice: what was measured looks right-sized"
            if u.has_evidence
            else "no advice: nothing measured for this upstream"
        )
        out.append(Text(verdict, style="green" if u.has_evidence else "dim"))
    out.extend(_advice(a) for a in u.advice)
    if u.missing:
        out.append(Text("not measured / not configured:", style="dim"))
        out.extend(Text(f"  - {m}", style="dim") for m in u.missing)
    return out


def _advice(a: Advice) -> RenderableType:
    style = SEVERITY_STYLE.get(a.severity, "white")
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("series", style="dim")
    table.add_column("window")
    table.add_column("value", justify="right")
    table.add_column("what")
    for ev in a.evidence:
        table.add_row(Text(ev.series), _window(ev), _value(ev), Text(ev.description))
    body: list[RenderableType] = [Text(a.detail), Text(""), table]
    if a.projected_saving_usd_per_month is not None:
        body.append(
            Text(f"projected saving: {_usd(a.projected_saving_usd_per_month)}/month", "green")
        )
    title = Text.assemble((f"{a.severity.upper()} ", style), (a.title, "bold"))
    return Panel(Group(*body), title=title, title_align="left", border_style=style)


def _window(ev: Evidence) -> str:
    return "config" if ev.window_s <= 0 else format_duration(ev.window_s)


def _value(ev: Evidence) -> str:
    v = ev.value
    if "ratio" in ev.series or "/ capacity" in ev.series:
        return f"{v * 100:.1f} %"
    if ev.series.startswith("engine_requests_waiting"):
        return f"{v:+.3g} req/h"
    if ev.series.startswith("requests_per_s"):
        return f"{v:.3g} req/s"
    if ev.series.startswith("e2e_seconds"):
        return f"{v:.3g} s"
    if ev.series.endswith("usd_per_hour"):
        return f"{v:g} USD/h"
    return f"{v:g}"


def _usd(value: float) -> str:
    return f"{value:,.0f} USD"
