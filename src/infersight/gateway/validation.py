"""Checks an OpenAI request body before it is forwarded: a wrong field gets a 400 naming it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final


class RequestError(Exception):
    """A client error the gateway answers itself (never forwarded)."""

    def __init__(self, status: int, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    body: dict[str, Any]
    body_bytes: bytes
    model: str
    stream: bool
    client_wants_usage: bool


_TYPE_NAMES = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    list: "an array",
    dict: "an object",
}


def _expect(body: dict[str, Any], key: str, types: tuple[type, ...], where: str = "") -> None:
    if key not in body or body[key] is None:
        return
    value = body[key]
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
        got = type(value).__name__ if value is not None else "null"
        raise RequestError(400, f"'{where}{key}' must be {names}, got {got}", param=where + key)


def _require(body: dict[str, Any], key: str, types: tuple[type, ...]) -> None:
    if body.get(key) is None:
        got = "missing" if key not in body else "null"
        raise RequestError(400, f"'{key}' is required, got {got}", param=key)
    _expect(body, key, types)


def parse_request(raw: bytes, route: str) -> ParsedRequest:
    """Validate the fields the gateway relies on; other fields pass through untouched."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise RequestError(400, "request body is nested too deeply to be a request") from None
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    _expect(body, "model", (str,))
    _expect(body, "stream", (bool,))
    _expect(body, "max_tokens", (int,))
    _expect(body, "max_completion_tokens", (int,))
    _expect(body, "temperature", (int, float))
    _expect(body, "stream_options", (dict,))
    if route == "chat":
        _require(body, "messages", (list,))
        for i, message in enumerate(body["messages"]):
            if not isinstance(message, dict):
                raise RequestError(
                    400, f"'messages[{i}]' must be an object", param=f"messages[{i}]"
                )
            if not isinstance(message.get("role"), str):
                raise RequestError(
                    400, f"'messages[{i}].role' must be a string", param=f"messages[{i}].role"
                )
    elif route == "completions":
        _require(body, "prompt", (str, list))
    stream = bool(body.get("stream", False))
    options = body.get("stream_options") or {}
    _expect(options, "include_usage", (bool,), "stream_options.")
    return ParsedRequest(
        body=body,
        body_bytes=raw,
        model=body.get("model") or "",
        stream=stream,
        client_wants_usage=bool(options.get("include_usage", False)),
    )


_USAGE_OPTION: Final = b',"stream_options":{"include_usage":true}}'


def with_usage_requested(req: ParsedRequest) -> bytes | None:
    """The body with stream_options.include_usage set, or None if nothing changes.

    Without a stream_options key the member is appended before the object's closing brace,
    byte for byte (a long prompt is not re-encoded); otherwise the body is re-encoded."""
    if not req.stream or req.client_wants_usage:
        return None
    if "stream_options" not in req.body:
        raw = req.body_bytes.rstrip()
        if raw.endswith(b"}") and len(req.body) > 0:
            return raw[:-1] + _USAGE_OPTION
    body = dict(req.body)
    body["stream_options"] = {**(req.body.get("stream_options") or {}), "include_usage": True}
    return json.dumps(body, separators=(",", ":")).encode()


def prompt_text(body: dict[str, Any]) -> str:
    """The prompt as plain text (chat messages joined by newlines), for capture and estimates."""
    if isinstance(body.get("messages"), list):
        parts: list[str] = []
        for message in body["messages"]:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return "\n".join(parts)
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(p for p in prompt if isinstance(p, str))
    return ""


# Prompt pieces shorter than this are not looked for in error messages (too many false hits);
# longer ones are also caught when an error message quotes only their beginning.
_REDACT_MIN: Final = 8
_REDACT_PREFIX: Final = 24
# Of a huge prompt, only this many characters at its start and at its end are looked for.
_REDACT_SCAN: Final = 256 * 1024


def redact_prompt(message: str, body: dict[str, Any]) -> str:
    """`message` (an upstream's error text) with any quoted part of the request's prompt
    replaced by "[prompt]": validation errors of some servers echo their input, and the
    prompt must not be stored unless text capture is on."""
    # only lines whose start the message quotes: a set of the message's short windows (a
    # message is short; a prompt may be megabytes of lines, looked at once each)
    windows = {message[i : i + _REDACT_MIN] for i in range(len(message) - _REDACT_MIN + 1)}
    escapes = "\\" in message  # a JSON-escaped quote can only be there with a backslash
    text = prompt_text(body)
    if len(text) > 2 * _REDACT_SCAN:  # echoes quote a prompt's start (or its end): bounded work
        text = text[:_REDACT_SCAN] + "\n" + text[-_REDACT_SCAN:]
    pieces = [
        p
        for p in text.split("\n")
        if len(p) >= _REDACT_MIN
        and (
            (p[:_REDACT_MIN] in windows and p[:_REDACT_PREFIX] in message)
            or (escapes and _escaped_start_in(p, message))
        )
    ]
    for piece in sorted(pieces, key=len, reverse=True):
        for form in (piece, json.dumps(piece)[1:-1]):
            message = _cut_echoes(message, form)
    return message


def _escaped_start_in(piece: str, message: str) -> bool:
    """Whether the message quotes the piece's start in JSON-escaped form (only a start with a
    quote, backslash, control or non-ASCII character has one)."""
    head = piece[:_REDACT_PREFIX]
    if head.isascii() and head.isprintable() and '"' not in head and "\\" not in head:
        return False
    return json.dumps(head)[1:-1] in message


def _cut_echoes(message: str, form: str) -> str:
    message = message.replace(form, "[prompt]")
    if len(form) <= _REDACT_PREFIX:
        return message
    head = form[:_REDACT_PREFIX]
    at = message.find(head)
    while at >= 0:  # an echo cut short: from the prompt's beginning to where the echo ends
        quoted = _common_prefix(message, at, form)
        message = message[:at] + "[prompt]" + message[at + quoted :]
        at = message.find(head, at + 1)
    return message


def _common_prefix(text: str, at: int, form: str) -> int:
    """How many characters of `form` `text` repeats from index `at` on."""
    n = 0
    while n < len(form) and at + n < len(text) and text[at + n] == form[n]:
        n += 1
    return n


def estimate_tokens(text: str) -> int:
    """A rough token count (about 4 characters a token) for upstreams that report no usage."""
    return max(1, round(len(text) / 4)) if text else 0
