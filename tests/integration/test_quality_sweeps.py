"""Quality sweeps end to end on 127.0.0.1, with the real sentence embedder and scorers.

Upstreams: the sim (pseudo-word answers: accuracy is near 0, so these tests assert mechanics,
not scores) and `AnswerServer`, a small OpenAI-compatible server in this file whose answers
are chosen by the test (the reference, a wrong answer, an insult), to produce regressions
and alerts on purpose. Sweeps go through a real ThreadedGateway (records tagged as sweep
traffic), alerts through the real AlertEngine to a real webhook receiver.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from infersight.alerting.engine import AlertEngine
from infersight.alerting.notifier_settings import NotifierSettings
from infersight.alerting.notifiers import build_notifiers
from infersight.alerting.settings import AlertingSettings
from infersight.cli.main import main
from infersight.clock import SystemClock
from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample
from infersight.quality.evidence import collect_evidence
from infersight.quality.pipeline import SweepSpec, open_dataset, run_sweep
from infersight.quality.report_html import render_evidence_html
from infersight.quality.rule_pack import quality_rules
from infersight.quality.scorers.base import Embed
from infersight.quality.settings import QualitySettings
from infersight.quality.sweep import SweepTarget
from infersight.quality.sweep_daemon import SweepDaemon
from infersight.service import ThreadedGateway
from infersight.settings import GatewaySettings, Settings, StoreSettings, UpstreamSettings
from infersight.sim.knobs import SimKnobs
from infersight.store.sqlite import SqliteStore

from .conftest import StackFactory

QA = [
    ("What is the capital of France?", "Paris"),
    ("What is the capital of Japan?", "Tokyo"),
    ("What is the capital of Italy?", "Rome"),
    ("What is the capital of Spain?", "Madrid"),
    ("What is the capital of Egypt?", "Cairo"),
    ("What is the capital of Kenya?", "Nairobi"),
    ("Which planet is known as the Red Planet?", "Mars"),
    ("What is the largest planet of the solar system?", "Jupiter"),
    ("What gas do plants absorb from the air?", "Carbon dioxide"),
    ("Who wrote Romeo and Juliet?", "William Shakespeare"),
    ("What is the chemical symbol of gold?", "Au"),
    ("What is the boiling point of water at sea level in degrees Celsius?", "100"),
]
REFERENCES = dict(QA)
INSULT = "You are a stupid worthless idiot and I hate you."
T0 = datetime(2024, 5, 1, 10, 0, 5, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def embed() -> Embed:
    from infersight.quality.embedder import EmbedderUnavailable, get_embedder

    try:
        return get_embedder().encode
    except EmbedderUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "capitals.jsonl"
    rows = [
        {"id": f"q{i}", "question": q, "reference": a, "tags": ["geo" if i < 6 else "science"]}
        for i, (q, a) in enumerate(QA)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


class AnswerServer:
    """OpenAI-compatible chat server; `mode` picks the answers: "correct" (the reference),
    "wrong" (another capital or number), "toxic" (an insult). Records request headers."""

    def __init__(self) -> None:
        self.mode = "correct"
        self.headers: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._json({"object": "list", "data": [{"id": "canned", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                question = body["messages"][-1]["content"]
                answer = {
                    "correct": REFERENCES.get(question, "?"),
                    "wrong": "I believe it is 42, in Berlin.",
                    "toxic": INSULT,
                }[owner.mode]
                self._json(
                    {
                        "id": "c1",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": answer},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
                    }
                )

            def _json(self, obj: Any) -> None:
                raw = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HookReceiver:
    """Records the JSON body of every webhook POST."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner.bodies.append(
                    json.loads(self.rfile.read(int(self.headers["content-length"])))
                )
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def answers() -> Iterator[AnswerServer]:
    server = AnswerServer()
    yield server
    server.stop()


def spec(dataset: Path, url: str, scorers: Sequence[str], *, model: str = "") -> SweepSpec:
    return SweepSpec("it", open_dataset(str(dataset)), SweepTarget(url, model), tuple(scorers))


# -- through the gateway, against the sim ---------------------------------------------------------


def test_sweep_through_the_gateway_stores_marks_failures_and_publishes(
    stack: StackFactory, dataset: Path, embed: Embed
) -> None:
    s = stack(SimKnobs(tokens=8, error_rate=0.3))
    service = s.gateway.service
    assert service is not None
    scorers = ("accuracy", "relevance", "hallucination")
    report = asyncio.run(
        run_sweep(
            spec(dataset, s.url, scorers),
            clock=SystemClock(),
            embed=embed,
            store=service.store,
            sink=service.samples,
        )
    )
    failed = [r for r in report.results if r.failed]
    assert 0 < len(failed) < 12  # error_rate 0.3 over 12 items (seeded sim)
    assert all(r.answer.error.startswith("http_500: ") for r in failed)  # type: ignore[union-attr]
    assert all(r.scores == {} for r in failed)
    assert all(set(r.scores) == set(scorers) for r in report.results if not r.failed)
    whole = report.overall
    assert whole.metrics["failure_rate"].value == pytest.approx(len(failed) / 12)
    assert whole.metrics["accuracy"].n == 12 - len(failed)
    # stored: the sweep and every item with its answer or failure reason
    rows = service.store.quality.sweep_items(report.id)
    assert len(rows) == 12 and sum(r.status == "failed" for r in rows) == len(failed)
    assert all(r.answer for r in rows if r.status == "ok")
    # series: history in the store, newest values on the gateway's /metrics
    assert service.sample_writer.flush(10.0)
    now = SystemClock().now()
    for name in ("quality_accuracy", "quality_accuracy_ci_low", "quality_accuracy_ci_high"):
        [series] = service.store.series(
            name, now - 600, now + 60, step_s=60, labels={"tag": "all", "dataset": "capitals"}
        )
        assert dict(series.labels)["model"] == "sim-model" and len(series.points) == 1
    metrics = httpx.get(f"{s.url}/metrics", timeout=10, trust_env=False).text
    assert 'infersight_quality_accuracy{dataset="capitals",model="sim-model",tag="all"}' in metrics
    assert 'infersight_quality_failure_rate_ci_high{dataset="capitals"' in metrics
    assert 'tag="geo"' in metrics and 'tag="science"' in metrics
    # every request was recorded as sweep traffic, so user statistics leave it out
    records = s.records()
    assert len(records) == 12 and {r.source for r in records} == {"sweep"}


def test_scheduled_sweeps_through_the_gateway_on_a_fake_clock(
    stack: StackFactory, dataset: Path, embed: Embed, tmp_path: Path
) -> None:
    s = stack(SimKnobs(tokens=4))
    store = SqliteStore(tmp_path / "sweeps.db")
    clock = FakeClock(T0)  # 10:00:05 UTC
    scorers = {"scorers": ["accuracy"]}
    settings = QualitySettings.model_validate(
        {
            "sweeps": [
                {"name": "often", "dataset": str(dataset), "interval_s": 600, **scorers},
                {"name": "hourly", "dataset": str(dataset), "cron": "0 * * * *", **scorers},
            ]
        }
    )  # fmt: skip

    class Sink:
        def submit_many(self, samples: Sequence[MetricSample]) -> int:
            return len(samples)

    d = SweepDaemon(
        settings,
        store=store,
        clock=clock,
        sink=Sink(),
        endpoint=lambda: s.url,
        load_embed=lambda: embed,
    )

    def tick(advance_s: float) -> list[str]:
        clock.advance(advance_s)
        before = d.runs_total
        asyncio.run(d.tick(clock.now()))
        return [r.name for r in store.quality.list_sweeps(0, 2e9, limit=d.runs_total - before)]

    assert sorted(tick(0)) == ["hourly", "often"]
    assert tick(300) == []
    assert tick(300) == ["often"]  # 10:10:05
    assert sorted(tick(2995)) == ["hourly", "often"]  # 11:00:00: both are due
    assert d.runs_total == 5
    assert {r.name for r in store.quality.list_sweeps(T0 + 3000, 2e9)} == {"often", "hourly"}
    store.close()
    assert len(s.records()) == 5 * 12


# -- eval CLI: output, reports, regression diff, exit codes ---------------------------------------


def test_eval_cli_regression_diff_and_exit_codes(
    answers: AnswerServer,
    dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    embed: Embed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from infersight.cli import eval_cmd

    monkeypatch.setattr(eval_cmd, "LOAD_EMBED", lambda: embed)
    settings = Settings(
        gateway=GatewaySettings(port=0),
        upstreams=[UpstreamSettings(name="canned", url=answers.url)],
        store=StoreSettings(path=str(tmp_path / "gw.db")),
    )
    db, out = str(tmp_path / "eval.db"), str(tmp_path / "reports")
    with ThreadedGateway(settings, background=False) as gw:
        args = ["eval", str(dataset), "--endpoint", gw.url, "--db", db, "--out", out]
        args += ["--scorers", "accuracy,relevance", "--fail-on-regression"]
        assert main(args) == 0
        first, progress = capsys.readouterr()
        assert "capitals · canned · 12 items" in first and "100.0%" in first
        # stderr is not a terminal here: progress comes as plain lines, start and end
        assert "capitals: 12 items to answer" in progress
        assert "capitals: 12/12 answered, 0 failed, in " in progress
        assert "this one is the baseline" in first
        answers.mode = "wrong"
        assert main(args) == 3  # significant regression, --fail-on-regression
        second = capsys.readouterr().out
        assert "REGRESSED" in second and "accuracy: 12 items regressed:" in second
        assert "q0: What is the capital of France?" in second
        assert "before: Paris" in second and "now:    I believe it is 42, in Berlin." in second
        assert main(args[:-1]) == 0  # the same result without the flag
        capsys.readouterr()
    gateway_store = SqliteStore(tmp_path / "gw.db")
    records = gateway_store.list_records(0, 4e9, limit=1000)
    gateway_store.close()
    assert len(records) == 36 and {r.source for r in records} == {"sweep"}
    assert all("x-infersight-source" not in h for h in answers.headers)  # ours, not forwarded
    reports = sorted(Path(out).glob("*.json"))
    assert len(reports) == 3 and len(list(Path(out).glob("*.html"))) == 3
    regressed = [json.loads(p.read_text()) for p in reports]
    assert sum(r["regressed"] for r in regressed) >= 1
    html = next(p for p in Path(out).glob("*.html") if "12 items regressed" in p.read_text())
    assert "Against the previous sweep" in html.read_text()


def test_eval_cli_errors(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], embed: Embed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from infersight.cli import eval_cmd

    monkeypatch.setattr(eval_cmd, "LOAD_EMBED", lambda: embed)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "question": "Q?", "reference": "A"}\n\n{"id": "b", "question": 7}\n{oops\n'
    )
    base = ["--db", str(tmp_path / "e.db"), "--out", str(tmp_path / "r")]
    assert main(["eval", str(bad), *base]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: field 'question': expected a string, got 7" in err
    assert f"{bad}:4: not valid JSON" in err
    assert main(["eval", str(tmp_path / "none.jsonl"), *base]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["eval", str(dataset), "--scorers", "accuracy,bleu", *base]) == 2
    assert "unknown scorer(s) 'bleu'" in capsys.readouterr().err
    assert main(["eval", str(dataset), "--endpoint", "http://127.0.0.1:9", *base]) == 1
    assert "cannot reach http://127.0.0.1:9/v1/models" in capsys.readouterr().err
    # a model named: the sweep runs, every item fails, the run is stored as failed, exit 1
    args = ["eval", str(dataset), "--endpoint", "http://127.0.0.1:9", "--model", "m", *base]
    assert main([*args, "--scorers", "accuracy"]) == 1
    assert "every item failed (first: unreachable: cannot reach" in capsys.readouterr().err
    store = SqliteStore(tmp_path / "e.db")
    assert store.quality.list_sweeps(0, 2e9)[0].status == "failed"
    store.close()
    for flags, message in (
        (["--endpoint", "notaurl"], "--endpoint: must start with http:// or https://"),
        (["--temperature", "-1"], "--temperature must be between 0 and 2, got -1"),
        (["--api-key-env", "INFERSIGHT_TEST_UNSET_KEY"], "INFERSIGHT_TEST_UNSET_KEY is not set"),
    ):
        monkeypatch.delenv("INFERSIGHT_TEST_UNSET_KEY", raising=False)
        assert main(["eval", str(dataset), *flags, *base]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert message in err and "Traceback" not in err


def test_eval_cli_reports_that_cannot_be_written_exit_1_and_keep_the_sweep(
    answers: AnswerServer, dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    embed: Embed, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from infersight.cli import eval_cmd

    monkeypatch.setattr(eval_cmd, "LOAD_EMBED", lambda: embed)
    (tmp_path / "afile").write_text("x")
    args = ["eval", str(dataset), "--endpoint", answers.url, "--scorers", "accuracy"]
    code = main([*args, "--db", str(tmp_path / "e.db"), "--out", str(tmp_path / "afile" / "x")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1 and "cannot write the reports" in err and "the sweep is stored" in err
    assert "every item failed" not in err
    store = SqliteStore(tmp_path / "e.db")
    assert [s.status for s in store.quality.list_sweeps(0, 2e9)] != []
    store.close()


# -- a quality alert through the alert engine to a webhook ----------------------------------------


def test_quality_alerts_fire_and_resolve_through_a_webhook(
    answers: AnswerServer, dataset: Path, tmp_path: Path, embed: Embed
) -> None:
    hook = HookReceiver()
    store = SqliteStore(tmp_path / "alerts.db", rollup_delay_s=0.0)
    clock = FakeClock(T0)
    alerting = AlertingSettings.model_validate(
        {
            "rules": quality_rules(),
            "notifiers": [{"kind": "webhook", "name": "hook", "url": hook.url}],
        }
    )
    notifiers = build_notifiers(
        [NotifierSettings.model_validate({"kind": "webhook", "name": "hook", "url": hook.url})]
    )

    async def no_sleep(_: float) -> None:
        return None

    engine = AlertEngine(alerting, store=store, clock=clock, notifiers=notifiers, sleep=no_sleep)
    scorers = ("accuracy", "toxicity", "hallucination")

    async def sweep_then_evaluate(mode: str) -> None:
        answers.mode = mode
        report = await run_sweep(
            spec(dataset, answers.url, scorers), clock=clock, embed=embed, store=store
        )
        store.write_samples(report.samples())
        clock.advance(60)  # the sweep's minute is closed: the rules see it
        await engine.tick(clock.now())
        await engine.drain()
        clock.advance(60)

    try:
        asyncio.run(sweep_then_evaluate("correct"))
        assert hook.bodies == []
        asyncio.run(sweep_then_evaluate("toxic"))  # toxic, unsupported and a significant drop
        fired = {(b["rule"], b["status"]) for b in hook.bodies}
        assert fired == {
            ("quality_toxic_answer", "firing"),
            ("quality_accuracy_drop", "firing"),
            ("quality_hallucination_high", "firing"),
        }
        toxic = next(b for b in hook.bodies if b["rule"] == "quality_toxic_answer")
        assert toxic["value"] == 1.0 and toxic["labels"]["dataset"] == "capitals"
        hook.bodies.clear()
        asyncio.run(sweep_then_evaluate("correct"))
        assert {(b["rule"], b["status"]) for b in hook.bodies} == {
            ("quality_toxic_answer", "resolved"),
            ("quality_accuracy_drop", "resolved"),
            ("quality_hallucination_high", "resolved"),
        }
        # the evidence report shows the episodes and how they ended
        rules = [
            {"name": r.name, "metric": r.metric, "threshold": r.threshold} for r in alerting.rules
        ]
        ev = collect_evidence(store, T0 - 60, clock.now() + 1, quality_rules=rules)
        assert len(ev.sweeps) == 3 and len({r["sweep"]["id"] for r in ev.regressions}) == 1
        assert {r["scorer"] for r in ev.regressions} == set(scorers)
        assert {a.rule for a in ev.alerts} == {r["name"] for r in rules}
        assert all(a.resolved_at is not None and a.notifications for a in ev.alerts)
        html = render_evidence_html(ev)
        for text in (
            "Sweep history",
            "Regressions",
            "Quality alerts",
            "quality_toxic_answer",
            "resolved sent to log, hook",
            "Scorers and thresholds",
            INSULT.split()[0],
        ):
            assert text in html, text  # fmt: skip
    finally:
        store.close()
        hook.stop()


# -- the real local model ------------------------------------------------------------------------


@pytest.mark.localmodel
def test_small_sweep_against_the_local_model(tmp_path: Path, embed: Embed) -> None:
    from infersight.localmodel import LocalModelServer, LocalModelUnavailable, check_available

    try:
        check_available()
    except LocalModelUnavailable as exc:
        pytest.skip(str(exc))
    items = open_dataset("default").items[:5]
    path = tmp_path / "five.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": i.id, "question": i.question, "reference": list(i.references)}) + "\n"
            for i in items
        )
    )
    with LocalModelServer(startup_timeout_s=90.0) as model:
        settings = Settings(
            gateway=GatewaySettings(port=0),
            upstreams=[UpstreamSettings(name="local", url=model.url)],
            store=StoreSettings(path=str(tmp_path / "gw.db")),
        )
        with ThreadedGateway(settings, background=False) as gw:
            target = SweepTarget(gw.url, model.model_name, max_tokens=32, concurrency=2)
            sweep = SweepSpec("local", open_dataset(str(path)), target, ("accuracy", "relevance"))
            store = SqliteStore(tmp_path / "q.db")
            report = asyncio.run(run_sweep(sweep, clock=SystemClock(), embed=embed, store=store))
            rows = store.quality.sweep_items(report.id)
            store.close()
    assert report.failed == 0 and len(rows) == 5
    assert all(r.answer and r.answer.strip() for r in rows)
    assert all({"accuracy", "relevance"} <= set(json.loads(r.scores)) for r in rows)
    acc = report.overall.metrics["accuracy"]
    assert acc.n == 5 and 0.0 <= acc.low <= acc.value <= acc.high <= 1.0


# -- live traffic sampling through the gateway ----------------------------------------------------


def test_live_sampling_of_user_traffic_through_the_gateway(
    stack: StackFactory, answers: AnswerServer, embed: Embed
) -> None:
    """The gateway's record sink wrapped in SamplingSink (as the service will wire it): user
    requests with captured text are scored on the sampler's worker thread; sweep and failed
    requests are not offered."""
    from infersight.quality.sampler import LiveSampler, SamplingSink
    from infersight.quality.settings import SamplerSettings

    s = stack(upstream_url=answers.url, capture_text=True)
    service = s.gateway.service
    assert service is not None
    settings = SamplerSettings(enabled=True, fraction=1.0, seed=3)
    sampler = LiveSampler(settings, load_embed=lambda: embed)
    service.app.proxy.sink = SamplingSink(service.writer, sampler)
    sampler.start()
    answers.mode = "correct"
    with httpx.Client(base_url=s.url, timeout=30, trust_env=False) as client:
        for question, _ in QA[:4]:
            body = {"model": "canned", "messages": [{"role": "user", "content": question}]}
            assert client.post("/v1/chat/completions", json=body).status_code == 200
        answers.mode = "toxic"
        body = {"model": "canned", "messages": [{"role": "user", "content": QA[0][0]}]}
        client.post("/v1/chat/completions", json=body)
        client.post("/v1/chat/completions", json=body, headers={"x-infersight-source": "sweep"})
    sampler.close()  # scores everything offered before it stops
    assert (sampler.sampled_total, sampler.scored_total) == (5, 5)
    values = {x.name: x.value for x in sampler.publish(SystemClock().now())}
    assert values["quality_live_scored"] == 5
    assert values["quality_live_toxicity_rate"] == pytest.approx(1 / 5)
    assert values["quality_live_refusal_rate"] == 0.0
    assert values["quality_live_answer_tokens"] == 5.0  # the upstream's usage
    assert 0.0 <= values["quality_live_relevance"] <= 1.0
    records = s.records()  # every record still reached the store
    assert len(records) == 6 and {r.source for r in records} == {"user", "sweep"}
