"""Relaying a stream's body straight from the upstream's read callback to the client's socket.

The queued path wakes the request's task for every upstream read and goes through an ASGI
`send` per batch. When the server is uvicorn's httptools protocol (the gateway's own), the
response cycle behind `send` exposes its transport: body pieces can then be observed and
written in HTTP/1.1 chunked framing right in the read callback, with no task wake-up per
read. Start, end and flow control still go through `send`, so uvicorn's bookkeeping holds:
the final `send(more_body=False)` writes the terminating chunk. Anything unexpected about
the server falls back to the queued path.

The response head that uvicorn renders for `http.response.start` is held back and written in
one system call with the first events of the body: the client wakes once, with its first
token, instead of once for the head and again for the body. No byte of the body waits for
this; only the head does, for at most HEAD_HOLD_S when the upstream sends its headers long
before its first token (a model still in its queue or prefill).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final, cast

from infersight.core.sse import SSEStreamObserver
from infersight.upstreams.http1 import UpstreamError, UpstreamResponse

# Past this many bytes waiting in the client's socket buffer, stop reading from the upstream
# until the client catches up.
HIGH_WATER_BYTES: Final = 1024 * 1024
# The longest the response head waits for the first events of the body, to go out with them.
HEAD_HOLD_S: Final = 0.01
_UVICORN_HTTPTOOLS: Final = "uvicorn.protocols.http.httptools_impl"


class _HeadCapture:
    """Stands in for the client transport while uvicorn renders the response head: writes
    are kept, everything else is the real transport's."""

    __slots__ = ("parts", "real")

    def __init__(self, real: Any) -> None:
        self.real = real
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(bytes(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def start_direct(
    send: Any, start: Mapping[str, Any]
) -> tuple[Any, asyncio.Transport, bytes] | None:
    """Start the response: send `start` (an `http.response.start` message) through `send`.

    Behind uvicorn's httptools response cycle the rendered head is kept instead of written,
    and (cycle, transport, head) is returned: the body can be written to the transport
    directly, `head` first. Otherwise the response has started the usual way (the head is
    out) and None is returned: the body goes through `send`.
    """
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if (
        transport is None
        or type(cycle).__module__ != _UVICORN_HTTPTOOLS
        or getattr(cycle, "response_started", True)
    ):
        await send(start)
        return None
    capture = _HeadCapture(transport)
    cycle.transport = capture
    try:
        await send(start)
    finally:
        cycle.transport = transport
    head = b"".join(capture.parts)
    if getattr(cycle, "chunked_encoding", None) is not True:  # not a framing we write
        if head:
            transport.write(head)
        return None
    return cycle, cast(asyncio.Transport, transport), head


class DirectRelay:
    """The body sink for `UpstreamResponse.relay_directly`. `head` (the response head, not yet
    written) goes out with the first body piece, or by `flush_head`; the last piece, read
    with the end of the upstream's body, is left in `last` for the caller to send with the
    end of the response."""

    __slots__ = ("cycle", "gone", "head", "last", "observer", "response", "transport")

    def __init__(
        self,
        observer: SSEStreamObserver,
        response: UpstreamResponse,
        cycle: Any,
        transport: asyncio.Transport,
        head: bytes = b"",
    ) -> None:
        self.observer = observer
        self.response = response
        self.cycle = cycle
        self.transport = transport
        self.head = head
        self.last = b""  # the body's last piece, kept to go out with the terminating chunk
        self.gone = False

    def flush_head(self) -> None:
        """Write the head now if no body piece has taken it along yet."""
        if self.head:
            head, self.head = self.head, b""
            if not self.transport.is_closing():
                self.transport.write(head)

    def __call__(self, t: float, data: bytes) -> None:
        out = self.observer.feed(t, data)
        if not out:
            return
        if self.cycle.disconnected or self.transport.is_closing():
            self.gone = True
            self.response.fail(UpstreamError("client", "client went away"))
            return
        if self.head:
            head, self.head = self.head, b""
            self.transport.writelines((head, b"%x\r\n" % len(out), out, b"\r\n"))
        elif self.response.complete:
            self.last = out  # the end of the response follows at once: one write for both
        else:
            self.transport.writelines((b"%x\r\n" % len(out), out, b"\r\n"))
        if self.transport.get_write_buffer_size() > HIGH_WATER_BYTES:
            self.response.request_attention()
