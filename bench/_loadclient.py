"""A minimal, cheap asyncio HTTP/1.1 client for streaming benchmarks.

One `StreamConnection` is one keep-alive TCP connection carrying one request at a time (one
connection per concurrent stream). Responses are parsed with httptools' C parser (status line,
headers, chunked or content-length bodies); the SSE body is scanned with `bytes.count` only, never
JSON-decoded, so the client costs little next to the processes it measures on a shared machine.

Timings are `time.perf_counter()` seconds, as defined by vLLM's benchmark:
- TTFT = arrival of the first byte of the first SSE event that carries content
  (`"content":"` followed by a non-empty string) - the moment the request was written;
- E2E  = arrival of the end of the body - the moment the request was written;
- tokens = number of SSE events that carry content (one token per event when the upstream
  sends one token per chunk, as the benchmarks configure it).

A `TokenMeter` shared by connections counts content events by arrival time inside a window, so
a closed loop whose requests finish in waves still gets an exact tokens/s for that window.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import httptools

_CONTENT = b'"content":"'
_EMPTY = b'"content":""'
_EVENT_END = b"\n\n"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (cheaper per read), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def build_request(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None
) -> bytes:
    """The raw bytes of one POST with a JSON body (built once, written as-is for every request)."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        "Accept: text/event-stream",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class TokenMeter:
    """Content events that arrived in [start, end) (perf_counter seconds), on any connection."""

    __slots__ = ("end", "start", "tokens")

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end, self.tokens = start, end, 0


class StreamResult:
    """The outcome of one request. Times are perf_counter seconds; None where not reached."""

    __slots__ = ("error", "status", "t_end", "t_first", "t_sent", "tokens")

    def __init__(self) -> None:
        self.t_sent = 0.0
        self.t_first: float | None = None
        self.t_end: float | None = None
        self.status = 0
        self.tokens = 0
        self.error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200 and self.t_end is not None

    @property
    def ttft_s(self) -> float | None:
        return None if self.t_first is None else self.t_first - self.t_sent

    @property
    def e2e_s(self) -> float | None:
        return None if self.t_end is None else self.t_end - self.t_sent


class StreamConnection(asyncio.Protocol):
    """One keep-alive connection; `await request(raw)` returns a StreamResult (never raises)."""

    def __init__(self, meter: TokenMeter | None = None) -> None:
        self.meter = meter
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser: Any = None
        self._result: StreamResult | None = None
        self._waiter: asyncio.Future[StreamResult] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._pieces: list[bytes] = []
        self._carry = b""  # bytes of an SSE event whose end has not arrived yet
        self._carry_t = 0.0  # arrival time of the first byte of `_carry`
        self._complete = False
        self._keep_alive = True

    @classmethod
    async def open(cls, host: str, port: int, meter: TokenMeter | None = None) -> StreamConnection:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(lambda: cls(meter), host, port)
        return proto

    @property
    def usable(self) -> bool:
        return not self.closed and self._waiter is None

    def request(self, raw: bytes, timeout_s: float = 60.0) -> asyncio.Future[StreamResult]:
        """Write one request; the future resolves when its response ended or failed."""
        if not self.usable or self.transport is None:
            raise RuntimeError("connection is closed or busy")
        loop = asyncio.get_running_loop()
        result = StreamResult()
        self._result = result
        self._waiter = loop.create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._pieces.clear()
        self._carry = b""
        self._complete = False
        self._timer = loop.call_later(timeout_s, self._timeout, timeout_s)
        result.t_sent = perf_counter()
        self.transport.write(raw)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        t = perf_counter()
        result = self._result
        if result is None:  # bytes outside an exchange: not reusable
            self._abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"malformed HTTP response: {exc}")
            self._abort()
            return
        pieces = self._pieces
        if pieces:
            body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            pieces.clear()
            if result.status == 200:
                self._scan(body, t, result)
        if self._complete:
            result.t_end = t
            if result.status != 200:
                result.error = f"HTTP {result.status}"
            self._finish()
            if not self._keep_alive:
                self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None:
            self._fail(f"connection lost{': ' + str(exc) if exc else ''}")

    # httptools callbacks
    def on_headers_complete(self) -> None:
        assert self._result is not None
        self._result.status = self._parser.get_status_code()
        self._keep_alive = self._parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self._pieces.append(body)

    def on_message_complete(self) -> None:
        self._complete = True

    # internals
    def _scan(self, body: bytes, t: float, result: StreamResult) -> None:
        """Count content events among the complete SSE events; time the first one."""
        carry = self._carry
        buf = carry + body if carry else body
        cut = buf.rfind(_EVENT_END)
        if cut < 0:
            if not carry:
                self._carry_t = t
            self._carry = buf
            return
        cut += 2
        done = buf[:cut] if cut < len(buf) else buf
        n = done.count(_CONTENT)
        if n:
            n -= done.count(_EMPTY)
        if n:
            if result.t_first is None:
                result.t_first = self._first_content_time(done, len(carry), t)
            result.tokens += n
            meter = self.meter
            if meter is not None and meter.start <= t < meter.end:
                meter.tokens += n
        rest = buf[cut:]
        self._carry = rest
        if rest:
            self._carry_t = t

    def _first_content_time(self, done: bytes, carried: int, t: float) -> float:
        i = done.find(_CONTENT)
        while i >= 0 and done[i + len(_CONTENT) : i + len(_CONTENT) + 1] == b'"':
            i = done.find(_CONTENT, i + 1)
        j = done.rfind(_EVENT_END, 0, max(i, 0))
        start = j + 2 if j >= 0 else 0  # first byte of the event that holds the first content
        return self._carry_t if start < carried else t

    def _finish(self) -> None:
        waiter, result = self._waiter, self._result
        self._waiter = self._result = None
        self._parser = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is not None and not waiter.done():
            waiter.set_result(result)  # type: ignore[arg-type]

    def _fail(self, message: str) -> None:
        if self._result is not None and self._result.error is None:
            self._result.error = message
        self._finish()

    def _timeout(self, timeout_s: float) -> None:
        self._timer = None
        self._fail(f"no complete response within {timeout_s:g} s")
        self._abort()

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


# ------------------------------------------------------------------ closed-loop load driver


@dataclass
class LoadStats:
    """What closed-loop segments against one target measured, summed over the segments."""

    sent: int = 0  # requests written, warm-up included
    failed: int = 0  # of those, the ones that did not end in a full 200 stream
    connect_errors: int = 0
    ttft_s: list[float] = field(default_factory=list)  # requests sent inside the window
    e2e_s: list[float] = field(default_factory=list)
    window_failed: int = 0
    tokens: int = 0  # content events that arrived inside the window
    completed: int = 0  # requests that ended (fully) inside the window
    window_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # per process, over the windows
    probe_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    def note_error(self, message: str) -> None:
        key = re.sub(r"\d+", "N", message)[:120]
        self.errors[key] = self.errors.get(key, 0) + 1


async def run_closed_loop(
    side: LoadStats,
    port: int,
    raw: bytes,
    concurrency: int,
    warmup_s: float,
    measure_s: float,
    expected_tokens: int,
    probes: Mapping[str, Callable[[], float]],
    *,
    host: str = "127.0.0.1",
    timeout_s: float = 60.0,
) -> None:
    """`concurrency` workers, one connection each, send `raw` back to back: `warmup_s`, then a
    measured window of `measure_s`; then stop sending and wait for the requests in flight.

    Adds to `side`: every request sent and failed (warm-up too); TTFT/E2E of the requests sent in
    the window; content events that arrived in the window; the change of each probe (CPU
    seconds, say) over the window. A 200 stream with other than `expected_tokens` content
    events counts as failed.
    """
    m_start = perf_counter() + warmup_s
    m_end = m_start + measure_s
    meter = TokenMeter(m_start, m_end)

    def record(r: StreamResult) -> None:
        if r.error is None and r.status == 200 and r.tokens != expected_tokens:
            r.error = f"short stream: {r.tokens} of {expected_tokens} tokens"
        ok = r.ok
        if not ok:
            side.failed += 1
            side.note_error(r.error or f"HTTP {r.status}")
        if m_start <= r.t_sent < m_end:
            if ok and r.t_first is not None and r.t_end is not None:
                side.ttft_s.append(r.t_first - r.t_sent)
                side.e2e_s.append(r.t_end - r.t_sent)
            else:
                side.window_failed += 1
        if ok and r.t_end is not None and m_start <= r.t_end < m_end:
            side.completed += 1

    async def worker() -> None:
        conn: StreamConnection | None = None
        try:
            while perf_counter() < m_end:
                if conn is None or not conn.usable:
                    if conn is not None:
                        conn.close()
                    try:
                        conn = await StreamConnection.open(host, port, meter)
                    except OSError as exc:
                        conn = None
                        side.connect_errors += 1
                        side.note_error(f"connect: {exc}")
                        await asyncio.sleep(0.01)
                        continue
                side.sent += 1
                record(await conn.request(raw, timeout_s))
        finally:
            if conn is not None:
                conn.close()

    async def probe() -> None:
        await asyncio.sleep(max(0.0, m_start - perf_counter()))
        t_a, a = perf_counter(), {k: f() for k, f in probes.items()}
        await asyncio.sleep(max(0.0, m_end - perf_counter()))
        t_b, b = perf_counter(), {k: f() for k, f in probes.items()}
        for k in probes:
            side.cpu_s[k] = side.cpu_s.get(k, 0.0) + b[k] - a[k]
        side.probe_s += t_b - t_a

    await asyncio.gather(probe(), *(worker() for _ in range(concurrency)))
    side.tokens += meter.tokens
    side.window_s += measure_s


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN when empty."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
