"""SimKnobs validation and request parsing (pure)."""

from __future__ import annotations

import pytest

from infersight.sim.knobs import SimKnobs
from infersight.sim.request import BadRequest, parse_request


def test_defaults_are_valid_and_untimed() -> None:
    k = SimKnobs()
    assert k.tokens == 64 and k.tokens_per_chunk == 1 and k.slots == 0
    assert not k.has_timing and not k.needs_rng


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"tokens": 0}, "tokens: must be an integer >= 1, got 0"),
        ({"tokens_per_chunk": -1}, "tokens_per_chunk"),
        ({"ttft_ms": -5.0}, "ttft_ms: must be a finite number >= 0, got -5.0"),
        ({"itl_ms": float("nan")}, "itl_ms"),
        ({"error_rate": 1.5}, "error_rate: must be a probability between 0 and 1, got 1.5"),
        ({"error_status": 200}, "error_status: must be one of"),
        ({"slots": -1}, "slots"),
        ({"queue_limit": 2}, "queue_limit: needs slots > 0"),
        ({"model": ""}, "model"),
    ],
)
def test_invalid_knobs_name_the_knob(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match="invalid sim knobs") as info:
        SimKnobs(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_rng_only_needed_for_fractional_rates_or_jitter() -> None:
    assert not SimKnobs(error_rate=1.0, disconnect_rate=0.0).needs_rng
    assert SimKnobs(error_rate=0.3).needs_rng
    assert SimKnobs(itl_jitter_ms=2.0).needs_rng
    assert SimKnobs(stall_rate=1.0, stall_ms=10.0).has_timing
    assert not SimKnobs(stall_rate=1.0, stall_ms=0.0).has_timing


def test_parse_chat_counts_words_of_every_message() -> None:
    body = (
        b'{"model":"m1","stream":true,"stream_options":{"include_usage":true},"max_tokens":7,'
        b'"messages":[{"role":"system","content":"be brief"},'
        b'{"role":"user","content":[{"type":"text","text":"one two  three"},{"type":"image"}]}]}'
    )
    req = parse_request(body, chat=True, default_model="d")
    assert (req.model, req.stream, req.include_usage, req.max_tokens) == ("m1", True, True, 7)
    assert req.prompt_tokens == 5


def test_parse_completion_prompt_forms() -> None:
    def words(prompt: str) -> int:
        return parse_request(prompt.encode(), chat=False, default_model="d").prompt_tokens

    assert words('{"prompt":"a b c"}') == 3
    assert words('{"prompt":["a b","c"]}') == 3
    assert words('{"prompt":[1,2,3,4]}') == 4
    req = parse_request(b'{"prompt":"x"}', chat=False, default_model="d")
    assert (req.model, req.stream, req.include_usage, req.max_tokens) == ("d", False, False, None)


def test_include_usage_only_applies_to_streams() -> None:
    body = b'{"prompt":"x","stream_options":{"include_usage":true}}'
    assert not parse_request(body, chat=False, default_model="d").include_usage


def test_max_completion_tokens_caps_too() -> None:
    body = b'{"messages":[{"role":"user","content":"x"}],"max_tokens":9,"max_completion_tokens":4}'
    assert parse_request(body, chat=True, default_model="d").max_tokens == 4


@pytest.mark.parametrize(
    ("body", "chat", "param"),
    [
        (b"{not json", True, None),
        (b"[1,2]", True, None),
        (b'{"messages":[]}', True, "messages"),
        (b'{"messages":"hi"}', True, "messages"),
        (b'{"prompt":"x","max_tokens":0}', False, "max_tokens"),
        (b'{"prompt":"x","max_tokens":true}', False, "max_tokens"),
        (b'{"prompt":"x","stream":"yes"}', False, "stream"),
        (b'{"prompt":"x","model":3}', False, "model"),
        (b'{"prompt":{}}', False, "prompt"),
    ],
)
def test_bad_requests(body: bytes, chat: bool, param: str | None) -> None:
    with pytest.raises(BadRequest) as info:
        parse_request(body, chat=chat, default_model="d")
    assert info.value.param == param
    assert info.value.message
