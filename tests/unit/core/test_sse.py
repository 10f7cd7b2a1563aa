"""SSEStreamObserver: relays complete events unchanged and notes what the stream carried."""

from __future__ import annotations

import json

from infersight.core.sse import (
    SSEStreamObserver,
    count_content_events,
    event_data,
    parse_completion_body,
    split_events,
)


def chunk(content: str | None = None, finish: str | None = None, usage: object = "absent") -> bytes:
    delta = {} if content is None else {"content": content}
    obj: dict[str, object] = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage != "absent":
        obj["usage"] = usage
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


USAGE_ONLY = (
    b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,'
    b'"total_tokens":8}}\n\n'
)
DONE = b"data: [DONE]\n\n"


def test_complete_events_pass_through_unchanged() -> None:
    stream = chunk("") + chunk("Hello") + chunk(" world") + chunk(finish="stop") + DONE
    obs = SSEStreamObserver()
    assert obs.feed(1.0, stream) == stream
    assert obs.content_times == [1.0, 1.0]  # the empty role chunk carries no content
    assert obs.finish_reason == "stop"
    assert obs.done


def test_partial_event_is_held_until_complete() -> None:
    stream = chunk("Hello") + chunk(" world")
    obs = SSEStreamObserver()
    cut = len(chunk("Hello")) + 10
    first = obs.feed(1.0, stream[:cut])
    second = obs.feed(2.0, stream[cut:])
    assert first == chunk("Hello")
    assert first + second == stream
    assert obs.content_times == [1.0, 2.0]


def test_split_in_the_middle_of_the_terminator() -> None:
    stream = chunk("a") + chunk("b")
    obs = SSEStreamObserver()
    cut = len(chunk("a")) - 1  # between the two newlines
    out = obs.feed(1.0, stream[:cut]) + obs.feed(2.0, stream[cut:])
    assert out == stream
    assert len(obs.content_times) == 2


def test_crlf_events() -> None:
    stream = chunk("a").replace(b"\n\n", b"\r\n\r\n") + chunk("b").replace(b"\n\n", b"\r\n\r\n")
    obs = SSEStreamObserver()
    assert obs.feed(1.0, stream) == stream
    assert len(obs.content_times) == 2


def test_usage_chunk_stripped_when_requested_and_usage_kept() -> None:
    stream = chunk("Hi", usage=None) + chunk(finish="length", usage=None) + USAGE_ONLY + DONE
    obs = SSEStreamObserver(strip_usage=True)
    out = obs.feed(1.0, stream)
    assert USAGE_ONLY not in out
    assert out == chunk("Hi", usage=None) + chunk(finish="length", usage=None) + DONE
    assert obs.usage == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    assert obs.finish_reason == "length"


def test_usage_chunk_kept_when_client_asked() -> None:
    stream = chunk("Hi") + USAGE_ONLY + DONE
    obs = SSEStreamObserver(strip_usage=False)
    assert obs.feed(1.0, stream) == stream
    assert obs.usage is not None and obs.usage["completion_tokens"] == 3


def test_error_event_noted() -> None:
    err = b'data: {"error":{"message":"engine died","type":"server_error"}}\n\n'
    obs = SSEStreamObserver()
    obs.feed(1.0, chunk("a") + err)
    assert obs.error == "engine died"


def test_content_mentioning_error_is_not_an_error() -> None:
    obs = SSEStreamObserver()
    obs.feed(1.0, chunk('"error"') + chunk("error"))
    assert obs.error is None
    assert len(obs.content_times) == 2


def test_escaped_keys_inside_content_are_not_counted() -> None:
    obs = SSEStreamObserver()
    obs.feed(1.0, chunk('{"text":"x","content":"y"}'))
    assert obs.content_times == [1.0]


def test_completions_text_and_capture() -> None:
    events = [
        {"choices": [{"index": 0, "text": " one", "finish_reason": None}]},
        {"choices": [{"index": 0, "text": " two", "finish_reason": "stop"}]},
    ]
    stream = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + DONE
    obs = SSEStreamObserver(capture_text=True)
    assert obs.feed(3.0, stream) == stream
    assert obs.text == " one two"
    assert obs.content_times == [3.0, 3.0]
    assert obs.finish_reason == "stop"


def test_non_sse_bytes_are_relayed_raw_after_the_limit() -> None:
    obs = SSEStreamObserver()
    blob = b"x" * 300_000
    assert obs.feed(1.0, blob) == blob
    assert obs.feed(2.0, b"more") == b"more"


def test_flush_returns_an_unterminated_tail() -> None:
    obs = SSEStreamObserver()
    assert obs.feed(1.0, b"data: [DONE]") == b""
    assert obs.flush() == b"data: [DONE]"


def test_event_data_and_split_helpers() -> None:
    assert split_events(b"data: a\n\n: comment\n\ndata: b\r\n\r\n") == [
        b"data: a",
        b": comment",
        b"data: b",
    ]
    assert event_data(b"data: x") == b"x"
    assert event_data(b"event: message\ndata: 1\ndata:2") == b"1\n2"
    assert event_data(b": comment") is None


def test_parse_completion_body() -> None:
    body = json.dumps(
        {
            "choices": [
                {"message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 2, "completion_tokens": 1},
        }
    ).encode()
    usage, finish, text = parse_completion_body(body)
    assert usage == {"prompt_tokens": 2, "completion_tokens": 1}
    assert finish == "stop"
    assert text == "Hi"
    assert parse_completion_body(b"not json") == (None, None, "")


def test_count_content_events_compact_spaced_reasoning_and_tools() -> None:
    compact = chunk("a") + chunk("") + chunk(None, finish="stop")
    assert count_content_events(compact.replace(b'": ', b'":')) == 1
    spaced = b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n'
    assert count_content_events(spaced) == 1
    reasoning = b'data: {"choices":[{"delta":{"reasoning_content":"think","content":""}}]}\n\n'
    assert count_content_events(reasoning) == 1
    tool = (
        b'data: {"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{\\"a\\""}}]}}]}\n\n'
    )
    assert count_content_events(tool) == 1
    completion = b'data: {"choices":[{"text":" x"}]}\n\ndata: {"choices":[{"text":""}]}\n\n'
    assert count_content_events(completion) == 1
