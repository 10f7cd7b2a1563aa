"""Durations on the command line: "30s", "15m", "2h", "7d" <-> seconds."""

from __future__ import annotations

import argparse
import re
from typing import Final

UNIT_S: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
EXPECTED: Final = "a positive number followed by s, m, h or d (e.g. 30s, 15m, 2h, 7d)"
_PATTERN: Final = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration_s(text: str) -> float:
    """Seconds in `text`; ValueError naming the expected format otherwise."""
    match = _PATTERN.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"invalid duration {text!r}: expected {EXPECTED}")
    seconds = float(match.group(1)) * UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be > 0; expected {EXPECTED}")
    return seconds


def duration_arg(text: str) -> float:
    """argparse `type=`: a bad value becomes a usage error (exit status 2)."""
    try:
        return parse_duration_s(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def format_duration(seconds: float) -> str:
    """The largest whole unit: 900 -> "15m", 5400 -> "90m", 45.5 -> "45.5s"."""
    for unit, size in sorted(UNIT_S.items(), key=lambda item: -item[1]):
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"
