"""`infersight alerts list|history|test|silence|unsilence|runbook|metrics` on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infersight.alerting.settings import AlertRuleSettings
from infersight.cli import alerts_cmd
from infersight.cli.main import main

from .conftest import Env

CONFIG = """
store: {{path: {db}}}
alerting:
  rules:
    - name: hot
      metric: gpu_utilization_ratio
      evaluation_periods: 3
      datapoints_to_alarm: 2
      threshold: 0.9
      runbook: Check the fans.
    - name: ttft_slo
      kind: slo
      slo: {{sli: latency}}
"""


@pytest.fixture
def setup(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Env, list[str]]:
    """An engine run that put rule 'hot' in ALARM, and the CLI's config pointing at its store."""
    hot = AlertRuleSettings(
        name="hot",
        metric="gpu_utilization_ratio",
        evaluation_periods=3,
        datapoints_to_alarm=2,
        threshold=0.9,
    )
    engine = env.engine(hot)
    env.minutes(engine, [0.5, 0.95, 0.97], "gpu_utilization_ratio", gpu="0")
    config = tmp_path / "infersight.yaml"
    config.write_text(CONFIG.format(db=env.path), encoding="utf-8")
    monkeypatch.setattr(alerts_cmd, "CLOCK", env.clock)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables: no truncated cells
    return env, ["--config", str(config)]


def test_list_shows_state_value_and_threshold(
    setup: tuple[Env, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cfg = setup
    assert main(["alerts", "list", *cfg]) == 0
    out = capsys.readouterr().out
    assert "hot" in out and "ALARM" in out and "gpu=0" in out and "0.97" in out
    assert "ttft_slo" in out and "never evaluated" in out
    assert main(["alerts", "list", "--format", "json", *cfg]) == 0
    rules = json.loads(capsys.readouterr().out)["rules"]
    (hot,) = [r for r in rules if r["name"] == "hot"]
    assert hot["state"] == "ALARM" and hot["instances"][0]["value"] == 0.97
    assert hot["runbook"] == "Check the fans."


def test_history(setup: tuple[Env, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    _, cfg = setup
    assert main(["alerts", "history", "--since", "1h", "--format", "json", *cfg]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert [e["kind"] for e in events][:2] == ["notified", "transition"]
    assert events[1]["previous_state"] == "OK" and events[1]["state"] == "ALARM"
    assert main(["alerts", "history", "--since", "1h", *cfg]) == 0
    assert "OK → ALARM" in capsys.readouterr().out


def test_silence_and_unsilence(
    setup: tuple[Env, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    env, cfg = setup
    assert main(["alerts", "silence", "hot", "--for", "2h", "--reason", "maintenance", *cfg]) == 0
    assert "silenced rule 'hot' for 2h" in capsys.readouterr().out
    (s,) = env.store.alerts.silences(env.clock.now())
    assert (s.rule, s.reason, s.expires_at - s.created_at) == ("hot", "maintenance", 7200)
    assert main(["alerts", "list", *cfg]) == 0
    assert "silenced 2h" in capsys.readouterr().out
    assert main(["alerts", "unsilence", "hot", *cfg]) == 0
    assert "ended 1 silence" in capsys.readouterr().out
    assert env.store.alerts.silences(env.clock.now()) == []
    assert main(["alerts", "silence", "*", *cfg]) == 0  # default length: 2 h
    assert "every rule" in capsys.readouterr().out


def test_unknown_rule_is_a_usage_error(
    setup: tuple[Env, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cfg = setup
    assert main(["alerts", "silence", "hto", *cfg]) == 2
    assert "no alert rule named 'hto'; rules: hot, ttft_slo" in capsys.readouterr().err


def test_test_sends_through_the_log_notifier(
    setup: tuple[Env, list[str]],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    env, cfg = setup
    caplog.set_level("INFO", logger="infersight.alerts")
    assert main(["alerts", "test", "hot", *cfg]) == 0
    out = capsys.readouterr().out
    assert "[TEST] hot {gpu=0}: state ALARM, value 0.97" in out and "sent to log" in out
    assert any("hot" in r.getMessage() for r in caplog.records)
    assert env.store.alerts.events(0, 1e12)[0].kind == "test"


def test_no_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "list", "--db", str(tmp_path / "none.db")]) == 1
    assert "no database at" in capsys.readouterr().err


def test_runbook_and_metrics(
    setup: tuple[Env, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cfg = setup
    assert main(["alerts", "runbook", "hot", *cfg]) == 0
    assert capsys.readouterr().out.strip() == "Check the fans."
    assert main(["alerts", "metrics", *cfg]) == 0
    out = capsys.readouterr().out
    assert "ttft_seconds" in out and "quality_" in out
