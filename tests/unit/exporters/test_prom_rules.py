"""Prometheus rules from alert rules: the PromQL of each kind, and the real promtool.

`promtool check rules` validates the generated file; `promtool test rules` runs the fixture
tests/fixtures/promtool/default_rules_test.yaml (input series in the gateway's /metrics names)
against the rules of the default pack. promtool comes from Debian's `prometheus` package
(`make test` installs it); these tests skip only when it is absent.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infersight.alerting.settings import AlertingSettings, AlertRuleSettings
from infersight.cli.main import main
from infersight.exporters.prom_rules import RuleExporter, RuleGroup, prometheus_rules
from infersight.exporters.promql import ExportError, le_matcher, number, prom_duration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "promtool"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package prometheus; make test)"
)


def rule(**kw: Any) -> AlertRuleSettings:
    return AlertRuleSettings.model_validate({"name": "r", **kw})


def group_of(*rules: AlertRuleSettings, **alerting: Any) -> RuleGroup:
    settings = AlertingSettings.model_validate({"rules": list(rules), **alerting})
    return RuleExporter(settings).group(settings.rules[0])


def by_key(group: RuleGroup) -> dict[str, dict[str, Any]]:
    return {r.get("record") or r["alert"]: r for r in group.rules}


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd
    )


# -- PromQL pieces ------------------------------------------------------------------------------


def test_durations_numbers_and_bucket_edges() -> None:
    assert [prom_duration(s) for s in (300, 3600, 259_200, 90, 0.5, 0)] == [
        "5m",
        "1h",
        "3d",
        "90s",
        "500ms",
        "0s",
    ]
    assert number(14.4 * (1 - 0.99)) == "0.144"
    assert le_matcher(1.0) == 'le=~"1|1\\\\.0"'  # the gateway's "1.0" and Prometheus 3's "1"
    assert le_matcher(0.25) == 'le="0.25"'


# -- threshold rules ----------------------------------------------------------------------------


def test_ttft_quantile_becomes_histogram_quantile_with_for_from_m_of_n() -> None:
    g = group_of(
        rule(
            name="ttft_p95_high",
            metric='ttft_seconds{quantile="0.95",source="user"}',
            statistic="max",
            period_s=60,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            threshold=1.0,
            severity="warning",
            view="/serving",
        ),
        dashboard_url="http://dash:8400",
    )
    rules = by_key(g)
    assert rules["infersight_rule:ttft_p95_high:value"]["expr"] == (
        "histogram_quantile(0.95, sum by (le, model, upstream) "
        "(rate(infersight_ttft_seconds_bucket[1m])))"
    )
    alert = rules["ttft_p95_high"]
    assert alert["expr"] == "infersight_rule:ttft_p95_high:value > 1"
    assert alert["for"] == "1m"  # (M - 1) × period_s: the 1m window spans the first period
    assert alert["labels"] == {"severity": "warning"}
    ann = alert["annotations"]
    assert "{{ $labels.model }}" in ann["summary"] and "$value" in ann["summary"]
    assert "2 of 3" in ann["description"] and "first token" in ann["description"]  # runbook
    assert ann["runbook_url"] == "http://dash:8400/serving"
    assert any("source" in c for c in g.comments)  # /metrics has no source label: said so


def test_error_ratio_with_min_value_records_the_numerator() -> None:
    g = group_of(
        rule(
            name="errs",
            metric='request_errors_per_s{source="user",model="m"}',
            divide_by='requests_per_s{source="user",model="m"}',
            min_value=0.01,
            period_s=300,
            evaluation_periods=2,
            threshold=0.01,
            runbook_url="https://wiki/errs",
        )
    )
    rules = by_key(g)
    num = 'sum by (model, upstream) (rate(infersight_request_errors_total{model="m"}[5m]))'
    den = 'sum by (model, upstream) (rate(infersight_requests_total{model="m"}[5m]))'
    assert rules["infersight_rule:errs:value"]["expr"] == f"({num}) / ({den})"
    assert rules["infersight_rule:errs:numerator"]["expr"] == num
    assert rules["errs"]["expr"] == (
        "(infersight_rule:errs:value > 0.01) and (infersight_rule:errs:numerator >= 0.01)"
    )
    assert rules["errs"]["for"] == "5m"
    assert rules["errs"]["annotations"]["runbook_url"] == "https://wiki/errs"


def test_request_error_ratio_series_and_all_quantiles() -> None:
    ratio = by_key(group_of(rule(metric="request_error_ratio", threshold=0.1)))
    assert ratio["infersight_rule:r:value"]["expr"] == (
        "(sum by (model, upstream) (rate(infersight_request_errors_total[1m])) / "
        "sum by (model, upstream) (rate(infersight_requests_total[1m])))"
    )
    every = by_key(group_of(rule(metric="e2e_seconds", threshold=5)))["infersight_rule:r:value"]
    for q in ("0.5", "0.9", "0.95", "0.99"):  # one result per store quantile, labelled
        assert f'"quantile", "{q}"' in every["expr"]
    assert "infersight_e2e_request_latency_seconds_bucket" in every["expr"]


def test_statistics_over_longer_periods_use_subqueries_of_per_minute_values() -> None:
    g = by_key(
        group_of(
            rule(
                metric='tpot_seconds{quantile="0.99"}', statistic="max", period_s=300, threshold=0.1
            )
        )
    )
    assert g["infersight_rule:r:value"]["expr"] == (
        "max_over_time((histogram_quantile(0.99, sum by (le, model, upstream) "
        "(rate(infersight_tpot_seconds_bucket[1m]))))[5m:1m])"
    )


def test_gauges_statistics_groups_and_combine() -> None:
    idle = group_of(
        rule(
            name="gpu_idle",
            metric="gpu_utilization_ratio",
            period_s=300,
            evaluation_periods=12,
            comparison="<",
            threshold=0.2,
        )
    )
    rules = by_key(idle)
    assert rules["infersight_rule:gpu_idle:value"]["expr"] == (
        "avg_over_time(infersight_gpu_utilization_ratio[5m])"
    )
    assert rules["gpu_idle"]["expr"] == "infersight_rule:gpu_idle:value < 0.2"
    assert rules["gpu_idle"]["for"] == "55m"

    grouped = by_key(
        group_of(
            rule(
                metric='gpu_power_watts{gpu="0"}',
                statistic="p95",
                group_by=["instance"],
                combine="avg",
                evaluation_periods=1,
                threshold=300,
            )
        )
    )
    assert grouped["infersight_rule:r:value"]["expr"] == (
        'avg by (instance) (quantile_over_time(0.95, infersight_gpu_power_watts{gpu="0"}[1m]))'
    )
    assert "for" not in grouped["r"]  # 1 of 1: no wait
    one = by_key(
        group_of(
            rule(metric="engine_preemptions_total", statistic="rate", group_by=[], threshold=1)
        )
    )
    assert one["infersight_rule:r:value"]["expr"] == (
        "max(rate(infersight_engine_preemptions_total[1m]))"
    )
    ratio = by_key(
        group_of(
            rule(
                metric="gpu_memory_used_bytes",
                divide_by="gpu_memory_total_bytes",
                group_by=["gpu"],
                threshold=0.9,
            )
        )
    )
    assert ratio["infersight_rule:r:value"]["expr"] == (
        "(sum by (gpu) (avg_over_time(infersight_gpu_memory_used_bytes[1m]))) / "
        "(sum by (gpu) (avg_over_time(infersight_gpu_memory_total_bytes[1m])))"
    )


def test_missing_data_keep_firing_and_for_s() -> None:
    g = by_key(
        group_of(
            rule(
                metric='collector_up{collector="engine"}',
                statistic="max",
                comparison="<",
                threshold=1,
                evaluation_periods=5,
                treat_missing_data="breaching",
                keep_firing_for_s=600,
                for_s=30,
            )
        )
    )
    alert = g["r"]
    assert alert["expr"] == (
        '(infersight_rule:r:value < 1) or absent(infersight_collector_up{collector="engine"})'
    )
    assert alert["for"] == "270s"  # (5 - 1) × 60 s + for_s 30 s
    assert alert["keep_firing_for"] == "10m"


def test_dropped_labels_and_bad_quantile_are_reported() -> None:
    g = group_of(
        rule(metric='requests_per_s{route="/v1/completions"}', threshold=5, group_by=["client"])
    )
    text = " ".join(g.comments)
    assert "route" in text and "client" in text
    with pytest.raises(ExportError, match="quantile"):
        group_of(rule(metric='ttft_seconds{quantile="high"}', threshold=1))


# -- anomaly, baseline, disabled ----------------------------------------------------------------


def test_ewma_anomaly_is_approximated_seasonal_and_baseline_are_comments() -> None:
    g = group_of(
        rule(
            name="q",
            kind="anomaly",
            metric="engine_requests_waiting",
            evaluation_periods=5,
            datapoints_to_alarm=4,
            anomaly={"k": 4, "min_deviation": 5, "direction": "both"},
        )
    )
    rules = by_key(g)
    assert rules["infersight_rule:q:band_mean"]["expr"] == (
        "avg_over_time(infersight_rule:q:value[1h] offset 5m)"
    )
    assert rules["infersight_rule:q:band_width"]["expr"] == (
        "clamp_min(4 * stddev_over_time(infersight_rule:q:value[1h] offset 5m), 5)"
    )
    assert " or " in rules["q"]["expr"] and rules["q"]["for"] == "3m"
    assert any("approximation" in c for c in g.comments)

    seasonal = group_of(rule(kind="anomaly", metric="requests_per_s", anomaly={"band": "seasonal"}))
    baseline = group_of(rule(kind="baseline", metric="gpu_power_watts"))
    off = group_of(rule(metric="gpu_power_watts", threshold=1, enabled=False))
    for g in (seasonal, baseline):
        assert g.rules == [] and "evaluated by infersight only" in g.comments[0]
    assert off.rules == [] and "disabled" in off.comments[0]


# -- SLOs ---------------------------------------------------------------------------------------


def test_latency_slo_records_every_window_and_alerts_per_burn_pair() -> None:
    g = group_of(
        rule(
            name="ttft_slo",
            kind="slo",
            labels={"model": "m"},
            slo={"sli": "latency", "field": "ttft_s", "threshold_s": 1.0, "objective": 0.99},
        )
    )
    records = [r["record"] for r in g.rules if "record" in r]
    assert records == [
        f"infersight_slo:ttft_slo:error_ratio_rate{w}" for w in ("5m", "30m", "1h", "6h", "3d")
    ]
    assert g.rules[0]["expr"] == (
        '1 - (sum(rate(infersight_ttft_seconds_bucket{model="m",le=~"1|1\\\\.0"}[5m])) / '
        'sum(rate(infersight_ttft_seconds_count{model="m"}[5m])))'
    )
    alerts = [r for r in g.rules if "alert" in r]
    assert [(a["labels"]["long_window"], a["labels"]["short_window"]) for a in alerts] == [
        ("1h", "5m"),
        ("6h", "30m"),
        ("3d", "6h"),
    ]
    assert alerts[0]["expr"] == (
        "infersight_slo:ttft_slo:error_ratio_rate1h > 0.144 and "
        "infersight_slo:ttft_slo:error_ratio_rate5m > 0.144"
    )
    assert [a["labels"]["severity"] for a in alerts] == ["critical", "critical", "warning"]
    assert "0.06" in alerts[1]["expr"] and "0.01" in alerts[2]["expr"]


def test_availability_ratio_slos_and_off_edge_thresholds() -> None:
    avail = group_of(
        rule(kind="slo", slo={"sli": "availability", "burn_alerts": [{"long_window_s": 3600}]})
    )
    assert avail.rules[0]["expr"] == (
        "(sum(rate(infersight_request_errors_total[5m])) / "
        "sum(rate(infersight_requests_total[5m])))"
    )
    ratio = group_of(
        rule(
            kind="slo",
            slo={
                "sli": "ratio",
                "good_metric": "engine_requests_success_total",
                "total_metric": "engine_requests_total",
                "burn_alerts": [{"long_window_s": 3600, "short_window_s": 300}],
            },
        )
    )
    assert ratio.rules[0]["expr"] == (
        "1 - (sum(avg_over_time(infersight_engine_requests_success_total[5m])) / "
        "sum(avg_over_time(infersight_engine_requests_total[5m])))"
    )
    off_edge = group_of(
        rule(kind="slo", slo={"sli": "latency", "field": "e2e_s", "threshold_s": 0.7})
    )
    assert 'le="0.5"' in off_edge.rules[0]["expr"]
    assert any("not a bucket edge" in c for c in off_edge.comments)


# -- the whole file, promtool -------------------------------------------------------------------

EVERY_KIND = [
    *AlertingSettings().rules,
    rule(name="base", kind="baseline", metric="gpu_power_watts"),
    rule(name="season", kind="anomaly", metric="requests_per_s", anomaly={"band": "seasonal"}),
    rule(name="avail", kind="slo", slo={"sli": "availability"}),
    rule(
        name="ratio",
        kind="slo",
        slo={
            "sli": "ratio",
            "bad_metric": "request_errors_per_s",
            "total_metric": "requests_per_s",
        },
    ),
    rule(name="quant", metric="itl_seconds", statistic="p90", period_s=600, threshold=0.2),
    rule(
        name="brk",
        metric="collector_up",
        comparison="<",
        threshold=1,
        treat_missing_data="breaching",
    ),
    rule(name="off", metric="gpu_power_watts", threshold=1, enabled=False),
]


def test_rendered_file_has_header_comments_and_parses() -> None:
    text = prometheus_rules(AlertingSettings(rules=EVERY_KIND))
    assert text.startswith("# Prometheus rules generated by `infersight export")
    assert "(M - 1) x period_s" in text
    assert "# baseline rule base: evaluated by infersight only" in text
    data = yaml.safe_load(text)
    names = [g["name"] for g in data["groups"]]
    assert "infersight.ttft_p95_high" in names and "infersight.base" not in names
    assert all(line.startswith(("#", "groups", "  ")) for line in text.splitlines())


@needs_promtool
def test_promtool_checks_default_pack_and_every_kind(tmp_path: Path) -> None:
    for name, settings in (
        ("default", AlertingSettings()),
        ("every", AlertingSettings(rules=EVERY_KIND)),
    ):
        path = tmp_path / f"{name}.yml"
        path.write_text(prometheus_rules(settings))
        result = promtool("check", "rules", path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


def _render_annotations(
    template: dict[str, str], labels: dict[str, str], value: float
) -> dict[str, str]:
    """Go template rendering, for the two forms the generated annotations use."""
    out = {}
    for key, text in template.items():
        text = text.replace('{{ $value | printf "%.3g" }}', f"{value:.3g}")
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), text)
        out[key] = text.replace('{{ "{{" }}', "{{")
    return out


@needs_promtool
def test_promtool_unit_test_fires_ttft_error_rate_and_slo_alerts(tmp_path: Path) -> None:
    text = prometheus_rules(AlertingSettings())
    (tmp_path / "rules.yaml").write_text(text)
    alerts = [r for g in yaml.safe_load(text)["groups"] for r in g["rules"] if "alert" in r]
    spec = yaml.safe_load((FIXTURES / "default_rules_test.yaml").read_text())
    for case in spec["tests"][0]["alert_rule_test"]:
        for exp in case["exp_alerts"]:
            labels = {k: str(v) for k, v in exp["exp_labels"].items()}
            (generated,) = [
                a
                for a in alerts
                if a["alert"] == case["alertname"] and a["labels"].items() <= labels.items()
            ]
            exp["exp_annotations"] = _render_annotations(
                generated["annotations"], labels, exp.pop("exp_value")
            )
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    result = promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# -- CLI ----------------------------------------------------------------------------------------

CONFIG = """\
alerting:
  dashboard_url: http://dash:8400
  rules:
    - name: slow
      metric: ttft_seconds{quantile="0.99"}
      threshold: 2.5
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no ./infersight.yaml is picked up
    for name in list(os.environ):
        if name.upper().startswith("INFERSIGHT_"):
            monkeypatch.delenv(name)
    return tmp_path


def test_cli_writes_rules_to_stdout_or_file(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "prometheus-rules"]) == 0
    assert "alert: ttft_p95_high" in capsys.readouterr().out  # the default pack
    (in_tmp / "cfg.yaml").write_text(CONFIG)
    out = in_tmp / "rules.yml"
    assert main(["export", "prometheus-rules", "--config", "cfg.yaml", "--out", str(out)]) == 0
    data = yaml.safe_load(out.read_text())
    (group,) = data["groups"]
    assert group["rules"][1]["annotations"]["runbook_url"] == "http://dash:8400/alerts#slow"
    assert "wrote prometheus-rules" in capsys.readouterr().err


def test_cli_reports_bad_config_and_unwritable_out(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "bad.yaml").write_text("alerting:\n  rules:\n    - name: x\n      metric: nope\n")
    assert main(["export", "prometheus-rules", "--config", "bad.yaml"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric" in err and "Traceback" not in err
    (in_tmp / "q.yaml").write_text(
        'alerting:\n  rules:\n    - name: x\n      metric: ttft_seconds{quantile="hi"}\n'
        "      threshold: 1\n"
    )
    assert main(["export", "prometheus-rules", "--config", "q.yaml"]) == 2
    assert "quantile" in capsys.readouterr().err
    assert main(["export", "prometheus-rules", "--out", str(in_tmp / "no" / "r.yml")]) == 1
    assert "cannot write" in capsys.readouterr().err
