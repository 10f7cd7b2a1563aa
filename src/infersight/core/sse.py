"""Incremental OpenAI server-sent-events decoding, cheap enough for a proxy's stream loop.

`SSEStreamObserver.feed(t, data)` takes the bytes of one socket read and returns the bytes to
relay: every *complete* event, unchanged (a partial event at the end of a read is held until its
terminating blank line arrives; a client could not act on half an event anyway). While doing so
it notes, with the read's timestamp, how many events carried generated content, the finish
reason, the usage block, an error event and the `[DONE]` marker.

The hot path works on whole reads with C-level byte scans (`in`, `rfind`, a compiled regex);
JSON is parsed only for the rare events that carry usage or an error, or for every event when
text capture is on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

_FINISH_RE: Final = re.compile(rb'"finish_reason"\s*:\s*"([^"\\]+)"')
_USAGE_RE: Final = re.compile(rb'"usage"\s*:\s*\{')
_DONE: Final = b"[DONE]"
# Past this many bytes without an event boundary the stream is not SSE: relay it raw.
MAX_PENDING_BYTES: Final = 256 * 1024
# How much of the stream's end (whole reads of complete events, at least this many bytes)
# `flush` searches for the finish reason and [DONE]: the final chunks (finish, usage,
# [DONE]) of even many-choice streams, and keep-alive comments between them, fit.
TAIL_BYTES: Final = 16 * 1024


def _last_boundary(buf: bytes) -> int:
    """Index just past the last event terminator in buf, or -1 when there is none."""
    end = buf.rfind(b"\n\n")
    end = end + 2 if end >= 0 else -1
    if b"\r" in buf:
        crlf = buf.rfind(b"\r\n\r\n")
        if crlf >= 0:
            end = max(end, crlf + 4)
        cr = buf.rfind(b"\r\r")
        if cr >= 0:
            end = max(end, cr + 2)
    return end


def _has_done_line(tail: bytes) -> bool:
    """A `data: [DONE]` line in `tail`, searched from the end (not the words inside text)."""
    at = tail.rfind(_DONE)
    while at >= 0:
        line_start = max(tail.rfind(b"\n", 0, at), tail.rfind(b"\r", 0, at)) + 1
        if tail[line_start:at] in (b"data: ", b"data:"):
            return True
        at = tail.rfind(_DONE, 0, at)
    return False


def _first_boundary(buf: bytes) -> int:
    """Index just past the first event terminator in buf, or -1 when there is none."""
    ends = [i + len(sep) for sep in (b"\n\n", b"\r\n\r\n", b"\r\r") if (i := buf.find(sep)) >= 0]
    return min(ends) if ends else -1


def split_events(block: bytes) -> list[bytes]:
    """Split a block of complete events into raw events (terminators removed)."""
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return [e for e in block.split(b"\n\n") if e]


def event_data(event: bytes) -> bytes | None:
    """The `data:` payload of one raw event (multi-line data joined by \\n), or None."""
    if event.startswith(b"data: ") and b"\n" not in event:
        return event[6:]
    lines = [ln for ln in event.split(b"\n") if ln.startswith(b"data:")]
    if not lines:
        return None
    return b"\n".join(ln[6:] if ln.startswith(b"data: ") else ln[5:] for ln in lines)


def _parse(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None


def is_usage_only(obj: Any) -> bool:
    """The extra chunk `stream_options.include_usage` adds: usage set, no choices."""
    return isinstance(obj, dict) and bool(obj.get("usage")) and not obj.get("choices")


def chunk_text(obj: Any) -> str:
    """Generated text carried by one parsed chunk (chat delta or completion text)."""
    if not isinstance(obj, dict):
        return ""
    parts: list[str] = []
    for choice in obj.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            content = delta.get("content")
            if isinstance(content, str):
                parts.append(content)
        text = choice.get("text")
        if isinstance(text, str):
            parts.append(text)
    return "".join(parts)


def _first_marker(block: bytes) -> int:
    """Index of the first usage block or error key in `block`, or -1. OpenAI-style servers
    put `"usage":null` in every chunk once usage is requested: those are not markers."""
    error = block.find(b'"error"')
    usage = -1
    n_usage = block.count(b'"usage"')
    if n_usage and n_usage != block.count(b'"usage":null'):
        m = _USAGE_RE.search(block)
        usage = m.start() if m else -1
    if error < 0 or 0 <= usage < error:
        return usage
    return error


def count_content_events(block: bytes) -> int:
    """Events in `block` that carry generated output (a non-empty content/text/reasoning/
    tool-argument string), counted with C-level substring counts of `"key":"` (escaped
    quotes inside strings never match); JSON with spaces after colons is compacted first."""
    n = block.count(b'"content":"')
    if n:
        n -= block.count(b'"content":""')
        if n == block.count(b"data:"):
            return n  # every event carries content: no other key can add one
    elif b'": ' in block:  # JSON with spaces after colons: counted on a compacted copy
        return count_content_events(block.replace(b'": ', b'":'))
    if b'"text":"' in block:
        n += block.count(b'"text":"') - block.count(b'"text":""')
    if b"reasoning" in block or b'"arguments":"' in block:
        n += _extra_keys(block)
    return n


def _non_empty(block: bytes, key: bytes) -> int:
    return block.count(key) - block.count(key + b'"')


def _extra_keys(block: bytes) -> int:
    """Non-empty reasoning / tool-argument strings (rare; only called when present). Some
    servers send the reasoning text under both names, `reasoning_content` and `reasoning`:
    it counts once."""
    reasoning = max(
        _non_empty(block, b'"reasoning_content":"'), _non_empty(block, b'"reasoning":"')
    )
    return reasoning + _non_empty(block, b'"arguments":"')


@dataclass(slots=True)
class SSEStreamObserver:
    """Watches one OpenAI-style SSE stream while it is relayed.

    strip_usage: remove the usage-only chunk (the gateway asked for it, the client did not).
    capture_text: accumulate the generated text (parses every event; off by default).
    """

    strip_usage: bool = False
    capture_text: bool = False
    content_times: list[float] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None
    done: bool = False
    bytes_total: int = 0
    text_parts: list[str] = field(default_factory=list)
    _pending: bytes = b""
    _tail: list[bytes] = field(default_factory=list)
    _tail_bytes: int = 0
    _raw: bool = False  # inside an event too big to hold: relayed unread until its end
    _raw_last: bytes = b""  # the last bytes relayed raw (an event end may span two reads)

    def feed(self, t: float, data: bytes) -> bytes:
        """Observe one read taken at time t; return the bytes to relay now."""
        self.bytes_total += len(data)
        if self._raw:
            return self._feed_raw(t, data)
        return self._observe(t, data)

    def _observe(self, t: float, data: bytes) -> bytes:
        buf = self._pending + data if self._pending else data
        end = _last_boundary(buf)
        if end < 0:
            if len(buf) > MAX_PENDING_BYTES:
                self._raw, self._raw_last, self._pending = True, buf[-3:], b""
                return buf
            self._pending = buf
            return b""
        block = buf[:end] if end < len(buf) else buf
        self._pending = buf[end:]
        # The finish reason and [DONE] come at the end: they are read from the stream's
        # last reads once, in `flush`, instead of being searched for in every read.
        tail = self._tail
        tail.append(block)
        self._tail_bytes += len(block)
        while self._tail_bytes - len(tail[0]) >= TAIL_BYTES:
            self._tail_bytes -= len(tail.pop(0))
        if self.capture_text:
            return self._feed_slow(t, block)
        marker = _first_marker(block)
        if marker < 0:
            return self._feed_fast(t, block)
        # only the events from the first usage/error marker on need the slow path
        cut = block.rfind(b"\n\n", 0, marker) + 2  # 1 when none: CRLF streams go slow whole
        cut = cut if cut > 1 else 0
        head = self._feed_fast(t, block[:cut]) if cut else b""
        return head + self._feed_slow(t, block[cut:])

    def _feed_raw(self, t: float, data: bytes) -> bytes:
        """An oversized event is relayed as it comes, unobserved; the events after its end
        are observed as usual again."""
        joined = self._raw_last + data
        end = _first_boundary(joined)
        if end < 0:
            self._raw_last = joined[-3:]
            return data
        self._raw, self._raw_last = False, b""
        cut = end - (len(joined) - len(data))
        return data[:cut] + self._observe(t, data[cut:]) if cut < len(data) else data

    def _feed_fast(self, t: float, block: bytes) -> bytes:
        n_content = count_content_events(block)
        if n_content:
            self.content_times.extend([t] * n_content)
        return block

    def _note_finish(self, block: bytes) -> None:
        for m in _FINISH_RE.finditer(block):
            self.finish_reason = m.group(1).decode("ascii", "replace")

    def _feed_slow(self, t: float, block: bytes) -> bytes:
        """Event-by-event path for blocks that carry usage or an error, or for text capture.
        Only events with such a marker (or all, when capturing text) are JSON-parsed."""
        kept: list[bytes] = []
        dropped = False
        for event in split_events(block):
            payload = event_data(event)
            if payload is None:
                kept.append(event)
                continue
            if payload.strip() == _DONE:
                self.done = True
                kept.append(event)
                continue
            if not (self.capture_text or b'"error"' in payload or _USAGE_RE.search(payload)):
                self.content_times.extend([t] * count_content_events(payload))
                if b'"finish_reason"' in payload:
                    self._note_finish(payload)
                kept.append(event)
                continue
            obj = _parse(payload)
            if isinstance(obj, dict) and obj.get("error") is not None:
                self.error = _error_message(obj["error"])
            if isinstance(obj, dict) and obj.get("usage"):
                usage = obj["usage"]
                self.usage = usage if isinstance(usage, dict) else None
                if self.strip_usage and is_usage_only(obj):
                    dropped = True
                    continue
            self.content_times.extend([t] * count_content_events(payload))
            if b'"finish_reason"' in payload:
                self._note_finish(payload)
            if self.capture_text:
                self.text_parts.append(chunk_text(obj))
            kept.append(event)
        if not dropped:
            return block
        return b"".join(e + b"\n\n" for e in kept)

    def flush(self) -> bytes:
        """End of the stream: notes the finish reason and [DONE] from the last complete
        events, and returns the bytes still held (an unterminated last event)."""
        tail = b"".join(self._tail) + self._pending  # an unterminated last event counts too
        self._tail.clear()
        self._tail_bytes = 0
        # searched from the end, where they are: the last non-null finish reason wins
        at = tail.rfind(b'"finish_reason":"')
        if at < 0:
            at = tail.rfind(b'"finish_reason": "')
        m = _FINISH_RE.match(tail, at) if at >= 0 else None
        if m:
            self.finish_reason = m.group(1).decode("ascii", "replace")
        if _has_done_line(tail):
            self.done = True
        rest, self._pending = self._pending, b""
        return rest

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


def _error_message(err: Any) -> str:
    if isinstance(err, dict):
        msg = err.get("message")
        return str(msg) if msg is not None else json.dumps(err)[:500]
    return str(err)[:500]


def parse_completion_body(body: bytes) -> tuple[dict[str, Any] | None, str | None, str]:
    """(usage, finish_reason, text) of a non-streamed chat/text completion body."""
    obj = _parse(body)
    if not isinstance(obj, dict):
        return None, None, ""
    usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else None
    finish: str | None = None
    texts: list[str] = []
    for choice in obj.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        if isinstance(choice.get("finish_reason"), str):
            finish = choice["finish_reason"]
        message = choice.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            texts.append(message["content"])
        if isinstance(choice.get("text"), str):
            texts.append(choice["text"])
    return usage, finish, "".join(texts)


def error_body_message(body: bytes) -> str:
    """A short message from an upstream error body: OpenAI's error shape, a top-level
    "message", FastAPI/pydantic validation details (locations and messages only: their
    "input" echoes the request), or the start of a plain-text body."""
    obj = _parse(body)
    if isinstance(obj, dict):
        if "error" in obj:
            return _error_message(obj["error"])
        if isinstance(obj.get("message"), str):
            return str(obj["message"])[:500]
        if "detail" in obj:
            return _detail_message(obj["detail"])[:500]
    return body[:300].decode("utf-8", "replace").strip()


def _detail_message(detail: Any) -> str:
    if not isinstance(detail, list):
        return str(detail)
    parts = []
    for item in detail:
        if isinstance(item, dict):
            loc = item.get("loc")
            where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
            msg = str(item.get("msg", ""))
            parts.append(f"{where}: {msg}" if where else msg)
        else:
            parts.append(str(item))
    return "; ".join(parts)
