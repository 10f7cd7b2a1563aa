"""Keep-alive connections to one upstream origin, for the HTTP/1.1 client in `http1`.

`ConnectionPool.send` writes a request on an idle connection (or a new one) and waits for the
response's status line and headers; the body is then read from the `UpstreamResponse`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Sequence
from typing import Any

from infersight.upstreams.http1 import (
    Origin,
    UpstreamError,
    UpstreamResponse,
    _Connection,
    _expire,
)

# An idle keep-alive connection older than this is closed instead of reused: servers close
# idle connections after a few seconds (uvicorn, llama.cpp: 5 s), and a request sent just as
# the server closes one is lost.
IDLE_REUSE_S = 4.0
# Methods that may be sent again when a reused connection fails before any answer; a POST
# (a generation, maybe billed) is never sent twice unless it carries an idempotency key.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_IDEMPOTENCY_KEYS = frozenset({b"idempotency-key", b"x-idempotency-key"})


def _may_retry(method: str, headers: Sequence[tuple[bytes, bytes]]) -> bool:
    return method in _IDEMPOTENT or any(k.lower() in _IDEMPOTENCY_KEYS for k, _ in headers)


class ConnectionPool:
    """Keep-alive connections to one origin. Idle connections are reused newest first."""

    def __init__(
        self,
        origin: Origin,
        *,
        connect_timeout_s: float,
        max_idle: int = 512,
        idle_reuse_s: float = IDLE_REUSE_S,
    ) -> None:
        self.origin = origin
        self.connect_timeout_s = connect_timeout_s
        self.max_idle = max_idle
        self.idle_reuse_s = idle_reuse_s
        self._idle: list[_Connection] = []
        self._ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if origin.scheme == "https" else None
        )

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(self), self.origin.host, self.origin.port, ssl=self._ssl
                ),
                self.connect_timeout_s,
            )
        except TimeoutError as exc:
            raise UpstreamError(
                "timeout", f"connecting took longer than {self.connect_timeout_s:g}s"
            ) from exc
        except OSError as exc:
            raise UpstreamError("connect", f"cannot connect: {exc.strerror or exc}") from exc
        return proto

    async def send(
        self,
        method: str,
        path: str,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        *,
        header_timeout_s: float,
        client_gone: asyncio.Future[Any] | None = None,
    ) -> UpstreamResponse:
        """Send a request and wait for the response's status line and headers.

        Idle connections are reused only while younger than `idle_reuse_s`. A reused
        connection that fails before any byte of response (the upstream closed it as the
        request went out) is retried once on a fresh connection, but only for idempotent
        requests (GET, or a request with an Idempotency-Key): a POST may already be running
        upstream, and is not sent twice.
        When `client_gone` resolves (the downstream client disconnected), the exchange ends
        with UpstreamError('client'), before or after the headers, and the connection is
        dropped, which cancels the request upstream.
        """
        target = self.origin.base_path + path
        head = [
            f"{method} {target} HTTP/1.1\r\nHost: {self.origin.host_header}\r\n"
            f"Content-Length: {len(body)}\r\n".encode("latin-1")
        ]
        for name, value in headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"\r\n")
        payload = b"".join(head) + body
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.closed:
                continue
            if now - conn.idle_since > self.idle_reuse_s:
                conn.abort()
                continue
            response = conn.send(payload, client_gone)
            try:
                await wait_headers(response, header_timeout_s)
                return response
            except UpstreamError as exc:
                conn.abort()
                if exc.kind != "protocol" or response.status or not _may_retry(method, headers):
                    raise
        conn = await self._connect()
        if client_gone is not None and client_gone.done():  # left while we connected
            self.release(conn)
            raise UpstreamError("client", "client went away")
        response = conn.send(payload, client_gone)
        try:
            await wait_headers(response, header_timeout_s)
        except UpstreamError:
            conn.abort()
            raise
        return response

    def release(self, conn: _Connection) -> None:
        if len(self._idle) < self.max_idle:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.abort()

    def close(self) -> None:
        for conn in self._idle:
            conn.abort()
        self._idle.clear()


async def wait_headers(response: UpstreamResponse, timeout_s: float) -> None:
    """Wait until the status line and headers arrived (or the read failed)."""
    while not response.status:
        if response._error is not None:
            raise response._error
        loop = asyncio.get_running_loop()
        response._waiter = waiter = loop.create_future()
        handle = loop.call_later(timeout_s, _expire, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            response._waiter = None
