"""`infersight stats` end to end on a seeded SQLite file, and the duration parser."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from infersight.cli._durations import format_duration, parse_duration_s
from infersight.cli.main import main
from infersight.core.records import RequestRecord
from infersight.store.sqlite import SqliteStore


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "220")


def rec(i: int, age_s: float, **kw: object) -> RequestRecord:
    fields: dict[str, object] = {
        "id": f"r{i}",
        "started_at": time.time() - age_s,
        "model": "llama",
        "upstream": "vllm-a",
        "route": "/v1/chat/completions",
        "stream": True,
        "status": 200,
        "e2e_s": 2.0,
        "ttft_s": 0.1,
        "tpot_s": 0.02,
        "itl_mean_s": 0.02,
        "output_tokens_per_s": 50.0,
        "completion_tokens": 90,
    }
    fields.update(kw)
    return RequestRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "stats.db"
    store = SqliteStore(path)
    store.write_records(
        [
            *(rec(i, age_s=60 + i) for i in range(9)),
            rec(9, 70, status=503, error_class="upstream_5xx", ttft_s=None, e2e_s=0.5),
            rec(10, 30, model="qwen", upstream="tgi", ttft_s=0.25, completion_tokens=10),
            rec(11, 40, model="qwen", source="demo"),
            rec(12, 3 * 3600, model="old"),  # outside 15m, inside 7d
        ]
    )
    store.close()
    return str(path)


def test_table_by_model(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "last 15m" in out and "by model" in out
    for header in ("requests", "errors", "TTFT ms", "ITL ms", "TPOT ms", "E2E s", "tokens/s"):
        assert header in out
    lines = out.splitlines()
    llama = next(line for line in lines if line.strip("│ ").startswith("llama"))
    assert "10" in llama and "1 (10.0%)" in llama
    assert "100 / 100 / 100" in llama  # TTFT ms p50/p95/p99
    assert "20.0 / 20.0 / 20.0" in llama  # ITL and TPOT ms
    assert re.search(r"50\.0 │ +1\.00 │$", llama)  # mean speed; 10 x 90 tokens / 900 s
    qwen = next(line for line in lines if line.strip("│ ").startswith("qwen"))
    assert "250 / 250 / 250" in qwen and "0 (0.0%)" in qwen
    assert any(line.strip("│ ").startswith("all") for line in lines)
    assert "old" not in out


def test_group_by_upstream_and_window(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--db", db, "--by", "upstream", "--window", "7d"]) == 0
    out = capsys.readouterr().out
    assert "last 7d" in out and "by upstream" in out
    assert "vllm-a" in out and "tgi" in out


def test_json(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--db", db, "--json", "--sources", "all"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["window_s"] == 900.0 and data["by"] == "model"
    groups = {g["group"]["model"]: g for g in data["groups"]}
    assert groups["llama"]["requests"] == 10 and groups["llama"]["errors"] == 1
    assert groups["qwen"]["requests"] == 2  # the demo request counts with --sources all
    assert groups["llama"]["ttft_s"] == {"p50": 0.1, "p95": 0.1, "p99": 0.1}
    assert data["total"]["requests"] == 12
    assert data["total"]["throughput_tokens_per_s"] == pytest.approx((10 * 90 + 10 + 90) / 900)


def test_empty_window_is_friendly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.db"
    SqliteStore(path).close()
    assert main(["stats", "--db", str(path), "--window", "30s"]) == 0
    out = capsys.readouterr().out
    assert "no requests in the last 30s" in out
    assert "http://127.0.0.1:8400/v1" in out


def test_empty_for_user_traffic_hints_at_other_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.db"
    store = SqliteStore(path)
    store.write_records([rec(1, 5, source="demo")])
    store.close()
    assert main(["stats", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "no requests in the last 15m" in out and "--sources all" in out


def test_missing_database_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.db"
    assert main(["stats", "--db", str(missing)]) == 1
    err = capsys.readouterr().err
    assert "no database at" in err and "nope.db" in err
    assert not missing.exists()  # stats never creates a database


def test_config_file_names_the_store(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "infersight.yaml"
    config.write_text(f"store:\n  path: {db}\n", encoding="utf-8")
    assert main(["stats", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["groups"]


def test_bad_config_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("store:\n  nonsense: 1\n", encoding="utf-8")
    assert main(["stats", "--config", str(config)]) == 2
    assert "nonsense" in capsys.readouterr().err


@pytest.mark.parametrize("window", ["15", "m", "-5m", "0s", "1w", "15 minutes"])
def test_bad_window_is_a_usage_error(window: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["stats", "--db", "x.db", f"--window={window}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--window" in err and "e.g. 30s, 15m, 2h, 7d" in err


def test_bad_sources_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["stats", "--db", "x.db", "--sources", "users"])
    assert info.value.code == 2
    assert "user, sweep, loadtest, demo" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("15m", 900.0), ("2h", 7200.0), ("7d", 604800.0), ("1.5h", 5400.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"), [(30, "30s"), (900, "15m"), (5400, "90m"), (86400, "1d"), (45.5, "45.5s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_group_by_error_class_names_the_failures(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The error_rate_high runbook points here: which error classes the failures have."""
    assert main(["stats", "--db", db, "--by", "error_class", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_class = {g["group"]["error_class"]: g["requests"] for g in data["groups"]}
    assert by_class["upstream_5xx"] == 1 and by_class[None] >= 1
