"""Parse and validate the JSON body of a generation request (pure; no I/O).

prompt_tokens is an estimate the simulator documents rather than a real tokenizer: the number of
whitespace-separated words in the prompt. For chat that is the words of every message's `content`
(a string, or the `text` of each content part); for /v1/completions the words of `prompt` (a
string or a list of strings), or the length of a token-id list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class BadRequest(ValueError):
    """The request cannot be served; the message says what to fix (sent back as a 400)."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_request"):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class GenRequest:
    chat: bool
    model: str
    stream: bool
    include_usage: bool
    max_tokens: int | None
    prompt_tokens: int


def parse_request(body: bytes, *, chat: bool, default_model: str) -> GenRequest:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object", code="invalid_json")

    model = data.get("model", default_model)
    if model is None:
        model = default_model
    if not isinstance(model, str) or not model:
        raise BadRequest(f"'model' must be a non-empty string, got {model!r}", param="model")

    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise BadRequest(f"'stream' must be a boolean, got {stream!r}", param="stream")

    include_usage = False
    options = data.get("stream_options")
    if isinstance(options, dict):
        include_usage = options.get("include_usage") is True
    elif options is not None:
        raise BadRequest("'stream_options' must be an object", param="stream_options")

    max_tokens = _max_tokens(data, "max_tokens")
    if chat:
        newer = _max_tokens(data, "max_completion_tokens")
        if newer is not None:
            max_tokens = newer if max_tokens is None else min(max_tokens, newer)
        prompt_tokens = _chat_prompt_words(data.get("messages"))
    else:
        prompt_tokens = _completion_prompt_words(data.get("prompt"))
    return GenRequest(chat, model, stream, include_usage and stream, max_tokens, prompt_tokens)


def _max_tokens(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest(f"'{key}' must be an integer >= 1, got {value!r}", param=key)
    return value


def _words(text: object) -> int:
    return len(text.split()) if isinstance(text, str) else 0


def _chat_prompt_words(messages: object) -> int:
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list", param="messages")
    total = 0
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise BadRequest(f"'messages[{i}]' must be an object", param=f"messages[{i}]")
        content = msg.get("content")
        if isinstance(content, list):
            total += sum(_words(p.get("text")) for p in content if isinstance(p, dict))
        else:
            total += _words(content)
    return total


def _completion_prompt_words(prompt: object) -> int:
    if isinstance(prompt, str):
        return _words(prompt)
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, int) for p in prompt):
            return len(prompt)
        total = 0
        for p in prompt:
            if isinstance(p, str):
                total += _words(p)
            elif isinstance(p, list):
                total += len(p)
            else:
                raise BadRequest("'prompt' items must be strings or token-id lists", "prompt")
        return total
    raise BadRequest("'prompt' must be a string or a non-empty list", param="prompt")
