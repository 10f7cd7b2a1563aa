"""The evidence report: what it reads from a real SQLite store (sweeps, regressions, alert
history, live series), the HTML it writes, `infersight report` and its PDF fallback."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from infersight.cli import report_cmd
from infersight.cli.main import main
from infersight.core.alarms import AlertEvent
from infersight.core.records import MetricSample
from infersight.quality.datasets import ChatMessage, DatasetItem
from infersight.quality.evidence import alert_episodes, collect_evidence
from infersight.quality.report_html import render_evidence_html, render_sweep_html
from infersight.quality.report_svg import Point, interval_chart, time_chart
from infersight.quality.results import SweepReport, aggregate, compare_verdicts, verdicts_of
from infersight.quality.scorers.base import ScoreResult
from infersight.quality.sweep import Answer, ItemResult
from infersight.store.sqlite import SqliteStore

NOW = time.time()
SCORER = {"name": "accuracy", "higher_is_better": True, "threshold": 0.5, "version": "0.1.0+abc"}


def results(correct: int, n: int = 12) -> tuple[ItemResult, ...]:
    out = []
    for i in range(n):
        item = DatasetItem(
            f"q{i}", (ChatMessage("user", f"Question <{i}>?"),), ("ref",), tags=("t",)
        )
        ok = i < correct
        score = ScoreResult(float(ok), "correct" if ok else "incorrect", f"reason {i}", ok)
        out.append(
            ItemResult(
                item, Answer(f"q{i}", f"answer {i} {'ok' if ok else 'bad'}"), {"accuracy": score}
            )
        )
    return tuple(out)


def sweep(sweep_id: str, at: float, correct: int, prev: SweepReport | None = None) -> SweepReport:
    r = results(correct)
    report = SweepReport(
        id=sweep_id, name="nightly", dataset="default", model="m", endpoint="http://x/v1",
        started_at=at, finished_at=at + 3, results=r, groups=tuple(aggregate(r)),
        scorers=(SCORER,),
    )  # fmt: skip
    if prev is not None:
        c = compare_verdicts(verdicts_of(prev.results), verdicts_of(r), alpha=0.05)
        report = replace(report, comparisons=c, previous_id=prev.id)
    return report


def event(
    ts: float, rule: str, kind: str, state: str, prev: str, value: float, message: str
) -> AlertEvent:
    return AlertEvent(ts, rule, kind, "dataset=default", state, prev, value, message)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "q.db"
    store = SqliteStore(path)
    first = sweep("s1", NOW - 7200, correct=12)
    second = sweep("s2", NOW - 3600, correct=1, prev=first)  # 11 items pass -> fail
    for s in (first, second):
        store.quality.write_sweep(*s.to_rows())
    drop = "quality_accuracy_drop"
    store.alerts.append_events(
        [
            event(NOW - 3500, drop, "transition", "ALARM", "OK", 1.0, "1 of 1 breaching"),
            event(NOW - 3500, drop, "notified", "ALARM", "OK", 1.0, "firing sent to ops"),
            event(NOW - 1800, drop, "transition", "OK", "ALARM", 0.0, "0 of 1 breaching"),
            event(NOW - 1800, drop, "notified", "OK", "ALARM", 0.0, "resolved sent to ops"),
            event(NOW - 1000, "ttft_p95_high", "transition", "ALARM", "OK", 3.0, "slow"),
        ]
    )
    store.write_samples([MetricSample.make("quality_live_relevance", NOW - 600, 0.7, model="m")])
    store.close()
    return path


def test_alert_episodes_pair_fire_and_resolve() -> None:
    events = [
        AlertEvent(10, "q", "transition", "a", "ALARM", "OK", 1.0, "breach"),
        AlertEvent(10, "q", "notified", "a", "ALARM", "OK", 1.0, "firing sent to hook"),
        AlertEvent(70, "q", "notify_failed", "a", "ALARM", "", 1.0, "repeat to mail failed"),
        AlertEvent(130, "q", "transition", "a", "OK", "ALARM", 0.0, "fine"),
        AlertEvent(130, "q", "notified", "a", "OK", "ALARM", 0.0, "resolved sent to hook"),
        AlertEvent(200, "q", "transition", "b", "ALARM", "OK", 2.0, "breach"),
        AlertEvent(200, "other", "transition", "", "ALARM", "OK", 2.0, "not quality"),
    ]
    first, second = alert_episodes(reversed(events), {"q"})
    assert (first.instance, first.fired_at, first.resolved_at) == ("a", 10, 130)
    assert first.resolution.startswith("OK after 2 min")
    assert first.notifications == ["firing sent to hook", "resolved sent to hook"]
    assert first.failures == ["repeat to mail failed"]
    assert second.resolved_at is None and "still in ALARM" in second.resolution


def test_evidence_and_html_sections(db: Path) -> None:
    store = SqliteStore(db)
    rules = [
        {"name": "quality_accuracy_drop", "metric": "quality_accuracy_regressed", "threshold": 0.5}
    ]
    ev = collect_evidence(store, NOW - 86400, NOW, quality_rules=rules)
    store.close()
    assert [s["id"] for s in ev.sweeps] == ["s1", "s2"]
    [reg] = ev.regressions
    assert reg["scorer"] == "accuracy" and len(reg["items"]) == 11
    assert reg["items"][0]["before"].endswith("ok") and reg["items"][0]["now"].endswith("bad")
    [episode] = ev.alerts  # ttft_p95_high is not a quality rule
    assert episode.rule == "quality_accuracy_drop" and episode.resolved_at is not None
    assert ev.live["quality_live_relevance"][0]["mean"] == pytest.approx(0.7)
    [scorer] = ev.scorers
    assert scorer["version"] == "0.1.0+abc" and scorer["sweeps"] == 2
    html = render_evidence_html(ev)
    for section in (
        "Sweep history",
        "Dataset default",
        "Regressions",
        "Quality alerts",
        "Live traffic sampling",
        "Scorers and thresholds",
        "Method",
    ):
        assert f"{section}" in html, section
    assert "<svg" in html and "<script" not in html
    assert "quality_accuracy_drop" in html and "resolved sent to ops" in html
    assert "Question &lt;3&gt;?" in html  # escaped
    assert "regressed: accuracy" in html and "0.1.0+abc" in html


def test_sweep_html_lists_regressed_items() -> None:
    first = sweep("s1", NOW, correct=12)
    second = sweep("s2", NOW + 60, correct=10, prev=first)
    previous = {r.item.id: {"answer": r.answer.text} for r in first.results}
    html = render_sweep_html(second.to_json(), previous, first.summary_json())
    assert "Against the previous sweep" in html and "2 items worse (not significant)" in html
    assert "answer 10 ok" in html and "answer 10 bad" in html and "reason 11" in html
    base = render_sweep_html(first.to_json())
    assert "this sweep is the baseline" in base and "<script" not in base


def test_svg_charts() -> None:
    assert time_chart([], title="x") == ""
    svg = time_chart([("accuracy", [Point(0, 0.5, 0.4, 0.6), Point(60, 0.7, 0.6, 0.8)])], title="t")
    assert svg.startswith("<svg") and "polygon" in svg and "accuracy" in svg
    single = time_chart([("a", [Point(0, 0.5, 0.4, 0.6)])], title="one point")
    assert "<circle" in single
    bars = interval_chart([("all", 0.5, 0.3, 0.7), ("tag <b>", 0.2, 0.0, 0.5)], title="i")
    assert bars.count("<circle") == 2 and "tag &lt;b&gt;" in bars


def test_report_command_writes_html_and_explains_missing_pdf(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r" / "report.html"
    assert main(["report", "--since", "1d", "--db", str(db), "--out", str(out)]) == 0
    assert "2 sweeps, 1 regressions, 1 quality alert episodes" in capsys.readouterr().out
    assert "Quality evidence report: last 1d" in out.read_text()
    monkeypatch.setattr(report_cmd, "PDF_CONVERTERS", [str(tmp_path / "no-such-browser")])
    assert main(["report", "--db", str(db), "--out", str(out), "--pdf"]) == 1
    err = capsys.readouterr().err
    assert "PDF unavailable: no PDF converter found" in err and "the HTML is written" in err
    assert main(["report", "--db", str(tmp_path / "none.db"), "--out", str(out)]) == 1
    assert "no database at" in capsys.readouterr().err


def test_report_command_bad_duration_is_a_usage_error(db: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["report", "--since", "soon", "--db", str(db)])
    assert info.value.code == 2


@pytest.mark.skipif(report_cmd.find_converter() is None, reason="no chromium on this machine")
def test_report_pdf_with_chromium(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--db", str(db), "--out", str(out), "--pdf"]) == 0
    pdf = out.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
