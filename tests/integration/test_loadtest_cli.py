"""`infersight loadtest` end to end against the sim: reports, the store, Ctrl-C, the search."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from infersight.cli.main import main
from infersight.sim import SimKnobs, run_sim_in_thread
from infersight.store.sqlite import SqliteStore


def test_sweep_writes_reports_and_records_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with run_sim_in_thread(SimKnobs(ttft_ms=10, itl_ms=4, tokens=12, slots=2)) as sim:
        code = main([
            "loadtest", "--endpoint", sim.url, "--model", "sim-model", "--output-tokens", "12",
            "sweep", "--concurrency", "1,2,4,8", "--requests", "16", "--warmup", "0.1s",
            "--engine-metrics", sim.url + "/metrics", "--capture-interval", "0.2s",
            "--slo-ttft-ms", "100", "--target-rate", "100", "--usd-per-hour", "2.5",
            "--out", str(tmp_path / "out"), "--db", str(tmp_path / "lt.db"), "--no-progress",
        ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "capacity point: concurrency 2" in out and "replicas for 100 req/s" in out
    report = json.loads((tmp_path / "out/report.json").read_text())
    assert report["status"] in ("completed", "stopped") and report["profile"] == "sweep"
    cap = report["capacity"]
    assert cap["knee_concurrency"] == 2 and cap["replicas_needed"] in (3, 4)  # 100 / ~36 per s
    assert cap["cost_per_1m_output_tokens_usd"] > 0
    for name in ("requests.csv", "levels.csv", "report.html", "charts/server_metrics.png"):
        assert (tmp_path / "out" / name).exists()
    store = SqliteStore(tmp_path / "lt.db")
    try:
        (row,) = store.loadtests.list_loadtests()
    finally:
        store.close()
    assert row.id == report["id"] and row.knee_concurrency == 2 and row.model == "sim-model"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["concurrency", "1"], 2, "--endpoint URL and --model NAME are required"),
        (
            [
                "--endpoint",
                "http://127.0.0.1:9",
                "--model",
                "m",
                "--input-tokens",
                "x",
                "concurrency",
                "1",
            ],
            2,
            "invalid token length",
        ),
        (["--endpoint", "http://127.0.0.1:9", "--model", "m", "search"], 2, "at least one SLO"),
        (
            ["--endpoint", "notaurl", "--model", "m", "concurrency", "1"],
            2,
            "--endpoint: must start with http:// or https://, got 'notaurl'",
        ),
        (
            ["--endpoint", "http://[::1", "--model", "m", "concurrency", "1"],
            2,
            "--endpoint: is not a valid URL",
        ),
        (
            ["--endpoint", "http://127.0.0.1:99999/v1", "--model", "m", "concurrency", "1"],
            2,
            "--endpoint: has an invalid port",
        ),
        (
            [
                "--endpoint",
                "http://127.0.0.1:9",
                "--model",
                "m",
                "--engine-metrics",
                "x",
                "concurrency",
                "1",
            ],
            2,
            "--engine-metrics: must start with http://",
        ),
        (
            [
                "--endpoint",
                "http://127.0.0.1:9",
                "--model",
                "m",
                "--instance-type",
                "ml.zz.huge",
                "concurrency",
                "1",
            ],
            2,
            "unknown instance type",
        ),
        (
            [
                "--endpoint",
                "http://127.0.0.1:9",
                "--model",
                "m",
                "concurrency",
                "1",
                "--requests",
                "1",
                "--no-store",
            ],
            1,
            "cannot reach http://127.0.0.1:9/v1",
        ),
    ],
)
def test_bad_input_is_one_clear_message(
    args: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["loadtest", "--out", str(tmp_path), *args]) == code
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and "Traceback" not in err


def test_options_after_the_profile_name_count(tmp_path: Path) -> None:
    with run_sim_in_thread(SimKnobs(tokens=3)) as sim:
        code = main([
            "loadtest", "concurrency", "2", "--endpoint", sim.url, "--model", "sim-model",
            "--requests", "4", "--warmup", "0s", "--out", str(tmp_path), "--no-store",
            "--no-charts", "--no-progress", "--json",
        ])  # fmt: skip
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["levels"][0]["num_prompts"] == 4 and report["config"]["warmup_s"] == 0


@pytest.mark.slow
def test_sigint_writes_the_partial_report(tmp_path: Path) -> None:
    with run_sim_in_thread(SimKnobs(ttft_ms=5, itl_ms=2, tokens=10)) as sim:
        cmd = [sys.executable, "-c", "import sys; from infersight.cli.main import main; "
               "sys.exit(main())", "loadtest", "--endpoint", sim.url, "--model", "sim-model",
               "concurrency", "4", "--duration", "60s", "--warmup", "0s", "--out",
               str(tmp_path / "out"), "--no-store", "--no-charts", "--no-progress"]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while (
                sim.state.completed_total < 50
                and time.monotonic() < deadline
                and proc.poll() is None
            ):
                time.sleep(0.05)  # waiting for real traffic to reach the sim
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err.decode()
    report = json.loads((tmp_path / "out/report.json").read_text())
    assert report["status"] == "interrupted" and report["levels"][0]["completed"] >= 40
    assert "interrupted" in report["stop_reason"]
    assert (tmp_path / "out/report.html").exists()
    summary = " ".join(out.decode().split())
    assert "capacity point: concurrency 4 (only a partial level, cut short: interrupted" in summary
    assert report["capacity"]["knee_level"] == 0


def _sim_process(args: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """`infersight sim` in its own process (no GIL shared with the load tester)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-c", "import sys; from infersight.cli.main import main; "
           "sys.exit(main())", "sim", "--port", str(port), *args]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.1)  # waiting for the child process to listen
    proc.kill()
    raise RuntimeError("infersight sim did not start")


@pytest.mark.slow
def test_search_finds_the_capacity_the_slot_model_implies(tmp_path: Path) -> None:
    # 4 slots, each request 20 ms + 19 × 5 ms = 115 ms → at most 4 / 0.115 ≈ 34.8 requests/s
    proc, url = _sim_process(["--ttft-ms", "20", "--itl-ms", "5", "--tokens", "20", "--slots", "4"])
    try:
        code = main([
            "loadtest", "--endpoint", url, "--model", "sim-model", "--output-tokens", "20",
            "search", "--slo-ttft-ms", "500", "--start-rate", "16", "--duration", "2.5s",
            "--warmup", "0.3s", "--out", str(tmp_path), "--no-store", "--no-charts",
            "--no-progress", "--json",
        ])  # fmt: skip
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    best = report["search"]["max_rate_meeting_slo"]
    capacity = 4 / 0.115
    assert 0.9 * capacity <= best <= 1.1 * capacity, report["search"]["probes"]
    lo, hi = report["search"]["goodput_ci95"]
    assert lo <= report["search"]["goodput"] <= hi


def test_an_unusable_out_is_refused_before_any_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me\n")
    with run_sim_in_thread(SimKnobs(tokens=3)) as sim:
        for out in (afile / "sub", afile):
            code = main([
                "loadtest", "--endpoint", sim.url, "--model", "sim-model", "concurrency", "1",
                "--requests", "2", "--warmup", "0s", "--out", str(out),
                "--db", str(tmp_path / "lt.db"), "--no-progress",
            ])  # fmt: skip
            captured = capsys.readouterr()
            err = " ".join(captured.err.split())
            assert code == 2 and "--out:" in err and "Traceback" not in err
            assert "requests" not in captured.out
        metrics = urllib.request.urlopen(sim.url + "/metrics", timeout=5).read().decode()
    assert afile.read_text() == "keep me\n"
    assert not (tmp_path / "lt.db").exists()  # nothing ran, nothing to store
    served = [ln for ln in metrics.splitlines() if ln.startswith("vllm:request_success_total")]
    assert served and all(float(ln.split()[-1]) == 0 for ln in served)  # no load was sent


def test_a_report_that_cannot_be_written_loses_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out" / "report.json").mkdir(parents=True)  # writing report.json fails
    with run_sim_in_thread(SimKnobs(tokens=3)) as sim:
        code = main([
            "loadtest", "--endpoint", sim.url, "--model", "sim-model", "concurrency", "1",
            "--requests", "2", "--warmup", "0s", "--out", str(tmp_path / "out"),
            "--db", str(tmp_path / "lt.db"), "--no-progress", "--no-charts",
        ])  # fmt: skip
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1 and "cannot write the reports" in err and "Traceback" not in err
    assert "stored in" in err
    store = SqliteStore(tmp_path / "lt.db")
    try:
        (row,) = store.loadtests.list_loadtests()
    finally:
        store.close()
    assert row.model == "sim-model"
