"""pydantic validation errors to ConfigProblems: where, what, the bad value, how to fix it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from infersight.config.errors import NO_VALUE, ConfigProblem, KeyPath, did_you_mean, format_value
from infersight.config.model_walk import Located, bounds, default_of, locate, unwrap_annotation
from infersight.config.yaml_parsing import node_line


def describe(err: ErrorDetails, at: Located) -> tuple[str, str, bool]:
    """(message, hint, show the input value) for one pydantic error."""
    kind, ctx, field = err["type"], err.get("ctx") or {}, at.field
    default = default_of(field)
    example = f", e.g. {format_value(default)}" if default is not NO_VALUE else ""
    limits = bounds(field)
    range_hint = f"set a value {limits}" if limits else ""
    comparisons = {
        "greater_than": ">",
        "greater_than_equal": ">=",
        "less_than": "<",
        "less_than_equal": "<=",
    }
    if kind in comparisons:
        limit = next(iter(ctx.values()), "?")
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        return f"must be {comparisons[kind]} {limit}", range_hint, True
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number", f"write an integer{example}", True
    if kind in ("float_parsing", "float_type"):
        return "must be a number", f"write a number{example}", True
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false", "write true or false, without quotes", True
    if kind == "string_type":
        return "must be text", "put the value in quotes", True
    if kind in ("literal_error", "enum"):
        choices = [str(a) for a in get_args(unwrap_annotation(field.annotation))] if field else []
        hint = "use one of: " + ", ".join(choices) if choices else ""
        if choices and isinstance(err["input"], str) and did_you_mean(err["input"], choices):
            hint = did_you_mean(err["input"], choices).strip(" ()")
        return f"must be {ctx.get('expected', 'one of the allowed values')}", hint, True
    if kind == "missing":
        return "is required", "add this key", False
    if kind == "extra_forbidden":
        key = str(err["loc"][-1]) if err["loc"] else "?"
        valid = list(at.owner.model_fields) if at.owner is not None else []
        message = f"unknown key {key!r}{did_you_mean(key, valid)}"
        return message, ("valid keys here: " + ", ".join(valid)) if valid else "", False
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping", "write 'key: value' lines indented under it", True
    if kind in ("list_type", "tuple_type", "set_type"):
        return "must be a list", "write one '- item' line per entry, or [a, b]", True
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"must have at least {n} entr{'y' if n == 1 else 'ies'}", "add an entry", True
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        message = str(error) if error is not None else err["msg"]
        return message, getattr(error, "hint", ""), getattr(error, "show_value", True)
    message = err["msg"]
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    return message, range_hint, kind != "missing"


def _dig(data: object, keys: tuple[str | int, ...]) -> object:
    """The value at `keys` in a validator's input (a model instance, dict or list)."""
    for key in keys:
        if isinstance(data, BaseModel):
            data = data.model_dump()
        if isinstance(data, list | tuple):
            if not isinstance(key, int) or not 0 <= key < len(data):
                return NO_VALUE
            data = data[key]
        elif isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return NO_VALUE
    return data


def validation_problems(
    exc: ValidationError,
    *,
    model: type[BaseModel],
    source: str,
    origins: Mapping[KeyPath, str],
    root: yaml.Node | None,
) -> list[ConfigProblem]:
    """One ConfigProblem per distinct error of validating `model`, file order first. A value
    set by an override (a path in `origins`) is blamed on it; others on `source`, with the
    line found in the YAML tree `root`."""
    problems: list[ConfigProblem] = []
    for err in exc.errors():
        below: tuple[str | int, ...] = getattr((err.get("ctx") or {}).get("error"), "at", ())
        loc = (*err["loc"], *below)
        at = locate(loc, model)
        message, hint, show = describe(err, at)
        value: object = err["input"]
        if below:  # the input is the whole object the validator saw; show the field's value
            value = _dig(value, below)
            show = show and value is not NO_VALUE
        origin = next(
            (origins[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in origins), None
        )
        line = None
        if origin is None:
            line = node_line(root, loc, key=err["type"] == "extra_forbidden")
        problem = ConfigProblem(
            at.path,
            message,
            value if show else NO_VALUE,
            hint,
            origin if origin is not None else source,
            line,
        )
        if problem not in problems:
            problems.append(problem)
    problems.sort(key=lambda p: (p.line is None, p.line or 0))  # stable: file order first
    return problems
