"""Send one streamed request and time it, with the gateway's own HTTP client and SSE observer.

The HTTP side is `upstreams.pool.ConnectionPool` (keep-alive connections, httptools' C
parser): every body piece arrives with the `perf_counter()` time of the socket read that
brought it. `core.sse.SSEStreamObserver` counts the content events of each read at that time,
and `core.timing.stream_timing` turns them into TTFT, TPOT and ITL exactly as the gateway does,
so a number from the load tester means the same as the gateway's.

The request clock starts right before the request is written (connection set-up on a fresh
connection included, as in vLLM's benchmark). Every failure becomes an error class on the row
(`loadtest.results.ERROR_CLASSES`); nothing here raises except cancellation.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Final

from infersight.core.sse import SSEStreamObserver, error_body_message
from infersight.core.timing import itl_gaps, stream_timing, tokens_per_event
from infersight.loadtest.results import RequestRow
from infersight.loadtest.workload import PreparedRequest
from infersight.upstreams.http1 import Origin, UpstreamError, UpstreamResponse
from infersight.upstreams.pool import ConnectionPool

SOURCE_HEADER: Final = (b"x-infersight-source", b"loadtest")
ERROR_BODY_LIMIT: Final = 64 * 1024


def api_origin(url: str) -> Origin:
    """The API base of an endpoint URL: `http://h:8000`, `.../v1` and `.../v1/` all give `/v1`.

    Raises ValueError for a URL that is not http(s).
    """
    origin = Origin.parse(url)
    base = origin.base_path
    for suffix in ("/chat/completions", "/completions"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    if not base.endswith("/v1"):
        base = base + "/v1"
    return Origin(origin.scheme, origin.host, origin.port, base)


@dataclass(slots=True)
class Exchange:
    """What one request did, in perf_counter seconds, before it becomes a RequestRow."""

    t_start: float
    t_end: float
    status: int = 0
    error_class: str | None = None
    error: str | None = None
    observer: SSEStreamObserver | None = None
    body: bytes = b""
    content_type: str = ""


class LoadClient:
    """Requests to one OpenAI-compatible endpoint, each tagged `x-infersight-source: loadtest`."""

    def __init__(
        self,
        url: str,
        *,
        path: str = "/chat/completions",
        api_key: str | None = None,
        timeout_s: float = 300.0,
        connect_timeout_s: float = 10.0,
        max_idle: int = 8192,
    ) -> None:
        self.url = url
        self.origin = api_origin(url)
        self.path = path
        self.timeout_s = timeout_s
        self.pool = ConnectionPool(
            self.origin, connect_timeout_s=connect_timeout_s, max_idle=max_idle
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"accept", b"text/event-stream"),
            SOURCE_HEADER,
        ]
        if api_key:
            headers.append((b"authorization", b"Bearer " + api_key.encode("latin-1")))
        self.headers = headers

    @property
    def base_url(self) -> str:
        o = self.origin
        return f"{o.scheme}://{o.host_header}{o.base_path}"

    def close(self) -> None:
        self.pool.close()

    async def get(self, path: str, timeout_s: float) -> tuple[int, str, bytes]:
        """(status, content-type, body) of a GET below the API base; raises UpstreamError."""
        response = await self.pool.send(
            "GET", path, self.headers[1:], b"", header_timeout_s=timeout_s
        )
        try:
            body = await response.read_all(timeout_s, ERROR_BODY_LIMIT * 16)
        finally:
            response.close()
        return response.status, _content_type(response), body

    async def execute(self, request: PreparedRequest) -> Exchange:
        """Send one request and read its whole response. Never raises but CancelledError."""
        t_start = time.perf_counter()
        ex = Exchange(t_start, t_start)
        response: UpstreamResponse | None = None
        try:
            response = await self.pool.send(
                "POST", self.path, self.headers, request.body, header_timeout_s=self.timeout_s
            )
            ex.status = response.status
            ex.content_type = _content_type(response)
            if response.status != 200:
                await self._read_error(response, ex)
            elif "text/event-stream" in ex.content_type:
                await self._read_stream(response, ex)
            else:
                await self._read_other(response, ex)
        except UpstreamError as exc:
            ex.t_end = time.perf_counter()
            ex.error_class = {"connect": "connect", "timeout": "timeout"}.get(exc.kind, "protocol")
            ex.error = str(exc)
        except asyncio.CancelledError:
            if response is not None:
                response.fail(UpstreamError("protocol", "cancelled"))
                response.close()
                response = None
            raise
        except Exception as exc:  # a bug here must not end the run: report it on the row
            ex.t_end = time.perf_counter()
            ex.error_class, ex.error = "client", f"{type(exc).__name__}: {exc}"
        finally:
            if response is not None:
                response.close()
        return ex

    async def _read_stream(self, response: UpstreamResponse, ex: Exchange) -> None:
        obs = SSEStreamObserver()
        ex.observer = obs
        feed = obs.feed
        last = ex.t_start
        timeout_s = self.timeout_s
        while chunks := await response.next_chunks(timeout_s):
            for t, data in chunks:
                feed(t, data)
            last = chunks[-1][0]
        obs.flush()
        ex.t_end = last
        if obs.error is not None:
            ex.error_class, ex.error = "stream_error", obs.error
        elif not obs.content_times:
            if obs.done or obs.finish_reason or obs.usage:
                ex.error_class, ex.error = "incomplete", "the stream carried no generated content"
            else:
                ex.error_class = "not_openai"
                ex.error = "a text/event-stream without OpenAI chunks (no content, no [DONE])"
        elif not (obs.done or obs.finish_reason):
            ex.error_class = "incomplete"
            ex.error = "the stream ended without a finish_reason or [DONE]"

    async def _read_error(self, response: UpstreamResponse, ex: Exchange) -> None:
        body = await response.read_all(self.timeout_s, ERROR_BODY_LIMIT * 16)
        ex.t_end = time.perf_counter()
        ex.body = body[:ERROR_BODY_LIMIT]
        ex.error_class = f"http_{response.status}"
        ex.error = f"HTTP {response.status}: {error_body_message(body) or 'no body'}"

    async def _read_other(self, response: UpstreamResponse, ex: Exchange) -> None:
        body = await response.read_all(self.timeout_s, ERROR_BODY_LIMIT * 16)
        ex.t_end = time.perf_counter()
        ex.body = body[:ERROR_BODY_LIMIT]
        ex.error_class, ex.error = classify_non_stream(ex.content_type, body)


def classify_non_stream(content_type: str, body: bytes) -> tuple[str, str]:
    """Error class and message for a 200 answer that is not an SSE stream."""
    head = body[:64].lstrip()
    if "html" in content_type or head[:1] == b"<":
        return "not_openai", (
            f"answered HTML (content-type {content_type or 'none'}), not an OpenAI stream"
        )
    try:
        obj = json.loads(body) if body else None
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("choices"), list):
        return "not_streaming", (
            "answered a whole JSON completion to stream: true; TTFT and ITL cannot be measured"
        )
    if head[:1] == b"data:"[:1] and head.startswith(b"data:"):
        return "not_openai", "an SSE body without the text/event-stream content type"
    what = "JSON without 'choices'" if obj is not None else f"content-type {content_type or 'none'}"
    snippet = body[:120].decode("utf-8", "replace").strip()
    return "not_openai", f"answered {what}, not an OpenAI stream: {snippet!r}"


def _content_type(response: UpstreamResponse) -> str:
    raw = response.header(b"content-type") or b""
    return raw.decode("latin-1").lower()


def exchange_row(
    ex: Exchange,
    request: PreparedRequest,
    *,
    level: int,
    measured: bool,
    wall_offset_s: float,
    run_start_perf: float,
) -> RequestRow:
    """The RequestRow of one exchange. wall = perf + wall_offset_s."""
    obs = ex.observer
    ttft = tpot = None
    gaps: tuple[float, ...] = ()
    tokens = 0
    prompt_tokens = request.prompt_tokens_est
    estimated = True
    finish = None
    e2e = max(ex.t_end - ex.t_start, 0.0)
    if obs is not None:
        usage = obs.usage or {}
        completion = usage.get("completion_tokens")
        out = completion if isinstance(completion, int) and completion >= 0 else None
        estimated = out is None
        prompt = usage.get("prompt_tokens")
        if isinstance(prompt, int) and prompt >= 0:
            prompt_tokens = prompt
        finish = obs.finish_reason
        times = obs.content_times
        if ex.error_class is None and times:
            timing = stream_timing(ex.t_start, ex.t_end, times, out)
            ttft, tpot, tokens, e2e = (
                timing.ttft_s,
                timing.tpot_s,
                timing.output_tokens,
                timing.e2e_s,
            )
            gaps = tuple(itl_gaps(times, tokens_per_event(tokens, len(times))))
    return RequestRow(
        index=request.index,
        level=level,
        start_s=ex.t_start + wall_offset_s,
        offset_s=ex.t_start - run_start_perf,
        measured=measured,
        status=ex.status,
        error_class=ex.error_class,
        error=ex.error,
        ttft_s=ttft,
        e2e_s=e2e,
        tpot_s=tpot,
        itl_s=gaps,
        output_tokens=tokens,
        prompt_tokens=prompt_tokens,
        tokens_estimated=estimated,
        finish_reason=finish,
    )
