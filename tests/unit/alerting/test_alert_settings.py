"""The `alerting:` section: defaults (the rule pack), compact dumps, and precise config errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infersight.alerting.rule_pack import RUNBOOKS, default_rules, runbook_for
from infersight.alerting.rules import KNOWN_METRICS, known_metric, parse_selector
from infersight.alerting.settings import AlertingSettings, AlertRuleSettings
from infersight.config_template import render_template
from infersight.settings import ConfigError, ConfigProblem, Settings, load_settings


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def problems(tmp_path: Path, alerting: dict[str, Any], **top: Any) -> list[ConfigProblem]:
    path = tmp_path / "infersight.yaml"
    path.write_text(yaml.safe_dump({"alerting": alerting, **top}), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), env={})
    return list(info.value.problems)


def one(tmp_path: Path, rule: dict[str, Any], **alerting: Any) -> str:
    found = problems(tmp_path, {"rules": [rule], **alerting})
    assert len(found) == 1, found
    return found[0].render()


def rule(**kw: Any) -> dict[str, Any]:
    return {"name": "r", "metric": "ttft_seconds", "threshold": 1.0, **kw}


# -- defaults -------------------------------------------------------------------------------------


def test_the_default_rules_are_the_pack_and_each_has_a_runbook() -> None:
    rules = Settings().alerting.rules
    assert [r.name for r in rules] == [r.name for r in default_rules()]
    assert {r.kind for r in rules} == {"threshold", "anomaly", "slo"}
    assert {"ttft_slo_burn", "kv_cache_high", "quality_accuracy_drop"} <= {r.name for r in rules}
    for r in rules:
        text = runbook_for(r.name, r.runbook)
        assert "Means:" in text and "Look at:" in text and "fixed by:" in text, r.name
    assert set(RUNBOOKS) == {r.name for r in rules}


def test_template_lists_the_pack_compactly_and_loads_back(tmp_path: Path) -> None:
    text = render_template()
    assert 'metric: ttft_seconds{quantile="0.95",source="user"}' in text
    assert "name: ttft_slo_burn" in text
    section = text[text.index("  rules:") :]
    assert "relearn_interval_s" not in section  # defaults of other kinds are left out
    (tmp_path / "t.yaml").write_text(text, encoding="utf-8")
    assert load_settings(str(tmp_path / "t.yaml"), env={}) == Settings()


def test_compact_dump_keeps_name_kind_and_non_defaults() -> None:
    dumped = AlertRuleSettings(name="x", metric="requests_per_s", threshold=5).model_dump()
    assert dumped == {"name": "x", "kind": "threshold", "metric": "requests_per_s", "threshold": 5}
    slo = AlertRuleSettings.model_validate({"name": "s", "kind": "slo", "slo": {}})
    assert slo.model_dump() == {"name": "s", "kind": "slo", "slo": {"sli": "latency"}}


def test_a_user_rule_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        """
alerting:
  notifiers: [{name: ops, kind: webhook, url: "http://127.0.0.1:9/x"}]
  rules:
    - name: p99
      metric: e2e_seconds{quantile="0.99"}
      labels: {model: llama}
      period_s: 300
      evaluation_periods: 4
      datapoints_to_alarm: 3
      threshold: 10
      notifiers: [ops, log]
    - name: acc
      kind: baseline
      metric: quality_accuracy
      comparison: "<"
      baseline: {method: percentile, percentile: 0.05, window: trailing, days: 3}
    - name: errs
      kind: slo
      slo: {sli: ratio, bad_metric: request_errors_per_s, total_metric: requests_per_s}
""",
        encoding="utf-8",
    )
    s = load_settings(str(path), env={})
    p99 = s.alerting.rules[0]
    assert p99.selector_labels() == {"quantile": "0.99", "model": "llama"}
    assert p99.m == 3
    assert s.alerting.rules[1].baseline is not None
    assert s.alerting.rules[2].slo is not None and s.alerting.rules[2].slo.sli == "ratio"


# -- errors ---------------------------------------------------------------------------------------


def test_unknown_metric_suggests_the_closest(tmp_path: Path) -> None:
    text = one(tmp_path, rule(metric="ttft_second"))
    assert "alerting.rules[0]" in text
    assert "unknown metric 'ttft_second' (did you mean 'ttft_seconds'?)" in text
    assert "allow_unknown_metric: true" in text
    assert "got {" not in text  # the whole rule is not echoed


def test_unknown_metric_allowed_when_asked_and_quality_prefix_is_known() -> None:
    AlertRuleSettings(name="x", metric="my_series", threshold=1, allow_unknown_metric=True)
    AlertRuleSettings(name="x", metric="quality_accuracy", threshold=1)
    assert known_metric("cost_idle_usd_per_hour") and known_metric("engine_ttft_seconds_count")
    assert {"collector_up", "gpu_utilization_ratio", "request_error_ratio"} <= KNOWN_METRICS


def test_m_greater_than_n(tmp_path: Path) -> None:
    text = one(tmp_path, rule(evaluation_periods=3, datapoints_to_alarm=5))
    assert "datapoints_to_alarm (5) must be <= evaluation_periods (3)" in text


def test_missing_notifier_reference(tmp_path: Path) -> None:
    text = one(tmp_path, rule(notifiers=["pager", "log"]))
    assert "infersight.yaml:2: alerting: rules[0] (r): notifier 'pager' is not configured" in text
    assert "configured: log" in text and "add it under alerting.notifiers" in text


def test_window_beyond_retention(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {"rules": [rule(period_s=60, evaluation_periods=1440)]},
        store={"retention": {"minute_days": 0.5}},
    )
    text = " / ".join(p.render() for p in found)
    assert "alerting.rules[0]: rule 'r' looks back 1d" in text
    assert "store.retention.minute_days keeps that data for 12h" in text


def test_slo_window_beyond_request_retention(tmp_path: Path) -> None:
    slo = {"name": "s", "kind": "slo", "slo": {"window_s": 40 * 86400}}
    found = problems(tmp_path, {"rules": [slo]})
    assert "store.retention.requests_days keeps that data for 30d" in found[0].render()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"threshold": None}, "a threshold rule 'r' needs a threshold"),
        ({"metric": ""}, "a threshold rule 'r' needs a metric"),
        ({"metric": "ttft_seconds{quantile=}"}, "cannot read the label"),
        ({"anomaly": {"k": 2}}, "anomaly: not used by a threshold rule 'r'"),
        ({"kind": "slo", "threshold": None}, "metric: not used by a slo rule"),
        ({"kind": "anomaly", "threshold": None, "comparison": "<"}, "comparison: not used"),
        ({"name": ""}, "every rule needs a name"),
        ({"name": "a b"}, "'a b' is not a valid rule name"),
        ({"period_s": 0}, "must be > 0"),
        ({"treat_missing_data": "zero"}, "must be 'missing', 'ignore'"),
    ],
)
def test_rule_errors(tmp_path: Path, bad: dict[str, Any], message: str) -> None:
    r = {k: v for k, v in rule(**bad).items() if v is not None}
    assert message in one(tmp_path, r)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"kind": "slo"}, "a slo rule 'r' needs an slo: section"),
        ({"kind": "slo", "slo": {"sli": "ratio"}}, "sli: ratio needs total_metric"),
        ({"kind": "slo", "slo": {"field": "prompt_tokens"}}, "unknown latency field"),
        ({"kind": "slo", "slo": {"objective": 1.0}}, "must be < 1"),
        (
            {"kind": "slo", "slo": {"burn_alerts": [{"long_window_s": 60, "short_window_s": 600}]}},
            "short_window_s (600) must be <= long_window_s (60)",
        ),
        (
            {"kind": "baseline", "metric": "ttft_seconds", "baseline": {"window": "fixed"}},
            "window: fixed needs reference_start and reference_end",
        ),
        (
            {"kind": "baseline", "metric": "ttft_seconds", "baseline": {"reference_start": "x"}},
            "'x' is not a time",
        ),
        (
            {"kind": "slo", "slo": {"sli": "ratio", "bad_metric": "nope", "total_metric": "x"}},
            "slo.bad_metric: unknown metric 'nope'",
        ),
    ],
)
def test_kind_section_errors(tmp_path: Path, section: dict[str, Any], message: str) -> None:
    assert message in one(tmp_path, {"name": "r", **section})


def test_duplicate_rule_names(tmp_path: Path) -> None:
    found = problems(tmp_path, {"rules": [rule(), rule()]})
    assert "the rule name 'r' is used more than once" in found[0].render()


def test_fixed_reference_period_accepts_iso_times() -> None:
    r = AlertRuleSettings.model_validate(
        {
            "name": "b",
            "kind": "baseline",
            "metric": "requests_per_s",
            "baseline": {
                "window": "fixed",
                "reference_start": "2024-05-01T00:00:00Z",
                "reference_end": 1714608000,
            },
        }
    )
    assert r.baseline is not None and r.baseline.reference_start == 1714521600.0


def test_selectors() -> None:
    s = parse_selector('ttft_seconds{quantile="0.95", model="a,b"}')
    assert s.name == "ttft_seconds"
    assert s.labels == (("model", "a,b"), ("quantile", "0.95"))
    assert parse_selector("x{}").labels == ()
    assert parse_selector("x{a=b}").labels == (("a", "b"),)


def test_alerting_defaults() -> None:
    a = AlertingSettings()
    assert (a.interval_s, a.repeat_interval_s) == (30.0, 14400.0)
    assert a.rule("gpu_idle") is not None and a.rule("nope") is None
