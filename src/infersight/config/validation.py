"""pydantic validation errors to ConfigProblems: where, what, the bad value, how to fix it."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from infersight.config.errors import (
    NO_VALUE,
    ConfigProblem,
    KeyPath,
    did_you_mean,
    format_value,
    render_path,
)
from infersight.config.model_walk import (
    Located,
    bounds,
    default_of,
    is_dict,
    is_list,
    is_model,
    item_type,
    locate,
    unwrap_annotation,
)
from infersight.config.yaml_parsing import node_line


def describe(err: ErrorDetails, at: Located) -> tuple[str, str, bool]:
    """(message, hint, show the input value) for one pydantic error."""
    kind, ctx, field = err["type"], err.get("ctx") or {}, at.field
    default = default_of(field)
    example = f", e.g. {format_value(default)}" if default not in (NO_VALUE, None) else ""
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


def _numeric(ann: Any) -> bool:
    """Whether a field of this annotation takes numbers and not booleans."""
    ann = unwrap_annotation(ann)
    members = set(get_args(ann)) if get_origin(ann) in (Union, types.UnionType) else {ann}
    return bool(members & {int, float}) and bool not in members


def bool_problems(
    data: object,
    model: type[BaseModel],
    *,
    source: str,
    origins: Mapping[KeyPath, str],
    root: yaml.Node | None,
) -> list[ConfigProblem]:
    """A problem per true/false written where a number belongs (pydantic would read true as 1).
    Walks `data` along the model's annotations, so every section is covered."""
    found: list[tuple[KeyPath, FieldInfo | None, bool]] = []

    def walk(value: object, ann: Any, loc: KeyPath, field: FieldInfo | None) -> None:
        cur = unwrap_annotation(ann)
        if isinstance(value, bool):
            if _numeric(ann):
                found.append((loc, field, value))
        elif is_model(cur) and isinstance(value, dict):
            for name, sub in cur.model_fields.items():
                if name in value:
                    walk(value[name], sub.annotation, (*loc, name), sub)
        elif is_list(cur) and isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, item_type(cur), (*loc, i), field)
        elif is_dict(cur) and isinstance(value, dict):
            for key, item in value.items():
                walk(item, item_type(cur), (*loc, str(key)), field)

    walk(data, model, (), None)
    problems: list[ConfigProblem] = []
    for loc, field, value in found:
        origin = next(
            (origins[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in origins), None
        )
        default = default_of(field)
        example = (
            f", e.g. {format_value(default)}"
            if isinstance(default, int | float) and not isinstance(default, bool)
            else ""
        )
        problems.append(
            ConfigProblem(
                render_path(loc),
                "must be a number",
                value,
                hint=f"write a number{example}",
                source=origin if origin is not None else source,
                line=None if origin is not None else node_line(root, loc, key=False),
            )
        )
    return problems


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
