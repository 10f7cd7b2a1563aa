"""LLM judge: verdict parsing, and calls against real HTTP servers on 127.0.0.1.

`JudgeServer` is a tiny OpenAI-compatible server (stdlib http.server in a thread) that replies
with canned judge texts or statuses: a real socket and HTTP exchange, with the judge model's
words scripted. The sim upstream stands in for a model that does not answer in any judge
format.
"""

from __future__ import annotations

import json
import math
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infersight.quality.scorers.base import ScoreInput, summarize
from infersight.quality.scorers.judge import (
    JudgeConfig,
    JudgeScorer,
    LlmJudge,
    build_messages,
    parse_verdict,
)
from infersight.sim.knobs import SimKnobs
from infersight.sim.server import run_sim_in_thread


@pytest.mark.parametrize(
    ("reply", "score", "form"),
    [
        ('{"score": 4, "verdict": "yes", "reason": "close"}', 0.8, "json"),
        ('Sure!\n```json\n{"rating": 2, "explanation": "wrong year"}\n```', 0.4, "json"),
        ('{"verdict": "NO", "reason": "off topic"}', 0.0, "json"),
        ('{"correct": true}', 1.0, "json"),
        ('{"score": 0.75}', 0.75, "json"),
        ('{"score": "4/5"}', 0.8, "json"),
        ("Score: 4/5\nThe answer names the right city.", 0.8, "fraction"),
        ("I'd give it 8 out of 10.", 0.8, "fraction"),
        ("Rating = 3", 0.6, "number"),
        ("**Score:** 5", 1.0, "number"),
        ("Score: 90%", 0.9, "number"),
        ("YES", 1.0, "word"),
        ("no.", 0.0, "word"),
        ("Verdict: PASS", 1.0, "word"),
        ("**Incorrect** - the year is 1972.", 0.0, "word"),
        ("After checking, the answer is not correct.", 0.0, "word"),
        ("The answer is faithful to the source.", 1.0, "word"),
    ],
)
def test_parse_verdict_forms(reply: str, score: float, form: str) -> None:
    parsed = parse_verdict(reply)
    assert parsed is not None
    assert parsed.score == pytest.approx(score) and parsed.form == form


@pytest.mark.parametrize("reply", ["", "   ", "Hmm, hard to say.", '{"score": 700}', "maybe"])
def test_parse_verdict_gives_up_without_a_number(reply: str) -> None:
    assert parse_verdict(reply) is None


def test_prompts_carry_reference_or_source() -> None:
    item = ScoreInput("Q?", "A.", ("R1", "R2"), context="CTX")
    assert "REFERENCE: R1 | R2" in build_messages("correctness", item)[1]["content"]
    assert "SOURCE: CTX" in build_messages("faithfulness", item)[1]["content"]
    assert "REFERENCE" not in build_messages("relevance", item)[1]["content"]
    with pytest.raises(ValueError, match="unknown judge criterion 'tone'"):
        build_messages("tone", item)


class JudgeServer:
    """Replies to POST /v1/chat/completions with the next scripted (status, content)."""

    def __init__(self, script: list[tuple[int, str]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                owner.requests.append(json.loads(self.rfile.read(length)))
                status, content = owner.script.pop(0)
                if status == 200:
                    body = json.dumps(
                        {
                            "choices": [
                                {"index": 0, "message": {"role": "assistant", "content": content}}
                            ]
                        }
                    ).encode()
                else:
                    body = content.encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def judge_server() -> Iterator[type[JudgeServer]]:
    started: list[JudgeServer] = []

    class Factory(JudgeServer):
        def __init__(self, script: list[tuple[int, str]]) -> None:
            super().__init__(script)
            started.append(self)

    yield Factory
    for s in started:
        s.stop()


ITEM = ScoreInput("What is the capital of France?", "Paris.", ("Paris",))


def test_judge_scores_and_counts_failures(judge_server: type[JudgeServer]) -> None:
    server = judge_server(
        [
            (200, '{"score": 5, "verdict": "yes", "reason": "matches the reference"}'),
            (200, "Score: 1/5"),
            (200, "I am not sure what you mean."),
            (500, '{"error": {"message": "overloaded"}}'),
            (200, "YES"),
        ]
    )
    judge = LlmJudge(JudgeConfig(server.url + "/v1", "judge-model", api_key="k"))
    scorer = JudgeScorer(judge, "correctness")
    results = scorer.score_many([ITEM] * 5, lambda texts: None)  # type: ignore[arg-type,return-value]
    assert [r.verdict for r in results] == ["correct", "incorrect", "error", "error", "correct"]
    assert results[0].score == 1.0 and results[0].reason == "judge: matches the reference"
    assert all(not math.isnan(r.score) for r in results)
    assert judge.stats.calls == 5
    assert dict(judge.stats.failures) == {"unparseable": 1, "http_500": 1}
    assert judge.stats.describe() == "5 judge calls, 2 failed (http_500 1, unparseable 1)"
    summary = summarize(results)
    assert (summary.n_errors, summary.n_scored) == (2, 3)
    assert summary.mean_score == pytest.approx((1.0 + 0.2 + 1.0) / 3)
    sent = server.requests[0]
    assert sent["model"] == "judge-model" and sent["temperature"] == 0.0
    assert "REFERENCE: Paris" in sent["messages"][1]["content"]


def test_judge_unreachable_and_bad_response(judge_server: type[JudgeServer]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    judge = LlmJudge(JudgeConfig(f"http://127.0.0.1:{closed_port}", "m", timeout_s=2.0))
    r = judge.judge("relevance", ITEM)
    assert r.verdict == "error" and r.passed is None and "cannot reach" in (r.error or "")
    server = judge_server([(200, "unused")])
    server.script = [(201, '{"not": "a completion"}')]
    judge2 = LlmJudge(JudgeConfig(server.url, "m"))
    assert judge2.judge("faithfulness", ITEM).error is not None
    assert dict(judge2.stats.failures) == {"bad_response": 1}
    assert dict(judge.stats.failures) == {"unreachable": 1}


def test_judge_against_sim_upstream_counts_unparseable_replies() -> None:
    with run_sim_in_thread(SimKnobs(tokens=8)) as sim:
        judge = LlmJudge(JudgeConfig(sim.url, "sim-model"))
        results = [judge.judge("relevance", ITEM) for _ in range(3)]
    assert judge.stats.calls == 3
    assert judge.stats.failures_total == sum(1 for r in results if r.error)
    assert all(0.0 <= r.score <= 1.0 for r in results)


def test_judge_scorer_applies_by_criterion() -> None:
    judge = LlmJudge(JudgeConfig("http://127.0.0.1:9", "m"))
    bare = ScoreInput("Q?", "A.")
    assert JudgeScorer(judge, "relevance").applies(bare)
    assert not JudgeScorer(judge, "correctness").applies(bare)
    assert not JudgeScorer(judge, "faithfulness").applies(bare)
    with pytest.raises(ValueError, match="unknown judge criterion"):
        JudgeScorer(judge, "style")
