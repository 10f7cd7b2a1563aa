"""A Grafana dashboard (JSON model) over the gateway's /metrics, for `infersight export grafana`.

Import it in Grafana (Dashboards → New → Import): the Prometheus data source is an import input
(`${DS_PROMETHEUS}`), and the `model` and `upstream` variables filter every request, engine
and cost panel. Rows: serving (TTFT, ITL, TPOT, E2E p50/p95/p99 from the histograms, request
and error rates, in-flight, tokens/s), GPU, engine, cost, quality and alerts (the ALERTS series
of the rules `infersight export prometheus-rules` writes). Grafana itself is not needed to
build it: the model is plain data, and every expression is valid PromQL once Grafana's
variables are substituted (`example_expr`), which the tests check with promtool.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

DS_INPUT: Final = "DS_PROMETHEUS"
DATASOURCE: Final = {"type": "prometheus", "uid": "${" + DS_INPUT + "}"}
REQ: Final = 'model=~"$model",upstream=~"$upstream"'  # request and engine series
UP: Final = 'upstream=~"$upstream"'  # series labelled by upstream only
RI: Final = "$__rate_interval"
COLUMNS: Final = 24  # Grafana's grid width
UID: Final = "infersight-overview"
# Grafana's variables, as a PromQL-valid stand-in each (for checking the expressions).
EXAMPLE_VALUES: Final = {"$__rate_interval": "5m", "$model": ".*", "$upstream": ".*"}


@dataclass(frozen=True, slots=True)
class Target:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    unit: str
    targets: tuple[Target, ...]
    kind: str = "timeseries"  # timeseries, stat or table
    description: str = ""
    width: int = 8
    height: int = 8
    max_value: float | None = None


@dataclass(frozen=True, slots=True)
class Row:
    title: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def _quantiles(metric: str) -> tuple[Target, ...]:
    return tuple(
        Target(
            f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{REQ}}}[{RI}])))",
            f"p{round(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    )


def _latency(title: str, metric: str, description: str) -> Panel:
    return Panel(title, "s", _quantiles(metric), description=description, width=6)


ROWS: Final[tuple[Row, ...]] = (
    Row(
        "Serving",
        (
            _latency("TTFT", "infersight_ttft_seconds", "Time to first token, p50/p95/p99."),
            _latency(
                "ITL",
                "infersight_inter_token_latency_seconds",
                "Inter-token latency: every gap between output tokens.",
            ),
            _latency(
                "TPOT",
                "infersight_tpot_seconds",
                "Time per output token after the first: (E2E - TTFT) / (tokens - 1).",
            ),
            _latency("E2E latency", "infersight_e2e_request_latency_seconds", "Whole requests."),
            Panel(
                "Requests/s by model",
                "reqps",
                (
                    Target(
                        f"sum by (model) (rate(infersight_requests_total{{{REQ}}}[{RI}]))",
                        "{{model}}",
                    ),
                ),
            ),
            Panel(
                "Errors/s by class",
                "reqps",
                (
                    Target(
                        "sum by (error_class) "
                        f"(rate(infersight_request_errors_total{{{REQ}}}[{RI}]))",
                        "{{error_class}}",
                    ),
                ),
            ),
            Panel(
                "Error ratio",
                "percentunit",
                (
                    Target(
                        f"sum(rate(infersight_request_errors_total{{{REQ}}}[{RI}])) / "
                        f"sum(rate(infersight_requests_total{{{REQ}}}[{RI}]))",
                        "errors / requests",
                    ),
                ),
            ),
            Panel(
                "Requests in flight",
                "short",
                (
                    Target(
                        f"sum by (upstream) (infersight_requests_in_flight{{{UP}}})", "{{upstream}}"
                    ),
                ),
            ),
            Panel(
                "Tokens/s",
                "short",
                (
                    Target(
                        f"sum by (model) (rate(infersight_completion_tokens_total{{{REQ}}}[{RI}]))",
                        "{{model}} output",
                    ),
                    Target(
                        f"sum by (model) (rate(infersight_prompt_tokens_total{{{REQ}}}[{RI}]))",
                        "{{model}} prompt",
                    ),
                ),
            ),
        ),
    ),
    Row(
        "GPU",
        (
            Panel(
                "GPU utilisation",
                "percentunit",
                (Target("infersight_gpu_utilization_ratio", "{{instance}} gpu {{gpu}}"),),
                max_value=1.0,
            ),
            Panel(
                "GPU memory used",
                "percentunit",
                (
                    Target(
                        "infersight_gpu_memory_used_bytes / infersight_gpu_memory_total_bytes",
                        "{{instance}} gpu {{gpu}}",
                    ),
                ),
                max_value=1.0,
            ),
            Panel(
                "GPU power",
                "watt",
                (Target("infersight_gpu_power_watts", "{{instance}} gpu {{gpu}}"),),
            ),
        ),
    ),
    Row(
        "Engine",
        (
            Panel(
                "KV cache usage",
                "percentunit",
                (
                    Target(
                        "max by (upstream, model) "
                        f"(infersight_engine_kv_cache_usage_ratio{{{REQ}}})",
                        "{{upstream}} {{model}}",
                    ),
                ),
                max_value=1.0,
            ),
            Panel(
                "Requests running / waiting",
                "short",
                (
                    Target(
                        f"sum by (upstream) (infersight_engine_requests_running{{{REQ}}})",
                        "{{upstream}} running",
                    ),
                    Target(
                        f"sum by (upstream) (infersight_engine_requests_waiting{{{REQ}}})",
                        "{{upstream}} waiting",
                    ),
                ),
            ),
            Panel(
                "Preemptions/s",
                "short",
                (
                    Target(
                        "sum by (upstream) "
                        f"(rate(infersight_engine_preemptions_total{{{REQ}}}[{RI}]))",
                        "{{upstream}}",
                    ),
                ),
            ),
        ),
    ),
    Row(
        "Cost",
        (
            Panel(
                "Cost $/h",
                "currencyUSD",
                (
                    Target(
                        f"sum by (upstream) (infersight_cost_usd_per_hour{{{UP}}})", "{{upstream}}"
                    ),
                    Target(
                        f"sum by (upstream) (infersight_cost_idle_usd_per_hour{{{UP}}})",
                        "{{upstream}} idle",
                    ),
                ),
                description="Idle: the $/h spent while GPUs are under the idle threshold.",
            ),
            Panel(
                "$ per 1M output tokens",
                "currencyUSD",
                (Target(f"infersight_cost_usd_per_1m_output_tokens{{{UP}}}", "{{upstream}}"),),
            ),
            Panel(
                "Projected this month",
                "currencyUSD",
                (Target(f"sum(infersight_cost_projected_month_usd{{{UP}}})", "projected"),),
                kind="stat",
                width=4,
            ),
            Panel(
                "Spent this month",
                "currencyUSD",
                (Target(f"sum(infersight_cost_spent_month_usd{{{UP}}})", "spent"),),
                kind="stat",
                width=4,
            ),
        ),
    ),
    Row(
        "Quality",
        (
            Panel(
                "Accuracy by dataset",
                "percentunit",
                (
                    Target(
                        'infersight_quality_accuracy{model=~"$model",tag="all"}',
                        "{{dataset}} {{model}}",
                    ),
                ),
                description="Latest quality sweep per dataset and model.",
                max_value=1.0,
            ),
            Panel(
                "Toxic / hallucinated answers",
                "percentunit",
                (
                    Target(
                        'infersight_quality_toxicity_rate{model=~"$model",tag="all"}',
                        "toxic {{dataset}} {{model}}",
                    ),
                    Target(
                        'infersight_quality_hallucination_rate{model=~"$model",tag="all"}',
                        "hallucinated {{dataset}} {{model}}",
                    ),
                ),
                max_value=1.0,
            ),
            Panel(
                "Live traffic scores",
                "short",
                (
                    Target("infersight_quality_live_relevance", "relevance {{model}}"),
                    Target("infersight_quality_live_refusal_rate", "refusals {{model}}"),
                ),
                description="Scores of sampled live answers (online sampler).",
            ),
        ),
    ),
    Row(
        "Alerts",
        (
            Panel(
                "Alerts firing",
                "short",
                (Target('count(ALERTS{alertstate="firing"}) or vector(0)', "firing"),),
                kind="stat",
                width=4,
            ),
            Panel(
                "Firing now",
                "short",
                (Target('ALERTS{alertstate="firing"}', instant=True),),
                kind="table",
                width=12,
                description="Rules from `infersight export prometheus-rules`.",
            ),
            Panel(
                "SLO error ratios",
                "percentunit",
                (Target('{__name__=~"infersight_slo:.+"}', "{{__name__}}"),),
                description="Recorded error ratio of each SLO burn window.",
            ),
        ),
    ),
)


def _variable(name: str, label: str) -> dict[str, Any]:
    query = f"label_values(infersight_requests_total, {name})"
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "refresh": 2,  # on time range change
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
        "options": [],
    }


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit, "min": 0}
    if panel.max_value is not None:
        defaults["max"] = panel.max_value
    targets = []
    for i, t in enumerate(panel.targets):
        target: dict[str, Any] = {
            "refId": chr(ord("A") + i),
            "datasource": DATASOURCE,
            "expr": t.expr,
            "legendFormat": t.legend,
            "range": not t.instant,
            "instant": t.instant,
        }
        if t.instant:
            target["format"] = "table"
        targets.append(target)
    by_kind: dict[str, dict[str, Any]] = {
        "timeseries": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "stat": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "table": {"showHeader": True},
    }
    options = by_kind[panel.kind]
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": targets,
    }


def _layout() -> Iterator[dict[str, Any]]:
    """Rows and their panels, left to right, wrapping at the grid's width."""
    panel_id, y = 1, 0
    for row in ROWS:
        yield {
            "id": panel_id,
            "type": "row",
            "title": row.title,
            "collapsed": False,
            "gridPos": {"h": 1, "w": COLUMNS, "x": 0, "y": y},
            "panels": [],
        }
        panel_id, y, x, line_h = panel_id + 1, y + 1, 0, 0
        for panel in row.panels:
            if x + panel.width > COLUMNS:
                x, y, line_h = 0, y + line_h, 0
            yield _panel_json(panel, panel_id, x, y)
            panel_id, x, line_h = panel_id + 1, x + panel.width, max(line_h, panel.height)
        y += line_h


def grafana_dashboard(title: str = "infersight: LLM inference") -> dict[str, Any]:
    """The dashboard JSON model, ready for Grafana's import (with its __inputs)."""
    return {
        "__inputs": [
            {
                "name": DS_INPUT,
                "label": "Prometheus",
                "description": "The Prometheus that scrapes the infersight gateway's /metrics",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            *(
                {"type": "panel", "id": kind, "name": kind.title(), "version": ""}
                for kind in ("timeseries", "stat", "table")
            ),
        ],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "editable": True,
        "graphTooltip": 1,
        "links": [],
        "panels": list(_layout()),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["infersight", "llm", "inference"],
        "templating": {"list": [_variable("model", "Model"), _variable("upstream", "Upstream")]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": UID,
        "version": 1,
    }


def dashboard_json(title: str = "infersight: LLM inference") -> str:
    return json.dumps(grafana_dashboard(title), indent=2) + "\n"


def example_expr(expr: str) -> str:
    """`expr` with Grafana's variables replaced by PromQL-valid values (for checking)."""
    for name, value in EXAMPLE_VALUES.items():
        expr = expr.replace(name, value)
    return expr


def panel_exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expression) of every target in a dashboard model."""
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]
