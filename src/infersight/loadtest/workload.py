"""What each request asks for: prompts from a JSONL file or synthetic ones of controlled length.

Lengths are `LengthSpec`s: a fixed number (`128`), `uniform:LOW:HIGH` (inclusive), or
`normal:MEAN:STD` (rounded, clipped to >= 1). All draws come from one `random.Random(seed)`, so
a seed gives the same prompts and output lengths every run.

Synthetic prompts are words drawn from a small vocabulary of common English words; each is one
token in the tokenizers of common open models (Llama, Mistral, Qwen BPEs), so `input_tokens`
words are about that many prompt tokens (the endpoint's `usage.prompt_tokens`, when it reports
one, is what the report counts). Each prompt starts with its request number so that prefix
caching cannot serve two requests from one cache entry.

A JSONL prompt file has one object per line: `{"prompt": "..."}` or `{"messages": [...]}`,
optionally with `"max_tokens"` (or `"output_tokens"`) for that request. Lines are used in order
and cycled.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

Api = Literal["chat", "completions"]
API_PATHS: Final[dict[str, str]] = {"chat": "/chat/completions", "completions": "/completions"}
VOCABULARY: Final = (
    "time", "people", "water", "world", "house", "light", "river", "stone", "cloud", "paper",
    "green", "small", "large", "early", "night", "music", "table", "field", "story", "voice",
    "money", "power", "order", "month", "point", "heart", "party", "price", "sound", "south",
    "north", "watch", "value", "train", "plant", "phone", "place", "level", "model", "token",
)  # fmt: skip


class WorkloadError(ValueError):
    """A workload option or prompt file is unusable; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class LengthSpec:
    """A token-length distribution: fixed, uniform (inclusive) or normal (clipped to >= 1)."""

    kind: Literal["fixed", "uniform", "normal"]
    a: float
    b: float = 0.0

    def sample(self, rng: random.Random) -> int:
        if self.kind == "fixed":
            return int(self.a)
        if self.kind == "uniform":
            return rng.randint(int(self.a), int(self.b))
        return max(1, round(rng.gauss(self.a, self.b)))

    @property
    def mean(self) -> float:
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a

    def describe(self) -> str:
        if self.kind == "fixed":
            return str(int(self.a))
        if self.kind == "uniform":
            return f"uniform:{int(self.a)}:{int(self.b)}"
        return f"normal:{self.a:g}:{self.b:g}"


def parse_length(text: str) -> LengthSpec:
    """'128', 'uniform:64:256' or 'normal:128:32'; WorkloadError naming the forms otherwise."""
    forms = "N, uniform:LOW:HIGH or normal:MEAN:STD (e.g. 128, uniform:64:256, normal:128:32)"
    parts = text.strip().lower().split(":")
    try:
        if len(parts) == 1:
            n = int(parts[0])
            if n >= 1:
                return LengthSpec("fixed", n)
        elif parts[0] == "uniform" and len(parts) == 3:
            lo, hi = int(parts[1]), int(parts[2])
            if 1 <= lo <= hi:
                return LengthSpec("uniform", lo, hi)
        elif parts[0] == "normal" and len(parts) == 3:
            mu, sd = float(parts[1]), float(parts[2])
            if mu >= 1 and sd >= 0 and math.isfinite(mu) and math.isfinite(sd):
                return LengthSpec("normal", mu, sd)
    except ValueError:
        pass
    raise WorkloadError(f"invalid token length {text!r}: expected {forms}, lengths >= 1")


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One request body, ready to send, with what the workload knows about it."""

    index: int
    body: bytes
    prompt_tokens_est: int
    max_tokens: int | None


@dataclass(frozen=True, slots=True)
class PromptItem:
    prompt: str | None = None
    messages: tuple[dict[str, Any], ...] | None = None
    max_tokens: int | None = None


def load_prompts(path: str | Path) -> list[PromptItem]:
    """Read a JSONL prompt file; WorkloadError with the file and line for anything wrong."""
    p = Path(path).expanduser()
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise WorkloadError(f"cannot read prompt file {str(p)!r}: {exc.strerror or exc}") from None
    items: list[PromptItem] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{p}:{n}"
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise WorkloadError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise WorkloadError(f"{where}: expected a JSON object with 'prompt' or 'messages'")
        max_tokens = obj.get("max_tokens", obj.get("output_tokens"))
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise WorkloadError(f"{where}: max_tokens must be an integer >= 1, got {max_tokens!r}")
        prompt, messages = obj.get("prompt"), obj.get("messages")
        if isinstance(prompt, str) and prompt:
            items.append(PromptItem(prompt=prompt, max_tokens=max_tokens))
        elif isinstance(messages, list) and messages and all(isinstance(m, dict) for m in messages):
            items.append(PromptItem(messages=tuple(messages), max_tokens=max_tokens))
        else:
            raise WorkloadError(
                f"{where}: expected a non-empty 'prompt' string or a 'messages' list of objects"
            )
    if not items:
        raise WorkloadError(f"prompt file {str(p)!r} has no prompts (one JSON object per line)")
    return items


def _messages_text(messages: Sequence[dict[str, Any]]) -> str:
    parts: list[str] = []
    for m in messages:
        c = m.get("content")
        if isinstance(c, str):
            parts.append(c)
        elif isinstance(c, list):
            parts.extend(
                p["text"] for p in c if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
    return " ".join(parts)


@dataclass
class Workload:
    """Builds request `i`'s body. Deterministic for a seed and call order."""

    model: str
    api: Api = "chat"
    input_tokens: LengthSpec = field(default_factory=lambda: LengthSpec("fixed", 128))
    output_tokens: LengthSpec | None = field(default_factory=lambda: LengthSpec("fixed", 128))
    prompts: list[PromptItem] | None = None
    ignore_eos: bool = False
    seed: int = 0
    temperature: float | None = 0.0
    extra_body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.api not in API_PATHS:
            raise WorkloadError(f"api must be one of {', '.join(API_PATHS)}, got {self.api!r}")
        if not self.model:
            raise WorkloadError("a model name is needed (--model)")
        self._rng = random.Random(self.seed)
        self._count = 0

    @property
    def path(self) -> str:
        return API_PATHS[self.api]

    def describe(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "model": self.model,
            "source": "jsonl" if self.prompts is not None else "synthetic",
            "prompts": len(self.prompts) if self.prompts is not None else None,
            "input_tokens": None if self.prompts is not None else self.input_tokens.describe(),
            "output_tokens": self.output_tokens.describe() if self.output_tokens else None,
            "ignore_eos": self.ignore_eos,
            "seed": self.seed,
        }

    def probe_request(self, max_tokens: int = 8) -> PreparedRequest:
        """A small request for checking the endpoint (draws nothing from the RNG)."""
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens}
        text = "Reply with a short greeting."
        if self.api == "chat":
            body["messages"] = [{"role": "user", "content": text}]
        else:
            body["prompt"] = text
        body.update(self.extra_body)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        return PreparedRequest(-1, json.dumps(body).encode(), len(text.split()), max_tokens)

    def next_request(self) -> PreparedRequest:
        i = self._count
        self._count += 1
        return self.build(i)

    def build(self, i: int, *, max_tokens: int | None = None) -> PreparedRequest:
        """Request `i` (draws from the seeded RNG: call in order for reproducible runs)."""
        rng = self._rng
        item = self.prompts[i % len(self.prompts)] if self.prompts else None
        if item is None:
            n_in = self.input_tokens.sample(rng)
            words = [VOCABULARY[rng.randrange(len(VOCABULARY))] for _ in range(max(0, n_in - 1))]
            prompt: str | None = " ".join([str(i), *words])
            messages: Sequence[dict[str, Any]] | None = None
            est = n_in
        else:
            prompt, messages = item.prompt, item.messages
            est = len((prompt or _messages_text(messages or ())).split())
        if max_tokens is None:
            if item is not None and item.max_tokens is not None:
                max_tokens = item.max_tokens
            elif self.output_tokens is not None:
                max_tokens = self.output_tokens.sample(rng)
        body: dict[str, Any] = {"model": self.model}
        if self.api == "chat":
            body["messages"] = (
                list(messages) if messages else [{"role": "user", "content": prompt or ""}]
            )
        else:
            body["prompt"] = prompt if prompt is not None else _messages_text(messages or ())
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.ignore_eos:
            body["ignore_eos"] = True
        body.update(self.extra_body)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return PreparedRequest(i, raw, est, max_tokens)
