"""Configuration errors: one ConfigProblem per mistake, ConfigError listing them all.

Imports nothing from the settings models, so the models can raise SettingValueError.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# A setting's location as keys and list indices: ("upstreams", 1, "url").
KeyPath = tuple[str | int, ...]


class SettingValueError(ValueError):
    """Raise from a field validator to give the user a fix hint along with the message."""

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        show_value: bool = True,
        at: tuple[str | int, ...] = (),
    ) -> None:
        super().__init__(message)
        self.hint = hint
        self.show_value = show_value  # False: never echo the input (it may hold a secret)
        # Keys below the validated object that the problem is about: a model validator that
        # checks one field against another raises at=("instance_type",) so the error names
        # that field (and its line), not the whole section.
        self.at = at


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue()


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration, and how to fix it."""

    path: str  # dotted setting path: "gateway.port", "upstreams[1].url"; "" for a whole file
    message: str  # "must be <= 65535"
    value: object = NO_VALUE  # the bad value, or NO_VALUE when there is none to show
    hint: str = ""  # "set a value between 0 and 65535"
    source: str = ""  # "infersight.yaml", "environment variable INFERSIGHT_GATEWAY__PORT"
    line: int | None = None  # 1-based, in source
    column: int | None = None  # 1-based, in source

    def render(self) -> str:
        where = self.source
        if where and self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        text = self.message
        if self.value is not NO_VALUE:
            text += f", got {format_value(self.value)}"
        if self.hint:
            text += f" ({self.hint})"
        return ": ".join([*(p for p in (where, self.path) if p), text])


class ConfigError(Exception):
    """The configuration is unusable; ``str(err)`` renders every problem, one per line."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        super().__init__("\n".join(p.render() for p in self.problems))

    @classmethod
    def single(
        cls,
        message: str,
        *,
        source: str = "",
        path: str = "",
        hint: str = "",
        value: object = NO_VALUE,
        line: int | None = None,
        column: int | None = None,
    ) -> ConfigError:
        return cls([ConfigProblem(path, message, value, hint, source, line, column)])


def format_value(value: object, limit: int = 60) -> str:
    """A bad value as the user wrote it (YAML-ish), shortened to ``limit`` characters."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str | int | float):
        text = repr(value)
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_path(path: Sequence[str | int]) -> str:
    """("upstreams", 1, "url") -> "upstreams[1].url"."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """The suffix " (did you mean 'port'?)" naming the closest choice, or "" if none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
