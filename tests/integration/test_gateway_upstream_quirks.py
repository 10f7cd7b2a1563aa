"""Upstreams that answer in legal but less common ways, and clients that misbehave: a raw
TCP upstream on 127.0.0.1 writes exactly the bytes each test scripts, in front of the real
gateway."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from infersight.upstreams.http1 import Origin

from .conftest import StackFactory

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
Script = Callable[["Exchange"], Awaitable[None]]


class Exchange:
    """One upstream connection as the script sees it: read requests, write bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self) -> tuple[bytes, bytes]:
        """(head, body) of the next request on this connection."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await self.reader.readexactly(length) if length else b""
        return head, body

    async def write(self, data: bytes, pause_s: float = 0.0) -> None:
        self.writer.write(data)
        await self.writer.drain()
        if pause_s:
            await asyncio.sleep(pause_s)


class RawUpstream:
    """A TCP server on its own loop and thread; every connection runs `script`. Request heads
    it read are kept in `heads`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.heads: list[bytes] = []
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            ex = Exchange(reader, writer)
            original = ex.request

            async def recording_request() -> tuple[bytes, bytes]:
                head, body = await original()
                self.heads.append(head)
                return head, body

            ex.request = recording_request  # type: ignore[method-assign]
            try:
                await self.script(ex)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(on_connect, "127.0.0.1", 0)

        server = self.loop.run_until_complete(start())
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RawUpstream:
        self._thread.start()
        self._ready.wait(5)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@pytest.fixture
def raw_upstream() -> Iterator[Callable[[Script], RawUpstream]]:
    started: list[RawUpstream] = []

    def make(script: Script) -> RawUpstream:
        up = RawUpstream(script).start()
        started.append(up)
        return up

    yield make
    for up in started:
        up.stop()


def sse(content: str) -> bytes:
    chunk = {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def json_answer(text: str, extra_headers: bytes = b"") -> bytes:
    body = json.dumps(
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    ).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra_headers
        + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )  # fmt: skip


def post(url: str, body: object = CHAT, **kw: object) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json=body, timeout=10, **kw)  # type: ignore[arg-type]


def test_interim_1xx_responses_are_skipped_and_never_reach_another_client(
    stack: StackFactory, raw_upstream: Callable[[Script], RawUpstream]
) -> None:
    """100 Continue and 103 Early Hints come before the real answer: the client gets the
    real answer, and the next request on the kept-alive connection gets its own."""

    async def script(ex: Exchange) -> None:
        n = 0
        while True:
            await ex.request()
            n += 1
            await ex.write(b"HTTP/1.1 100 Continue\r\n\r\n", 0.02)
            await ex.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n", 0.02)
            await ex.write(json_answer(f"answer {n}"))

    up = raw_upstream(script)
    s = stack(upstream_url=up.url)
    first, second = post(s.url), post(s.url)
    assert first.status_code == 200 and second.status_code == 200
    assert first.json()["choices"][0]["message"]["content"] == "answer 1"
    assert second.json()["choices"][0]["message"]["content"] == "answer 2"
    assert up.connections == 1  # the connection was reused, and stayed in step
    recs = sorted(s.records(), key=lambda r: r.started_at)
    assert [r.status for r in recs] == [200, 200]
    assert all(r.error_class is None for r in recs)


def test_bodies_that_end_when_the_upstream_closes_are_complete(
    stack: StackFactory, raw_upstream: Callable[[Script], RawUpstream]
) -> None:
    """A body with neither a length nor chunks ends at the upstream's clean close (an
    HTTP/1.0 server, or Connection: close): a whole answer, not a broken one."""

    async def script(ex: Exchange) -> None:
        _, body = await ex.request()
        if json.loads(body).get("stream"):
            await ex.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            )
            for word in ("one", "two", "three"):
                await ex.write(sse(word), 0.01)
            await ex.write(b"data: [DONE]\n\n")
        else:
            answer = json_answer("whole").replace(b"HTTP/1.1", b"HTTP/1.0")
            head, _, payload = answer.partition(b"\r\n\r\n")
            head = b"\r\n".join(h for h in head.split(b"\r\n") if b"Content-Length" not in h)
            await ex.write(head + b"\r\n\r\n" + payload)

    up = raw_upstream(script)
    s = stack(upstream_url=up.url)
    with httpx.stream("POST", s.url + "/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        raw = b"".join(r.iter_raw())
    whole = post(s.url)
    assert raw == sse("one") + sse("two") + sse("three") + b"data: [DONE]\n\n"
    assert whole.status_code == 200
    assert whole.json()["choices"][0]["message"]["content"] == "whole"
    stream_rec, whole_rec = sorted(s.records(), key=lambda r: r.started_at)
    assert stream_rec.error_class is None and stream_rec.completion_tokens == 3
    assert whole_rec.error_class is None and whole_rec.status == 200


def test_event_stream_is_recognised_in_any_letter_case_and_relayed_as_it_comes(
    stack: StackFactory, raw_upstream: Callable[[Script], RawUpstream]
) -> None:
    """Media types ignore case: `Text/Event-Stream; charset=utf-8` is a stream, relayed
    event by event (the first arrives long before the last) and timed."""

    async def script(ex: Exchange) -> None:
        await ex.request()
        await ex.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream; charset=utf-8\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for word in ("a", "b", "c"):
            event = sse(word)
            await ex.write(b"%x\r\n%b\r\n" % (len(event), event), 0.3)
        await ex.write(b"0\r\n\r\n")

    up = raw_upstream(script)
    s = stack(upstream_url=up.url)
    arrivals: list[float] = []
    t0 = time.monotonic()
    with httpx.stream("POST", s.url + "/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                arrivals.append(time.monotonic() - t0)
    assert len(arrivals) == 3
    assert arrivals[2] - arrivals[0] > 0.4  # not buffered until the end
    (rec,) = s.records()
    assert rec.stream and rec.ttft_s is not None and rec.completion_tokens == 3


def test_query_string_goes_upstream(
    stack: StackFactory, raw_upstream: Callable[[Script], RawUpstream]
) -> None:
    """An API version in the query (Azure OpenAI style) reaches the upstream."""

    async def script(ex: Exchange) -> None:
        await ex.request()
        await ex.write(json_answer("ok"))

    up = raw_upstream(script)
    s = stack(upstream_url=up.url)
    r = httpx.post(s.url + "/v1/chat/completions?api-version=2024-02-01", json=CHAT, timeout=10)
    assert r.status_code == 200
    assert up.heads[0].startswith(b"POST /v1/chat/completions?api-version=2024-02-01 HTTP/1.1")
    s.stop()


def test_a_post_is_never_sent_twice_when_a_reused_connection_dies(
    stack: StackFactory, raw_upstream: Callable[[Script], RawUpstream]
) -> None:
    """The upstream reads the second request on a kept-alive connection, then drops the
    connection without an answer: it may be generating, so the gateway does not send the
    request again; the client gets a 502."""

    async def script(ex: Exchange) -> None:
        await ex.request()
        await ex.write(json_answer("first"))
        await ex.request()  # and then the connection closes, unanswered

    up = raw_upstream(script)
    s = stack(upstream_url=up.url)
    assert post(s.url).status_code == 200
    second = post(s.url, {**CHAT, "messages": [{"role": "user", "content": "second"}]})
    assert second.status_code == 502
    assert "sent no answer: upstream closed the connection" in second.json()["error"]["message"]
    time.sleep(0.1)
    assert sum(b"POST" in h for h in up.heads) == 2  # once each: no retry
    recs = sorted(s.records(), key=lambda r: r.started_at)
    assert [r.status for r in recs] == [200, 502]


def test_models_are_asked_with_the_clients_key_and_a_refusal_is_passed_on(
    stack: StackFactory, raw_upstream: Callable[[Script], RawUpstream]
) -> None:
    async def script(ex: Exchange) -> None:
        while True:
            head, _ = await ex.request()
            if b"authorization: Bearer sk-good" in head.lower().replace(b"bearer", b"Bearer"):
                body = b'{"object":"list","data":[{"id":"m1","object":"model"}]}'
                status = b"200 OK"
            else:
                body = b'{"error":{"message":"invalid API key"}}'
                status = b"401 Unauthorized"
            await ex.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
            )

    up = raw_upstream(script)
    s = stack(upstream_url=up.url)
    good = httpx.get(s.url + "/v1/models", headers={"Authorization": "Bearer sk-good"})
    bad = httpx.get(s.url + "/v1/models", headers={"Authorization": "Bearer sk-bad"})
    s.stop()
    assert good.status_code == 200 and [m["id"] for m in good.json()["data"]] == ["m1"]
    assert bad.status_code == 401
    assert "invalid API key" in bad.json()["error"]["message"]


def test_an_upstream_error_that_echoes_the_prompt_is_stored_without_it(
    stack: StackFactory, raw_upstream: Callable[[Script], RawUpstream]
) -> None:
    """FastAPI-style 422 bodies quote the request; with text capture off the record keeps
    where and what was wrong, not the prompt."""
    secret = "my private medical question about a persistent rash"

    async def script(ex: Exchange) -> None:
        _, body = await ex.request()
        detail = [{"loc": ["body", "max_tokens"], "msg": "bad value", "input": json.loads(body)}]
        payload = json.dumps({"detail": detail, "echo": secret}).encode()
        await ex.write(
            b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(payload), payload)
        )

    up = raw_upstream(script)
    s = stack(upstream_url=up.url)
    r = post(s.url, {**CHAT, "messages": [{"role": "user", "content": secret}]})
    assert r.status_code == 422
    (rec,) = s.records()
    assert rec.error_class == "upstream_4xx"
    assert rec.error_message and "body.max_tokens: bad value" in rec.error_message
    assert "rash" not in rec.error_message and rec.prompt_text is None


def _send_raw(url: str, data: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(data)
    return sock


def _read_response(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def test_a_body_that_stops_arriving_gets_408_and_a_record(stack: StackFactory) -> None:
    s = stack(body_timeout_s=0.5)
    sock = _send_raw(
        s.url,
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"model":',
    )
    t0 = time.monotonic()
    answer = _read_response(sock)  # the gateway answers, then closes the connection
    sock.close()
    assert time.monotonic() - t0 < 5
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"body_timeout_s" in answer
    (rec,) = s.records()
    assert rec.status == 408 and rec.error_class == "invalid_request"


def test_oversized_request_headers_get_431(stack: StackFactory) -> None:
    s = stack()
    r = post(s.url, headers={"x-big": "a" * 70_000})
    assert r.status_code == 431
    assert "headers" in r.json()["error"]["message"]
    (rec,) = s.records()
    assert rec.status == 431 and rec.error_class == "invalid_request"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"model": "m", "messages": None}, "'messages' is required, got null"),
        (None, "nested too deeply"),
    ],
)
def test_null_messages_and_absurd_nesting_are_400(
    stack: StackFactory, body: object, fragment: str
) -> None:
    s = stack()
    if body is None:
        content = b'{"model":"m","messages":' + b"[" * 5000 + b"]" * 5000 + b"}"
        r = httpx.post(s.url + "/v1/chat/completions", content=content, timeout=10)
    else:
        r = post(s.url, body)
    assert r.status_code == 400
    assert fragment in r.json()["error"]["message"]
    (rec,) = s.records()
    assert rec.status == 400 and rec.error_class == "invalid_request"


def test_ipv6_upstreams_get_a_bracketed_host_header() -> None:
    assert Origin.parse("http://[::1]:8000/v1").host_header == "[::1]:8000"
    assert Origin.parse("http://[::1]/").host_header == "[::1]"
    assert Origin.parse("http://127.0.0.1:80").host_header == "127.0.0.1"


def test_connections_without_a_whole_request_head_are_closed_at_the_deadline(
    stack: StackFactory,
) -> None:
    """A client that connects and sends nothing, or stops halfway through a request head,
    loses the connection after gateway.body_timeout_s; a slow but complete request (head in
    pieces, within the deadline) is served."""
    s = stack(body_timeout_s=0.5)
    silent = _send_raw(s.url, b"")
    half = _send_raw(s.url, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    assert _read_response(silent) == b"" and _read_response(half) == b""
    assert 0.3 < time.monotonic() - t0 < 5
    body = json.dumps(CHAT).encode()
    slow = _send_raw(s.url, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.2)
    slow.sendall(b"Connection: close\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))
    assert _read_response(slow).startswith(b"HTTP/1.1 200 ")
    for sock in (silent, half, slow):
        sock.close()
    (rec,) = s.records()
    assert rec.status == 200


def test_models_from_one_upstream_that_answers_beat_another_that_refuses(
    tmp_path: Path, raw_upstream: Callable[[Script], RawUpstream]
) -> None:
    """Two upstreams: one lists no models (an empty list), the other refuses the key: the
    client gets the (empty) list, not the refusal."""
    from infersight.service import ThreadedGateway
    from infersight.settings import GatewaySettings, Settings, StoreSettings, UpstreamSettings

    def answering(status: bytes, body: bytes) -> Script:
        async def script(ex: Exchange) -> None:
            while True:
                await ex.request()
                await ex.write(
                    b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
                )

        return script

    empty = raw_upstream(answering(b"200 OK", b'{"object":"list","data":[]}'))
    refusing = raw_upstream(answering(b"401 Unauthorized", b'{"error":{"message":"bad key"}}'))
    settings = Settings(
        gateway=GatewaySettings(port=0),
        upstreams=[
            UpstreamSettings(name="empty", url=empty.url, models=["a"]),
            UpstreamSettings(name="refusing", url=refusing.url),
        ],
        store=StoreSettings(path=str(tmp_path / "m.db")),
    )
    with ThreadedGateway(settings, background=False) as gw:
        r = httpx.get(gw.url + "/v1/models", timeout=10)
    assert r.status_code == 200 and r.json()["data"] == []
