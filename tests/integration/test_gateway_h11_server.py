"""The gateway's ASGI app served by another HTTP server (uvicorn's h11 protocol instead of its
httptools one): no response cycle to write to directly, so the stream goes the queued way,
through ASGI `send`, and the client gets the same events and the record the same figures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from infersight.clock import SystemClock
from infersight.core.records import RequestRecord
from infersight.gateway.app import create_app
from infersight.service import bind_socket
from infersight.settings import GatewaySettings, Settings, UpstreamSettings
from infersight.sim.knobs import SimKnobs
from infersight.sim.server import run_sim_in_thread


class ListSink:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def submit(self, record: RequestRecord) -> bool:
        self.records.append(record)
        return True


def content_text(raw: bytes) -> str:
    """The generated text of a compact chat-completion SSE stream."""
    parts = [e.split(b'"content":"', 1)[1].split(b'"', 1)[0] for e in raw.split(b"\n\n")
             if b'"content":"' in e]  # fmt: skip
    return b"".join(parts).decode()


@pytest.fixture
def h11_gateway() -> Iterator[tuple[str, str, ListSink]]:
    sim = run_sim_in_thread(SimKnobs(tokens=40, tokens_per_chunk=3, itl_ms=1))
    sink = ListSink()
    settings = Settings(
        gateway=GatewaySettings(port=0), upstreams=[UpstreamSettings(name="sim", url=sim.url)]
    )
    app = create_app(settings, sink=sink, clock=SystemClock())
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http="h11", lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the h11 server did not start"
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}", sim.url, sink
    finally:
        server.should_exit = True
        thread.join(10)
        sim.stop()


def test_stream_relayed_through_asgi_send(h11_gateway: tuple[str, str, ListSink]) -> None:
    url, sim_url, sink = h11_gateway
    body = {"model": "sim-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(r.iter_raw())
    direct = httpx.post(sim_url + "/v1/chat/completions", json=body, timeout=30).content
    events = [e for e in raw.split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    assert not any(b'"usage":{' in e for e in events)  # the injected usage chunk is removed
    assert content_text(raw) == content_text(direct) != ""
    deadline = time.monotonic() + 5
    while not sink.records and time.monotonic() < deadline:
        time.sleep(0.01)
    (rec,) = sink.records
    assert rec.status == 200 and rec.error_class is None
    assert rec.completion_tokens == 40 and rec.finish_reason == "stop"
    assert rec.ttft_s is not None and rec.ttft_s > 0
