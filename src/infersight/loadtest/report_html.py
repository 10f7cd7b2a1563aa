"""A self-contained HTML report: one file, charts embedded as PNG data URIs, no scripts."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from typing import Any

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1100px;
color:#1d2330;padding:0 16px}h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:
1px solid #dde;padding-bottom:4px}table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #dde;padding:3px 8px;text-align:right}th{background:#f4f5f9}
td.l,th.l{text-align:left}.bad{color:#b3261e}.ok{color:#1b7a34}.muted{color:#667}
img{max-width:100%;border:1px solid #eee;margin:6px 0}code{background:#f4f5f9;padding:1px 4px}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _num(v: Any, fmt: str = "{:.2f}") -> str:
    if v is None:
        return "–"
    if isinstance(v, int | float):
        return fmt.format(v)
    return _e(v)


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th class=l>{_e(k)}</th><td class=l>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _capacity(report: Mapping[str, Any]) -> str:
    c = report["capacity"]
    ci = c.get("max_goodput_ci95")
    rows = [
        ("capacity point", f"{_e(c['knee_label'])} <span class=muted>({_e(c['basis'])})</span>"),
        ("knee concurrency", _num(c["knee_concurrency"], "{:.1f}")),
        ("mean requests in flight there (Little)", _num(c["knee_mean_concurrency"], "{:.1f}")),
        ("request throughput there", _num(c["knee_request_throughput"]) + " req/s"),
        ("output throughput there", _num(c["knee_output_throughput"], "{:.0f}") + " tokens/s"),
        ("mean E2E there", _num(c["knee_mean_e2e_s"], "{:.3f}") + " s"),
        ("max request throughput", _num(c["max_request_throughput"]) + " req/s"),
        (
            "max goodput",
            _num(c["max_goodput"]) + (f" req/s (95 % CI {ci[0]:.2f}–{ci[1]:.2f})" if ci else ""),
        ),
    ]
    if c.get("target_rate_per_s") is not None:
        rows.append(
            (
                f"replicas for {c['target_rate_per_s']:g} req/s (headroom {c['headroom']:g})",
                f"<b>{_num(c['replicas_needed'], '{}')}</b>",
            )
        )
    if c.get("usd_per_hour") is not None:
        rows.append(("price", f"{c['usd_per_hour']:g} USD/h ({_e(c['price_source'])})"))
        rows.append(
            ("cost per 1M output tokens at the capacity point",
             _num(c["cost_per_1m_output_tokens_usd"], "{:.3f}") + " USD")
        )  # fmt: skip
        if c.get("fleet_usd_per_hour") is not None:
            rows.append(("fleet cost", _num(c["fleet_usd_per_hour"]) + " USD/h"))
    return _kv_table(rows)


def _levels(report: Mapping[str, Any]) -> str:
    head = (
        "<tr><th class=l>level</th><th>done</th><th>failed</th><th>req/s</th><th>goodput/s</th>"
        "<th>tok/s</th><th>in flight</th><th>TTFT p50</th><th>TTFT p95</th><th>TTFT p99</th>"
        "<th>TPOT p50</th><th>ITL p95</th><th>E2E p50</th><th>E2E p95</th><th class=l>notes</th>"
        "</tr>"
    )
    knee = report["capacity"].get("knee_level")
    rows = []
    for lv in report["levels"]:
        notes = lv.get("saturation") or lv.get("stopped") or ""
        errs = ", ".join(f"{k} {v}" for k, v in (lv.get("errors_by_class") or {}).items())
        style = " style='background:#fff6e0'" if lv["index"] == knee else ""
        rows.append(
            f"<tr{style}><td class=l>{_e(lv['label'])}</td><td>{lv['completed']}</td>"
            f"<td class={'bad' if lv['failed'] else 'ok'}>{lv['failed']}</td>"
            f"<td>{_num(lv['request_throughput'])}</td><td>{_num(lv['request_goodput'])}</td>"
            f"<td>{_num(lv['output_throughput'], '{:.0f}')}</td>"
            f"<td>{_num(lv['mean_concurrency'], '{:.1f}')}</td>"
            + "".join(
                f"<td>{_num(lv[k], '{:.1f}')}</td>"
                for k in (
                    "p50_ttft_ms",
                    "p95_ttft_ms",
                    "p99_ttft_ms",
                    "p50_tpot_ms",
                    "p95_itl_ms",
                    "p50_e2el_ms",
                    "p95_e2el_ms",
                )
            )
            + f"<td class=l>{_e(notes)}{'; ' if notes and errs else ''}{_e(errs)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table><p class=muted>times in ms; highlighted: the " \
        "capacity point; p99 only with ≥ 100 samples</p>"  # fmt: skip


def _search(report: Mapping[str, Any]) -> str:
    s = report.get("search")
    if not s:
        return ""
    rows = "".join(
        f"<tr><td>{p['rate']:g}</td><td class={'ok' if p['passed'] else 'bad'}>"
        f"{'pass' if p['passed'] else 'fail'}</td><td class=l>{_e(p['reason'])}</td></tr>"
        for p in s["probes"]
    )
    ci = s.get("goodput_ci95")
    best = s.get("max_rate_meeting_slo")
    text = (
        f"<p>Highest rate meeting the SLOs: <b>{_num(best, '{:g}')} req/s</b>; goodput there "
        f"{_num(s.get('goodput'))} req/s"
        + (f" (95 % CI {ci[0]:.2f}–{ci[1]:.2f})" if ci else "")
        + f". {_e(s.get('finished'))}</p>"
    )
    return (
        "<h2>SLO search</h2>" + text
        + f"<table><tr><th>rate/s</th><th>verdict</th><th class=l>why</th></tr>{rows}</table>"
    )  # fmt: skip


def render_html(report: Mapping[str, Any], charts: Mapping[str, bytes]) -> str:
    status = report["status"]
    title = f"infersight loadtest · {report.get('model_id')} · {report['date']}"
    meta = [
        ("endpoint", _e(report["base_url"])),
        ("model", _e(report.get("model_id"))),
        ("profile", _e(report["profile"])),
        ("status", f"<span class={'ok' if status == 'completed' else 'bad'}>{_e(status)}</span>"
                   + (f" – {_e(report['stop_reason'])}" if report.get("stop_reason") else "")),
        ("workload", _e(", ".join(f"{k}={v}" for k, v in report["workload"].items()))),
        ("SLO", _e(report["config"].get("slo"))),
    ]  # fmt: skip
    imgs = "".join(
        f"<img alt='{_e(name)}' src='data:image/png;base64,"
        f"{base64.b64encode(png).decode('ascii')}'>"
        for name, png in charts.items()
    )
    problems = report["server_metrics"].get("problems") or {}
    notes = list(report["preflight"].get("notes") or []) + [
        f"server capture ({k}): {v}" for k, v in problems.items()
    ]
    notes_html = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>{_kv_table(meta)}"
        f"<h2>Capacity</h2>{_capacity(report)}{_search(report)}"
        f"<h2>Levels</h2>{_levels(report)}<h2>Charts</h2>{imgs or '<p>no data</p>'}"
        + (f"<h2>Notes</h2><ul>{notes_html}</ul>" if notes else "")
        + "</body></html>"
    )
