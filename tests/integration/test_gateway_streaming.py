"""The gateway in front of the sim, called by the official `openai` client: what the gateway
records agrees with what the client saw and with the sim's knobs."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from infersight.sim.knobs import SimKnobs

from .conftest import StackFactory

MESSAGES = [{"role": "user", "content": "say something please"}]


def client(url: str, key: str = "sk-test-secret-123") -> OpenAI:
    return OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)


def test_streaming_timings_agree_with_client_and_knobs(stack: StackFactory) -> None:
    s = stack(SimKnobs(tokens=30, ttft_ms=80, itl_ms=15))
    c = client(s.url)
    # warm up: connection open and the SDK's first-use costs paid before measuring
    list(c.chat.completions.create(model="sim-model", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    t0 = time.perf_counter()
    first = None
    pieces = []
    saw_usage_only_chunk = False
    for chunk in c.chat.completions.create(model="sim-model", messages=MESSAGES, stream=True):  # type: ignore[arg-type]
        if not chunk.choices:
            saw_usage_only_chunk = True
            continue
        if chunk.choices[0].delta.content:
            first = first or time.perf_counter()
            pieces.append(chunk.choices[0].delta.content)
    client_ttft = (first or 0) - t0
    assert len(pieces) == 30
    # the gateway asked the upstream for usage; the client did not, so it never sees that chunk
    assert not saw_usage_only_chunk
    _, rec = sorted(s.records(), key=lambda r: r.started_at)
    assert rec.status == 200 and rec.error_class is None and rec.stream
    assert rec.completion_tokens == 30 and not rec.tokens_estimated
    assert rec.finish_reason == "stop"
    assert rec.ttft_s is not None and rec.itl_p50_s is not None and rec.tpot_s is not None
    assert 0.075 <= rec.ttft_s <= 0.2
    assert abs(rec.ttft_s - client_ttft) < 0.03  # the client sees a little more, never less
    assert 0.012 <= rec.itl_p50_s <= 0.03
    assert rec.tpot_s == pytest.approx((rec.e2e_s - rec.ttft_s) / 29)
    assert rec.client is not None and rec.client.startswith("key-")
    assert rec.prompt_text is None and rec.response_text is None


def test_multi_token_chunks_count_as_several_gaps(stack: StackFactory) -> None:
    s = stack(SimKnobs(tokens=40, itl_ms=10, tokens_per_chunk=4))
    c = client(s.url)
    stream = c.chat.completions.create(model="sim-model", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    chunks = [ch for ch in stream if ch.choices and ch.choices[0].delta.content]
    assert len(chunks) == 10
    (rec,) = s.records()
    assert rec.completion_tokens == 40
    # chunks arrive 40 ms apart; per token that is 10 ms, not 40
    assert rec.itl_p50_s is not None and 0.007 <= rec.itl_p50_s <= 0.02


def test_client_that_asks_for_usage_gets_it(stack: StackFactory) -> None:
    s = stack(SimKnobs(tokens=5))
    c = client(s.url)
    chunks = list(
        c.chat.completions.create(
            model="sim-model",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = [ch.usage for ch in chunks if ch.usage is not None]
    assert usage and usage[-1].completion_tokens == 5
    (rec,) = s.records()
    assert rec.completion_tokens == 5


def test_non_streaming_and_completions_routes(stack: StackFactory) -> None:
    s = stack(SimKnobs(tokens=12))
    c = client(s.url)
    chat = c.chat.completions.create(model="sim-model", messages=MESSAGES, max_tokens=7)  # type: ignore[arg-type]
    assert chat.usage is not None and chat.usage.completion_tokens == 7
    assert chat.choices[0].finish_reason == "length"
    text = "".join(
        ch.choices[0].text
        for ch in c.completions.create(model="sim-model", prompt="once upon", stream=True)
        if ch.choices
    )
    assert len(text.split()) == 12
    models = c.models.list()
    assert [m.id for m in models.data] == ["sim-model"]
    recs = sorted(s.records(), key=lambda r: r.route)
    assert [r.route for r in recs] == ["chat", "completions"]
    assert recs[0].completion_tokens == 7 and recs[0].ttft_s is None and not recs[0].stream
    assert recs[1].completion_tokens == 12 and recs[1].ttft_s is not None


def test_one_record_per_request_and_metrics_agree(stack: StackFactory) -> None:
    s = stack(SimKnobs(tokens=8))
    c = client(s.url)
    for _ in range(5):
        list(c.chat.completions.create(model="sim-model", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    c.chat.completions.create(model="sim-model", messages=MESSAGES)  # type: ignore[arg-type]
    text = httpx.get(s.url + "/metrics").text
    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    mu = (("model", "sim-model"), ("upstream", "sim"))
    assert values[("infersight_ttft_seconds_count", mu)] == 5
    assert values[("infersight_e2e_request_latency_seconds_count", mu)] == 6
    assert values[("infersight_completion_tokens_total", mu)] == 48
    assert values[("infersight_inter_token_latency_seconds_count", mu)] == 5 * 7
    req = (("model", "sim-model"), ("route", "chat"), ("status", "200"), ("upstream", "sim"))
    assert values[("infersight_requests_total", req)] == 6
    assert values[("infersight_requests_in_flight", (("upstream", "sim"),))] == 0
    # the record writer's health: nothing dropped, no failed write
    assert values[("infersight_records_dropped_total", ())] == 0
    assert values[("infersight_record_write_failures_total", ())] == 0
    assert len(s.records()) == 6


def test_capture_text_when_enabled(stack: StackFactory) -> None:
    s = stack(SimKnobs(tokens=6), capture_text=True)
    c = client(s.url)
    got = "".join(
        ch.choices[0].delta.content or ""
        for ch in c.chat.completions.create(model="sim-model", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        if ch.choices
    )
    (rec,) = s.records()
    assert rec.response_text == got
    assert rec.prompt_text == "say something please"


def test_client_label_header_and_source_tag(stack: StackFactory) -> None:
    s = stack(SimKnobs(tokens=3))
    body = {"model": "sim-model", "messages": MESSAGES}
    headers = {"x-infersight-client": "team-a", "x-infersight-source": "sweep"}
    assert httpx.post(s.url + "/v1/chat/completions", json=body, headers=headers).status_code == 200
    (rec,) = s.records()
    assert rec.client == "team-a"
    assert rec.source == "sweep"


def test_api_key_is_passed_through_and_never_stored(stack: StackFactory) -> None:
    seen: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(dict(scope["headers"]).get(b"authorization", b"").decode())
        await receive()
        body = b'{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    from infersight.service import bind_socket
    from infersight.sim.server import SimThread

    sock = bind_socket("127.0.0.1", 0)
    upstream = SimThread(app, sock)  # type: ignore[arg-type]
    upstream.start()
    try:
        s = stack(upstream_url=upstream.url)
        client(s.url, key="sk-very-secret-777").chat.completions.create(
            model="m",
            messages=MESSAGES,  # type: ignore[arg-type]
        )
        s.stop()
    finally:
        upstream.stop()
    assert seen == ["Bearer sk-very-secret-777"]
    assert b"sk-very-secret-777" not in s.db.read_bytes()


def test_slow_client_gets_every_byte_of_a_long_stream(
    stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that reads slower than the upstream writes: once the client's socket buffer
    fills, the gateway stops reading from the upstream until it drains, and nothing is lost
    or reordered. (The high-water mark is lowered so that a 12 MB stream reaches it.)"""
    import infersight.gateway.direct_relay as direct_relay
    from infersight.upstreams.http1 import UpstreamResponse

    monkeypatch.setattr(direct_relay, "HIGH_WATER_BYTES", 16 * 1024)
    paused = []
    original = UpstreamResponse.request_attention

    def counted(self: UpstreamResponse) -> None:
        paused.append(1)
        original(self)

    monkeypatch.setattr(UpstreamResponse, "request_attention", counted)
    s = stack(SimKnobs(tokens=60_000))
    body = {"model": "sim-model", "messages": MESSAGES, "stream": True}
    raw = bytearray()
    with httpx.stream("POST", s.url + "/v1/chat/completions", json=body, timeout=60) as r:
        for i, piece in enumerate(r.iter_raw(4096)):
            raw += piece
            if i % 20 == 0:
                time.sleep(0.01)  # a slow reader
    events = [e for e in bytes(raw).split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    contents = [e for e in events if b'"content":"' in e and b'"content":""' not in e]
    assert len(contents) == 60_000
    assert paused, "the client never fell behind: the test did not exercise flow control"
    (rec,) = s.records()
    assert rec.completion_tokens == 60_000 and rec.error_class is None


def _post_raw(url: str, body: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body)
    return sock


def test_response_head_goes_out_with_the_first_events(stack: StackFactory) -> None:
    """A fast upstream's first events arrive soon after its headers (the sim sends its head,
    then waits 3 ms for the first token): the gateway writes the head together with them, so
    the client's first read holds head and body."""
    s = stack(SimKnobs(tokens=3, ttft_ms=3))
    body = b'{"model":"sim-model","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    together = []
    for _ in range(5):  # each request on a fresh connection: one first read each
        sock = _post_raw(s.url, body)
        try:
            first = sock.recv(65536)
        finally:
            sock.close()
        assert first.startswith(b"HTTP/1.1 200 ")
        head, _, rest = first.partition(b"\r\n\r\n")
        assert b"text/event-stream" in head
        together.append(b"data: {" in rest)
    # a stall of the (shared, busy) test machine past the 10 ms hold may split one
    assert sum(together) >= 4, f"first reads held head and body: {together}"


def test_response_head_does_not_wait_for_a_slow_first_token(stack: StackFactory) -> None:
    """With a slow first token the head goes out on its own after a short hold (10 ms), long
    before the body: clients and proxies see the response start at once."""
    s = stack(SimKnobs(tokens=2, ttft_ms=400))
    body = b'{"model":"sim-model","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    sock = _post_raw(s.url, body)
    try:
        t0 = time.perf_counter()
        first = sock.recv(65536)
        t_head = time.perf_counter() - t0
        data = first
        while b"data: [DONE]" not in data:
            piece = sock.recv(65536)
            assert piece, "the stream ended early"
            data += piece
        t_end = time.perf_counter() - t0
    finally:
        sock.close()
    assert first.startswith(b"HTTP/1.1 200 ") and first.endswith(b"\r\n\r\n")
    assert t_head < 0.2 < 0.35 < t_end  # the head long before the 400 ms first token
