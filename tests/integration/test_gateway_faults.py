"""Bad input and upstream faults: a precise answer to the client and exactly one record."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from openai import APIError, OpenAI

from infersight.sim.knobs import SimKnobs

from .conftest import StackFactory

CHAT = {"model": "sim-model", "messages": [{"role": "user", "content": "hello"}]}


def post(url: str, body: object, **kw: object) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        url + "/v1/chat/completions",
        content=content,
        headers={"content-type": "application/json"},
        timeout=10,
        **kw,  # type: ignore[arg-type]
    )


def test_malformed_json_and_wrong_types_are_400_naming_the_field(stack: StackFactory) -> None:
    s = stack()
    r = post(s.url, b"{oops")
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["error"]["message"]
    r = post(s.url, {"model": "sim-model", "messages": [{"role": "user"}], "max_tokens": "ten"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert (
        err["param"] == "max_tokens"
        and "'max_tokens' must be an integer, got str" in err["message"]
    )
    assert err["type"] == "invalid_request_error"
    recs = s.records()
    assert [r.error_class for r in recs] == ["invalid_request"] * 2
    assert {r.status for r in recs} == {400}


def test_oversized_body_is_413(stack: StackFactory) -> None:
    s = stack(max_body_bytes=1000)
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]}
    r = post(s.url, big)
    assert r.status_code == 413
    assert "exceeds 1000 bytes" in r.json()["error"]["message"]
    (rec,) = s.records()
    assert rec.status == 413 and rec.error_class == "invalid_request"


def test_unknown_route_404_and_wrong_method_405(stack: StackFactory) -> None:
    s = stack()
    r = httpx.get(s.url + "/v1/embeddingz")
    assert r.status_code == 404 and "no route GET /v1/embeddingz" in r.json()["error"]["message"]
    assert httpx.get(s.url + "/v1/chat/completions").status_code == 405
    assert httpx.get(s.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(s.url + "/readyz").status_code == 200


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_upstream_down_is_502_naming_the_upstream(stack: StackFactory) -> None:
    port = _closed_port()
    s = stack(upstream_url=f"http://127.0.0.1:{port}")
    r = post(s.url, CHAT)
    assert r.status_code == 502
    msg = r.json()["error"]["message"]
    assert f"upstream 'sim' (http://127.0.0.1:{port}) is unreachable" in msg
    assert httpx.get(s.url + "/readyz").status_code == 503
    (rec,) = s.records()
    assert rec.error_class == "upstream_unreachable" and rec.status == 502


def test_upstream_timeout_is_504(stack: StackFactory) -> None:
    s = stack(SimKnobs(ttft_ms=3000, tokens=2), first_byte_timeout_s=0.3)
    t0 = time.perf_counter()
    r = post(s.url, CHAT)  # not streamed: headers come only after the whole answer
    assert r.status_code == 504
    assert time.perf_counter() - t0 < 2.5
    assert "did not answer in time" in r.json()["error"]["message"]
    (rec,) = s.records()
    assert rec.error_class == "upstream_timeout" and rec.status == 504


def test_stream_that_goes_silent_ends_with_an_error_event(stack: StackFactory) -> None:
    s = stack(SimKnobs(ttft_ms=3000, tokens=2), read_timeout_s=0.3)
    with httpx.stream(
        "POST", s.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=10
    ) as r:
        body = b"".join(r.iter_bytes())
    assert r.status_code == 200
    last = body.strip().split(b"\n\n")[-1]
    assert (
        last.startswith(b"data: ") and json.loads(last[6:])["error"]["code"] == "upstream_timeout"
    )
    (rec,) = s.records()
    assert rec.error_class == "upstream_timeout"


def test_upstream_closing_midstream_gives_an_sse_error_event(stack: StackFactory) -> None:
    s = stack(SimKnobs(tokens=20, itl_ms=2, disconnect_rate=1.0))
    with httpx.stream(
        "POST", s.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=10
    ) as r:
        body = b"".join(r.iter_bytes())
    events = body.strip().split(b"\n\n")
    assert b"[DONE]" not in body
    error = json.loads(events[-1][6:])["error"]
    assert error["code"] == "midstream_error" and "stream broke" in error["message"]
    # the openai client raises on that event instead of returning a silently short answer
    c = OpenAI(base_url=s.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(APIError, match="stream broke"):
        list(c.chat.completions.create(model="sim-model", messages=CHAT["messages"], stream=True))  # type: ignore[arg-type]
    recs = s.records()
    assert [r.error_class for r in recs] == ["midstream_error"] * 2
    assert all(r.completion_tokens and r.completion_tokens < 20 for r in recs)


def test_client_disconnect_cancels_the_upstream_request(stack: StackFactory) -> None:
    s = stack(SimKnobs(tokens=200, itl_ms=20))
    with httpx.stream(
        "POST", s.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=10
    ) as r:
        for i, _ in enumerate(r.iter_lines()):
            if i > 4:
                break
    assert s.sim is not None
    deadline = time.monotonic() + 5
    while s.sim.state.client_disconnects_total == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert s.sim.state.client_disconnects_total == 1
    assert s.sim.state.running == 0
    (rec,) = s.records()
    assert rec.error_class == "client_disconnect"
    assert rec.e2e_s < 2.0  # far less than the 4 s the full answer would take
    # what was relayed before the client left is kept
    assert rec.ttft_s is not None and rec.completion_tokens and 1 <= rec.completion_tokens < 200


@pytest.mark.parametrize("stream", [False, True])
def test_client_leaving_before_the_upstream_answers_cancels_it(
    stack: StackFactory, stream: bool
) -> None:
    """A non-streamed answer sends no byte until it is done, a streamed one only its head
    before the first token: a client that leaves meanwhile still cancels the upstream's
    request at once, and is recorded as client_disconnect."""
    s = stack(SimKnobs(tokens=10, ttft_ms=1500, itl_ms=10))
    body = json.dumps({**CHAT, "stream": stream}).encode()
    host, port = s.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    time.sleep(0.3)  # the request is upstream, waiting for its first token
    sock.close()
    assert s.sim is not None
    deadline = time.monotonic() + 5
    while s.sim.state.client_disconnects_total == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert s.sim.state.client_disconnects_total == 1
    assert s.sim.state.completed_total == 0
    (rec,) = s.records()
    assert rec.error_class == "client_disconnect"
    assert rec.e2e_s < 1.0  # not the 1.6 s the answer would have taken


@pytest.mark.parametrize(("status", "error_class"), [(500, "upstream_5xx"), (429, "upstream_4xx")])
def test_upstream_error_status_is_passed_through(
    stack: StackFactory, status: int, error_class: str
) -> None:
    s = stack(SimKnobs(error_rate=1.0, error_status=status))
    r = post(s.url, {**CHAT, "stream": True})
    assert r.status_code == status
    assert "error" in r.json()
    (rec,) = s.records()
    assert rec.error_class == error_class and rec.status == status
    assert rec.error_message is not None and f"answered {status}" in rec.error_message


def test_invalid_config_file_exits_2_with_a_precise_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("gateway:\n  port: 70000\n")
    proc = subprocess.run(
        [sys.executable, "-m", "infersight.cli.main", "run", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "gateway.port" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_upstream_dying_inside_an_event_ends_with_a_readable_error_event(
    stack: StackFactory,
) -> None:
    """The upstream's connection drops halfway through an event: the unfinished event is not
    relayed (glued to the error event it would garble both), the client's stream ends with a
    clean error event, and the record keeps the token that did arrive."""
    from infersight.service import bind_socket
    from infersight.sim.server import SimThread

    whole = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
    half = b'data: {"choices":[{"index":0,"delta":{"content":"the'

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        await receive()
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": whole + half, "more_body": True})
        raise RuntimeError("the upstream process died")  # uvicorn drops the connection

    upstream = SimThread(app, bind_socket("127.0.0.1", 0))  # type: ignore[arg-type]
    upstream.start()
    try:
        s = stack(upstream_url=upstream.url)
        with httpx.stream(
            "POST", s.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=10
        ) as r:
            raw = b"".join(r.iter_raw())
        s.stop()
    finally:
        upstream.stop()
    events = [e for e in raw.split(b"\n\n") if e]
    assert events[0] + b"\n\n" == whole
    payloads = [json.loads(e.removeprefix(b"data: ")) for e in events]  # all readable
    assert payloads[-1]["error"]["code"] == "midstream_error"
    assert len(events) == 2
    (rec,) = s.records()
    assert rec.error_class == "midstream_error"
    assert rec.completion_tokens == 1 and rec.ttft_s is not None


def test_stop_cuts_streams_still_running_after_the_grace_period(
    stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopping the gateway lets requests in flight finish for `shutdown_grace_s`, then cuts
    them: the stop does not wait for a long stream, its record says gateway_error with the
    tokens relayed so far, and the log says so in one line (no traceback per request)."""
    s = stack(SimKnobs(tokens=400, itl_ms=20), shutdown_grace_s=1)  # an 8 s stream
    seen: list[bytes] = []

    def read() -> None:
        with (
            contextlib.suppress(httpx.HTTPError),
            httpx.stream(
                "POST", s.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=10
            ) as r,
        ):
            for line in r.iter_lines():
                seen.append(line.encode())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 5
    while len(seen) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(seen) >= 10, "the stream did not start"
    t0 = time.monotonic()
    (rec,) = s.records()  # stops the gateway
    assert time.monotonic() - t0 < 5.0  # not the ~8 s the stream would take
    reader.join(5)
    assert rec.error_class == "gateway_error"
    assert rec.error_message and "stopped" in rec.error_message
    assert rec.completion_tokens and 1 <= rec.completion_tokens < 400
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert any("1 request(s) still running" in r.getMessage() for r in caplog.records)
