"""`infersight query` end to end on a seeded SQLite file: CSV, JSON, table, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from infersight.cli.main import main
from infersight.cli.query_cmd import parse_time
from infersight.core.records import MetricSample, RequestRecord
from infersight.store.sqlite import SqliteStore

H0 = 1_699_999_200.0  # 2023-11-14T22:00:00Z
SINCE, UNTIL = "2023-11-14T22:00:00", "2023-11-14T22:05:00Z"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)  # no ./infersight.yaml is picked up


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "q.db"
    store = SqliteStore(path)
    store.write_samples(
        [MetricSample.make("gpu_util", H0 + 10 * i, float(i), gpu="0") for i in range(30)]
        + [MetricSample.make("gpu_util", H0 + 10 * i, 100.0, gpu="1") for i in range(6)]
        + [MetricSample.make("tokens_total", H0 + 10 * i, 5.0 * i) for i in range(30)]
    )
    store.write_records(
        [
            RequestRecord(
                f"r{i}", H0 + i, "llama", "vllm-a", "/v1/chat", True, 200, 1.0, ttft_s=0.1 * (i + 1)
            )
            for i in range(10)
        ]
    )
    store.compact(H0 + 300)
    store.close()
    return str(path)


def query(db: str, *args: str) -> list[str]:
    return ["query", *args, "--db", db, "--since", SINCE, "--until", UNTIL]


def test_csv(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(query(db, "gpu_util", "--format", "csv")) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["time", "ts", "gpu", "value"]
    assert rows[1:] == [
        ["2023-11-14T22:00:00Z", "1699999200", "0", "2.5"],
        ["2023-11-14T22:01:00Z", "1699999260", "0", "8.5"],
        ["2023-11-14T22:02:00Z", "1699999320", "0", "14.5"],
        ["2023-11-14T22:03:00Z", "1699999380", "0", "20.5"],
        ["2023-11-14T22:04:00Z", "1699999440", "0", "26.5"],
        ["2023-11-14T22:00:00Z", "1699999200", "1", "100.0"],
    ]


def test_json_with_labels_agg_and_step(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = query(db, "gpu_util", "--format", "json", "--agg", "max", "--step", "5m")
    assert main([*args, "--label", "gpu=0"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["name"] == "gpu_util" and payload["agg"] == "max"
    assert payload["step_s"] == 300.0
    assert (payload["start"], payload["end"]) == (H0, H0 + 300)
    assert payload["series"] == [{"labels": {"gpu": "0"}, "points": [[H0, 29.0]]}]


def test_rate_and_derived_series(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(query(db, "tokens_total", "--format", "json", "--agg", "rate")) == 0
    [series] = json.loads(capsys.readouterr().out)["series"]
    assert series["points"][1] == [H0 + 60, 0.5]
    assert main(query(db, "ttft_seconds", "--format", "json", "--label", "quantile=0.5")) == 0
    [ttft] = json.loads(capsys.readouterr().out)["series"]
    assert ttft["labels"] == {
        "model": "llama",
        "quantile": "0.5",
        "source": "user",
        "upstream": "vllm-a",
    }
    assert ttft["points"] == [[H0, pytest.approx(0.55)]]


def test_table(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(query(db, "gpu_util")) == 0
    out = capsys.readouterr().out
    assert "gpu_util · avg per 1m" in out
    assert "gpu=0" in out and "gpu=1" in out
    assert "2023-11-14T22:04:00Z" in out and "26.5" in out


def test_unknown_metric_lists_close_matches(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(query(db, "gpu_utl")) == 2
    err = capsys.readouterr().err
    assert "unknown metric 'gpu_utl'" in err and "close matches: gpu_util" in err
    assert main(query(db, "ttft")) == 2
    assert "ttft_seconds" in capsys.readouterr().err


def test_empty_result_says_so(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(query(db, "gpu_util", "--label", "gpu=7", "--format", "csv")) == 0
    captured = capsys.readouterr()
    assert captured.out == "time,ts,value\n"
    assert "no data for gpu_util gpu=7" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label", "gpu"], "expected KEY=VALUE"),
        (["--since", "yesterday"], "invalid --since 'yesterday'"),
        (["--since", "2023-11-14T23:00:00"], "--since must be before --until"),
        (["--step", "1s", "--since", "2023-01-01T00:00:00"], "raise --step"),
    ],
)
def test_bad_arguments(
    db: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = ["query", "gpu_util", "--db", db, "--until", UNTIL, "--since", SINCE, *args]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_agg_and_step_are_usage_errors(db: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(query(db, "gpu_util", "--agg", "median"))
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(query(db, "gpu_util", "--step", "0m"))


def test_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "gpu_util", "--db", str(tmp_path / "none.db")]) == 1
    assert "no database at" in capsys.readouterr().err


def test_parse_time() -> None:
    now = 1_700_000_000.0
    assert parse_time("now", now, "--until") == now
    assert parse_time("90m", now, "--since") == now - 5400
    assert parse_time("1699999200", now, "--since") == H0
    assert parse_time("2023-11-14T22:00:00", now, "--since") == H0  # UTC when no offset
    assert parse_time("2023-11-14T23:00:00+01:00", now, "--since") == H0
