"""Query parameters of the dashboard API: declared once, validated, and documented from the same
declaration (`openapi.py` reads the `Param`s). A bad value is an `ApiError` (HTTP 400) whose
message names the parameter, the value and what is expected; unknown parameters are refused too,
so a typo never silently falls back to a default.

Times: ``start`` / ``end`` take Unix seconds, an ISO 8601 time or ``now``; ``range`` a duration
(``15m``, ``6h``, ``30d``). ``end`` defaults to now and ``range`` to 1 hour; ``start`` + ``end``,
or ``range`` (+ ``end``), not all three. ``step`` (a duration or seconds) defaults to the width
that gives at most `TARGET_POINTS` buckets, from `NICE_STEPS_S` (a whole number of hours for
long ranges, so the store reads its 1-hour rollup tier).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from infersight.cli._durations import EXPECTED as DURATION_EXPECTED
from infersight.cli._durations import parse_duration_s

INTEGER_LIMIT: Final = 2**63 - 1  # an integer parameter reaches SQLite, which stores 64 bits
ParamKind = Literal["string", "number", "integer", "boolean", "duration", "time", "label"]

DEFAULT_RANGE_S: Final = 3600.0
MAX_RANGE_S: Final = 400 * 86_400.0  # the 1-hour tier's default retention
TARGET_POINTS: Final = 200
MAX_POINTS: Final = 5_000  # buckets per series one query may ask for
NICE_STEPS_S: Final = (
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    10800.0,
    14400.0,
    21600.0,
    43200.0,
    86400.0,
)
TIME_EXPECTED: Final = "Unix seconds, an ISO 8601 time (2026-01-31T12:00:00Z) or 'now'"


class ApiError(Exception):
    """An answer other than 200 with a reason: JSON ``{"error": {"status", "message"}}``."""

    def __init__(self, status: int, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.param is not None:
            body["param"] = self.param
        return {"error": body}


def bad(param: str, message: str) -> ApiError:
    return ApiError(400, f"query parameter {param!r}: {message}", param=param)


@dataclass(frozen=True)
class Param:
    """One query parameter: how it is parsed, checked and documented."""

    name: str
    kind: ParamKind
    description: str
    default: object = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    repeat: bool = False  # may be given several times; parsed to a list
    required: bool = False

    def parse(self, raw: str) -> object:
        text = raw.strip()
        if self.choices and text not in self.choices:
            raise bad(self.name, f"{raw!r} is not one of: {', '.join(self.choices)}")
        value: object
        if self.kind in ("string", "label"):
            if self.kind == "label":
                return parse_label(self.name, text)
            value = text
        elif self.kind == "boolean":
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise bad(self.name, f"{raw!r} is not a boolean; write true or false")
            value = lowered in ("true", "1")
        elif self.kind == "integer":
            try:
                value = int(text)
            except ValueError:
                raise bad(self.name, f"{raw!r} is not a whole number") from None
            if not -INTEGER_LIMIT <= value <= INTEGER_LIMIT:  # the store's 64-bit integers
                raise bad(self.name, f"{raw} is out of range (at most {INTEGER_LIMIT:,})")
        elif self.kind == "number":
            value = _number(self.name, text)
        elif self.kind == "duration":
            value = parse_step_s(self.name, text)
        else:  # time
            value = text  # resolved against "now" by time_window()
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                raise bad(self.name, f"{raw} is below the minimum {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise bad(self.name, f"{raw} is above the maximum {self.maximum:g}")
        return value


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise bad(name, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise bad(name, f"{text!r} is not a finite number")
    return value


def parse_step_s(name: str, text: str) -> float:
    """A duration ("5m") or a plain number of seconds ("300")."""
    try:
        seconds = float(text)
    except ValueError:
        try:
            return parse_duration_s(text)
        except ValueError:
            raise bad(name, f"{text!r} is not a duration: expected {DURATION_EXPECTED}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise bad(name, f"{text!r} must be a positive number of seconds")
    return seconds


def parse_label(name: str, text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise bad(name, f"{text!r} is not KEY=VALUE (e.g. {name}=model=llama)")
    return key.strip(), value.strip()


def parse_query(query: Mapping[str, Sequence[str]], params: Sequence[Param]) -> dict[str, Any]:
    """Every declared parameter by name (its default when absent); ApiError on anything else.

    `query` maps each name to all the values given for it (``parse_qs`` shape)."""
    known = {p.name: p for p in params}
    for name in query:
        if name not in known:
            valid = ", ".join(sorted(known)) or "none"
            raise ApiError(
                400, f"unknown query parameter {name!r}; valid here: {valid}", param=name
            )
    out: dict[str, Any] = {}
    for p in params:
        raws = [r for r in query.get(p.name, []) if r.strip() != ""]
        if p.repeat:
            out[p.name] = [p.parse(r) for r in raws]
        elif len(raws) > 1:
            raise bad(p.name, f"given {len(raws)} times; give it once")
        elif raws:
            out[p.name] = p.parse(raws[0])
        elif p.required:
            raise bad(p.name, "is required")
        else:
            out[p.name] = p.default
    return out


# -- time windows ------------------------------------------------------------------------------

TIME_PARAMS: Final = (
    Param("start", "time", f"Range start: {TIME_EXPECTED}. Use with end, or give range."),
    Param("end", "time", f"Range end: {TIME_EXPECTED}. Default: now."),
    Param(
        "range",
        "duration",
        f"Range length ending at end: {DURATION_EXPECTED}. Default: 1h.",
    ),
)
STEP_PARAM: Final = Param(
    "step",
    "duration",
    "Bucket width: a duration (30s, 5m, 1h) or seconds. Default: the width giving at most "
    f"{TARGET_POINTS} buckets (whole hours for ranges over 7 days, served from rollups).",
)


@dataclass(frozen=True)
class TimeWindow:
    start: float
    end: float
    step_s: float

    @property
    def range_s(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict[str, float]:
        return {"start": self.start, "end": self.end, "step_s": self.step_s}


def parse_time(name: str, text: str, now: float) -> float:
    if text == "now":
        return now
    try:
        return _number(name, text)
    except ApiError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad(name, f"{text!r} is not a time: expected {TIME_EXPECTED}") from None
    if parsed.tzinfo is None:
        raise bad(name, f"{text!r} has no time zone; add Z or +00:00")
    return parsed.timestamp()


def auto_step_s(range_s: float, target_points: int = TARGET_POINTS) -> float:
    """The smallest nice step that gives at most `target_points` buckets."""
    for step in NICE_STEPS_S:
        if range_s / step <= target_points:
            return step
    return math.ceil(range_s / target_points / 86400.0) * 86400.0


def time_window(
    values: Mapping[str, Any], now: float, *, max_points: int = MAX_POINTS
) -> TimeWindow:
    """start / end / range / step (as parsed by TIME_PARAMS and STEP_PARAM) -> a TimeWindow."""
    start_raw, end_raw, range_s = values.get("start"), values.get("end"), values.get("range")
    end = parse_time("end", end_raw, now) if end_raw is not None else now
    if start_raw is not None and range_s is not None:
        if end_raw is not None:
            raise bad("range", "give start and end, or range (and end), not all three")
        start = parse_time("start", start_raw, now)
        end = start + range_s
    elif start_raw is not None:
        start = parse_time("start", start_raw, now)
    else:
        start = end - (range_s if range_s is not None else DEFAULT_RANGE_S)
    if end <= start:
        raise bad("end", f"must be after start (start={start:.0f}, end={end:.0f})")
    if end - start > MAX_RANGE_S:
        raise bad(
            "range", f"at most {MAX_RANGE_S / 86400:.0f} days, got {(end - start) / 86400:.1f}"
        )
    step = values.get("step")
    step_s = float(step) if step is not None else auto_step_s(end - start)
    if (end - start) / step_s > max_points:
        raise bad(
            "step",
            f"{step_s:g} s gives {(end - start) / step_s:.0f} buckets over this range; "
            f"at most {max_points}: use a step of at least {(end - start) / max_points:.0f} s",
        )
    return TimeWindow(start, end, step_s)
