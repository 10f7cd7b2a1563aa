"""build_record: the RequestRecord of an exchange, with estimated counts marked as such."""

from __future__ import annotations

import json

from infersight.core.timing import stream_timing
from infersight.gateway.exchange import Exchange, build_record, traffic_source, usage_int
from infersight.gateway.validation import parse_request

BODY = json.dumps(
    {"model": "m", "messages": [{"role": "user", "content": "twelve chars"}], "stream": True}
).encode()


def exchange(**kw: object) -> Exchange:
    ex = Exchange(route="chat", headers=[], t0=0.0, started_at=100.0, inflight_at_start=2)
    ex.req = parse_request(BODY, "chat")
    for k, v in kw.items():
        setattr(ex, k, v)
    return ex


def test_usage_from_upstream_is_not_an_estimate() -> None:
    timing = stream_timing(0.0, 1.0, [0.2, 0.6, 1.0], output_tokens=6)
    ex = exchange(status=200, usage={"prompt_tokens": 9, "completion_tokens": 6}, timing=timing)
    rec = build_record(ex, client="c", capture_text=False)
    assert (rec.prompt_tokens, rec.completion_tokens, rec.tokens_estimated) == (9, 6, False)
    assert rec.ttft_s == 0.2 and rec.output_tokens_per_s == 6.0
    assert rec.model == "m" and rec.stream and rec.inflight_at_start == 2
    assert rec.prompt_text is None


def test_missing_usage_is_estimated_and_marked() -> None:
    timing = stream_timing(0.0, 1.0, [0.5, 1.0], output_tokens=None)
    rec = build_record(exchange(status=200, timing=timing), client="c", capture_text=True)
    assert rec.completion_tokens == 2 and rec.prompt_tokens == 3 and rec.tokens_estimated
    assert rec.prompt_text == "twelve chars"


def test_failed_request_gets_no_token_estimate() -> None:
    ex = exchange(status=502, error_class="upstream_unreachable")
    rec = build_record(ex, client="c", capture_text=False, e2e_s=0.01)
    assert rec.prompt_tokens is None and rec.completion_tokens is None
    assert rec.e2e_s == 0.01 and rec.error_class == "upstream_unreachable"


def test_source_header_and_usage_ints() -> None:
    assert traffic_source([(b"x-infersight-source", b"sweep")]) == "sweep"
    assert traffic_source([(b"x-infersight-source", b"bogus")]) == "user"
    assert traffic_source([]) == "user"
    assert usage_int({"a": 3, "b": True, "c": "4"}, "a") == 3
    assert usage_int({"b": True}, "b") is None
    assert usage_int(None, "a") is None


def test_upstream_error_messages_lose_quoted_prompt_text_unless_capture_is_on() -> None:
    """Only messages that quote the upstream are redacted (the gateway's own never carry
    the prompt), and only when text capture is off."""
    quoting = "upstream 'u' answered 422: body.messages.0: bad value 'twelve chars'"
    rec = build_record(
        exchange(status=422, error_class="upstream_4xx", error_message=quoting),
        client="c",
        capture_text=False,
    )
    assert rec.error_message == "upstream 'u' answered 422: body.messages.0: bad value '[prompt]'"
    kept = build_record(
        exchange(status=422, error_class="upstream_4xx", error_message=quoting),
        client="c",
        capture_text=True,
    )
    assert kept.error_message == quoting
    own = "client disconnected before the response ended"
    rec = build_record(
        exchange(status=200, error_class="client_disconnect", error_message=own),
        client="c",
        capture_text=False,
    )
    assert rec.error_message == own
