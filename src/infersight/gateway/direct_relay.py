"""Relaying a stream's body straight from the upstream's read callback to the client's socket.

The queued path wakes the request's task for every upstream read and goes through an ASGI
`send` per batch. When the server is uvicorn's httptools protocol (the gateway's own), the
response cycle behind `send` exposes its transport: body pieces can then be observed and
written in HTTP/1.1 chunked framing right in the read callback, with no task wake-up per
read. Start, end and flow control still go through `send`, so uvicorn's bookkeeping holds:
the final `send(more_body=False)` writes the terminating chunk. Anything unexpected about
the server falls back to the queued path.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, cast

from infersight.core.sse import SSEStreamObserver
from infersight.upstreams.http1 import UpstreamError, UpstreamResponse

# Past this many bytes waiting in the client's socket buffer, stop reading from the upstream
# until the client catches up.
HIGH_WATER_BYTES: Final = 1024 * 1024


def client_transport(send: Any) -> tuple[Any, asyncio.Transport] | None:
    """uvicorn's response cycle and its transport behind `send`, once a chunked response has
    started; None for any other server or framing."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or getattr(cycle, "chunked_encoding", None) is not True:
        return None
    if not getattr(cycle, "response_started", False):
        return None
    return cycle, cast(asyncio.Transport, transport)


class DirectRelay:
    """The body sink for `UpstreamResponse.relay_directly`."""

    __slots__ = ("cycle", "gone", "observer", "response", "transport")

    def __init__(
        self,
        observer: SSEStreamObserver,
        response: UpstreamResponse,
        cycle: Any,
        transport: asyncio.Transport,
    ) -> None:
        self.observer = observer
        self.response = response
        self.cycle = cycle
        self.transport = transport
        self.gone = False

    def __call__(self, t: float, data: bytes) -> None:
        out = self.observer.feed(t, data)
        if not out:
            return
        if self.cycle.disconnected or self.transport.is_closing():
            self.gone = True
            self.response.fail(UpstreamError("client", "client went away"))
            return
        self.transport.writelines((b"%x\r\n" % len(out), out, b"\r\n"))
        if self.transport.get_write_buffer_size() > HIGH_WATER_BYTES:
            self.response.request_attention()
