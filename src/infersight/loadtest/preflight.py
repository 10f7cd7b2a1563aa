"""Check the endpoint before any load: reachable, OpenAI-compatible, streaming, model known.

`preflight` raises `EndpointError` with what failed, where, and what to do; the run does not
start. Steps: GET <base>/models (a refused connection or a timeout stops here; HTML means the
URL is not an API base; a list of models is kept for messages), then one small streamed request
with the run's model, which must come back as an OpenAI SSE stream with content (tried up to
three times when it fails with a timeout, a dropped connection, 429 or 5xx).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from infersight.loadtest.client import LoadClient, classify_non_stream
from infersight.loadtest.workload import Workload
from infersight.upstreams.http1 import UpstreamError

log = logging.getLogger(__name__)

PROBE_ATTEMPTS = 3


class EndpointError(Exception):
    """The endpoint cannot be load-tested as given; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class PreflightInfo:
    models: tuple[str, ...]
    model_listed: bool | None  # None: the endpoint has no usable /models
    probe_ttft_s: float | None
    probe_e2e_s: float
    usage_reported: bool
    notes: tuple[str, ...] = field(default=())


def _hint_base(url: str) -> str:
    return f"point --endpoint at the API base, e.g. http://host:8000/v1 (got {url})"


async def preflight(
    client: LoadClient, workload: Workload, *, timeout_s: float = 10.0
) -> PreflightInfo:
    base = client.base_url
    notes: list[str] = []
    models: list[str] = []
    listed: bool | None = None
    try:
        status, ctype, body = await client.get("/models", timeout_s)
    except UpstreamError as exc:
        if exc.kind == "connect":
            raise EndpointError(
                f"cannot reach {base} ({exc}): is the server running, and are the host and "
                "port right?"
            ) from None
        if exc.kind == "timeout":
            raise EndpointError(
                f"{base}/models did not answer within {timeout_s:g} s: the server is not "
                "responding (overloaded, or the wrong port)"
            ) from None
        raise EndpointError(f"{base}/models failed: {exc}") from None
    if status == 200 and ("html" in ctype or body[:64].lstrip()[:1] == b"<"):
        raise EndpointError(
            f"{base}/models answered HTML: this is a web page, not an OpenAI-compatible API; "
            + _hint_base(client.url)
        )
    if status == 200:
        models = _model_ids(body)
        if models:
            listed = workload.model in models
            if not listed:
                notes.append(
                    f"model {workload.model!r} is not among the endpoint's models "
                    f"({', '.join(models[:8])})"
                )
        else:
            notes.append(f"{base}/models did not list models in OpenAI's format")
    else:
        notes.append(f"{base}/models answered HTTP {status}; checking with a request instead")
    probe = workload.probe_request()
    for attempt in range(1, PROBE_ATTEMPTS + 1):
        ex = await client.execute(probe)
        if not _transient(ex.error_class) or attempt == PROBE_ATTEMPTS:
            break
        notes.append(f"test request {attempt} failed ({ex.error}); trying again")
    if ex.error_class is not None:
        message = _probe_message(
            base,
            workload,
            ex.status,
            ex.error_class,
            ex.error or "",
            ex.body,
            ex.content_type,
            models,
        )
        raise EndpointError(message)
    obs = ex.observer
    assert obs is not None
    ttft = obs.content_times[0] - ex.t_start if obs.content_times else None
    if obs.usage is None:
        notes.append(
            "the endpoint reports no usage in streams: output tokens are counted one per "
            "content event (marked tokens_estimated)"
        )
    for note in notes:
        log.info("preflight: %s", note)
    return PreflightInfo(
        models=tuple(models),
        model_listed=listed,
        probe_ttft_s=ttft,
        probe_e2e_s=ex.t_end - ex.t_start,
        usage_reported=obs.usage is not None,
        notes=tuple(notes),
    )


def _transient(error_class: str | None) -> bool:
    """Failures worth a second test request: overload, server errors, dropped connections."""
    if error_class is None:
        return False
    return error_class in ("timeout", "protocol", "http_429") or error_class.startswith("http_5")


def _model_ids(body: bytes) -> list[str]:
    try:
        obj = json.loads(body)
    except ValueError:
        return []
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, list):
        return []
    return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]


def _probe_message(
    base: str,
    workload: Workload,
    status: int,
    error_class: str,
    error: str,
    body: bytes,
    content_type: str,
    models: list[str],
) -> str:
    url = base + workload.path
    if error_class == "connect":
        return f"cannot reach {url} ({error}): is the server running?"
    if error_class == "timeout":
        return f"{url} did not answer a test request in time ({error})"
    if error_class.startswith("http_"):
        hint = "check the server's log"
        if status in (401, 403):
            hint = "the endpoint wants credentials: pass --api-key or set OPENAI_API_KEY"
        elif status == 404:
            hint = (
                f"check --model (the endpoint lists: {', '.join(models[:8])})"
                if models
                else f"check --model and that {url} exists (--api chat|completions)"
            )
        elif status in (400, 422):
            hint = "the endpoint rejected the request body (try without --ignore-eos, or --api)"
        return f"the endpoint rejected a test request to {url}: {error}; {hint}"
    if error_class == "not_openai":
        if status == 200 and body:
            _, detail = classify_non_stream(content_type, body)
        else:
            detail = error
        return f"{url} is not an OpenAI-compatible endpoint: {detail}; " + _hint_base(base)
    if error_class == "not_streaming":
        return f"{url} does not stream: {error}"
    return f"a test request to {url} failed ({error_class}): {error}"
