"""The simulated upstream as a raw ASGI callable: no framework in the streaming hot path.

Per request: parse, draw its fates (error / stall / disconnect, seeded), answer an injected error
or a full queue at once, send the response headers (streams), wait for a slot, sleep TTFT, then
write chunks `head + piece + tail` spaced by k * itl_ms. With no timing knobs and no fault drawn,
chunks are written back to back with no sleep at all (the fast path).
"""

from __future__ import annotations

import asyncio
import random
import time

from infersight.sim.asgi import (
    ClientGone,
    Message,
    Receive,
    Scope,
    Send,
    content_length,
    read_body,
    retry_after,
    send_json,
)
from infersight.sim.knobs import SimKnobs
from infersight.sim.metrics import SimObservations, render_metrics, send_metrics
from infersight.sim.payloads import TokenText, dumps, error_body, full_body, stream_frames
from infersight.sim.request import BadRequest, GenRequest, parse_request
from infersight.sim.state import Counters, SimState

_BODY = "http.response.body"
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]
_GEN_PATHS = {"/v1/chat/completions": True, "/v1/completions": False}


class SimulatedDisconnect(Exception):
    """Raised mid-response so the ASGI server drops the connection (the disconnect fault)."""


class SimApp:
    """ASGI app of the simulated upstream. `state` is a snapshot of its live counters."""

    def __init__(self, knobs: SimKnobs, *, seed: int = 0) -> None:
        self.knobs = knobs
        self.seed = seed
        self._text = TokenText(knobs.tokens, knobs.tokens_per_chunk, seed)
        self._c = Counters()
        self.obs = SimObservations()  # TTFT / E2E histograms for GET /metrics
        self._slots = asyncio.Semaphore(knobs.slots) if knobs.slots else None
        model = {"id": knobs.model, "object": "model", "created": int(time.time())}
        self._models_body = dumps({"object": "list", "data": [{**model, "owned_by": "sim"}]})

    @property
    def state(self) -> SimState:
        return self._c.snapshot()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            chat = _GEN_PATHS.get(path)
            if chat is not None and method == "POST":
                await self._generate(chat, receive, send)
            elif path == "/v1/models" and method == "GET":
                await send_json(send, 200, self._models_body)
            elif path in ("/healthz", "/health") and method == "GET":
                await send_json(send, 200, b'{"status":"ok"}')
            elif path == "/metrics" and method == "GET":
                await send_metrics(send, render_metrics(self._c.snapshot(), self.knobs, self.obs))
            elif chat is not None or path in ("/v1/models", "/healthz", "/health"):
                msg = f"method {method} not allowed on {path}"
                await send_json(send, 405, error_body(405, msg, code="method_not_allowed"))
            else:
                msg = f"no route {method} {path}: this simulator serves /v1/chat/completions, "
                msg += "/v1/completions, /v1/models, /healthz and /metrics"
                await send_json(send, 404, error_body(404, msg, code="not_found"))
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _generate(self, chat: bool, receive: Receive, send: Send) -> None:
        k, c = self.knobs, self._c
        t0 = time.perf_counter()
        index = c.requests_total
        c.requests_total += 1
        try:
            req = parse_request(await read_body(receive), chat=chat, default_model=k.model)
        except ClientGone:
            return
        except BadRequest as exc:
            c.bad_requests_total += 1
            body = error_body(400, exc.message, code=exc.code, param=exc.param)
            return await send_json(send, 400, body)
        rng = random.Random(self.seed * 1_000_003 + index) if k.needs_rng else None
        error, stall, cut = (_draw(rng, r) for r in (k.error_rate, k.stall_rate, k.disconnect_rate))
        if error:
            c.injected_errors_total += 1
            msg = f"simulated upstream error (error_rate={k.error_rate})"
            body = error_body(k.error_status, msg, code="sim_injected_error")
            return await send_json(send, k.error_status, body, retry_after(k.error_status))
        slots = self._slots
        if slots is not None and k.queue_limit and slots.locked() and c.waiting >= k.queue_limit:
            c.rejected_total += 1
            msg = f"simulated queue is full ({k.slots} slots busy, {c.waiting} waiting)"
            body = error_body(503, msg, code="queue_full")
            return await send_json(send, 503, body, retry_after(503))
        watcher = None  # resolves when the client goes away; only needed where we may wait
        if k.has_timing or (slots is not None and slots.locked()):
            watcher = asyncio.ensure_future(receive())
        try:
            if req.stream:
                await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
            if slots is not None:
                c.waiting += 1
                try:
                    await slots.acquire()
                finally:
                    c.waiting -= 1
            c.running += 1
            try:
                if watcher is not None and watcher.done():
                    c.client_disconnects_total += 1
                    return
                c.prompt_tokens_total += req.prompt_tokens
                fates = _Fates(rng, stall and k.stall_ms > 0, cut, index, t0)
                if req.stream:
                    await self._stream(send, req, fates, watcher)
                else:
                    await self._complete(send, req, fates, watcher)
            finally:
                c.running -= 1
                if slots is not None:
                    slots.release()
        finally:
            if watcher is not None:
                watcher.cancel()

    def _length(self, req: GenRequest) -> tuple[int, str]:
        """(completion tokens, finish_reason): the knob length, capped by max_tokens."""
        if req.max_tokens is not None and req.max_tokens < self.knobs.tokens:
            return req.max_tokens, "length"
        return self.knobs.tokens, "stop"

    def _ttft_s(self, rng: random.Random | None) -> float:
        k = self.knobs
        ms = k.ttft_ms
        if k.ttft_jitter_ms and rng is not None:
            ms = max(0.0, ms + rng.uniform(-k.ttft_jitter_ms, k.ttft_jitter_ms))
        return ms / 1000.0

    async def _stream(
        self, send: Send, req: GenRequest, fates: _Fates, watcher: asyncio.Future[Message] | None
    ) -> None:
        k, c = self.knobs, self._c
        n, finish = self._length(req)
        rid, created = fates.rid(req), int(time.time())
        frames = stream_frames(
            req, rid=rid, created=created, completion_tokens=n, finish_reason=finish
        )
        head, tail, pieces = frames.head, frames.tail, self._text.pieces_for(n)
        last = len(pieces) - 1
        if watcher is None and not fates.cut:  # fast path: no sleeps, no checks
            self.obs.ttft.observe(time.perf_counter() - fates.t0)
            if last == 0:
                body = frames.opening + head + pieces[0] + tail + frames.closing
                await send({"type": _BODY, "body": body, "more_body": False})
            else:
                body = frames.opening + head + pieces[0] + tail
                await send({"type": _BODY, "body": body, "more_body": True})
                for j in range(1, last):
                    await send({"type": _BODY, "body": head + pieces[j] + tail, "more_body": True})
                body = head + pieces[last] + tail + frames.closing
                await send({"type": _BODY, "body": body, "more_body": False})
            c.generation_tokens_total += n
            c.completed_total += 1
            self.obs.e2e.observe(time.perf_counter() - fates.t0)
            return

        loop = asyncio.get_running_loop()
        rng, kk = fates.rng, k.tokens_per_chunk
        itl_s, jitter_s = k.itl_ms / 1000.0, k.itl_jitter_ms / 1000.0
        stall_at = max(1, len(pieces) // 2) if fates.stall else -1  # pause before this chunk
        cut_at = len(pieces) // 2 if fates.cut else -1  # drop the connection before this chunk
        ttft_s = self._ttft_s(rng)
        if ttft_s > 0:
            await sleep_at_least(ttft_s)
        if watcher is not None and watcher.done():
            c.client_disconnects_total += 1
            return
        self.obs.ttft.observe(time.perf_counter() - fates.t0)  # the first chunk goes out next
        deadline = loop.time()
        out = frames.opening
        for j, piece in enumerate(pieces):
            size = kk if j < last else n - kk * last
            if j:
                gap_s = size * itl_s
                if jitter_s and rng is not None:
                    gap_s = max(0.0, gap_s + rng.uniform(-jitter_s, jitter_s))
                if gap_s > 0:  # absolute deadlines: per-chunk overheads do not accumulate
                    deadline += gap_s
                    delay = deadline - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    else:
                        deadline = loop.time()
                if j == stall_at:
                    await self._stall()
                    deadline = loop.time()
                if watcher is not None and watcher.done():
                    c.client_disconnects_total += 1
                    return
            if j == cut_at:
                await self._cut(send, out)
            body = out + head + piece + tail
            out = b""
            c.generation_tokens_total += size
            if j == last and stall_at <= last:
                await send({"type": _BODY, "body": body + frames.closing, "more_body": False})
                c.completed_total += 1
                self.obs.e2e.observe(time.perf_counter() - fates.t0)
                return
            await send({"type": _BODY, "body": body, "more_body": True})
        await self._stall()  # single-chunk stream: the pause sits before the finish chunk
        await send({"type": _BODY, "body": frames.closing, "more_body": False})
        c.completed_total += 1
        self.obs.e2e.observe(time.perf_counter() - fates.t0)

    async def _complete(
        self, send: Send, req: GenRequest, fates: _Fates, watcher: asyncio.Future[Message] | None
    ) -> None:
        """Non-streaming: sleep as long as the stream would take, then send the whole object."""
        k, c = self.knobs, self._c
        n, finish = self._length(req)
        gaps = n - min(n, k.tokens_per_chunk)
        wait_s = self._ttft_s(fates.rng) + gaps * k.itl_ms / 1000.0
        if k.itl_jitter_ms and fates.rng is not None:
            wait_s += fates.rng.uniform(-k.itl_jitter_ms, k.itl_jitter_ms) / 1000.0
        if wait_s > 0:
            await sleep_at_least(wait_s)
        if fates.stall:
            await self._stall()
        if watcher is not None and watcher.done():
            c.client_disconnects_total += 1
            return
        text, rid, created = self._text.text(n), fates.rid(req), int(time.time())
        body = full_body(req, rid=rid, created=created, text=text, n_tokens=n, finish_reason=finish)
        if fates.cut:
            headers = [(b"content-type", b"application/json"), content_length(body)]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await self._cut(send, body[: len(body) // 2])
        c.generation_tokens_total += n
        await send_json(send, 200, body)
        c.completed_total += 1
        self.obs.e2e.observe(time.perf_counter() - fates.t0)

    async def _stall(self) -> None:
        self._c.stalls_total += 1
        await asyncio.sleep(self.knobs.stall_ms / 1000.0)

    async def _cut(self, send: Send, body: bytes) -> None:
        if body:
            await send({"type": _BODY, "body": body, "more_body": True})
        self._c.disconnects_total += 1
        raise SimulatedDisconnect("simulated mid-response disconnect (disconnect_rate)")


class _Fates:
    """What was drawn for one request."""

    __slots__ = ("cut", "index", "rng", "stall", "t0")

    def __init__(
        self, rng: random.Random | None, stall: bool, cut: bool, index: int, t0: float
    ) -> None:
        self.rng, self.stall, self.cut, self.index = rng, stall, cut, index
        self.t0 = t0  # perf_counter() when the request arrived (TTFT / E2E for /metrics)

    def rid(self, req: GenRequest) -> str:
        return f"{'chatcmpl' if req.chat else 'cmpl'}-sim{self.index}"


def _draw(rng: random.Random | None, rate: float) -> bool:
    """Bernoulli(rate); always consumes one draw when there is an RNG (stable sequences)."""
    u = rng.random() if rng is not None else 0.5
    return rate >= 1.0 or (rate > 0.0 and u < rate)


async def sleep_at_least(seconds: float) -> None:
    """Sleep no less than `seconds`: the event loop's timers have millisecond resolution and
    can wake up to a millisecond early, and a TTFT knob is a floor."""
    end = time.perf_counter() + seconds
    await asyncio.sleep(seconds)
    while (left := end - time.perf_counter()) > 0:
        await asyncio.sleep(left)
