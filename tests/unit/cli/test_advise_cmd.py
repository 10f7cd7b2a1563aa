"""`infersight advise` through the real entry point, on a seeded SQLite file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infersight.cli import advise_cmd
from infersight.cli.main import main
from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample, RequestRecord
from infersight.store.sqlite import SqliteStore

NOW = 1_700_006_400.0
T0 = NOW - 6 * 3600.0
GIB = 1024.0**3
SAVING = (7.09 - 1.408) * 730.0 * 2
CONFIG = """\
upstreams:
  - name: vllm-a
    url: http://a:8000
    engine_metrics_url: http://a:8000/metrics
    pricing:
      instance_type: ml.g5.12xlarge
      instances: 2
"""


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)  # no ./infersight.yaml is picked up
    for name in list(os.environ):
        if name.upper().startswith("INFERSIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(advise_cmd, "CLOCK", FakeClock(NOW))


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "infersight-test.yaml"
    path.write_text(CONFIG)
    return str(path)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """Four GPUs at 10 % on ml.g5.12xlarge, a 95 % KV cache, a little user traffic."""
    path = tmp_path / "advise.db"
    store = SqliteStore(path)
    samples = []
    for m in range(360):
        ts = T0 + 60.0 * m
        for g in range(4):
            lab = {"gpu": str(g)}
            samples.append(MetricSample.make("gpu_utilization_ratio", ts, 0.10, **lab))
            samples.append(MetricSample.make("gpu_memory_used_bytes", ts, 4 * GIB, **lab))
            samples.append(MetricSample.make("gpu_memory_total_bytes", ts, 24 * GIB, **lab))
        vllm = {"upstream": "vllm-a", "engine": "vllm", "model": "llama"}
        samples.append(MetricSample.make("engine_kv_cache_usage_ratio", ts, 0.95, **vllm))
        samples.append(MetricSample.make("engine_requests_waiting", ts, 0.0, **vllm))
    store.write_samples(samples)
    store.write_records(
        [
            RequestRecord(f"r{i}", T0 + 60.0 * i, "llama", "vllm-a", "/v1/chat", True, 200, 1.5)
            for i in range(300)
        ]
    )
    store.compact(NOW)
    store.close()
    return str(path)


@pytest.fixture
def empty_db(tmp_path: Path) -> str:
    path = tmp_path / "empty.db"
    SqliteStore(path).close()
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["advise", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_json(db: str, config: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", db, "--config", config, "--days", "1", "--json")
    assert (code, err) == (0, "")
    payload = json.loads(out)
    assert payload["generated_at"] == NOW
    assert payload["window_s"] == 86400.0
    [upstream] = payload["upstreams"]
    titles = {a["title"]: a for a in upstream["advice"]}
    right = titles["Move vllm-a from ml.g5.12xlarge to ml.g5.xlarge"]
    assert right["severity"] == "info"
    assert right["projected_saving_usd_per_month"] == pytest.approx(SAVING)
    assert right["evidence"][0]["value"] == pytest.approx(0.10)
    assert "KV-cache usage on vllm-a reached 95 %" in titles
    assert payload["projected_saving_usd_per_month"] == pytest.approx(SAVING)


def test_text(db: str, config: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--db", db, "--config", config, "--days", "1")
    assert code == 0
    assert "infersight advise · last 1d" in out
    assert "upstream vllm-a" in out
    assert "INFO Move vllm-a from ml.g5.12xlarge to ml.g5.xlarge" in out
    assert "WARNING KV-cache usage on vllm-a reached 95 %" in out
    assert f"projected saving: {SAVING:,.0f} USD/month" in out
    # the evidence table: series, window, value; brackets are not taken for markup
    assert "config:upstreams[vllm-a].pricing.instances" in out
    assert "gpu_utilization_ratio (GPUs on this host)" in out
    assert "10.0 %" in out
    assert f"projected saving: up to {SAVING:,.0f} USD/month" in out


def test_default_window_is_seven_days(
    db: str, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--db", db, "--config", config, "--json")
    assert code == 0
    assert json.loads(out)["window_s"] == 7 * 86400.0


def test_no_evidence(empty_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", empty_db)
    assert (code, err) == (0, "")
    assert "Not enough evidence yet" in out
    assert "collectors.nvml" in out
    assert "engine_metrics_url" in out
    assert "pricing.instance_type" in out
    code, out, _ = run(capsys, "--db", empty_db, "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["has_evidence"] is False
    assert payload["upstreams"][0]["missing"]


def test_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.db"
    code, _, err = run(capsys, "--db", str(missing))
    assert code == 1
    assert "no database at" in err
    assert "infersight run" in err
    assert not missing.exists()


@pytest.mark.parametrize("days", ["0", "-1", "soon", "nan"])
def test_bad_days(days: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["advise", "--days", days])
    assert exc.value.code == 2
    assert "invalid --days" in capsys.readouterr().err


def test_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("upstreams:\n  - name: x\n    pricing:\n      instances: -1\n")
    code, _, err = run(capsys, "--config", str(bad))
    assert code == 2
    assert "instances" in err
