"""How `infersight eval` prints a sweep: aggregates with intervals, the comparison with the
previous sweep and the items that regressed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infersight.quality.results import FAILURE, METRICS, Estimate, SweepReport

RATE_METRICS: Final = {m for m, (_, how) in METRICS.items() if how != "mean"} | {FAILURE}
MAX_LISTED: Final = 15


def fail(message: str) -> int:
    """The error on stderr, never wrapped or read as markup (file:line problems stay whole
    lines); returns the usage-error exit status 2."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}"
    )
    return 2


def fmt_estimate(metric: str, est: Estimate | None) -> str:
    if est is None:
        return "-"
    if metric in RATE_METRICS:
        return f"{est.value:.1%} [{est.low:.1%}, {est.high:.1%}]"
    return f"{est.value:.3f} [{est.low:.3f}, {est.high:.3f}]"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def results_table(report: SweepReport) -> Table:
    metrics = [m for m in (*METRICS, FAILURE) if any(m in g.metrics for g in report.groups)]
    metrics += sorted({m for g in report.groups for m in g.metrics} - set(metrics))
    table = Table(
        title=f"{report.dataset} · {report.model} · {len(report.results)} items · "
        f"{report.finished_at - report.started_at:.1f} s",
        caption="95 % intervals: Wilson for rates, bootstrap for mean scores",
    )
    table.add_column("tag")
    table.add_column("items", justify="right")
    for m in metrics:
        table.add_column(m, justify="right")
    for g in report.groups:
        table.add_row(
            g.tag,
            f"{g.items}" + (f" ({g.failed} failed)" if g.failed else ""),
            *(fmt_estimate(m, g.metrics.get(m)) for m in metrics),
        )
    return table


def comparison_table(report: SweepReport) -> Table:
    table = Table(title=f"against the previous sweep {report.previous_id}")
    for name in ("scorer", "pairs", "pass-rate change", "95 % CI", "p", "verdict", "worse items"):
        table.add_column(name, justify="left" if name in ("scorer", "verdict") else "right")
    for scorer, c in sorted(report.comparisons.items()):
        verdict = (
            "[bold red]REGRESSED[/]"
            if c.regressed
            else ("improved" if c.significant else "no significant change")
        )
        table.add_row(
            scorer,
            str(c.n_pairs),
            f"{c.delta:+.1%}",
            f"[{c.ci.low:+.1%}, {c.ci.high:+.1%}]",
            f"{c.p_value:.3g}",
            verdict,
            str(len(c.regressed_items)),
        )
    return table


def regressed_lines(
    report: SweepReport, previous: Mapping[str, Mapping[str, Any]], scorer: str
) -> list[str]:
    """One paragraph per item that went from pass to fail on `scorer`."""
    c = report.comparisons.get(scorer)
    if c is None:
        return []
    by_id = {r.item.id: r for r in report.results}
    out: list[str] = []
    for item_id in c.regressed_items[:MAX_LISTED]:
        cur = by_id.get(item_id)
        before = previous.get(item_id, {})
        if cur is None:
            continue
        reason = cur.scores[scorer].reason if scorer in cur.scores else ""
        out.append(
            f"  {item_id}: {cur.item.question}\n"
            f"    before: {_clip(before.get('answer'))}\n"
            f"    now:    {_clip(cur.answer.text)}\n"
            f"    why:    {reason}"
        )
    if len(c.regressed_items) > MAX_LISTED:
        out.append(f"  ... and {len(c.regressed_items) - MAX_LISTED} more (see the reports)")
    return out


def _clip(text: object, limit: int = 160) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def print_report(
    out: Console,
    report: SweepReport,
    previous: Mapping[str, Mapping[str, Any]],
    paths: Sequence[Path],
    db: str,
) -> None:
    out.print(results_table(report))
    for note in report.notes:
        out.print(f"note: {note}", markup=False)
    if report.previous_id is None:
        out.print("no previous sweep of this dataset in the store: this one is the baseline")
    elif report.comparisons:
        out.print(comparison_table(report))
        for scorer, c in sorted(report.comparisons.items()):
            if c.regressed_items:
                title = "regressed" if c.regressed else "worse (not significant)"
                out.print(f"{scorer}: {len(c.regressed_items)} items {title}:", markup=False)
                for line in regressed_lines(report, previous, scorer):
                    out.print(line, markup=False)
    else:
        out.print(f"the previous sweep {report.previous_id} shares no scored items with this one")
    out.print(
        f"sweep {report.id} stored in {db} ({_when(report.started_at)})"
        + "".join(f"\nreport: {p}" for p in paths),
        markup=False,
    )
