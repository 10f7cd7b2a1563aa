"""SSEStreamObserver: relays complete events unchanged and notes what the stream carried."""

from __future__ import annotations

import json

from infersight.core.sse import (
    SSEStreamObserver,
    count_content_events,
    error_body_message,
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
    assert obs.flush() == b""  # the end of the stream: finish reason and [DONE] are noted
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
    obs.flush()
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
    # content events next to a reasoning-only one: every key counts
    thinking = b'data: {"choices":[{"delta":{"reasoning":"hm"}}]}\n\n'
    assert count_content_events(chunk("a") + thinking + chunk("b")) == 3
    # "data:" inside generated text does not hide a reasoning event
    assert count_content_events(chunk("data: x") + thinking) == 2


def test_finish_reason_and_done_found_across_the_last_reads() -> None:
    """One event per read, as a paced upstream sends them: finish, usage, [DONE] arrive in
    three reads after the content, and `flush` still finds them."""
    obs = SSEStreamObserver(strip_usage=True)
    reads = [chunk("x", usage=None)] * 20 + [chunk(finish="length", usage=None), USAGE_ONLY, DONE]
    relayed = b"".join(obs.feed(float(i), piece) for i, piece in enumerate(reads))
    assert USAGE_ONLY not in relayed and relayed.endswith(DONE)
    assert obs.finish_reason is None and not obs.done  # noted at the end, not per read
    assert obs.flush() == b""
    assert obs.finish_reason == "length" and obs.done
    assert len(obs.content_times) == 20


def test_usage_null_in_every_chunk_is_not_a_usage_marker() -> None:
    """With include_usage, OpenAI-style servers send `"usage":null` in every chunk: only a
    usage object sends a block down the JSON-parsing path."""
    from infersight.core.sse import _first_marker

    null_chunk = b'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n'
    assert _first_marker(null_chunk * 3) == -1
    assert _first_marker(null_chunk + USAGE_ONLY) == len(null_chunk) + USAGE_ONLY.find(b'"usage"')
    spaced = null_chunk.replace(b'":', b'": ')
    assert _first_marker(spaced * 2) == -1
    assert _first_marker(b'data: {"error":{"message":"x"},"usage":null}\n\n') == 7


def test_finish_reason_found_after_many_keep_alive_comments() -> None:
    obs = SSEStreamObserver()
    reads = [chunk("x"), chunk(finish="stop")] + [b": keep-alive\n\n"] * 200 + [DONE]
    for i, piece in enumerate(reads):
        obs.feed(float(i), piece)
    obs.flush()
    assert obs.finish_reason == "stop" and obs.done


def test_finish_and_done_in_an_unterminated_last_event() -> None:
    obs = SSEStreamObserver()
    obs.feed(1.0, chunk("x") + chunk(finish="stop").rstrip(b"\n") + b"\n")
    assert obs.flush().startswith(b"data: ")  # relayed as-is at the end
    assert obs.finish_reason == "stop"
    obs = SSEStreamObserver()
    obs.feed(1.0, chunk("x") + b"data: [DONE]\n")
    obs.flush()
    assert obs.done


def test_done_inside_generated_text_is_not_the_end_marker() -> None:
    obs = SSEStreamObserver()
    obs.feed(1.0, chunk("the marker is data: [DONE] in SSE") + chunk(finish="stop"))
    obs.flush()
    assert not obs.done and obs.finish_reason == "stop"


def test_reasoning_sent_under_both_names_counts_once() -> None:
    both = b'data: {"choices":[{"delta":{"reasoning_content":"hm","reasoning":"hm"}}]}\n\n'
    assert count_content_events(both * 3) == 3
    assert count_content_events(both + chunk("a")) == 2


def test_an_oversized_event_is_relayed_unread_and_the_rest_observed() -> None:
    """One event larger than the hold limit (an echoed long prompt, a huge tool call) goes
    out as it comes; the events after it are counted and the usage chunk is still removed."""
    big = b'data: {"choices":[{"text":"' + b"y" * 300_000 + b'"}]}\n\n'
    obs = SSEStreamObserver(strip_usage=True)
    after = chunk("a", usage=None) + chunk(finish="stop", usage=None) + USAGE_ONLY + DONE
    pieces = [big[:100_000], big[100_000:299_999], big[299_999:-1], big[-1:] + after]
    out = b"".join(obs.feed(float(i), p) for i, p in enumerate(pieces)) + obs.flush()
    assert out == big + after.replace(USAGE_ONLY, b"")
    assert len(obs.content_times) == 1  # the big event is not read; "a" is
    assert obs.usage == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    assert obs.finish_reason == "stop" and obs.done
    assert obs.bytes_total == len(big) + len(after)


def test_error_body_message_shapes() -> None:
    """OpenAI's shape, a top-level message (vLLM), and pydantic details without their input
    (which echoes the request), else the start of the text."""
    assert error_body_message(b'{"error":{"message":"bad key"}}') == "bad key"
    assert error_body_message(b'{"object":"error","message":"too long","code":400}') == "too long"
    detail = [
        {"type": "missing", "loc": ["body", "model"], "msg": "Field required", "input": {"p": "x"}},
        {"type": "x", "loc": ["body", "messages", 0], "msg": "bad", "input": "SECRET"},
    ]
    msg = error_body_message(json.dumps({"detail": detail}).encode())
    assert msg == "body.model: Field required; body.messages.0: bad"
    assert error_body_message(b'{"detail":"Not Found"}') == "Not Found"
    assert error_body_message(b"<html>502 Bad Gateway</html>") == "<html>502 Bad Gateway</html>"
