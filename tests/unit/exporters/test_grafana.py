"""The Grafana dashboard model: import inputs, variables, layout, and PromQL that promtool
accepts (Grafana itself is not available here; each expression, with Grafana's variables
substituted, is checked by wrapping it into a recording rule for `promtool check rules`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infersight.cli.main import main
from infersight.exporters.grafana import (
    DATASOURCE,
    UID,
    dashboard_json,
    example_expr,
    grafana_dashboard,
    panel_exprs,
)

PROMTOOL = shutil.which("promtool")


def panels(kind: str | None = None) -> list[dict[str, Any]]:
    return [p for p in grafana_dashboard()["panels"] if kind is None or p["type"] == kind]


def test_import_inputs_variables_and_metadata() -> None:
    d = grafana_dashboard()
    assert d["__inputs"][0]["name"] == "DS_PROMETHEUS"
    assert d["__inputs"][0]["pluginId"] == "prometheus"
    assert DATASOURCE["uid"] == "${DS_PROMETHEUS}"
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert set(variables) == {"model", "upstream"}
    for v in variables.values():
        assert v["datasource"] == DATASOURCE and v["includeAll"] and v["allValue"] == ".*"
        assert v["query"]["query"].startswith("label_values(infersight_requests_total")
    assert d["uid"] == UID and d["schemaVersion"] >= 36 and d["title"]
    assert json.loads(dashboard_json()) == d


def test_rows_panels_and_grid() -> None:
    rows = [p["title"] for p in panels("row")]
    assert rows == ["Serving", "GPU", "Engine", "Cost", "Quality", "Alerts"]
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids))
    occupied: set[tuple[int, int]] = set()
    for p in panels():
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24
        cells = {(g["x"] + i, g["y"] + j) for i in range(g["w"]) for j in range(g["h"])}
        assert not cells & occupied, f"panel {p['title']!r} overlaps another"
        occupied |= cells
    titles = {p["title"] for p in panels()}
    for wanted in ("TTFT", "ITL", "TPOT", "E2E latency", "Errors/s by class", "Tokens/s"):
        assert wanted in titles
    for wanted in ("GPU utilisation", "KV cache usage", "Cost $/h", "Alerts firing"):
        assert wanted in titles


def test_targets_use_the_datasource_variables_and_gateway_histograms() -> None:
    for p in panels():
        if p["type"] == "row":
            continue
        assert p["datasource"] == DATASOURCE and p["targets"], p["title"]
        assert p["fieldConfig"]["defaults"]["unit"]
        for t in p["targets"]:
            assert t["datasource"] == DATASOURCE and t["refId"] and t["expr"]
    ttft = next(p for p in panels() if p["title"] == "TTFT")
    assert [t["legendFormat"] for t in ttft["targets"]] == ["p50", "p95", "p99"]
    assert ttft["targets"][1]["expr"] == (
        "histogram_quantile(0.95, sum by (le) (rate(infersight_ttft_seconds_bucket"
        '{model=~"$model",upstream=~"$upstream"}[$__rate_interval])))'
    )
    exprs = " ".join(e for _, e in panel_exprs(grafana_dashboard()))
    for metric in (
        "infersight_inter_token_latency_seconds_bucket",
        "infersight_tpot_seconds_bucket",
        "infersight_e2e_request_latency_seconds_bucket",
        "infersight_request_errors_total",
        "infersight_requests_in_flight",
        "infersight_gpu_power_watts",
        "infersight_engine_requests_waiting",
        "infersight_cost_usd_per_1m_output_tokens",
        "infersight_cost_idle_usd_per_hour",
        "infersight_cost_projected_month_usd",
        "infersight_quality_accuracy",
        "ALERTS",
    ):
        assert metric in exprs


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian prometheus)")
def test_every_expression_is_valid_promql(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    exprs = panel_exprs(grafana_dashboard())
    rules = [
        {"record": f"grafana:panel_{i}:expr", "expr": example_expr(expr)}
        for i, (_, expr) in enumerate(exprs)
    ]
    assert all("$" not in r["expr"] for r in rules)
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": rules}]}))
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_cli_prints_or_writes_the_dashboard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "grafana"]) == 0
    assert json.loads(capsys.readouterr().out)["uid"] == UID
    out = tmp_path / "dash.json"
    assert main(["export", "grafana", "--title", "LLM prod", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["title"] == "LLM prod"
