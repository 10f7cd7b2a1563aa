"""One request through the gateway, as the proxy fills it in, and the RequestRecord it becomes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from infersight.core.records import SOURCES, RequestRecord
from infersight.core.timing import StreamTiming
from infersight.gateway.routing import Upstream
from infersight.gateway.validation import (
    ParsedRequest,
    estimate_tokens,
    prompt_text,
    redact_prompt,
)

SOURCE_HEADER: Final = b"x-infersight-source"
# Classes of failure after which the tokens already streamed are still worth counting.
# Counts beyond this are not counts (and would not fit a 64-bit integer column).
_MAX_COUNT: Final = 2**53
_PARTIAL: Final = ("midstream_error", "client_disconnect", "upstream_timeout", "gateway_error")
# Error classes whose message quotes the upstream (which may echo the prompt back).
_ECHOED: Final = ("upstream_4xx", "upstream_5xx", "midstream_error")


@dataclass(slots=True)
class Exchange:
    """What is known about one request: set on arrival, then filled in as it goes."""

    route: str
    headers: list[tuple[bytes, bytes]]
    t0: float  # perf_counter at arrival
    started_at: float  # wall clock at arrival
    inflight_at_start: int
    req: ParsedRequest | None = None
    upstream: Upstream | None = None
    status: int = 0
    error_class: str | None = None
    error_message: str | None = None
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    response_text: str | None = None
    timing: StreamTiming | None = field(default=None)


def usage_int(usage: dict[str, Any] | None, key: str) -> int | None:
    """An integer count from an upstream's usage block, or None."""
    if usage is None:
        return None
    value = usage.get(key)
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_COUNT
    return value if ok else None


def safe_text(text: str | None) -> str | None:
    """Text a store can encode: lone surrogates (valid in JSON's \\u escapes, not in UTF-8)
    become U+FFFD."""
    if text is None or text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def traffic_source(headers: list[tuple[bytes, bytes]]) -> str:
    """The x-infersight-source header when it names a known source, else "user"."""
    for name, value in headers:
        if name == SOURCE_HEADER:
            candidate = value.decode("latin-1")
            return candidate if candidate in SOURCES else "user"
    return "user"


def build_record(
    ex: Exchange, *, client: str, capture_text: bool, e2e_s: float | None = None
) -> RequestRecord:
    """The record of a finished exchange. Token counts missing from the upstream's usage are
    estimated (and marked so): prompt from its text, completion one per content event."""
    req, timing = ex.req, ex.timing
    e2e = timing.e2e_s if timing is not None else (e2e_s or 0.0)
    prompt = None  # the prompt as text: built only when an estimate or capture needs it
    prompt_tokens = usage_int(ex.usage, "prompt_tokens")
    completion_tokens = usage_int(ex.usage, "completion_tokens")
    estimated = False
    ok = ex.status == 200 and ex.error_class is None
    if ok or ex.error_class in _PARTIAL:
        if prompt_tokens is None and req is not None:
            prompt = prompt_text(req.body)
            prompt_tokens, estimated = estimate_tokens(prompt), True
        if completion_tokens is None and timing is not None:
            completion_tokens, estimated = timing.output_tokens, True
    error_message = ex.error_message
    if error_message and req is not None and not capture_text and ex.error_class in _ECHOED:
        error_message = redact_prompt(error_message, req.body)  # upstreams may echo it
    tokens_per_s = timing.output_tokens_per_s if timing is not None else None
    if tokens_per_s is None and completion_tokens and e2e > 0 and ok:
        tokens_per_s = completion_tokens / e2e
    return RequestRecord(
        id=uuid.uuid4().hex,
        started_at=ex.started_at,
        model=safe_text(req.model) or "" if req is not None else "",
        upstream=ex.upstream.name if ex.upstream is not None else "",
        route=ex.route,
        stream=req.stream if req is not None else False,
        status=ex.status,
        e2e_s=e2e,
        error_class=ex.error_class,
        error_message=safe_text(error_message),
        ttft_s=timing.ttft_s if timing is not None else None,
        tpot_s=timing.tpot_s if timing is not None else None,
        itl_mean_s=timing.itl_mean_s if timing is not None else None,
        itl_p50_s=timing.itl_p50_s if timing is not None else None,
        itl_p90_s=timing.itl_p90_s if timing is not None else None,
        itl_p99_s=timing.itl_p99_s if timing is not None else None,
        itl_max_s=timing.itl_max_s if timing is not None else None,
        output_tokens_per_s=tokens_per_s,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        tokens_estimated=estimated,
        finish_reason=safe_text(ex.finish_reason),
        inflight_at_start=ex.inflight_at_start,
        client=safe_text(client) or "",
        source=traffic_source(ex.headers),
        prompt_text=safe_text(prompt if prompt is not None else prompt_text(req.body))
        if capture_text and req is not None
        else None,
        response_text=safe_text(ex.response_text) if capture_text else None,
    )
