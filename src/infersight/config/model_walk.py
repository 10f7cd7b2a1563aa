"""Walking a pydantic model by its annotations (generic: new sections need no changes here)."""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from infersight.config.errors import NO_VALUE, render_path


def unwrap_annotation(ann: Any) -> Any:
    """Strip Annotated[...] and `X | None` down to X."""
    while True:
        origin = get_origin(ann)
        if origin is Annotated:
            ann = get_args(ann)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(ann) if a is not type(None)]
            if len(members) != 1:
                return ann
            ann = members[0]
        else:
            return ann


def is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def is_list(ann: Any) -> bool:
    return get_origin(ann) in (list, tuple, set, frozenset, Sequence)


def is_dict(ann: Any) -> bool:
    return get_origin(ann) in (dict, Mapping)


def item_type(ann: Any) -> Any:
    """Element type of a list annotation, value type of a dict one (Any when unknown)."""
    args = get_args(ann)
    return args[-1] if args else Any


@dataclass(frozen=True)
class Located:
    path: str
    field: FieldInfo | None  # the field the last key names, if any
    owner: type[BaseModel] | None  # the model the last key was looked up in


def locate(loc: Sequence[str | int], root: type[BaseModel]) -> Located:
    """Follow a pydantic error location from `root` to the field it names."""
    ann: Any = root
    keys: list[str | int] = []
    field: FieldInfo | None = None
    owner: type[BaseModel] | None = None
    for key in loc:
        cur = unwrap_annotation(ann)
        field = None
        if get_origin(cur) in (Union, types.UnionType):  # pydantic names the union member
            ann = next((m for m in get_args(cur) if getattr(m, "__name__", None) == key), Any)
            continue
        if is_model(cur) and isinstance(key, str):
            owner = cur
            field = cur.model_fields.get(key)
            ann = field.annotation if field is not None else Any
        else:
            ann = item_type(cur) if (is_list(cur) or is_dict(cur)) else Any
        keys.append(key)
    return Located(render_path(keys), field, owner)


def bounds(field: FieldInfo | None) -> str:
    """A field's numeric limits in words: "between 0 and 65535", "greater than 0"."""
    lower = upper = ""
    low_num = high_num = None
    for m in field.metadata if field is not None else ():
        if isinstance(m, annotated_types.Gt):
            lower = f"greater than {m.gt}"
        elif isinstance(m, annotated_types.Ge):
            lower, low_num = f"at least {m.ge}", m.ge
        elif isinstance(m, annotated_types.Lt):
            upper = f"less than {m.lt}"
        elif isinstance(m, annotated_types.Le):
            upper, high_num = f"at most {m.le}", m.le
    if low_num is not None and high_num is not None:
        return f"between {low_num} and {high_num}"
    return " and ".join(p for p in (lower, upper) if p)


def constraint_text(field: FieldInfo) -> str:
    """Human summary of a field's limits: "between 0 and 65535", "one of: debug, info"."""
    parts = [bounds(field)]
    ann = unwrap_annotation(field.annotation)
    if get_origin(ann) is Literal:
        parts.append("one of: " + ", ".join(str(a) for a in get_args(ann)))
    for m in field.metadata:
        if isinstance(m, annotated_types.MinLen) and m.min_length > 0:
            parts.append(f"at least {m.min_length} entry")
    return "; ".join(p for p in parts if p)


def default_of(field: FieldInfo | None) -> object:
    """A field's plain default value, or NO_VALUE when it is required or built by a factory."""
    if field is None or field.is_required() or field.default_factory is not None:
        return NO_VALUE
    return field.default
