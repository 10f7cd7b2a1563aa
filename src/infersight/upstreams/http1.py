"""A small HTTP/1.1 client for the gateway's hot path: pooled keep-alive connections, an
asyncio Protocol with httptools' C parser, and body chunks handed over with their arrival time.

General-purpose clients (httpx, aiohttp) cost tens of microseconds per request and per chunk;
a proxy that relays every token pays that many times over. This client does only what the
gateway needs: send one request, read a response whose body arrives in timestamped pieces,
and reuse the connection when the exchange ended cleanly. The pool of connections is in
`upstreams.pool`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import httptools

if TYPE_CHECKING:
    from infersight.upstreams.pool import ConnectionPool

log = logging.getLogger(__name__)

# (read time, bytes) -> None: relays one body piece inside the protocol callback.
BodySink = Callable[[float, bytes], None]

# Pause reading from the upstream when this much body is waiting for a slow client.
_HIGH_WATER_BYTES = 1024 * 1024
_LOW_WATER_BYTES = 256 * 1024


class UpstreamError(Exception):
    """The exchange with the upstream failed; `kind` is 'connect', 'timeout' or 'protocol'."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int
    base_path: str

    @staticmethod
    def parse(url: str) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return Origin(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        return host if self.port == default else f"{host}:{self.port}"


class UpstreamResponse:
    """One response being read. Body pieces are (perf_counter time, bytes)."""

    __slots__ = (
        "_attention",
        "_conn",
        "_direct",
        "_error",
        "_pending",
        "_pending_bytes",
        "_wait_started",
        "_waiter",
        "_watchdog",
        "complete",
        "headers",
        "keep_alive",
        "status",
    )

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = False
        self.keep_alive = False
        self._pending: list[tuple[float, bytes]] = []
        self._pending_bytes = 0
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._wait_started = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._direct: BodySink | None = None
        self._attention = False

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    # -- called by the protocol -------------------------------------------------------------
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_body(self, t: float, data: bytes) -> None:
        self._wait_started = t  # data is activity: the idle watchdog counts from here
        sink = self._direct
        if sink is not None:
            try:
                sink(t, data)
            except Exception as exc:  # a relay bug must end this response, not the connection
                log.exception("relaying an upstream body piece failed")
                self.fail(UpstreamError("protocol", f"relay failed: {exc}"))
            return
        self._pending.append((t, data))
        self._pending_bytes += len(data)
        if self._pending_bytes > _HIGH_WATER_BYTES:
            self._conn.pause()
        self._wake()

    def fail(self, error: UpstreamError) -> None:
        """End the read with an error (connection lost, client gone, timeout)."""
        if self._error is None and not self.complete:
            self._error = error
        self._wake()

    def client_went_away(self, _: object = None) -> None:
        """The downstream client is gone: end this exchange (a done-callback)."""
        self.fail(UpstreamError("client", "client went away"))

    # -- called by the consumer -------------------------------------------------------------
    def relay_directly(self, sink: BodySink | None) -> None:
        """Hand every body piece to `sink` as it is read, inside the protocol callback (no
        wake-up of the consumer per read); None returns to queued pieces. Pieces already
        queued go to the sink first."""
        self._direct = sink
        if sink is not None and self._pending:
            pending, self._pending = self._pending, []
            self._pending_bytes = 0
            self._conn.resume()  # reading paused if they piled up; the sink pauses it again
            for t, data in pending:
                sink(t, data)

    def request_attention(self) -> None:
        """Wake the consumer waiting in `wait_end` (the sink needs it, e.g. to wait for a
        slow client); reading from the upstream pauses until `resume_reading`."""
        self._attention = True
        self._conn.pause()
        self._wake()

    def resume_reading(self) -> None:
        self._conn.resume()

    async def wait_end(self, timeout_s: float) -> bool:
        """In direct mode: wait until the body is complete (True) or the sink asked for
        attention (False). Raises UpstreamError on failure or timeout_s of silence."""
        while not self.complete and not self._attention:
            if self._error is not None:
                raise self._error
            await self._wait(timeout_s)
        if self._error is not None:
            raise self._error
        if self._attention:
            self._attention = False
            return False
        self._stop_watchdog()
        return True

    async def _wait(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        self._wait_started = time.perf_counter()
        if self._watchdog is None:
            # one timer per response, re-armed only when it fires: not one per read
            self._watchdog = loop.call_later(timeout_s, self._check_idle, timeout_s)
        try:
            await waiter
        finally:
            self._waiter = None

    async def next_chunks(self, timeout_s: float) -> list[tuple[float, bytes]]:
        """The body pieces that arrived since the last call; [] once the body is complete.

        Raises UpstreamError when the connection fails or nothing arrives for timeout_s.
        """
        while not self._pending:
            if self._error is not None:
                raise self._error
            if self.complete:
                self._stop_watchdog()
                return []
            await self._wait(timeout_s)
        chunks, self._pending = self._pending, []
        if self._pending_bytes > _LOW_WATER_BYTES:
            self._conn.resume()
        self._pending_bytes = 0
        return chunks

    def _check_idle(self, timeout_s: float) -> None:
        self._watchdog = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        idle_s = time.perf_counter() - self._wait_started
        if idle_s >= timeout_s:
            _expire(waiter)
            return
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(timeout_s - idle_s, self._check_idle, timeout_s)

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def read_all(self, timeout_s: float, limit_bytes: int = 64 * 1024 * 1024) -> bytes:
        parts: list[bytes] = []
        size = 0
        while chunks := await self.next_chunks(timeout_s):
            for _, data in chunks:
                parts.append(data)
                size += len(data)
            if size > limit_bytes:
                raise UpstreamError("protocol", f"response body larger than {limit_bytes} bytes")
        return b"".join(parts)

    def close(self) -> None:
        """Finish the exchange: reuse the connection if it ended cleanly, else close it."""
        self._stop_watchdog()
        self._conn.finish(self)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamError("timeout", "no data from upstream in time"))


class _Connection(asyncio.Protocol):
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.response: UpstreamResponse | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.closed = False
        self._paused = False
        self._body_parts: list[bytes] = []
        self._read_at = 0.0
        self._interim = False  # inside a 1xx interim response (100 Continue, 103 Early Hints)
        self.idle_since = 0.0

    # protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.parser is None:  # bytes outside any exchange: the connection is not reusable
            self.abort()
            return
        self._read_at = time.perf_counter()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.response is not None:
                self.response.fail(UpstreamError("protocol", f"malformed HTTP response: {exc}"))
            self.abort()
        self._flush_body()

    def _flush_body(self) -> None:
        """Hand over the body pieces of one read as one piece: a read often holds many HTTP
        chunks (one SSE event each), and they arrived together."""
        parts = self._body_parts
        if parts and self.response is not None:
            self._body_parts = []
            self.response._on_body(self._read_at, parts[0] if len(parts) == 1 else b"".join(parts))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        response = self.response
        if response is not None and not response.complete:
            if (
                exc is None
                and response.status
                and _ends_at_close(response.status, response.headers)
            ):
                # a body with neither length nor chunks ends when the upstream closes cleanly
                response.complete = True
                self._flush_body()
                response._wake()
                return
            if self.parser is not None and response.status:
                self._flush_body()
            if not response.complete:
                reason = f": {exc}" if exc else ""
                response.fail(UpstreamError("protocol", f"upstream closed the connection{reason}"))

    # httptools parser callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.response is not None
        self.response.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.response is not None and self.parser is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # an interim response: the final one follows on the same connection
            self._interim = True
            self.response.headers.clear()
            return
        response = self.response
        response.status = status
        response.keep_alive = self.parser.should_keep_alive()
        response._wake()

    def on_body(self, body: bytes) -> None:
        self._body_parts.append(body)

    def on_message_complete(self) -> None:
        assert self.response is not None
        if self._interim:
            self._interim = False
            return
        self.response.complete = True  # set first: a sink can tell the last piece
        self._flush_body()
        self.response._wake()

    # used by the pool / response
    def send(
        self, request: bytes, client_gone: asyncio.Future[Any] | None = None
    ) -> UpstreamResponse:
        """Write a request; the response ends early when `client_gone` resolves."""
        assert self.transport is not None
        self.response = UpstreamResponse(self)
        self._interim = False
        if client_gone is not None:
            client_gone.add_done_callback(self.response.client_went_away)
        self.parser = httptools.HttpResponseParser(self)
        self.transport.write(request)
        return self.response

    def pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def finish(self, response: UpstreamResponse) -> None:
        if response is not self.response:
            return
        reusable = response.complete and response.keep_alive and not self.closed
        self.response = None
        self.parser = None
        if reusable:
            self.resume()
            self.pool.release(self)
        else:
            self.abort()


def _ends_at_close(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    """A body delimited by the connection's close (RFC 9112, 6.3): a status that has a body,
    and neither a Content-Length nor a chunked Transfer-Encoding."""
    if status < 200 or status in (204, 304):
        return False
    for name, value in headers:
        key = name.lower()
        if key == b"content-length":
            return False
        if key == b"transfer-encoding" and b"chunked" in value.lower():
            return False
    return True
