"""A minimal, cheap asyncio HTTP/1.1 client for streaming benchmarks.

One `StreamConnection` is one keep-alive TCP connection carrying one request at a time (one
connection per concurrent stream). Responses are parsed with httptools' C parser (status line,
headers, chunked or content-length bodies); the SSE body is scanned with `bytes.count` only, never
JSON-decoded. The socket is read from a Python reader callback with `recvmsg` (for the kernel's
receive timestamps, below), which costs more CPU per read than uvloop's own protocol reads: about
1.0 ms per direct 256-token request at one stream against 0.8 ms before 2026-11-27, so the CPU
and tokens/s columns of runs before and after that change are not comparable.

Timings follow vLLM's benchmark definitions:
- TTFT = arrival of the first byte of the first SSE event that carries content
  (`"content":"` followed by a non-empty string) - the moment the request was written;
- E2E  = arrival of the end of the body - the moment the request was written;
- tokens = number of SSE events that carry content (one token per event when the upstream
  sends one token per chunk, as the benchmarks configure it).

"Arrival" is measured twice. On the wire: the kernel's receive timestamp of the read that
brought the bytes (SO_TIMESTAMPNS), which is when they reached the client's socket. At the
read: when the client process ran that read. The two differ by how long the client waited
for a CPU; on a machine where the client shares two cores with the processes it measures,
that wait can be a whole scheduler slice (about 1.5 ms) while the others stream.

A `TokenMeter` shared by connections counts content events by arrival time inside a window, so
a closed loop whose requests finish in waves still gets an exact tokens/s for that window.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import socket
import struct
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import perf_counter, time
from typing import Any, Final

import httptools

_CONTENT = b'"content":"'
_EMPTY = b'"content":""'
_EVENT_END = b"\n\n"
# Linux's SO_TIMESTAMPNS (socket.h; Python 3.11's socket module does not name it): recvmsg then
# carries each read's kernel receive time as a struct timespec (SCM_TIMESTAMPNS, same value).
SO_TIMESTAMPNS: Final = 35
_TIMESPEC: Final = struct.Struct("@qq")
_ANC_SPACE: Final = socket.CMSG_SPACE(_TIMESPEC.size)
_LINGER_RESET: Final = struct.pack("@ii", 1, 0)
# Read size until the first content event is in, and after.
FIRST_READ_BYTES: Final = 256
# (64 KB: a buffer of 128 KB or more is mapped and unmapped by malloc on every read.)
READ_BYTES: Final = 64 * 1024


def _rx_stamp(ancdata: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel receive time (wall-clock seconds) in a read's ancillary data, if any."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return float(sec) + float(nsec) * 1e-9
    return None


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
    """Content events read in [start, end) (perf_counter seconds of the read), on any
    connection."""

    __slots__ = ("end", "start", "tokens")

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end, self.tokens = start, end, 0


class StreamResult:
    """The outcome of one request; None where not reached.

    Two clocks: `t_*` are perf_counter seconds taken when the client's reads ran; `wall_sent`
    and `wire_*` are wall-clock seconds, the latter the kernel's receive timestamps of the
    reads (when the bytes reached the client's socket, however late the client process got
    to run); `stamped` says whether the kernel gave them (else they are the read times).
    """

    __slots__ = (
        "error", "stamped", "status", "t_end", "t_first", "t_sent", "tokens", "wall_sent",
        "wire_end", "wire_first",
    )  # fmt: skip

    def __init__(self) -> None:
        self.t_sent = 0.0
        self.t_first: float | None = None
        self.t_end: float | None = None
        self.wall_sent = 0.0
        self.wire_first: float | None = None
        self.wire_end: float | None = None
        self.stamped = False
        self.status = 0
        self.tokens = 0
        self.error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200 and self.t_end is not None

    @property
    def ttft_s(self) -> float | None:
        """Time to the first content event reaching the client's socket."""
        return None if self.wire_first is None else self.wire_first - self.wall_sent

    @property
    def e2e_s(self) -> float | None:
        """Time to the end of the body reaching the client's socket."""
        return None if self.wire_end is None else self.wire_end - self.wall_sent

    @property
    def read_ttft_s(self) -> float | None:
        """Time to the client process reading the first content event."""
        return None if self.t_first is None else self.t_first - self.t_sent

    @property
    def read_e2e_s(self) -> float | None:
        return None if self.t_end is None else self.t_end - self.t_sent


class StreamConnection:
    """One keep-alive connection; `await request(raw)` returns a StreamResult (never raises).

    The socket is read with `recvmsg` from the event loop's reader callback, so that every read
    comes with the kernel's receive timestamp (SO_TIMESTAMPNS) as well as the time the read ran.
    The stamp of a read is that of the newest packet it takes, and packets that wait unread
    may be merged under the newest one's stamp: a stamp is never earlier than the arrival of
    the bytes, and may be later when the client falls behind. Until the first content event
    has arrived, reads are at most FIRST_READ_BYTES, so that a read that keeps up does not
    take the first token's packet together with later ones.
    """

    def __init__(self, sock: socket.socket, meter: TokenMeter | None, stamped: bool) -> None:
        self.sock = sock
        self.meter = meter
        self.stamped = stamped  # the kernel timestamps this socket's reads
        self.closed = False
        self._loop = asyncio.get_running_loop()
        self._parser: Any = None
        self._result: StreamResult | None = None
        self._waiter: asyncio.Future[StreamResult] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._unsent = b""
        self._pieces: list[bytes] = []
        self._carry = b""  # bytes of an SSE event whose end has not arrived yet
        self._carry_t = (0.0, 0.0)  # (read, wire) arrival times of the first byte of `_carry`
        self._complete = False
        self._keep_alive = True

    @classmethod
    async def open(cls, host: str, port: int, meter: TokenMeter | None = None) -> StreamConnection:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stamped = sys.platform.startswith("linux")  # the option number is Linux's
            if stamped:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                except OSError:
                    stamped = False
            await loop.sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        conn = cls(sock, meter, stamped)
        loop.add_reader(sock.fileno(), conn._on_readable)
        return conn

    @property
    def usable(self) -> bool:
        return not self.closed and self._waiter is None

    def request(self, raw: bytes, timeout_s: float = 60.0) -> asyncio.Future[StreamResult]:
        """Write one request; the future resolves when its response ended or failed."""
        if not self.usable:
            raise RuntimeError("connection is closed or busy")
        loop = self._loop
        result = StreamResult()
        self._result = result
        waiter: asyncio.Future[StreamResult] = loop.create_future()
        self._waiter = waiter  # cleared by _finish, so the local one is what is returned
        self._parser = httptools.HttpResponseParser(self)
        self._pieces.clear()
        self._carry = b""
        self._complete = False
        self._timer = loop.call_later(timeout_s, self._timeout, timeout_s)
        result.t_sent, result.wall_sent = perf_counter(), time()
        try:
            sent = self.sock.send(raw)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._fail(f"send failed: {exc}")
            self._abort()
            return waiter
        if sent < len(raw):
            self._unsent = raw[sent:]
            loop.add_writer(self.sock.fileno(), self._write_rest)
        return waiter

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._loop.remove_reader(self.sock.fileno())
        if self._unsent:
            self._loop.remove_writer(self.sock.fileno())
        self.sock.close()

    # socket events
    def _write_rest(self) -> None:
        try:
            sent = self.sock.send(self._unsent)
        except BlockingIOError:
            return
        except OSError as exc:
            self._unsent = b""
            self._loop.remove_writer(self.sock.fileno())
            self._fail(f"send failed: {exc}")
            self._abort()
            return
        self._unsent = self._unsent[sent:]
        if not self._unsent:
            self._loop.remove_writer(self.sock.fileno())

    def _on_readable(self) -> None:
        result = self._result
        size = FIRST_READ_BYTES if result is not None and result.t_first is None else READ_BYTES
        try:
            data, ancdata, _, _ = self.sock.recvmsg(size, _ANC_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(str(exc))
            return
        t = perf_counter()
        wire = _rx_stamp(ancdata)
        if wire is None:
            wire = time()
            self.stamped = False
        if not data:
            self._lost("")
            return
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
                self._scan(body, t, wire, result)
        if self._complete:
            result.t_end, result.wire_end = t, wire
            result.stamped = self.stamped
            if result.status != 200:
                result.error = f"HTTP {result.status}"
            self._finish()
            if not self._keep_alive:
                self.close()

    def _lost(self, why: str) -> None:
        self.close()
        if self._waiter is not None:
            self._fail(f"connection lost{': ' + why if why else ''}")

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
    def _scan(self, body: bytes, t: float, wire: float, result: StreamResult) -> None:
        """Count content events among the complete SSE events; time the first one."""
        carry = self._carry
        buf = carry + body if carry else body
        cut = buf.rfind(_EVENT_END)
        if cut < 0:
            if not carry:
                self._carry_t = (t, wire)
            self._carry = buf
            return
        cut += 2
        done = buf[:cut] if cut < len(buf) else buf
        n = done.count(_CONTENT)
        if n:
            n -= done.count(_EMPTY)
        if n:
            if result.t_first is None:
                result.t_first, result.wire_first = self._first_content_times(
                    done, len(carry), (t, wire)
                )
            result.tokens += n
            meter = self.meter
            if meter is not None and meter.start <= t < meter.end:
                meter.tokens += n
        rest = buf[cut:]
        self._carry = rest
        if rest:
            self._carry_t = (t, wire)

    def _first_content_times(
        self, done: bytes, carried: int, now: tuple[float, float]
    ) -> tuple[float, float]:
        """(read, wire) arrival times of the first byte of the first content event."""
        i = done.find(_CONTENT)
        while i >= 0 and done[i + len(_CONTENT) : i + len(_CONTENT) + 1] == b'"':
            i = done.find(_CONTENT, i + 1)
        j = done.rfind(_EVENT_END, 0, max(i, 0))
        start = j + 2 if j >= 0 else 0  # first byte of the event that holds the first content
        return self._carry_t if start < carried else now

    def _finish(self) -> None:
        waiter, result = self._waiter, self._result
        self._waiter = self._result = None
        self._parser = None
        if self._unsent:  # answered before the request was all written: not reusable
            self._abort()
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
        if not self.closed:
            with contextlib.suppress(OSError):  # reset, not a graceful close
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        self.close()


# ------------------------------------------------------------------ closed-loop load driver


@dataclass
class LoadStats:
    """What closed-loop segments against one target measured, summed over the segments."""

    sent: int = 0  # requests written, warm-up included
    failed: int = 0  # of those, the ones that did not end in a full 200 stream
    connect_errors: int = 0
    # Requests sent inside the window: arrival at the client's socket (kernel timestamps) ...
    ttft_s: list[float] = field(default_factory=list)
    e2e_s: list[float] = field(default_factory=list)
    # ... and when the client process read it (adds the client's wait for a CPU).
    read_ttft_s: list[float] = field(default_factory=list)
    read_e2e_s: list[float] = field(default_factory=list)
    unstamped: int = 0  # of those, requests whose reads came without kernel timestamps
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
            ttft, e2e, read_ttft, read_e2e = r.ttft_s, r.e2e_s, r.read_ttft_s, r.read_e2e_s
            if (
                ok
                and ttft is not None
                and e2e is not None
                and read_ttft is not None
                and read_e2e is not None
            ):
                side.ttft_s.append(ttft)
                side.e2e_s.append(e2e)
                side.read_ttft_s.append(read_ttft)
                side.read_e2e_s.append(read_e2e)
                side.unstamped += not r.stamped
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
