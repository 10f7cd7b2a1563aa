"""`infersight status`: the snapshot gathered from a seeded store, and `--once` output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infersight.cli import status_cmd
from infersight.cli.main import main
from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample, RequestRecord
from infersight.settings import Settings
from infersight.status_view import gather_status
from infersight.store.sqlite import SqliteStore

NOW = 1_700_006_430.0  # 00:00:30 UTC
GIB = 1024.0**3


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)  # no ./infersight.yaml is picked up
    for name in list(os.environ):
        if name.upper().startswith("INFERSIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(status_cmd, "CLOCK", FakeClock(NOW))


def gauges(ts: float) -> list[MetricSample]:
    local = {"gpu": "0", "gpu_name": "NVIDIA H100", "gpu_uuid": "GPU-1"}
    dcgm = {"upstream": "vllm-a", "engine": "dcgm", "gpu": "3", "gpu_name": "NVIDIA L4"}
    vllm = {"upstream": "vllm-a", "engine": "vllm"}
    return [
        MetricSample.make("gpu_utilization_ratio", ts, 0.42, **local),
        MetricSample.make("gpu_memory_used_bytes", ts, 30 * GIB, **local),
        MetricSample.make("gpu_memory_total_bytes", ts, 80 * GIB, **local),
        MetricSample.make("gpu_power_watts", ts, 312.0, **local),
        MetricSample.make("gpu_temperature_celsius", ts, 61.0, **local),
        MetricSample.make("gpu_utilization_ratio", ts, 0.88, **dcgm),
        MetricSample.make("gpu_memory_used_bytes", ts, 20 * GIB, **dcgm),
        MetricSample.make("gpu_memory_free_bytes", ts, 4 * GIB, **dcgm),
        MetricSample.make("engine_requests_running", ts, 5, model="llama", **vllm),
        MetricSample.make("engine_requests_running", ts, 2, model="qwen", **vllm),
        MetricSample.make("engine_requests_waiting", ts, 3, model="llama", **vllm),
        MetricSample.make("engine_kv_cache_usage_ratio", ts, 0.73, model="llama", **vllm),
        MetricSample.make("engine_kv_cache_usage_ratio", ts, 0.41, model="qwen", **vllm),
        MetricSample.make("host_cpu_utilization_ratio", ts, 0.27),
        MetricSample.make("host_memory_used_bytes", ts, 12 * GIB),
        MetricSample.make("host_memory_total_bytes", ts, 64 * GIB),
        MetricSample.make("collector_up", ts, 1, collector="nvml"),
        MetricSample.make("collector_up", ts, 0, collector="engine:vllm-a"),
        MetricSample.make("cost_usd_per_hour", ts, 7.09, upstream="vllm-a"),
        MetricSample.make("cost_usd_per_1m_output_tokens", ts, 3.91, upstream="vllm-a"),
        MetricSample.make("cost_idle_usd_per_hour", ts, 0.0, upstream="vllm-a"),
        MetricSample.make("cost_projected_month_usd", ts, 5175.7, upstream="vllm-a"),
        MetricSample.make("cost_budget_remaining_usd", ts, 1234.0, upstream="vllm-a"),
    ]


def requests() -> list[RequestRecord]:
    """100 requests (every 10th failing), finishing in 23:57 and 23:58."""
    return [
        RequestRecord(
            f"r{i}",
            NOW - 200 + i,
            "llama",
            "vllm-a",
            "/v1/chat/completions",
            True,
            200,
            1.0,
            ttft_s=0.25,
            completion_tokens=60,
            error_class="upstream_5xx" if i % 10 == 0 else None,
        )
        for i in range(100)
    ]


def seed(path: Path, *, compact: bool = True) -> SqliteStore:
    store = SqliteStore(path)
    old = [MetricSample.make("host_cpu_utilization_ratio", NOW - 50, 0.99)]  # superseded
    store.write_samples(old + [s for k in range(6) for s in gauges(NOW - 30 + 5 * k)])
    # a collector that stopped 5 minutes ago
    store.write_samples([MetricSample.make("collector_up", NOW - 300, 1, collector="host")])
    store.write_records(requests())
    if compact:
        store.compact(NOW)
    return store


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "status.db"
    seed(path).close()
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["status", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_gather_snapshot(tmp_path: Path) -> None:
    store = seed(tmp_path / "s.db")
    snap = gather_status(store, Settings(), now=NOW)
    local, dcgm = sorted(snap.gpus, key=lambda g: g.upstream or "")
    assert (local.gpu, local.name, local.upstream) == ("0", "NVIDIA H100", None)
    assert local.utilization_ratio == pytest.approx(0.42)
    assert (local.memory_used_bytes, local.memory_total_bytes) == (30 * GIB, 80 * GIB)
    assert (local.power_watts, local.temperature_celsius) == (312.0, 61.0)
    assert (dcgm.gpu, dcgm.upstream) == ("3", "vllm-a")
    assert dcgm.memory_total_bytes == 24 * GIB  # used + free
    [engine] = snap.engines
    assert (engine.upstream, engine.engine) == ("vllm-a", "vllm")
    assert (engine.requests_running, engine.requests_waiting) == (7, 3)
    assert engine.kv_cache_usage_ratio == pytest.approx(0.73)
    [serving] = snap.serving
    assert serving.basis == "rollup"
    assert serving.as_of == NOW - 30 - 120  # 23:58, the newest complete minute with requests
    assert serving.requests_per_s == pytest.approx(51 / 60)
    assert serving.ttft_p95_s == pytest.approx(0.25)
    assert serving.output_tokens_per_s == pytest.approx(51 * 60 / 60)
    assert serving.error_ratio == pytest.approx(5 / 51)
    assert snap.host is not None
    assert snap.host.cpu_utilization_ratio == pytest.approx(0.27)
    collectors = {c.collector: c for c in snap.collectors}
    assert collectors["nvml"].up and not collectors["nvml"].stale
    assert not collectors["engine:vllm-a"].up
    assert collectors["host"].stale
    [cost] = snap.costs
    assert (cost.usd_per_hour, cost.budget_remaining_usd) == (7.09, 1234.0)
    assert snap.hints == {}


def test_serving_falls_back_to_request_records(tmp_path: Path) -> None:
    store = seed(tmp_path / "s.db", compact=False)
    [serving] = gather_status(store, Settings(), now=NOW).serving
    assert serving.basis == "requests"
    assert serving.requests_per_s == pytest.approx(100 / 300)
    assert serving.error_ratio == pytest.approx(0.1)
    assert serving.output_tokens_per_s == pytest.approx(6000 / 300)


def test_once(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", db, "--once")
    assert (code, err) == (0, "")
    assert "infersight status · 2023-11-15 00:00:30 UTC" in out
    for text in ("NVIDIA H100", "42 %", "30.0 / 80.0 GiB", "312 W", "61 °C"):
        assert text in out
    assert "NVIDIA L4" in out and "20.0 / 24.0 GiB" in out
    assert "73 %" in out  # KV cache
    assert "0.85" in out and "250 ms" in out and "51.0" in out and "minute 23:58" in out
    assert "27 %" in out and "12.0 / 64.0 GiB" in out
    assert "engine:vllm-a" in out and "down" in out and "stale" in out
    assert "7.09" in out and "3.91" in out and "5,176" in out and "1,234" in out
    assert "no data yet" not in out


def test_once_on_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.db"
    SqliteStore(path).close()
    code, out, _ = run(capsys, "--db", str(path), "--once")
    assert code == 0
    assert out.count("no data yet") == 6
    assert "is `infersight run` running" in out
    assert "engine_metrics_url" in out
    assert "send traffic through the gateway at http://127.0.0.1:8400/v1" in out
    assert "no pricing configured" in out


def test_gpu_hint_when_nvml_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "cpu.db")
    store.write_samples([MetricSample.make("collector_up", NOW - 5, 1, collector="host")])
    snap = gather_status(store, Settings(), now=NOW)
    assert snap.hints["gpus"].startswith("no GPU seen: nvml unavailable on this host")
    off = Settings.model_validate({"collectors": {"nvml": {"enabled": False}}})
    assert "collectors.nvml is disabled" in gather_status(store, off, now=NOW).hints["gpus"]


def test_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--db", str(tmp_path / "nope.db"), "--once")
    assert code == 1
    assert "no database at" in err


def test_bad_interval(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["status", "--interval", "0"])
    assert exc.value.code == 2
    assert "invalid --interval" in capsys.readouterr().err


def test_live_view_stops_on_ctrl_c(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(status_cmd.time, "sleep", sleep)
    code, out, _ = run(capsys, "--db", db, "--interval", "0.5")
    assert code == 0
    assert sleeps == [0.5, 0.5]
    assert "NVIDIA H100" in out
