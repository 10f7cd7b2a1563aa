"""One quality sweep: ask an OpenAI-compatible endpoint every dataset item, then score.

`collect_answers` sends each item's chat messages (non-streaming POST /chat/completions) with
at most `concurrency` requests in flight (httpx.AsyncClient), every request carrying
`x-infersight-source: sweep` so a gateway in the path records it as sweep traffic, left out of
user statistics. An item whose first answer fails (connection refused, timeout, HTTP error,
a body that is not a chat completion) is marked failed with the reason and left out of every
score; the failure rate is its own series. With `resamples` N, each answered item is asked N
more times (at `resample_temperature`) for self-consistency; a failed re-sample only shortens
the list.

`score_items` (blocking: embeddings) runs each scorer once over every item it applies to.
Consistency compares an answer with its re-samples and with the answers to the other items of
its paraphrase group. A scorer that raises (a missing model) gives error results for its items:
counted, never averaged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import httpx

from infersight.quality.datasets import DatasetItem
from infersight.quality.scorers.base import Embed, ScoreInput, Scorer, ScoreResult, error_result

log = logging.getLogger(__name__)

SOURCE_HEADER: Final = "x-infersight-source"
SOURCE_VALUE: Final = "sweep"
_ERROR_TEXT_CHARS: Final = 200


class SweepError(RuntimeError):
    """The sweep cannot run at all (endpoint unreachable, no model); the message says why."""


@dataclass(frozen=True, slots=True)
class SweepTarget:
    """Where and how to ask. `base_url` may end in /v1 or not."""

    base_url: str
    model: str
    api_key: str | None = None
    max_tokens: int = 128
    temperature: float = 0.0
    resample_temperature: float = 0.7
    resamples: int = 0
    concurrency: int = 4
    timeout_s: float = 120.0

    @property
    def api_base(self) -> str:
        base = self.base_url.rstrip("/")
        return base if base.endswith("/v1") else base + "/v1"

    def headers(self) -> dict[str, str]:
        out = {SOURCE_HEADER: SOURCE_VALUE}
        if self.api_key:
            out["authorization"] = f"Bearer {self.api_key}"
        return out


@dataclass(frozen=True, slots=True)
class Answer:
    """What the endpoint said for one item: `text` when it answered, else `error`."""

    item_id: str
    text: str | None
    error: str | None = None
    samples: tuple[str, ...] = ()
    sample_errors: int = 0
    latency_s: float | None = None
    completion_tokens: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item of a sweep: its answer(s) and the results of the scorers that applied."""

    item: DatasetItem
    answer: Answer
    scores: dict[str, ScoreResult] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return not self.answer.ok


class SweepProgress(Protocol):
    def started(self, total: int) -> None: ...
    def advanced(self, ok: bool) -> None: ...
    def finished(self) -> None: ...


class NullProgress:
    def started(self, total: int) -> None:
        pass

    def advanced(self, ok: bool) -> None:
        pass

    def finished(self) -> None:
        pass


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_TEXT_CHARS else text[: _ERROR_TEXT_CHARS - 3] + "..."


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body["error"]["message"] if isinstance(body.get("error"), dict) else body
    except (ValueError, KeyError, TypeError, AttributeError):
        message = response.text
    return _short(str(message))


def parse_chat_completion(body: Any) -> tuple[str, int | None]:
    """(content, completion_tokens) of a chat completion body; ValueError if it is not one."""
    try:
        message = body["choices"][0]["message"]
        content = message.get("content")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"no choices[0].message in the reply ({type(exc).__name__})") from None
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise ValueError("choices[0].message.content is not a string")
    usage = body.get("usage") if isinstance(body, dict) else None
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return content, tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None


async def ask(
    client: httpx.AsyncClient, target: SweepTarget, item: DatasetItem, temperature: float
) -> tuple[str | None, str | None, int | None]:
    """(answer, error, completion_tokens) of one request; never raises for endpoint trouble."""
    url = f"{target.api_base}/chat/completions"
    body = {
        "model": target.model,
        "messages": item.chat(),
        "max_tokens": target.max_tokens,
        "temperature": temperature,
        "stream": False,
    }
    try:
        response = await client.post(
            url, json=body, headers=target.headers(), timeout=target.timeout_s
        )
    except httpx.TimeoutException:
        return None, f"timeout: no answer from {url} within {target.timeout_s:g} s", None
    except httpx.HTTPError as exc:
        return (
            None,
            f"unreachable: cannot reach {url}: {_short(str(exc) or type(exc).__name__)}",
            None,
        )
    if response.status_code >= 400:
        return None, f"http_{response.status_code}: {_error_message(response)}", None
    try:
        content, tokens = parse_chat_completion(response.json())
    except ValueError as exc:
        return None, f"bad_response: not an OpenAI chat completion: {exc}", None
    return content, None, tokens


async def collect_answers(
    items: Sequence[DatasetItem],
    target: SweepTarget,
    *,
    client: httpx.AsyncClient | None = None,
    progress: SweepProgress | None = None,
) -> list[Answer]:
    """Every item's answer (and re-samples), in item order, `concurrency` requests at once."""
    progress = progress or NullProgress()
    own = client is None
    http = client or httpx.AsyncClient(
        trust_env=False,
        limits=httpx.Limits(max_connections=target.concurrency),
    )
    gate = asyncio.Semaphore(target.concurrency)

    async def one(item: DatasetItem) -> Answer:
        async with gate:
            t0 = time.perf_counter()
            text, error, tokens = await ask(http, target, item, target.temperature)
            latency = time.perf_counter() - t0
            samples: list[str] = []
            sample_errors = 0
            if error is None:
                for _ in range(target.resamples):
                    extra, extra_error, _ = await ask(
                        http, target, item, target.resample_temperature
                    )
                    if extra is None:
                        sample_errors += 1
                        log.debug("sweep: re-sample of %s failed: %s", item.id, extra_error)
                    else:
                        samples.append(extra)
        progress.advanced(error is None)
        return Answer(item.id, text, error, tuple(samples), sample_errors, latency, tokens)

    progress.started(len(items))
    try:
        return list(await asyncio.gather(*(one(i) for i in items)))
    finally:
        progress.finished()
        if own:
            await http.aclose()


async def resolve_model(
    base_url: str, *, api_key: str | None = None, client: httpx.AsyncClient | None = None
) -> str:
    """The first model the endpoint lists at /v1/models; SweepError saying what went wrong."""
    target = SweepTarget(base_url, "", api_key)
    url = f"{target.api_base}/models"
    own = client is None
    http = client or httpx.AsyncClient(trust_env=False)
    try:
        response = await http.get(url, headers=target.headers(), timeout=15.0)
    except httpx.HTTPError as exc:
        raise SweepError(
            f"cannot reach {url}: {_short(str(exc) or type(exc).__name__)} (is the endpoint "
            "running? pass --endpoint URL, or start the gateway with `infersight run`)"
        ) from None
    finally:
        if own:
            await http.aclose()
    if response.status_code >= 400:
        raise SweepError(
            f"{url} answered HTTP {response.status_code}: {_error_message(response)}; "
            "name the model with --model (or quality.sweeps[].model)"
        )
    try:
        models = [m["id"] for m in response.json()["data"] if isinstance(m.get("id"), str)]
    except (ValueError, KeyError, TypeError, AttributeError):
        models = []
    if not models:
        raise SweepError(f"{url} lists no models; name the model with --model")
    return str(models[0])


# -- scoring ------------------------------------------------------------------------------------


def score_input(item: DatasetItem, answer: Answer, peers: Sequence[str] = ()) -> ScoreInput:
    """What the scorers see for one answered item (`peers`: the paraphrase group's answers)."""
    assert answer.text is not None
    return ScoreInput(
        question=item.question,
        answer=answer.text,
        references=item.references,
        context=item.context,
        samples=(*answer.samples, *peers),
    )


class SweepStopped(Exception):
    """The sweep was stopped (the gateway is stopping): its work is abandoned."""


def score_items(
    items: Sequence[DatasetItem],
    answers: Sequence[Answer],
    scorers: Sequence[Scorer],
    embed: Embed,
    stop: threading.Event | None = None,
) -> list[ItemResult]:
    """Score every answered item with every scorer that applies (blocking: embeddings).
    Raises SweepStopped between scorers once `stop` is set."""
    by_id = {a.item_id: a for a in answers}
    groups: dict[str, list[str]] = {}
    for item in items:
        a = by_id[item.id]
        if item.paraphrase_group is not None and a.ok:
            groups.setdefault(item.paraphrase_group, []).append(item.id)
    inputs: dict[str, ScoreInput] = {}
    for item in items:
        a = by_id[item.id]
        if not a.ok:
            continue
        peers = [
            by_id[other].text or ""
            for other in groups.get(item.paraphrase_group or "", [])
            if other != item.id
        ]
        inputs[item.id] = score_input(item, a, peers)
    scores: dict[str, dict[str, ScoreResult]] = {item.id: {} for item in items}
    for scorer in scorers:
        if stop is not None and stop.is_set():
            raise SweepStopped("stopped while scoring")
        ids = [i for i, x in inputs.items() if scorer.applies(x)]
        if not ids:
            continue
        try:
            results = scorer.score_many([inputs[i] for i in ids], embed)
        except Exception as exc:  # a missing model: every item of this scorer is an error
            log.warning("sweep: scorer %s failed: %s", scorer.name, exc)
            results = [error_result(scorer.name, str(exc)) for _ in ids]
        for item_id, result in zip(ids, results, strict=True):
            scores[item_id][scorer.name] = result
    return [ItemResult(item, by_id[item.id], scores[item.id]) for item in items]


__all__ = [
    "SOURCE_HEADER",
    "Answer",
    "ItemResult",
    "NullProgress",
    "SweepError",
    "SweepProgress",
    "SweepStopped",
    "SweepTarget",
    "ask",
    "collect_answers",
    "parse_chat_completion",
    "resolve_model",
    "score_input",
    "score_items",
]
