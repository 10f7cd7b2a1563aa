"""LLM judge (optional): any OpenAI-compatible endpoint grades correctness, relevance or
faithfulness.

The judge is asked for JSON ({"score": 1-5, "verdict": "yes"|"no", "reason": ...}) but models
answer as they like, so `parse_verdict` accepts, in this order: a JSON object (also inside a
code fence or surrounded by prose), "Score: 4/5" / "8/10" / "4 out of 5", "Score: 4", and a
yes/no word ("YES", "Verdict: no", "PASS", "Correct", "Faithful", ...). Scores become [0, 1]:
a fraction X/Y is X/Y; a bare number is read on the scale the prompt asks for (integers 0-5 as
n/5; decimals up to 1 as they are; up to 10 as n/10; up to 100 as percent).

A judge call that fails (unreachable, timeout, HTTP error, unparseable reply) never yields a
number: it returns a result with `error` set (left out of means by `summarize`), and
`JudgeStats` counts failures by kind so a sweep can show them.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from infersight.quality.scorers.base import Embed, ScoreInput, ScoreResult, error_result

THRESHOLD = 0.5
CRITERIA = ("correctness", "relevance", "faithfulness")

_SYSTEM = (
    "You are a strict, impartial evaluator of answers written by an AI assistant. "
    'Reply with one JSON object and nothing else: {"score": <integer 1-5>, '
    '"verdict": "yes" or "no", "reason": "<one sentence>"}.'
)
_TASKS = {
    "correctness": (
        "Is the ANSWER correct, given the REFERENCE answer(s)? Wording may differ; facts, "
        "numbers and names must agree. 5 = fully correct, 1 = wrong."
    ),
    "relevance": (
        "Does the ANSWER address the QUESTION (whether or not it is correct)? Refusals and "
        "off-topic answers are not relevant. 5 = directly addresses it, 1 = unrelated."
    ),
    "faithfulness": (
        "Is every claim in the ANSWER supported by the SOURCE? Claims the source does not make "
        "count as unsupported. 5 = fully supported, 1 = mostly invented."
    ),
}


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge lives. `base_url` may end in /v1 or not."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    max_tokens: int = 200
    temperature: float = 0.0

    @property
    def url(self) -> str:
        base = self.base_url.rstrip("/")
        return base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")


@dataclass(frozen=True)
class ParsedVerdict:
    score: float
    reason: str
    form: str  # which pattern matched: json, fraction, number, word


@dataclass
class JudgeStats:
    """Calls and failures by kind (unreachable, timeout, http_<status>, bad_response,
    unparseable), for the sweep's report."""

    calls: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    latency_s_total: float = 0.0

    @property
    def failures_total(self) -> int:
        return sum(self.failures.values())

    def describe(self) -> str:
        if not self.failures:
            return f"{self.calls} judge calls, no failures"
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.failures.items()))
        return f"{self.calls} judge calls, {self.failures_total} failed ({kinds})"


_YES = {"yes", "y", "true", "pass", "passed", "correct", "relevant", "faithful", "supported"}
_NO = {
    "no",
    "n",
    "false",
    "fail",
    "failed",
    "incorrect",
    "wrong",
    "irrelevant",
    "not relevant",
    "unfaithful",
    "unsupported",
    "not supported",
    "hallucinated",
}
_FRACTION = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:/|out\s+of)\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_LABELLED_NUMBER = re.compile(
    r"\b(?:score|rating|grade|mark)\b\s*(?:is|of|=|:)?\s*\**\s*(-?\d+(?:\.\d+)?)(\s*%)?",
    re.IGNORECASE,
)
_WORD = re.compile(
    r"^\W*(?:(?:final\s+)?(?:verdict|answer|decision|judg(?:e)?ment|result|label)\s*[:=-]?\s*)?"
    r"\**\s*(not\s+relevant|not\s+supported|[a-z]+)\b",
    re.IGNORECASE,
)

_STATEMENT = re.compile(
    r"\b(?:answer|response)\s+(?:is|was)\s+(not\s+)?(correct|incorrect|wrong|relevant|irrelevant|"
    r"faithful|unfaithful|supported|unsupported)\b",
    re.IGNORECASE,
)


def _scale(raw: str, percent: bool = False) -> float | None:
    value = float(raw)
    if percent:
        value /= 100.0
    elif "." not in raw and 0 <= value <= 5:
        value /= 5.0
    elif value <= 1:
        pass
    elif value <= 10:
        value /= 10.0
    elif value <= 100:
        value /= 100.0
    else:
        return None
    return value if 0.0 <= value <= 1.0 else None


def _word_score(word: str) -> float | None:
    w = " ".join(word.lower().split())
    return 1.0 if w in _YES else 0.0 if w in _NO else None


def _from_json(obj: dict[str, Any]) -> ParsedVerdict | None:
    lowered = {str(k).lower(): v for k, v in obj.items()}
    reason = next(
        (
            str(lowered[k])
            for k in ("reason", "explanation", "rationale", "justification")
            if k in lowered
        ),
        "",
    )
    for key in ("score", "rating", "grade"):
        value = lowered.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            raw = repr(value) if isinstance(value, float) else str(value)
            score = _scale(raw)
            if score is not None:
                return ParsedVerdict(score, reason, "json")
        if isinstance(value, str):
            inner = parse_verdict(value)
            if inner is not None:
                return ParsedVerdict(inner.score, reason, "json")
    for key in (
        "verdict",
        "answer",
        "decision",
        "label",
        "result",
        "correct",
        "relevant",
        "faithful",
        "supported",
    ):
        value = lowered.get(key)
        if isinstance(value, bool):
            return ParsedVerdict(float(value), reason, "json")
        if isinstance(value, str) and _word_score(value) is not None:
            return ParsedVerdict(_word_score(value) or 0.0, reason, "json")
    return None


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every top-level {...} in the text that parses as a JSON object."""
    found: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    i = text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        i = text.find("{", end)
    return found


def parse_verdict(reply: str) -> ParsedVerdict | None:
    """The judge's score in [0, 1] from its reply, or None when no pattern matches."""
    text = reply.strip()
    if not text:
        return None
    for obj in _json_objects(text):
        parsed = _from_json(obj)
        if parsed is not None:
            return parsed
    reason = text.splitlines()[-1][:200] if "\n" in text else text[:200]
    m = _FRACTION.search(text)
    if m and float(m.group(2)) > 0:
        value = float(m.group(1)) / float(m.group(2))
        if 0.0 <= value <= 1.0:
            return ParsedVerdict(value, reason, "fraction")
    m = _LABELLED_NUMBER.search(text)
    if m:
        score = _scale(m.group(1), percent=bool(m.group(2)))
        if score is not None:
            return ParsedVerdict(score, reason, "number")
    for line in text.splitlines():
        m = _WORD.match(line)
        if m and (score := _word_score(m.group(1))) is not None:
            return ParsedVerdict(score, reason, "word")
    m = _STATEMENT.search(text)
    if m:
        score = _word_score(m.group(2))
        if score is not None:
            return ParsedVerdict(1.0 - score if m.group(1) else score, reason, "word")
    return None


def build_messages(criterion: str, item: ScoreInput) -> list[dict[str, str]]:
    """The chat request for one judgement; raises ValueError for an unknown criterion."""
    if criterion not in _TASKS:
        raise ValueError(f"unknown judge criterion {criterion!r}; known: {', '.join(CRITERIA)}")
    parts = [_TASKS[criterion], "", f"QUESTION: {item.question}"]
    if criterion == "correctness":
        parts.append("REFERENCE: " + " | ".join(item.references))
    if criterion == "faithfulness":
        parts.append(f"SOURCE: {item.context or ' | '.join(item.references)}")
    parts.append(f"ANSWER: {item.answer}")
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n".join(parts)}]


class LlmJudge:
    """A blocking judge client; one instance per sweep (it counts calls and failures)."""

    def __init__(self, config: JudgeConfig, *, client: httpx.Client | None = None) -> None:
        self.config = config
        self.stats = JudgeStats()
        self._client = client or httpx.Client(timeout=config.timeout_s)

    def close(self) -> None:
        self._client.close()

    def _fail(self, criterion: str, kind: str, message: str) -> ScoreResult:
        self.stats.failures[kind] += 1
        return error_result(f"judge_{criterion}", message)

    def judge(self, criterion: str, item: ScoreInput) -> ScoreResult:
        body = {
            "model": self.config.model,
            "messages": build_messages(criterion, item),
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        headers = {"authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        self.stats.calls += 1
        started = time.perf_counter()
        try:
            response = self._client.post(self.config.url, json=body, headers=headers)
        except httpx.TimeoutException:
            return self._fail(
                criterion,
                "timeout",
                f"no reply from {self.config.url} within {self.config.timeout_s} s",
            )
        except httpx.HTTPError as exc:
            return self._fail(criterion, "unreachable", f"cannot reach {self.config.url}: {exc}")
        finally:
            self.stats.latency_s_total += time.perf_counter() - started
        if response.status_code >= 400:
            return self._fail(
                criterion,
                f"http_{response.status_code}",
                f"{self.config.url} answered HTTP {response.status_code}: {response.text[:200]}",
            )
        try:
            reply = response.json()["choices"][0]["message"]["content"]
            if not isinstance(reply, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return self._fail(
                criterion,
                "bad_response",
                f"not an OpenAI chat completion ({exc}): {response.text[:200]}",
            )
        parsed = parse_verdict(reply)
        if parsed is None:
            return self._fail(
                criterion,
                "unparseable",
                f"no score or verdict in the judge's reply {reply[:120]!r}",
            )
        passed = parsed.score >= THRESHOLD
        verdict = {
            "correctness": ("correct", "incorrect"),
            "relevance": ("relevant", "irrelevant"),
            "faithfulness": ("faithful", "unfaithful"),
        }[criterion][0 if passed else 1]
        reason = f"judge: {parsed.reason}" if parsed.reason else f"judge replied {reply[:120]!r}"
        return ScoreResult(parsed.score, verdict, reason, passed, {"judge_score": parsed.score})


class JudgeScorer:
    """One criterion of an LlmJudge, as a Scorer (the embedding function is not used)."""

    higher_is_better = True

    def __init__(self, judge: LlmJudge, criterion: str) -> None:
        if criterion not in CRITERIA:
            raise ValueError(f"unknown judge criterion {criterion!r}; known: {', '.join(CRITERIA)}")
        self.judge = judge
        self.criterion = criterion
        self.name = f"judge_{criterion}"

    def applies(self, item: ScoreInput) -> bool:
        if self.criterion == "correctness":
            return bool(item.references)
        if self.criterion == "faithfulness":
            return bool(item.context or item.references)
        return True

    def score(self, item: ScoreInput, embed: Embed) -> ScoreResult:
        return self.judge.judge(self.criterion, item)

    def score_many(self, items: Sequence[ScoreInput], embed: Embed) -> list[ScoreResult]:
        return [self.judge.judge(self.criterion, item) for item in items]
