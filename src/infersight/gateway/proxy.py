"""The measuring proxy: forwards OpenAI requests, relays the answer as it arrives, and writes
one RequestRecord per request.

Hot-path rules: no per-token allocation beyond a timestamp, no JSON parsing of ordinary
chunks, one ASGI send per upstream wake-up (several reads coalesce under load), and no I/O
except the two sockets (records go to a queue).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final, Protocol

from infersight.core.clock import Clock
from infersight.core.records import RequestRecord
from infersight.core.sse import (
    SSEStreamObserver,
    error_body_message,
    parse_completion_body,
)
from infersight.core.timing import stream_timing
from infersight.exporters.prometheus import GatewayMetrics
from infersight.gateway.direct_relay import HEAD_HOLD_S, DirectRelay, start_direct
from infersight.gateway.errors import error_body, sse_error_event
from infersight.gateway.exchange import Exchange, build_record, usage_int
from infersight.gateway.routing import Upstream, UpstreamRouter
from infersight.gateway.validation import (
    ParsedRequest,
    RequestError,
    parse_request,
    with_usage_requested,
)
from infersight.settings import GatewaySettings
from infersight.upstreams.http1 import UpstreamError, UpstreamResponse

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ROUTES: Final = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}
# Never forwarded upstream: hop-by-hop headers, ones the client connection owns, our own.
_DROP_REQUEST: Final = frozenset(
    {
        b"host", b"content-length", b"connection", b"keep-alive", b"transfer-encoding", b"te",
        b"trailer", b"upgrade", b"proxy-authorization", b"proxy-connection", b"accept-encoding",
        b"expect",
    }
)  # fmt: skip
_DROP_RESPONSE: Final = frozenset(
    {b"content-length", b"connection", b"keep-alive", b"transfer-encoding", b"date", b"server"}
)
_JSON: Final = [(b"content-type", b"application/json")]
# Request heads larger than this are refused (431), not forwarded.
MAX_HEADER_BYTES: Final = 64 * 1024


class RecordSink(Protocol):
    def submit(self, record: RequestRecord) -> object: ...


class ClientGone(Exception):
    pass


class ProxyHandler:
    def __init__(
        self,
        settings: GatewaySettings,
        router: UpstreamRouter,
        sink: RecordSink,
        metrics: GatewayMetrics,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.router = router
        self.sink = sink
        self.metrics = metrics
        self.clock = clock
        self.in_flight = 0
        self._label_header = settings.client_label_header.lower().encode("latin-1")
        self._key_labels: dict[bytes, str] = {}

    async def handle(self, scope: Scope, receive: Receive, send: Send, route: str) -> None:
        ex = Exchange(
            route=route,
            headers=scope["headers"],
            t0=time.perf_counter(),
            started_at=self.clock.now(),
            inflight_at_start=self.in_flight,
        )
        self.in_flight += 1
        try:
            try:
                _check_head(ex.headers)
                raw = await self._read_body(receive, ex.headers)
                req = ex.req = parse_request(raw, route)
                upstream = ex.upstream = self.router.pick(req.model)
                if upstream is None:
                    raise RequestError(
                        404,
                        f"model '{req.model}' is not served by any configured upstream "
                        f"(models: {', '.join(self.router.known_models())})",
                        param="model",
                    )
            except RequestError as exc:
                ex.status = exc.status
                ex.error_class = "invalid_request"
                ex.error_message = str(exc)
                body = error_body(exc.status, str(exc), param=exc.param)
                await _respond(send, exc.status, body, close=exc.status in (408, 413, 431))
                return
            except ClientGone:
                ex.error_class = "client_disconnect"
                ex.error_message = "client went away while sending the request"
                return
            except Exception as exc:  # a gateway bug: an answer and a record, not a bare 500
                log.exception("reading the request failed")
                ex.status, ex.error_class = 500, "gateway_error"
                ex.error_message = f"gateway error reading the request: {exc!r}"[:500]
                await _respond(send, 500, error_body(500, ex.error_message, code="gateway_error"))
                return
            self.metrics.in_flight[upstream.name] = self.metrics.in_flight.get(upstream.name, 0) + 1
            try:
                await self._exchange(scope, receive, send, req, upstream, ex)
            except BaseException as exc:  # the record must not call a cut-short request a success
                if ex.error_class is None:
                    ex.error_class = "gateway_error"
                    ex.error_message = (
                        "the gateway stopped before the response ended"
                        if isinstance(exc, asyncio.CancelledError)
                        else f"gateway error: {exc!r}"[:500]
                    )
                raise
            finally:
                self.metrics.in_flight[upstream.name] -= 1
        finally:
            self.in_flight -= 1
            self._record(ex)

    async def _read_body(self, receive: Receive, headers: list[tuple[bytes, bytes]]) -> bytes:
        limit = self.settings.max_body_bytes
        for name, value in headers:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                raise RequestError(413, f"request body of {int(value)} bytes exceeds {limit} bytes")
        parts: list[bytes] = []
        if getattr(getattr(receive, "__self__", None), "more_body", True) is False:
            # uvicorn holds the whole body already: no wait, and no timer to pay for (~6 µs)
            return await _receive_body(receive, parts, limit)
        timeout = self.settings.body_timeout_s
        try:
            async with asyncio.timeout(timeout):  # one timer for the whole body
                return await _receive_body(receive, parts, limit)
        except TimeoutError:
            size = sum(map(len, parts))
            raise RequestError(
                408,
                f"the request body did not arrive within {timeout:g} s ({size} bytes came); "
                "send it whole, or raise gateway.body_timeout_s",
            ) from None

    async def _exchange(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        req: ParsedRequest,
        upstream: Upstream,
        outcome: Exchange,
    ) -> None:
        injected = with_usage_requested(req)
        body = injected if injected is not None else req.body_bytes
        fwd = forward_headers(outcome.headers)
        # from here on a client that goes away ends the exchange, and the upstream's request
        # with it: while the upstream thinks (a non-streamed answer sends no byte before it
        # is done) as well as while it streams
        gone: asyncio.Future[Message] = asyncio.ensure_future(receive())
        try:
            try:
                response = await upstream.pool.send(
                    "POST",
                    upstream_target(scope),
                    fwd,
                    body,
                    header_timeout_s=self.settings.first_byte_timeout_s,
                    client_gone=gone,
                )
            except UpstreamError as exc:
                await self._upstream_failed(send, upstream, outcome, exc)
                return
            try:
                if response.status == 200 and _is_event_stream(response, req.stream):
                    await self._relay_stream(
                        send, response, injected is not None, upstream, outcome
                    )
                else:
                    await self._relay_whole(send, response, upstream, outcome)
            except ClientGone:
                outcome.error_class = "client_disconnect"
                outcome.error_message = "client disconnected before the response ended"
            finally:
                response.close()
        finally:
            gone.cancel()

    @staticmethod
    async def _upstream_failed(
        send: Send, upstream: Upstream, outcome: Exchange, exc: UpstreamError
    ) -> None:
        """No response from the upstream: the client left, or a 504 / 502 for it."""
        if exc.kind == "client":
            outcome.error_class = "client_disconnect"
            outcome.error_message = "client disconnected before the upstream answered"
            return
        if exc.kind == "timeout":
            outcome.status, outcome.error_class = 504, "upstream_timeout"
            msg = f"upstream '{upstream.name}' ({upstream.url}) did not answer in time: {exc}"
        elif exc.kind == "protocol":  # connected, and got no usable answer
            outcome.status, outcome.error_class = 502, "upstream_unreachable"
            msg = f"upstream '{upstream.name}' ({upstream.url}) sent no answer: {exc}"
        else:
            outcome.status, outcome.error_class = 502, "upstream_unreachable"
            msg = f"upstream '{upstream.name}' ({upstream.url}) is unreachable: {exc}"
        outcome.error_message = msg
        await _respond(
            send, outcome.status, error_body(outcome.status, msg, code=outcome.error_class)
        )

    async def _relay_stream(
        self,
        send: Send,
        response: UpstreamResponse,
        strip_usage: bool,
        upstream: Upstream,
        outcome: Exchange,
    ) -> None:
        observer = SSEStreamObserver(
            strip_usage=strip_usage, capture_text=self.settings.capture_text
        )
        outcome.status = 200
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": _response_headers(response),
        }
        read_timeout = self.settings.read_timeout_s
        try:
            try:
                direct = await start_direct(send, start)
            except OSError as exc:
                raise ClientGone from exc
            last = b""
            if direct is not None:
                failure, last = await _relay_direct(send, response, observer, read_timeout, *direct)
            else:
                failure = await _relay_queued(send, response, observer, read_timeout)
            tail = last + observer.flush()
            if failure is not None:
                outcome.error_class = (
                    "upstream_timeout" if failure.kind == "timeout" else "midstream_error"
                )
                outcome.error_message = f"upstream '{upstream.name}' stream broke: {failure}"
                # an event the upstream left unfinished is dropped: glued to the error event
                # it would make that one unreadable too
                tail = sse_error_event(outcome.error_message, code=outcome.error_class)
            elif observer.error is not None:
                outcome.error_class = "midstream_error"
                outcome.error_message = (
                    f"upstream '{upstream.name}' sent an error event: {observer.error}"
                )
            await _send(send, {"type": "http.response.body", "body": tail, "more_body": False})
        finally:
            # also when the client left or the gateway stopped: the record keeps what was relayed
            observer.flush()
            t_end = time.perf_counter()
            outcome.usage = observer.usage
            outcome.finish_reason = observer.finish_reason
            if self.settings.capture_text:
                outcome.response_text = observer.text
            completion = usage_int(observer.usage, "completion_tokens")
            outcome.timing = stream_timing(outcome.t0, t_end, observer.content_times, completion)

    async def _relay_whole(
        self,
        send: Send,
        response: UpstreamResponse,
        upstream: Upstream,
        outcome: Exchange,
    ) -> None:
        try:
            body = await response.read_all(self.settings.read_timeout_s)
        except UpstreamError as exc:
            if exc.kind == "client":
                raise ClientGone from None
            status = 504 if exc.kind == "timeout" else 502
            outcome.status = status
            outcome.error_class = "upstream_timeout" if status == 504 else "midstream_error"
            outcome.error_message = f"upstream '{upstream.name}' response broke: {exc}"
            await _respond(
                send, status, error_body(status, outcome.error_message, code=outcome.error_class)
            )
            return
        outcome.status = response.status
        hdrs = _response_headers(response)
        hdrs.append((b"content-length", str(len(body)).encode()))
        await _send(
            send, {"type": "http.response.start", "status": response.status, "headers": hdrs}
        )
        await _send(send, {"type": "http.response.body", "body": body, "more_body": False})
        if response.status >= 400:
            outcome.error_class = "upstream_4xx" if response.status < 500 else "upstream_5xx"
            outcome.error_message = (
                f"upstream '{upstream.name}' answered {response.status}: {error_body_message(body)}"
            )
            return
        usage, finish, text = parse_completion_body(body)
        outcome.usage, outcome.finish_reason = usage, finish
        if self.settings.capture_text:
            outcome.response_text = text

    def _client_label(self, headers: list[tuple[bytes, bytes]]) -> str:
        auth = b""
        for name, value in headers:
            if name == self._label_header:
                return value.decode("latin-1")[:128]
            if name == b"authorization":
                auth = value
        if not auth:
            return "anonymous"
        label = self._key_labels.get(auth)
        if label is None:
            token = auth.split(b" ", 1)[-1]
            label = "key-" + hashlib.sha256(token).hexdigest()[:12]
            if len(self._key_labels) < 10_000:
                self._key_labels[auth] = label
        return label

    def _record(self, ex: Exchange) -> None:
        try:
            record = build_record(
                ex,
                client=self._client_label(ex.headers),
                capture_text=self.settings.capture_text,
                e2e_s=time.perf_counter() - ex.t0,
            )
        except Exception:  # a bug here must not take the request down with it
            log.exception("could not build the request record")
            return
        self.sink.submit(record)
        self.metrics.observe(record, ex.timing)


async def _relay_direct(
    send: Send,
    response: UpstreamResponse,
    observer: SSEStreamObserver,
    read_timeout_s: float,
    cycle: Any,
    transport: asyncio.Transport,
    head: bytes,
) -> tuple[UpstreamError | None, bytes]:
    """Body pieces are written to the client from the upstream's read callback; this task
    only waits for the end, and for a slow client to drain when asked. The response head
    goes out with the first events, or alone after HEAD_HOLD_S without them. Returns the
    failure, if any, and the body's last piece, still to be sent with the end."""
    relay = DirectRelay(observer, response, cycle, transport, head)
    response.relay_directly(relay)
    hold = None
    if relay.head:  # no body yet: the head waits a moment for the first events
        hold = asyncio.get_running_loop().call_later(HEAD_HOLD_S, relay.flush_head)
    try:
        while True:
            try:
                if await response.wait_end(read_timeout_s):
                    return None, relay.last
            except UpstreamError as exc:
                if exc.kind == "client":
                    raise ClientGone from None
                return exc, b""
            # the client's socket buffer is full: let uvicorn wait for it to drain
            await _send(send, {"type": "http.response.body", "body": b"", "more_body": True})
            response.resume_reading()
    finally:
        if hold is not None:
            hold.cancel()
        relay.flush_head()
        response.relay_directly(None)


async def _relay_queued(
    send: Send, response: UpstreamResponse, observer: SSEStreamObserver, read_timeout_s: float
) -> UpstreamError | None:
    """Body pieces queue up between wake-ups of this task, which observes and sends them."""
    while True:
        try:
            chunks = await response.next_chunks(read_timeout_s)
        except UpstreamError as exc:
            if exc.kind == "client":
                raise ClientGone from None
            return exc
        if not chunks:
            return None
        i = 0
        # Until the first token is out, relay each read as soon as it is observed: a fast
        # upstream's whole answer can be waiting, and TTFT must not pay for observing it.
        while i < len(chunks) and not observer.content_times:
            piece = observer.feed(*chunks[i])
            i += 1
            if piece:
                await _send(send, {"type": "http.response.body", "body": piece, "more_body": True})
        if i == len(chunks):
            continue
        if len(chunks) - i == 1:
            out = observer.feed(*chunks[i])
        else:
            out = b"".join([observer.feed(t, data) for t, data in chunks[i:]])
        if out:
            await _send(send, {"type": "http.response.body", "body": out, "more_body": True})


async def _receive_body(receive: Receive, parts: list[bytes], limit: int) -> bytes:
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"request body exceeds {limit} bytes")
            parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


def forward_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The client's headers that go upstream (Authorization among them), without hop-by-hop
    ones and the gateway's own x-infersight-*."""
    return [
        (k, v) for k, v in headers if k not in _DROP_REQUEST and not k.startswith(b"x-infersight-")
    ]


def upstream_target(scope: Scope) -> str:
    """The path and query string to request from the upstream (an API version in the query,
    as Azure OpenAI wants it, goes along)."""
    query: bytes = scope.get("query_string") or b""
    path: str = scope["path"]
    return f"{path}?{query.decode('latin-1')}" if query else path


def _check_head(headers: list[tuple[bytes, bytes]]) -> None:
    size = sum(len(name) + len(value) + 4 for name, value in headers)
    if size > MAX_HEADER_BYTES:
        raise RequestError(431, f"request headers of {size} bytes exceed {MAX_HEADER_BYTES} bytes")


def _is_event_stream(response: UpstreamResponse, client_streams: bool) -> bool:
    """An SSE answer: text/event-stream in any letter case, with or without parameters; an
    answer without a content type is one when the client asked for a stream."""
    content_type = response.header(b"content-type")
    if content_type is None:
        return client_streams
    return content_type.split(b";", 1)[0].strip().lower() == b"text/event-stream"


def _response_headers(response: UpstreamResponse) -> list[tuple[bytes, bytes]]:
    return [(k.lower(), v) for k, v in response.headers if k.lower() not in _DROP_RESPONSE]


async def _send(send: Send, message: Message) -> None:
    try:
        await send(message)
    except OSError as exc:  # uvicorn raises ClientDisconnected (an OSError) after a disconnect
        raise ClientGone from exc


async def _respond(send: Send, status: int, body: bytes, *, close: bool = False) -> None:
    """An answer of the gateway's own; `close` ends the connection after it (the client's
    request may not have been read whole)."""
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
    except OSError:
        pass
