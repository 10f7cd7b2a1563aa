"""Request validation names the offending field; the usage option is injected only when needed."""

from __future__ import annotations

import json

import pytest

from infersight.gateway.validation import (
    RequestError,
    estimate_tokens,
    parse_request,
    prompt_text,
    redact_prompt,
    with_usage_requested,
)


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.parametrize(
    ("raw", "param", "fragment"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        (body(model=3, messages=[]), "model", "'model' must be a string, got int"),
        (body(model="m", messages="hi"), "messages", "'messages' must be an array"),
        (body(model="m"), "messages", "'messages' is required, got missing"),
        (body(model="m", messages=None), "messages", "'messages' is required, got null"),
        (b'{"model":"m","messages":' + b"[" * 5000 + b"]" * 5000 + b"}", None, "nested too deeply"),
        (body(model="m", messages=[1]), "messages[0]", "'messages[0]' must be an object"),
        (body(model="m", messages=[{"content": "x"}]), "messages[0].role", "role"),
        (body(model="m", messages=[], stream="yes"), "stream", "must be a boolean"),
        (body(model="m", messages=[], max_tokens=True), "max_tokens", "an integer, got bool"),
        (
            body(model="m", messages=[], stream_options={"include_usage": 1}),
            "stream_options.include_usage",
            "boolean",
        ),
    ],
)
def test_bad_chat_requests(raw: bytes, param: str | None, fragment: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(raw, "chat")
    assert info.value.status == 400
    assert info.value.param == param
    assert fragment in str(info.value)


def test_completions_need_a_prompt() -> None:
    with pytest.raises(RequestError, match="'prompt' is required"):
        parse_request(body(model="m"), "completions")
    with pytest.raises(RequestError, match="'prompt' is required, got null"):
        parse_request(body(model="m", prompt=None), "completions")
    req = parse_request(body(model="m", prompt=["a", "b"]), "completions")
    assert prompt_text(req.body) == "a\nb"


def test_usage_injected_only_for_streams_that_did_not_ask() -> None:
    plain = parse_request(body(model="m", messages=[], stream=False), "chat")
    assert with_usage_requested(plain) is None
    asked = parse_request(
        body(model="m", messages=[], stream=True, stream_options={"include_usage": True}), "chat"
    )
    assert asked.client_wants_usage
    assert with_usage_requested(asked) is None
    bare = parse_request(body(model="m", messages=[], stream=True), "chat")
    injected = with_usage_requested(bare)
    assert injected is not None
    assert json.loads(injected)["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    "raw",
    [
        rb'{"model":"m","messages":[{"role":"user","content":"h\u00e9 } \\"}],"stream":true}',
        b'{ "model": "m", "stream": true, "messages": [] }\n',
        '{"model":"m","stream":true,"messages":[{"role":"user","content":"日本 }"}]}'.encode(),
    ],
)
def test_usage_option_appended_without_reencoding(raw: bytes) -> None:
    """The prompt's bytes are kept as sent; the result is the same object plus the option."""
    req = parse_request(raw, "chat")
    injected = with_usage_requested(req)
    assert injected is not None and injected.startswith(raw.rstrip()[:-1])
    assert json.loads(injected) == {**req.body, "stream_options": {"include_usage": True}}


def test_existing_stream_options_are_kept_when_usage_is_added() -> None:
    req = parse_request(body(model="m", messages=[], stream=True, stream_options={"x": 1}), "chat")
    injected = with_usage_requested(req)
    assert injected is not None
    assert json.loads(injected)["stream_options"] == {"x": 1, "include_usage": True}


def test_prompt_text_and_estimate() -> None:
    b = {
        "messages": [
            {"role": "user", "content": "hello there"},
            {"role": "user", "content": [{"type": "text", "text": "x"}]},
        ]
    }
    assert prompt_text(b) == "hello there\nx"
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcdefgh") == 2


def test_record_text_is_made_storable_and_counts_sane() -> None:
    from infersight.gateway.exchange import safe_text, usage_int

    # a lone surrogate parses from JSON but cannot be written as UTF-8
    raw = b'{"model":"m\\ud800x","stream":true,"messages":[]}'
    model = parse_request(raw, "chat").model
    assert safe_text(model) == "m\ufffdx"
    assert safe_text(model).encode("utf-8")  # type: ignore[union-attr]
    assert safe_text("caf\u00e9 \U0001f600") == "caf\u00e9 \U0001f600" and safe_text(None) is None
    assert usage_int({"completion_tokens": 12}, "completion_tokens") == 12
    for absurd in (2**70, -3, True, 1.5, "7"):
        assert usage_int({"completion_tokens": absurd}, "completion_tokens") is None


def test_prompt_quoted_in_an_error_message_is_redacted() -> None:
    """Upstream validation errors that echo the input (whole, JSON-escaped, or cut short)
    lose the prompt; short words are left alone."""
    secret = 'My "private" medical question about a rash that will not go away'
    req = {"messages": [{"role": "user", "content": secret}, {"role": "user", "content": "hi"}]}
    assert redact_prompt(f"input: {secret}!", req) == "input: [prompt]!"
    escaped = json.dumps(secret)[1:-1]
    assert redact_prompt(f"'input': '{escaped}'", req) == "'input': '[prompt]'"
    cut = f"{{'content': '{secret[:40]}"
    assert redact_prompt(cut, req) == "{'content': '[prompt]"
    assert redact_prompt("hi there: model not found", req) == "hi there: model not found"
    assert redact_prompt("x", {"prompt": ["a long prompt text here"]}) == "x"


def test_redaction_of_a_huge_prompt_looks_at_its_start_and_end() -> None:
    """A prompt of hundreds of thousands of lines: an echo of its first or last line is
    redacted, and lines in the middle are not looked for (bounded work on the event loop)."""
    lines = [f"line number {i} of a very long prompt" for i in range(200_000)]
    body = {"prompt": "\n".join(lines)}
    assert redact_prompt(f"input: {lines[0]}!", body) == "input: [prompt]!"
    assert redact_prompt(f"input: {lines[-1]}!", body) == "input: [prompt]!"
    assert redact_prompt("maximum context length is 2048 tokens", body) == (
        "maximum context length is 2048 tokens"
    )
