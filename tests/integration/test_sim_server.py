"""The simulated upstream over real HTTP on 127.0.0.1 (uvicorn + httpx / the openai client)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from infersight.sim import SimKnobs, SimServer, SimThread, run_sim_in_thread

MESSAGES: list[Any] = [{"role": "user", "content": "say something nice"}]

# Timing tolerances. Sleeps never fire early, so the lower bounds are tight; a busy 2-core
# machine (other test suites, the client in the same process) can make anything late.
EARLY_MS = 10.0
LATE_MS = 100.0


@pytest.fixture(scope="module")
def plain() -> Iterator[SimThread]:
    with run_sim_in_thread(SimKnobs(tokens=12, model="sim-a"), seed=3) as sim:
        yield sim


def _client(sim: SimThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.url + "/v1", api_key="unused", max_retries=0)


def _sse_events(text: str) -> list[str]:
    return [e[len("data: ") :] for e in text.split("\n\n") if e]


def test_streaming_chat_via_openai_client(plain: SimThread) -> None:
    stream = _client(plain).chat.completions.create(
        model="sim-a", messages=MESSAGES, stream=True, max_tokens=5
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    content = [c.choices[0].delta.content for c in chunks[1:] if c.choices[0].delta.content]
    assert len(content) == 5 and all(len(c.split()) == 1 for c in content)
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(c.usage is None for c in chunks)

    full = list(_client(plain).chat.completions.create(model="x", messages=MESSAGES, stream=True))
    assert full[-1].choices[0].finish_reason == "stop"
    assert sum(1 for c in full if c.choices[0].delta.content) == 12
    assert full[0].model == "x"  # the request's model is echoed


def test_usage_chunk_only_when_asked(plain: SimThread) -> None:
    stream = _client(plain).chat.completions.create(
        model="sim-a",
        messages=MESSAGES,
        stream=True,
        max_tokens=4,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (3, 4)
    assert last.usage.total_tokens == 7
    assert all(c.usage is None for c in chunks[:-1])


def test_raw_stream_ends_with_done(plain: SimThread) -> None:
    body = {"model": "m", "messages": MESSAGES, "stream": True, "max_tokens": 2}
    r = httpx.post(plain.url + "/v1/chat/completions", json=body)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = _sse_events(r.text)
    assert events[-1] == "[DONE]"
    assert [json.loads(e)["object"] for e in events[:-1]] == ["chat.completion.chunk"] * 4


def test_completions_route_streaming_and_not(plain: SimThread) -> None:
    client = _client(plain)
    chunks = list(client.completions.create(model="m", prompt="a b c d", stream=True, max_tokens=3))
    assert "".join(c.choices[0].text for c in chunks).count(" ") == 3
    assert chunks[-1].choices[0].finish_reason == "length"
    done = client.completions.create(model="m", prompt="a b c d")
    assert done.object == "text_completion"
    assert done.choices[0].finish_reason == "stop"
    assert len(done.choices[0].text.split()) == 12
    assert done.usage is not None
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (4, 12)


def test_non_streaming_chat_matches_streamed_text(plain: SimThread) -> None:
    client = _client(plain)
    whole = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=6)
    assert whole.object == "chat.completion"
    assert whole.choices[0].message.role == "assistant"
    assert whole.choices[0].finish_reason == "length"
    assert whole.usage is not None and whole.usage.completion_tokens == 6
    streamed = client.chat.completions.create(
        model="m", messages=MESSAGES, max_tokens=6, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed)
    assert text == whole.choices[0].message.content  # deterministic for a seed


def test_models_health_and_error_shapes(plain: SimThread) -> None:
    models = httpx.get(plain.url + "/v1/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "sim-a"
    assert httpx.get(plain.url + "/healthz").status_code == 200
    for r, status in (
        (httpx.get(plain.url + "/v2/nothing"), 404),
        (httpx.post(plain.url + "/v1/chat/completions", content=b"{oops"), 400),
        (httpx.post(plain.url + "/v1/completions", json={"prompt": "x", "max_tokens": -1}), 400),
        (httpx.get(plain.url + "/v1/chat/completions"), 405),
    ):
        assert r.status_code == status
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_tokens_per_chunk_groups_tokens() -> None:
    with run_sim_in_thread(SimKnobs(tokens=10, tokens_per_chunk=4)) as sim:
        stream = _client(sim).chat.completions.create(model="m", messages=MESSAGES, stream=True)
        content = [c.choices[0].delta.content for c in stream if c.choices[0].delta.content]
    assert [len(c.split()) for c in content] == [4, 4, 2]


def test_ttft_and_itl_follow_the_knobs() -> None:
    knobs = SimKnobs(tokens=8, tokens_per_chunk=2, ttft_ms=120.0, itl_ms=15.0)
    with run_sim_in_thread(knobs) as sim, httpx.Client() as client:
        client.get(sim.url + "/healthz")  # connect first: TTFT should not include the handshake
        body = {"model": "m", "messages": MESSAGES, "stream": True}
        stamps: list[float] = []
        start = time.perf_counter()
        with client.stream("POST", sim.url + "/v1/chat/completions", json=body) as r:
            for line in r.iter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    stamps.append(time.perf_counter())
    assert len(stamps) == 4
    ttft_ms = (stamps[0] - start) * 1000
    gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    assert 120 - EARLY_MS <= ttft_ms <= 120 + LATE_MS
    # two tokens per chunk: a chunk gap is 2 * itl_ms, so the per-token ITL stays 15 ms
    assert 30 - EARLY_MS <= sum(gaps_ms) / len(gaps_ms) <= 30 + LATE_MS


def test_stall_pauses_mid_stream() -> None:
    knobs = SimKnobs(tokens=6, stall_rate=1.0, stall_ms=150.0)
    with run_sim_in_thread(knobs) as sim, httpx.Client() as client:
        body = {"model": "m", "messages": MESSAGES, "stream": True}
        stamps: list[float] = []
        with client.stream("POST", sim.url + "/v1/chat/completions", json=body) as r:
            for line in r.iter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    stamps.append(time.perf_counter())
        assert sim.state.stalls_total == 1
    gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    assert gaps_ms.index(max(gaps_ms)) == 2  # after half the chunks
    assert 150 - EARLY_MS <= max(gaps_ms) <= 150 + LATE_MS


def test_error_rate_one_returns_openai_error() -> None:
    with run_sim_in_thread(SimKnobs(error_rate=1.0)) as sim:
        r = httpx.post(sim.url + "/v1/chat/completions", json={"messages": MESSAGES})
        assert r.status_code == 500
        err = r.json()["error"]
        assert err["type"] == "server_error" and err["code"] == "sim_injected_error"
        with pytest.raises(openai.InternalServerError):
            _client(sim).chat.completions.create(model="m", messages=MESSAGES, stream=True)
        assert sim.state.injected_errors_total == 2
    knobs = SimKnobs(error_rate=1.0, error_status=429)
    with run_sim_in_thread(knobs) as sim, pytest.raises(openai.RateLimitError):
        _client(sim).completions.create(model="m", prompt="x")


def test_error_rate_is_seeded() -> None:
    def statuses(seed: int) -> list[int]:
        knobs = SimKnobs(tokens=1, error_rate=0.5)
        with run_sim_in_thread(knobs, seed=seed) as sim, httpx.Client() as client:
            url = sim.url + "/v1/completions"
            return [client.post(url, json={"prompt": "x"}).status_code for _ in range(16)]

    first = statuses(11)
    assert first == statuses(11)
    assert set(first) == {200, 500}


def test_disconnect_rate_one_cuts_the_stream() -> None:
    with run_sim_in_thread(SimKnobs(tokens=10, disconnect_rate=1.0)) as sim:
        body = {"model": "m", "messages": MESSAGES, "stream": True}
        lines: list[str] = []
        with (
            pytest.raises(httpx.RemoteProtocolError),
            httpx.stream("POST", sim.url + "/v1/chat/completions", json=body) as r,
        ):
            lines.extend(line for line in r.iter_lines() if line)
        assert "data: [DONE]" not in lines
        assert len(lines) == 1 + 5  # the role chunk, then half the tokens
        with pytest.raises(openai.APIConnectionError):
            list(_client(sim).chat.completions.create(model="m", messages=MESSAGES, stream=True))
        with pytest.raises(httpx.RemoteProtocolError):  # non-streaming: half a body
            httpx.post(sim.url + "/v1/completions", json={"prompt": "x"})
        assert sim.state.disconnects_total == 3 and sim.state.completed_total == 0


async def _timed_stream(client: httpx.AsyncClient, url: str) -> tuple[int, float]:
    """(status, seconds to the first content chunk) of one streamed chat request."""
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    start = time.perf_counter()
    async with client.stream("POST", url + "/v1/chat/completions", json=body) as r:
        ttft_s = -1.0
        async for line in r.aiter_lines():
            if ttft_s < 0 and '"content":"' in line and '"content":""' not in line:
                ttft_s = time.perf_counter() - start
        return r.status_code, ttft_s


def test_slots_queue_requests_and_add_to_ttft() -> None:
    # one generation: ttft 60 ms + 4 gaps of 20 ms = 140 ms
    knobs = SimKnobs(tokens=5, ttft_ms=60.0, itl_ms=20.0, slots=1)

    async def scenario() -> tuple[list[float], int]:
        async with SimServer(knobs) as sim, httpx.AsyncClient() as client:
            tasks = [asyncio.create_task(_timed_stream(client, sim.url)) for _ in range(3)]
            await asyncio.sleep(0.03)
            waiting = sim.state.waiting
            results = await asyncio.gather(*tasks)
            assert sim.state.running == 0 and sim.state.completed_total == 3
        assert all(status == 200 for status, _ in results)
        return sorted(ttft for _, ttft in results), waiting

    ttfts_s, waiting = asyncio.run(scenario())
    assert waiting == 2
    ms = [t * 1000 for t in ttfts_s]
    assert 60 - EARLY_MS <= ms[0] <= 60 + LATE_MS
    assert 140 - 2 * EARLY_MS <= ms[1] - ms[0] <= 140 + LATE_MS
    assert 140 - 2 * EARLY_MS <= ms[2] - ms[1] <= 140 + LATE_MS


def test_queue_limit_rejects_with_503() -> None:
    knobs = SimKnobs(tokens=2, ttft_ms=150.0, slots=1, queue_limit=1)

    async def scenario() -> list[int]:
        async with SimServer(knobs) as sim, httpx.AsyncClient() as client:
            results = await asyncio.gather(*(_timed_stream(client, sim.url) for _ in range(3)))
            assert sim.state.rejected_total == 1
            r = await client.post(sim.url + "/v1/completions", json={"prompt": "x"})
            assert r.status_code == 200  # the queue drained
        return sorted(status for status, _ in results)

    assert asyncio.run(scenario()) == [200, 200, 503]


def test_client_disconnect_frees_the_slot() -> None:
    knobs = SimKnobs(tokens=200, itl_ms=10.0, slots=1)
    with run_sim_in_thread(knobs) as sim:
        body = {"model": "m", "messages": MESSAGES, "stream": True}
        with httpx.stream("POST", sim.url + "/v1/chat/completions", json=body) as r:
            for i, _ in enumerate(r.iter_lines()):
                if i > 4:
                    break  # leave after a few chunks of a 2 s stream
        start = time.perf_counter()
        r2 = httpx.post(sim.url + "/v1/completions", json={"prompt": "x", "max_tokens": 1})
        assert r2.status_code == 200
        assert time.perf_counter() - start < 0.5
        assert sim.state.client_disconnects_total == 1
