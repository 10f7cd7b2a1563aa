"""Self-contained HTML quality reports: one file, inline SVG charts, no scripts, printable.

* `render_sweep_html`: one sweep (the eval command's report): aggregates with intervals per
  tag, the comparison with the previous sweep and its regressed items, every item with its
  answer and verdicts, scorer versions and thresholds.
* `render_evidence_html`: a period, for reviewers and auditors: sweep history per dataset and
  tag with intervals, regressions, quality alerts and how they ended, live sampling, scorer
  versions and thresholds, and how the numbers are computed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from infersight import __version__
from infersight.quality.evidence import Evidence
from infersight.quality.report_svg import Point, interval_chart, time_chart
from infersight.quality.results import ALL, FAILURE, METRICS

RATES: Final = {m for m, (_, how) in METRICS.items() if how != "mean"} | {FAILURE}
ORDER: Final = (*METRICS, FAILURE)
CHARTED: Final = (
    "accuracy",
    "relevance",
    "consistency",
    "toxicity_rate",
    "hallucination_rate",
    "failure_rate",
)
_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1100px;
color:#1d2330;padding:0 16px}h1{font-size:22px}h2{font-size:17px;margin-top:30px;border-bottom:
1px solid #dde;padding-bottom:4px}h3{font-size:15px;margin-top:20px}table{border-collapse:collapse;
margin:8px 0;font-size:13px}td,th{border:1px solid #dde;padding:3px 8px;text-align:right;
vertical-align:top}th{background:#f4f5f9}td.l,th.l{text-align:left}.bad{color:#b3261e;
font-weight:600}.ok{color:#1b7a34}.muted{color:#667}svg{max-width:100%;margin:6px 0}
code{background:#f4f5f9;padding:1px 4px}td.text{text-align:left;max-width:420px;
overflow-wrap:anywhere}@media print{h2{break-after:avoid}table,svg{break-inside:avoid}}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _when(ts: float | None) -> str:
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_metric(metric: str, est: Mapping[str, Any] | None) -> str:
    if not est:
        return "–"
    if metric in RATES:
        return f"{est['value']:.1%} <span class=muted>[{est['low']:.1%}, {est['high']:.1%}]</span>"
    return f"{est['value']:.3f} <span class=muted>[{est['low']:.3f}, {est['high']:.3f}]</span>"


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
        f"<style>{_CSS}</style></head><body>{body}<p class=muted>infersight {__version__}, "
        "generated " + _e(_when(datetime.now(UTC).timestamp())) + "</p></body></html>\n"
    )


def _metrics_of(groups: Sequence[Mapping[str, Any]]) -> list[str]:
    present = {m for g in groups for m in g.get("metrics", {})}
    return [m for m in ORDER if m in present] + sorted(present - set(ORDER))


def groups_table(groups: Sequence[Mapping[str, Any]]) -> str:
    metrics = _metrics_of(groups)
    head = "<tr><th class=l>tag</th><th>items</th>" + "".join(f"<th>{_e(m)}</th>" for m in metrics)
    rows = []
    for g in groups:
        items = f"{g['items']}" + (f" ({g['failed']} failed)" if g.get("failed") else "")
        cells = "".join(f"<td>{fmt_metric(m, g['metrics'].get(m))}</td>" for m in metrics)
        rows.append(f"<tr><td class=l>{_e(g['tag'])}</td><td>{items}</td>{cells}</tr>")
    return f"<table>{head}</tr>{''.join(rows)}</table>"


def comparison_table(comparisons: Mapping[str, Mapping[str, Any]]) -> str:
    head = (
        "<tr><th class=l>scorer</th><th>pairs</th><th>pass-rate change</th><th>95 % CI</th>"
        "<th>p</th><th>test</th><th class=l>verdict</th><th>items worse</th></tr>"
    )
    rows = []
    for scorer, c in sorted(comparisons.items()):
        verdict = (
            "<span class=bad>regressed</span>"
            if c["regressed"]
            else ("improved" if c["significant"] else "no significant change")
        )
        rows.append(
            f"<tr><td class=l>{_e(scorer)}</td><td>{c['n_pairs']}</td><td>{c['delta']:+.1%}</td>"
            f"<td>[{c['ci']['low']:+.1%}, {c['ci']['high']:+.1%}]</td><td>{c['p_value']:.3g}</td>"
            f"<td>{_e(c['method'])} (α {c['alpha']:g})</td><td class=l>{verdict}</td>"
            f"<td>{len(c['regressed_items'])}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def scorers_table(scorers: Sequence[Mapping[str, Any]], *, history: bool = False) -> str:
    head = "<tr><th class=l>scorer</th><th class=l>version</th><th>threshold</th><th>direction</th>"
    head += (
        "<th>sweeps</th><th class=l>first used</th><th class=l>last used</th>" if history else ""
    )
    rows = []
    for s in scorers:
        direction = "higher is better" if s.get("higher_is_better") else "higher is worse"
        extra = (
            f"<td>{s.get('sweeps')}</td><td class=l>{_when(s.get('first_used'))}</td>"
            f"<td class=l>{_when(s.get('last_used'))}</td>"
            if history
            else ""
        )
        rows.append(
            f"<tr><td class=l>{_e(s['name'])}</td><td class=l><code>{_e(s.get('version'))}</code>"
            f"</td><td>{_e(s.get('threshold'))}</td><td>{direction}</td>{extra}</tr>"
        )
    return f"<table>{head}</tr>{''.join(rows)}</table>"


def _verdicts(scores: Mapping[str, Mapping[str, Any]]) -> str:
    parts = []
    for name, s in sorted(scores.items()):
        if s.get("error"):
            parts.append(f"{_e(name)}: <span class=muted>error</span>")
            continue
        cls = "ok" if s.get("passed") else "bad" if s.get("passed") is False else ""
        parts.append(
            f'<span title="{_e(s.get("reason"))}">{_e(name)}: '
            f"<span class={cls}>{_e(s.get('verdict'))}</span> {s.get('score', 0):.2f}</span>"
        )
    return "<br>".join(parts)


def items_table(items: Sequence[Mapping[str, Any]]) -> str:
    head = (
        "<tr><th class=l>item</th><th class=l>question</th><th class=l>reference</th>"
        "<th class=l>answer</th><th class=l>verdicts (hover: reason)</th></tr>"
    )
    rows = []
    for it in items:
        answer = (
            f"<span class=bad>failed: {_e(it.get('error'))}</span>"
            if it.get("status") == "failed"
            else _e(it.get("answer"))
        )
        rows.append(
            f"<tr><td class=l>{_e(it['id'])}<br><span class=muted>{_e(', '.join(it['tags']))}"
            f"</span></td><td class=text>{_e(it['question'])}</td><td class=text>"
            f"{_e(' | '.join(it.get('references', [])))}</td><td class=text>{answer}</td>"
            f"<td class=l>{_verdicts(it.get('scores', {}))}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def regressed_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = (
        "<tr><th class=l>item</th><th class=l>question</th><th class=l>answer before</th>"
        "<th class=l>answer now</th><th class=l>why it fails now</th></tr>"
    )
    body = "".join(
        f"<tr><td class=l>{_e(r['id'])}</td><td class=text>{_e(r['question'])}</td>"
        f"<td class=text>{_e(r.get('before'))}</td><td class=text>{_e(r.get('now'))}</td>"
        f"<td class=text>{_e(r.get('reason'))}</td></tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def _interval_rows(
    groups: Sequence[Mapping[str, Any]], metric: str
) -> list[tuple[str, float, float, float]]:
    out = []
    for g in groups:
        est = g.get("metrics", {}).get(metric)
        if est:
            out.append((str(g["tag"]), est["value"], est["low"], est["high"]))
    return out


# -- one sweep ------------------------------------------------------------------------------------


def render_sweep_html(
    report: Mapping[str, Any],
    previous_items: Mapping[str, Mapping[str, Any]] | None = None,
    previous_summary: Mapping[str, Any] | None = None,
) -> str:
    """`report`: SweepReport.to_json(); `previous_items`: the previous sweep's items by id."""
    title = f"Quality sweep {report['dataset']} · {report['model']}"
    duration = report["finished_at"] - report["started_at"]
    facts = [
        ("sweep", f"<code>{_e(report['id'])}</code> ({_e(report['name'])})"),
        ("dataset", _e(report["dataset"])),
        ("model / endpoint", f"{_e(report['model'])} at <code>{_e(report['endpoint'])}</code>"),
        ("started", f"{_when(report['started_at'])} ({duration:.1f} s)"),
        ("items", f"{report['items']} ({report['failed']} failed, left out of scores)"),
    ]
    body = [f"<h1>{_e(title)}</h1><table>"]
    body += [f"<tr><th class=l>{k}</th><td class=l>{v}</td></tr>" for k, v in facts]
    body.append("</table>")
    body += [f"<p class=muted>note: {_e(n)}</p>" for n in report.get("notes", [])]
    body.append("<h2>Results</h2>" + groups_table(report["groups"]))
    chart = interval_chart(_interval_rows(report["groups"], "accuracy"), title="accuracy by tag")
    if chart:
        body.append("<h3>Accuracy by tag (95 % intervals)</h3>" + chart)
    body.append("<h2>Against the previous sweep</h2>")
    if not report.get("previous_sweep"):
        body.append("<p>No previous sweep of this dataset: this sweep is the baseline.</p>")
    else:
        when = _when(previous_summary["started_at"]) if previous_summary else ""
        body.append(f"<p>Previous sweep <code>{_e(report['previous_sweep'])}</code> {when}.</p>")
        body.append(comparison_table(report.get("comparisons", {})))
        by_id = {it["id"]: it for it in report.get("item_results", [])}
        for scorer, c in sorted(report.get("comparisons", {}).items()):
            if not c["regressed_items"]:
                continue
            rows = []
            for item_id in c["regressed_items"]:
                cur = by_id.get(item_id, {})
                rows.append(
                    {
                        "id": item_id,
                        "question": cur.get("question", ""),
                        "before": (previous_items or {}).get(item_id, {}).get("answer"),
                        "now": cur.get("answer"),
                        "reason": cur.get("scores", {}).get(scorer, {}).get("reason", ""),
                    }
                )
            label = "regressed" if c["regressed"] else "worse (not significant)"
            body.append(f"<h3>{_e(scorer)}: {len(rows)} items {label}</h3>")
            body.append(regressed_table(rows))
    body.append("<h2>Scorers</h2>" + scorers_table(report.get("scorers", [])))
    body.append("<h2>Items</h2>" + items_table(report.get("item_results", [])))
    return _page(title, "".join(body))


# -- a period ------------------------------------------------------------------------------------


def _history_chart(sweeps: Sequence[Mapping[str, Any]], tag: str) -> str:
    series = []
    for metric in CHARTED:
        points = []
        for s in sweeps:
            group = next((g for g in s.get("groups", []) if g["tag"] == tag), None)
            est = group["metrics"].get(metric) if group else None
            if est:
                points.append(Point(s["started_at"], est["value"], est["low"], est["high"]))
        if points:
            series.append((metric, points))
    return time_chart(series, title=f"scores over time ({tag})")


def _history_table(sweeps: Sequence[Mapping[str, Any]], tag: str) -> str:
    groups = [next((g for g in s.get("groups", []) if g["tag"] == tag), None) for s in sweeps]
    metrics = _metrics_of([g for g in groups if g])
    head = (
        "<tr><th class=l>started</th><th class=l>model</th><th>items</th>"
        + "".join(f"<th>{_e(m)}</th>" for m in metrics)
        + "<th class=l>vs previous</th></tr>"
    )
    rows = []
    for s, g in zip(sweeps, groups, strict=True):
        if g is None:
            continue
        regressed = [k for k, c in s.get("comparisons", {}).items() if c.get("regressed")]
        verdict = (
            f"<span class=bad>regressed: {_e(', '.join(regressed))}</span>"
            if regressed
            else ("no significant regression" if s.get("comparisons") else "baseline")
        )
        cells = "".join(f"<td>{fmt_metric(m, g['metrics'].get(m))}</td>" for m in metrics)
        items = f"{g['items']}" + (f" ({g['failed']} failed)" if g.get("failed") else "")
        rows.append(
            f"<tr><td class=l>{_when(s['started_at'])}</td><td class=l>{_e(s['model'])}</td>"
            f"<td>{items}</td>{cells}<td class=l>{verdict if tag == ALL else ''}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _alerts_section(ev: Evidence) -> str:
    rules = ", ".join(
        f"<code>{_e(r['name'])}</code> ({_e(r.get('metric', ''))} {_e(r.get('comparison', '>'))} "
        f"{_e(r.get('threshold'))})"
        for r in ev.quality_rules
    )
    out = [f"<p>Quality rules: {rules or '<span class=muted>none configured</span>'}.</p>"]
    if not ev.alerts:
        out.append("<p>No quality alert fired in this period.</p>")
    else:
        head = (
            "<tr><th class=l>rule</th><th class=l>instance</th><th class=l>fired</th>"
            "<th>value</th><th class=l>why</th><th class=l>notifications</th>"
            "<th class=l>resolution</th></tr>"
        )
        rows = "".join(
            f"<tr><td class=l>{_e(a.rule)}</td><td class=l>{_e(a.instance)}</td>"
            f"<td class=l>{_when(a.fired_at)}</td><td>{_e(a.value)}</td>"
            f"<td class=text>{_e(a.reason)}</td><td class=text>"
            f"{'<br>'.join(map(_e, a.notifications + a.failures)) or '–'}</td>"
            f"<td class=text>{_e(a.resolution)}</td></tr>"
            for a in ev.alerts
        )
        out.append(f"<table>{head}{rows}</table>")
    for s in ev.silences:
        out.append(f"<p class=muted>{_when(s['at'])} {_e(s['rule'])}: {_e(s['message'])}</p>")
    return "".join(out)


def _live_section(ev: Evidence) -> str:
    if not ev.live:
        return "<p>No live-traffic quality samples in this period (quality.sampler is off).</p>"
    head = (
        "<tr><th class=l>series</th><th class=l>labels</th><th>mean</th><th>min</th>"
        "<th>max</th></tr>"
    )
    rows = "".join(
        f"<tr><td class=l>{_e(name)}</td><td class=l>{_e(r['labels'])}</td>"
        f"<td>{r['mean']:.3f}</td><td>{r['min']:.3f}</td><td>{r['max']:.3f}</td></tr>"
        for name, rs in sorted(ev.live.items())
        for r in rs
    )
    return f"<table>{head}{rows}</table>"


METHOD: Final = (
    "<p>Each sweep asks the endpoint every dataset item (requests tagged as sweep traffic). "
    "Items the endpoint did not answer count only in the failure rate. Rates (accuracy, "
    "toxicity, hallucination, failure) carry 95 % Wilson score intervals; mean scores "
    "(relevance, consistency) 95 % percentile-bootstrap intervals (2000 resamples, seeded). "
    "A sweep is compared with the previous sweep of the same dataset over the items both "
    "scored: exact McNemar test on the items whose pass/fail verdict flipped, with a paired "
    "bootstrap interval of the pass-rate change; 'regressed' means significant at the sweep's "
    "α and worse. Scorer versions are the infersight version plus a fingerprint of the "
    "scorer's code.</p>"
)


def render_evidence_html(ev: Evidence, *, title: str = "Quality evidence report") -> str:
    sweeps = ev.sweeps
    regressed = sum(
        1 for s in sweeps if any(c.get("regressed") for c in s.get("comparisons", {}).values())
    )
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p>Period {_when(ev.start)} – {_when(ev.end)}: {len(sweeps)} sweeps of "
        f"{len(ev.datasets())} dataset(s), {regressed} with a significant regression, "
        f"{len(ev.alerts)} quality alert episode(s).</p>",
        "<h2>Sweep history</h2>",
    ]
    if not sweeps:
        body.append("<p>No sweeps in this period.</p>")
    for dataset in ev.datasets():
        runs = [s for s in sweeps if s["dataset"] == dataset]
        body.append(f"<h3>Dataset {_e(dataset)} ({len(runs)} sweeps)</h3>")
        body.append(_history_chart(runs, ALL))
        body.append(_history_table(runs, ALL))
        tags = sorted({g["tag"] for s in runs for g in s.get("groups", [])} - {ALL})
        if tags:
            latest = runs[-1]
            body.append(f"<p>Per tag, latest sweep ({_when(latest['started_at'])}):</p>")
            body.append(groups_table(latest.get("groups", [])))
            for tag in tags:
                body.append(f"<details><summary>tag {_e(tag)} over time</summary>")
                body.append(_history_chart(runs, tag) + _history_table(runs, tag) + "</details>")
    body.append("<h2>Regressions</h2>")
    if not ev.regressions:
        body.append("<p>No significant regression in this period.</p>")
    for r in ev.regressions:
        s, c = r["sweep"], r["comparison"]
        body.append(
            f"<h3>{_e(s['dataset'])} · {_e(r['scorer'])} · {_when(s['started_at'])} "
            f"({_e(s['model'])})</h3><p>pass rate {c['delta']:+.1%} "
            f"[{c['ci']['low']:+.1%}, {c['ci']['high']:+.1%}], p = {c['p_value']:.3g} "
            f"({_e(c['method'])}), {len(c['regressed_items'])} items worse.</p>"
        )
        body.append(regressed_table(r["items"]))
    body.append("<h2>Quality alerts</h2>" + _alerts_section(ev))
    body.append("<h2>Live traffic sampling</h2>" + _live_section(ev))
    body.append("<h2>Scorers and thresholds</h2>")
    body.append(scorers_table(ev.scorers, history=True) if ev.scorers else "<p>–</p>")
    body.append("<h2>Method</h2>" + METHOD)
    return _page(title, "".join(body))


__all__ = ["render_evidence_html", "render_sweep_html"]
