"""The prebuilt stream bytes decode to exactly OpenAI's chunk shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infersight.sim.payloads import TokenText, error_body, full_body, stream_frames
from infersight.sim.request import GenRequest


def _request(*, chat: bool, usage: bool) -> GenRequest:
    return GenRequest(chat, "m", True, usage, None, 3)


def _decode(stream: bytes) -> tuple[list[dict[str, Any]], bool]:
    """Events of a whole SSE body, and whether it ended with [DONE]."""
    text = stream.decode()
    assert text.endswith("\n\n")
    events = [e for e in text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    done = events[-1] == "data: [DONE]"
    return [json.loads(e[6:]) for e in events if e != "data: [DONE]"], done


def _stream(req: GenRequest, text: TokenText, n: int, finish: str) -> bytes:
    f = stream_frames(req, rid="id-1", created=7, completion_tokens=n, finish_reason=finish)
    return f.opening + b"".join(f.head + p + f.tail for p in text.pieces_for(n)) + f.closing


def test_token_text_is_seeded_words_with_leading_spaces() -> None:
    a, b = TokenText(10, 3, seed=1), TokenText(10, 3, seed=1)
    assert a.tokens == b.tokens and a.tokens != TokenText(10, 3, seed=2).tokens
    assert all(t.startswith(" ") and len(t.split()) == 1 for t in a.tokens)
    pieces = [json.loads(p) for p in a.pieces_for(10)]
    assert [len(p.split()) for p in pieces] == [3, 3, 3, 1]
    assert "".join(pieces) == a.text(10)
    assert [len(json.loads(p).split()) for p in a.pieces_for(5)] == [3, 2]


@pytest.mark.parametrize("usage", [False, True])
def test_chat_stream_shape(usage: bool) -> None:
    text = TokenText(5, 2, seed=0)
    events, done = _decode(_stream(_request(chat=True, usage=usage), text, 5, "stop"))
    assert done
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert all((e["id"], e["created"], e["model"]) == ("id-1", 7, "m") for e in events)
    assert all(("usage" in e) is usage for e in events)
    first = events[0]["choices"][0]
    assert first == {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": None,
    }
    contents = [e["choices"][0]["delta"]["content"] for e in events[1:4]]
    assert "".join(contents) == text.text(5)
    final = events[4]["choices"][0]
    assert final == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    if usage:
        assert all(e["usage"] is None for e in events[:5])
        assert events[5]["choices"] == []
        assert events[5]["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
        assert len(events) == 6
    else:
        assert len(events) == 5


def test_completion_stream_shape() -> None:
    text = TokenText(4, 1, seed=0)
    events, done = _decode(_stream(_request(chat=False, usage=True), text, 3, "length"))
    assert done and all(e["object"] == "text_completion" for e in events)
    assert "".join(e["choices"][0]["text"] for e in events[:3]) == text.text(3)
    assert events[0]["choices"][0]["logprobs"] is None
    assert events[3]["choices"][0] == {
        "index": 0,
        "text": "",
        "logprobs": None,
        "finish_reason": "length",
    }
    assert events[4]["usage"]["completion_tokens"] == 3


def test_stream_bytes_are_compact_json() -> None:
    raw = _stream(_request(chat=True, usage=False), TokenText(2, 1, 0), 2, "stop")
    assert b'", "' not in raw and b'": ' not in raw


def test_full_bodies() -> None:
    req = GenRequest(True, "m", False, False, None, 2)
    body = json.loads(
        full_body(req, rid="r", created=1, text=" a b", n_tokens=2, finish_reason="stop")
    )
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": " a b"}
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    req = GenRequest(False, "m", False, False, None, 2)
    body = json.loads(
        full_body(req, rid="r", created=1, text=" a", n_tokens=1, finish_reason="length")
    )
    assert body["object"] == "text_completion"
    assert body["choices"][0] == {
        "index": 0,
        "text": " a",
        "logprobs": None,
        "finish_reason": "length",
    }


def test_error_body_is_openai_shaped() -> None:
    err = json.loads(error_body(429, "slow down", code="x"))["error"]
    assert err == {"message": "slow down", "type": "rate_limit_error", "param": None, "code": "x"}
    assert json.loads(error_body(502, "m", code="y"))["error"]["type"] == "server_error"
