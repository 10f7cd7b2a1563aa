"""`infersight config init|check|show` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from infersight.cli.main import main
from infersight.settings import Settings


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["config", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_init_writes_a_file_that_check_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "init")
    assert code == 0
    assert "infersight.yaml" in out
    assert (tmp_path / "infersight.yaml").read_text().startswith("# infersight configuration")
    code, out, err = run(capsys, "check")
    assert (code, err) == (0, "")
    assert out.strip() == "OK: infersight.yaml is valid"
    code, out, _ = run(capsys, "check", "--config", "infersight.yaml")
    assert code == 0


def test_init_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text("gateway:\n  port: 1\n")
    code, _, err = run(capsys, "init", "--path", str(target))
    assert code == 1
    assert "already exists" in err
    assert "--force" in err
    assert target.read_text() == "gateway:\n  port: 1\n"
    code, _, _ = run(capsys, "init", "--path", str(target), "--force")
    assert code == 0
    assert "# infersight configuration" in target.read_text()


def test_init_into_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "init", "--path", str(tmp_path / "no" / "such" / "x.yaml"))
    assert code == 2
    assert "cannot write" in err


def test_check_bad_file_exits_2_with_dotted_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text(
        "gateway:\n  port: 70000\nupstreams:\n  - url: http://a:1\n  - url: nope\n"
    )
    code, out, err = run(capsys, "check", "--config", "bad.yaml")
    assert code == 2
    assert out == ""
    assert "bad.yaml:2: gateway.port: must be <= 65535, got 70000" in err
    assert "bad.yaml:5: upstreams[1].url: must start with http:// or https://" in err
    assert "2 problems" in err


def test_check_yaml_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "syn.yaml").write_text("gateway:\n  port: [1, 2\n")
    code, _, err = run(capsys, "check", "--config", "syn.yaml")
    assert code == 2
    assert err.startswith("syn.yaml:")
    assert "invalid YAML" in err


def test_check_missing_file_suggests_init(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "--config", "absent.yaml")
    assert code == 2
    assert "absent.yaml" in err
    assert "infersight config init" in err


def test_check_without_file_validates_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert out.startswith("OK: no infersight.yaml here")


def test_check_reports_bad_env_var(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INFERSIGHT_GATEWAY__PROT", "1")
    code, _, err = run(capsys, "check")
    assert code == 2
    assert "INFERSIGHT_GATEWAY__PROT" in err
    assert "did you mean 'port'?" in err


def test_show_prints_effective_values_with_env_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c.yaml").write_text("gateway:\n  port: 1111\n  host: 0.0.0.0\n")
    monkeypatch.setenv("INFERSIGHT_GATEWAY__PORT", "9000")
    monkeypatch.setenv("INFERSIGHT_STORE__WRITER__BATCH_SIZE", "7")
    code, out, _ = run(capsys, "show", "--config", "c.yaml")
    assert code == 0
    assert out.startswith("# effective configuration: defaults < c.yaml < environment (")
    shown = Settings.model_validate(yaml.safe_load(out))
    assert (shown.gateway.port, shown.gateway.host) == (9000, "0.0.0.0")
    assert shown.store.writer.batch_size == 7
    assert shown.demo == Settings().demo


def test_show_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("INFERSIGHT_LOG_LEVEL", "debug")
    code, out, _ = run(capsys, "show", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["log_level"] == "debug"
    assert data["gateway"]["port"] == 8400


def test_show_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "infersight.yaml").write_text("- not\n- a mapping\n")
    code, out, err = run(capsys, "show")
    assert (code, out) == (2, "")
    assert "the top level must be a mapping" in err


def test_bare_config_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert "init" in err
    assert "check" in err


def test_check_and_run_refuse_an_unknown_instance_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.yaml").write_text(
        "upstreams:\n  - url: http://a:1\n    pricing:\n      instance_type: bogus.x\n"
    )
    code, out, err = run(capsys, "check", "--config", "p.yaml")
    assert code == 2 and out == ""
    assert "p.yaml:4: upstreams[0].pricing.instance_type: unknown instance type" in err
    assert "known families:" in err
    code = main(["run", "--config", "p.yaml", "--port", "0"])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err
    assert "upstreams[0].pricing.instance_type" in " ".join(err.split())


def test_an_unprintable_character_is_a_yaml_error_with_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ctrl.yaml").write_text("gateway:\n  port: 8400\x01\n")
    code, out, err = run(capsys, "check", "--config", "ctrl.yaml")
    assert code == 2 and out == ""
    assert "ctrl.yaml:2:13: invalid YAML: unprintable character U+0001 is not allowed" in err
    for command in (["run", "--port", "0"], ["stats"]):
        code = main([*command, "--config", "ctrl.yaml"])
        out, err = capsys.readouterr()
        assert code == 2 and "Traceback" not in out + err
        assert "ctrl.yaml:2:13: invalid YAML" in err


def test_check_reports_what_run_would_refuse_or_miss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE_UNSET_VAR", raising=False)
    (tmp_path / "n.yaml").write_text(
        "alerting:\n  notifiers:\n    - name: ops\n      kind: webhook\n"
        "      url_env: NOPE_UNSET_VAR\n"
        "quality:\n  sweeps:\n    - name: a\n      dataset: missing.jsonl\n"
        "    - dataset: default\n"
    )
    code, out, err = run(capsys, "check", "--config", "n.yaml")
    assert code == 2 and out == ""
    assert "n.yaml:10: quality.sweeps[1].name: every sweep needs a name (use letters" in err
    (tmp_path / "n.yaml").write_text(
        (tmp_path / "n.yaml").read_text().replace("    - dataset: default\n", "")
    )
    code, out, err = run(capsys, "check", "--config", "n.yaml")
    assert code == 2 and out == ""
    assert (
        "n.yaml:5: alerting.notifiers[0].url_env: environment variable NOPE_UNSET_VAR is not set"
        in err
    )
    assert "n.yaml:9: quality.sweeps[0].dataset: no such file" in err
    assert "got 'missing.jsonl'" in err and "2 problems" in err
    code = main(["run", "--config", "n.yaml", "--port", "0"])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err
    assert "n.yaml:5: alerting.notifiers[0].url_env" in " ".join(err.split())
    (tmp_path / "missing.jsonl").write_text('{"id": 1, "question": "q"}\n')
    monkeypatch.setenv("NOPE_UNSET_VAR", "http://127.0.0.1:9/hook")
    code, out, err = run(capsys, "check", "--config", "n.yaml")
    assert (code, err) == (0, "")


def test_run_blames_a_nameless_sweep_on_its_line_not_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "s.yaml").write_text("quality:\n  sweeps:\n    - interval_s: 60\n")
    code = main(["run", "--config", "s.yaml", "--port", "0"])
    out, err = capsys.readouterr()
    err = " ".join(err.split())
    assert code == 2 and "Traceback" not in out + err
    assert "s.yaml:3: quality.sweeps[0].name: every sweep needs a name" in err
    assert "command line" not in err
