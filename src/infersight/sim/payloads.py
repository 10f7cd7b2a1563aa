"""Response bytes in OpenAI's wire format, prebuilt so a streamed chunk costs two concatenations.

A content chunk is `head + piece + tail`: head and tail are built once per request (id, created,
model), pieces (the JSON-encoded text of K tokens) once per server. Compact JSON throughout.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from infersight.sim.request import GenRequest

DONE = b"data: [DONE]\n\n"

# Tokens are drawn (seeded) from this list; each token is one word with a leading space.
WORDS: tuple[str, ...] = (
    "the", "model", "token", "stream", "latency", "answer", "river", "stone", "light", "cloud",
    "signal", "value", "quick", "green", "orbit", "paper", "metric", "window", "sample", "engine",
    "garden", "silver", "number", "simple", "matrix", "vector", "bridge", "forest", "delta",
    "harbor", "winter", "summer", "cache", "queue", "batch", "kernel", "memory", "thread", "socket",
)  # fmt: skip

_STATUS_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def error_body(status: int, message: str, *, code: str, param: str | None = None) -> bytes:
    """OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""
    kind = _STATUS_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return dumps({"error": {"message": message, "type": kind, "param": param, "code": code}})


class TokenText:
    """The deterministic output text for a seed, and its JSON pieces of K tokens each."""

    __slots__ = ("k", "pieces", "tokens")

    def __init__(self, n_tokens: int, tokens_per_chunk: int, seed: int) -> None:
        rng = random.Random(seed)
        self.tokens: tuple[str, ...] = tuple(" " + rng.choice(WORDS) for _ in range(n_tokens))
        self.k = tokens_per_chunk
        self.pieces: tuple[bytes, ...] = tuple(
            dumps("".join(self.tokens[i : i + self.k])) for i in range(0, n_tokens, self.k)
        )
        if n_tokens % self.k:  # the last piece is partial: keep only full ones here
            self.pieces = self.pieces[:-1]

    def pieces_for(self, n: int) -> list[bytes]:
        """JSON-encoded text of each chunk of an `n`-token completion (last may be partial)."""
        full = n // self.k
        out = list(self.pieces[:full])
        if n % self.k:
            out.append(dumps("".join(self.tokens[full * self.k : n])))
        return out

    def text(self, n: int) -> str:
        return "".join(self.tokens[:n])


def usage(req: GenRequest, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": req.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": req.prompt_tokens + completion_tokens,
    }


@dataclass(frozen=True, slots=True)
class StreamFrames:
    """The bytes of one stream: opening + (head + piece + tail)... + closing."""

    head: bytes
    tail: bytes
    opening: bytes  # chat: the role chunk (delta {"role": "assistant", "content": ""})
    closing: bytes  # the finish_reason chunk, the usage chunk if asked, then [DONE]


def stream_frames(
    req: GenRequest, *, rid: str, created: int, completion_tokens: int, finish_reason: str
) -> StreamFrames:
    obj = "chat.completion.chunk" if req.chat else "text_completion"
    model = json.dumps(req.model, ensure_ascii=False)
    prefix = f'data: {{"id":"{rid}","object":"{obj}","created":{created},"model":{model},'
    null_usage = ',"usage":null' if req.include_usage else ""
    end = f"{null_usage}}}\n\n".encode()
    base: dict[str, Any] = {"id": rid, "object": obj, "created": created, "model": req.model}
    usage_null = {"usage": None} if req.include_usage else {}

    def event(choice: dict[str, Any]) -> bytes:
        return b"data: " + dumps({**base, "choices": [choice], **usage_null}) + b"\n\n"

    if req.chat:
        head = (prefix + '"choices":[{"index":0,"delta":{"content":').encode()
        tail = b'},"logprobs":null,"finish_reason":null}]' + end
        role = {"role": "assistant", "content": ""}
        opening = event({"index": 0, "delta": role, "logprobs": None, "finish_reason": None})
        final = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish_reason}
    else:
        head = (prefix + '"choices":[{"index":0,"text":').encode()
        tail = b',"logprobs":null,"finish_reason":null}]' + end
        opening = b""
        final = {"index": 0, "text": "", "logprobs": None, "finish_reason": finish_reason}
    closing = event(final)
    if req.include_usage:
        last = {**base, "choices": [], "usage": usage(req, completion_tokens)}
        closing += b"data: " + dumps(last) + b"\n\n"
    return StreamFrames(head, tail, opening, closing + DONE)


def full_body(
    req: GenRequest, *, rid: str, created: int, text: str, n_tokens: int, finish_reason: str
) -> bytes:
    """The non-streaming chat.completion / text_completion object, with usage."""
    if req.chat:
        message = {"role": "assistant", "content": text}
        choice: dict[str, Any] = {"index": 0, "message": message, "logprobs": None}
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "logprobs": None}
        obj = "text_completion"
    choice["finish_reason"] = finish_reason
    return dumps(
        {
            "id": rid,
            "object": obj,
            "created": created,
            "model": req.model,
            "choices": [choice],
            "usage": usage(req, n_tokens),
        }
    )
