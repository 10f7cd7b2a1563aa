"""The demo traffic generator against a real HTTP server on loopback, in real time (~2 s)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from infersight.clock import SystemClock
from infersight.demo import TrafficGenerator


@dataclass
class FakeUpstream:
    fail: bool = False
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append((dict(request.headers), body))
        if self.fail:
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if not body.get("stream"):
            return JSONResponse(
                {
                    "object": "chat.completion",
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": "Hello."}}
                    ],
                }
            )

        async def events() -> AsyncIterator[bytes]:
            for word in ("Hel", "lo", "."):
                chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
                yield f"data: {json.dumps(chunk)}\n\n".encode()
                await asyncio.sleep(0.01)
            done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")


@contextlib.asynccontextmanager
async def serve(upstream: FakeUpstream) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/v1/chat/completions", upstream.chat, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def test_generator_sends_to_real_server_and_counts_failures() -> None:
    async def main() -> None:
        upstream = FakeUpstream()
        async with serve(upstream) as url:
            gen = TrafficGenerator(
                SystemClock(),
                url,
                rate_per_s=25.0,
                concurrency=4,
                max_tokens=8,
                model="fake-model",
                seed=5,
                interval_s=0.05,
            )
            gen.start()
            await asyncio.sleep(1.0)
            ok_phase = gen.stats()
            upstream.fail = True
            await asyncio.sleep(1.0)
            await gen.stop()  # must not raise although every request now fails
            stats = gen.stats()

        assert ok_phase.ok_total > 5
        assert stats.failed_total > 5
        assert stats.last_error is not None and "HTTP 500" in stats.last_error
        assert stats.in_flight == 0
        assert stats.ok_total + stats.failed_total <= stats.sent_total
        assert len(upstream.requests) >= stats.ok_total + stats.failed_total
        assert all(h.get("x-infersight-client") == "demo-traffic" for h, _ in upstream.requests)
        streams = {body["stream"] for _, body in upstream.requests}
        assert streams == {True, False}
        assert all(body["model"] == "fake-model" for _, body in upstream.requests)

    asyncio.run(main())
