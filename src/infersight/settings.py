"""One pydantic model of the whole config: a YAML file plus INFERSIGHT_* environment overrides.

Precedence, lowest to highest: field defaults < YAML file < ``INFERSIGHT_*`` environment
variables < command-line flags (:func:`apply_cli_overrides`). Every failure is a
:class:`ConfigError` listing each problem with where it is (``file:line`` or the environment
variable), the dotted path of the setting, the bad value and how to fix it.

Every field carries a one-line ``description``: ``infersight config init`` writes it as the
comment above the key, and a unit test fails when a field has none.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

import annotated_types
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails


class SettingValueError(ValueError):
    """Raise from a field validator to give the user a fix hint along with the message."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GatewaySettings(_Section):
    """The OpenAI-compatible proxy that clients send their requests to."""

    host: str = Field(
        default="127.0.0.1",
        description="Interface to listen on; 0.0.0.0 listens on all interfaces.",
    )
    port: int = Field(
        default=8400, ge=0, le=65535, description="TCP port to listen on; 0 picks a free one."
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest request body accepted, in bytes."
    )
    client_label_header: str = Field(
        default="x-infersight-client",
        description="Header that names the client; when absent the label is a hash of the API key.",
    )
    capture_text: bool = Field(
        default=False, description="Store prompt and response text with each record (off: privacy)."
    )
    connect_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait to connect to the upstream, in seconds."
    )
    first_byte_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Longest wait for the upstream's response headers / first byte, in seconds.",
    )
    read_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Longest silence between two reads of a streaming body, in seconds.",
    )


class UpstreamSettings(_Section):
    """One LLM server behind the gateway."""

    name: str = Field(default="default", description="Name of this upstream in labels and logs.")
    url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL of the upstream server (http or https).",
    )
    kind: Literal["openai"] = Field(default="openai", description="API the upstream speaks.")
    models: list[str] = Field(
        default_factory=list,
        description="Models served by this upstream; empty means any model (the default route).",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        example = "write a full URL such as http://127.0.0.1:8000"
        v = v.strip()
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https"):
            raise SettingValueError("must start with http:// or https://", hint=example)
        if not parts.hostname:
            raise SettingValueError("has no host name", hint=example)
        try:
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            raise SettingValueError(
                "has an invalid port", hint="use a port between 1 and 65535, as in http://host:8000"
            ) from None
        return v.rstrip("/")


class WriterSettings(_Section):
    """Batching of writes to the store."""

    batch_size: int = Field(
        default=500, gt=0, description="Most records written to the store at once."
    )
    flush_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="Longest time a record waits before its batch is written, in seconds.",
    )
    queue_size: int = Field(
        default=100_000, gt=0, description="Records the in-memory write queue holds at most."
    )


class StoreSettings(_Section):
    """Where records, metrics and evaluation results are kept."""

    backend: Literal["sqlite"] = Field(default="sqlite", description="Storage backend.")
    path: str = Field(
        default="infersight.db",
        description="SQLite database file, relative to the working directory.",
    )
    writer: WriterSettings = Field(
        default_factory=WriterSettings, description="Batching of writes to the store."
    )


class DemoSettings(_Section):
    """`infersight demo`: the embedded local model and its built-in traffic generator."""

    rate_per_s: float = Field(
        default=0.5,
        gt=0,
        description="Requests per second the demo's built-in traffic generator sends.",
    )
    concurrency: int = Field(default=2, gt=0, description="Most demo requests in flight at once.")
    max_tokens: int = Field(default=48, gt=0, description="max_tokens of each demo request.")
    model_threads: int = Field(
        default=2, gt=0, description="CPU threads the embedded local model uses."
    )


class Settings(_Section):
    """The whole configuration."""

    gateway: GatewaySettings = Field(
        default_factory=GatewaySettings,
        description="The OpenAI-compatible proxy that clients send their requests to.",
    )
    upstreams: list[UpstreamSettings] = Field(
        default_factory=lambda: [UpstreamSettings()],
        min_length=1,
        description="LLM servers behind the gateway (at least one).",
    )
    store: StoreSettings = Field(
        default_factory=StoreSettings,
        description="Where records, metrics and evaluation results are kept.",
    )
    demo: DemoSettings = Field(
        default_factory=DemoSettings, description="Settings of `infersight demo`."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Logging verbosity."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v


# ---------------------------------------------------------------------------------------------
# Errors

DEFAULT_CONFIG_FILENAME: Final = "infersight.yaml"
ENV_PREFIX: Final = "INFERSIGHT_"
CONFIG_PATH_ENV_VAR: Final = "INFERSIGHT_CONFIG"
# Variables with the prefix that are not settings, so never reported as unknown.
NON_SETTING_ENV_VARS: Final = frozenset({CONFIG_PATH_ENV_VAR})
# Shortcut variables (name after the prefix) and the setting each one sets.
ENV_SHORTCUTS: Final[Mapping[str, tuple[str | int, ...]]] = {
    "UPSTREAM_URL": ("upstreams", 0, "url")
}

_Path = tuple[str | int, ...]


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


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------------------------------------
# Walking the model by annotation (generic: new sections need no changes here)


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
class _Located:
    path: str
    field: FieldInfo | None  # the field the last key names, if any
    owner: type[BaseModel] | None  # the model the last key was looked up in


def _locate(loc: Sequence[str | int], root: type[BaseModel] = Settings) -> _Located:
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
    return _Located(render_path(keys), field, owner)


def _bounds(field: FieldInfo | None) -> str:
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
    parts = [_bounds(field)]
    ann = unwrap_annotation(field.annotation)
    if get_origin(ann) is Literal:
        parts.append("one of: " + ", ".join(str(a) for a in get_args(ann)))
    for m in field.metadata:
        if isinstance(m, annotated_types.MinLen) and m.min_length > 0:
            parts.append(f"at least {m.min_length} entry")
    return "; ".join(p for p in parts if p)


def _default_of(field: FieldInfo | None) -> object:
    if field is None or field.is_required() or field.default_factory is not None:
        return NO_VALUE
    return field.default


def _describe(err: ErrorDetails, at: _Located) -> tuple[str, str, bool]:
    """(message, hint, show the input value) for one pydantic error."""
    kind, ctx, field = err["type"], err.get("ctx") or {}, at.field
    default = _default_of(field)
    example = f", e.g. {format_value(default)}" if default is not NO_VALUE else ""
    bounds = _bounds(field)
    range_hint = f"set a value {bounds}" if bounds else ""
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
        if choices and isinstance(err["input"], str) and _did_you_mean(err["input"], choices):
            hint = _did_you_mean(err["input"], choices).strip(" ()")
        return f"must be {ctx.get('expected', 'one of the allowed values')}", hint, True
    if kind == "missing":
        return "is required", "add this key", False
    if kind == "extra_forbidden":
        key = str(err["loc"][-1]) if err["loc"] else "?"
        valid = list(at.owner.model_fields) if at.owner is not None else []
        message = f"unknown key {key!r}{_did_you_mean(key, valid)}"
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
        return message, getattr(error, "hint", ""), True
    message = err["msg"]
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    return message, range_hint, kind != "missing"


# ---------------------------------------------------------------------------------------------
# YAML


def _node_line(root: yaml.Node | None, loc: Sequence[str | int], *, key: bool) -> int | None:
    """1-based line of the deepest node of `loc` present in the YAML tree (the key node itself
    when `key`, for unknown keys)."""
    node, line = root, None
    for i, part in enumerate(loc):
        if node is None:
            break
        line = node.start_mark.line + 1
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    nxt = k if key and i == len(loc) - 1 else v
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            nxt = node.value[part] if 0 <= part < len(node.value) else None
        node = nxt
    return node.start_mark.line + 1 if node is not None else line


def _duplicate_keys(
    node: yaml.Node, source: str, path: _Path, seen: set[int]
) -> list[ConfigProblem]:
    if id(node) in seen:
        return []
    seen.add(id(node))
    problems: list[ConfigProblem] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for k, v in node.value:
            name = k.value if isinstance(k, yaml.ScalarNode) else None
            if name is not None and name != "<<":
                line = k.start_mark.line + 1
                if name in first:
                    problems.append(
                        ConfigProblem(
                            render_path((*path, name)),
                            f"duplicate key {name!r} (first on line {first[name]})",
                            hint="keep one of them",
                            source=source,
                            line=line,
                        )
                    )
                first.setdefault(name, line)
            problems += _duplicate_keys(v, source, (*path, name if name else "?"), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, source, (*path, i), seen)
    return problems


def _yaml_hint(problem: str) -> str:
    if "\\t" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "quote a value that contains ': ', or fix this line's indentation"
    return "check the indentation and quoting of this line and the one above it"


def parse_yaml(text: str, *, source: str) -> tuple[dict[str, Any], yaml.Node | None]:
    """Parse config text into a mapping (empty for an empty file) and its node tree (for line
    numbers). Syntax errors, duplicate keys and a non-mapping top level raise ConfigError."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, None
        duplicates = _duplicate_keys(node, source, (), set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable"
        if problem == "expected a single document in the stream":
            problem += " (remove the '---' separator: one file holds one configuration)"
        raise ConfigError.single(
            f"invalid YAML: {problem}",
            source=source,
            hint=_yaml_hint(problem),
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError.single(f"invalid YAML: {exc}", source=source) from exc
    finally:
        loader.dispose()
    if duplicates:
        raise ConfigError(duplicates)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({format_value(data)})"
        raise ConfigError.single(
            f"the top level must be a mapping of sections such as 'gateway:', got {kind}",
            source=source,
            hint="start each line at the left margin with a section name, as "
            "`infersight config init` writes",
            line=node.start_mark.line + 1,
        )
    return data, node


# ---------------------------------------------------------------------------------------------
# Assembling: file + environment + flags


class _BadPath(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _resolve(segments: Sequence[str], *, fold_case: bool) -> tuple[_Path, Any]:
    """Walk Settings along field names / list indices / dict keys; (path, annotation at end)."""
    ann: Any = Settings
    path: list[str | int] = []
    for seg in segments:
        cur = unwrap_annotation(ann)
        where = f"'{render_path(path)}'" if path else "the top level"
        if is_model(cur):
            fields: dict[str, FieldInfo] = cur.model_fields
            names = {(n.lower() if fold_case else n): n for n in fields}
            wanted = seg.lower() if fold_case else seg
            if wanted not in names:
                raise _BadPath(
                    f"{where} has no key {wanted!r}{_did_you_mean(wanted, list(names))}",
                    "keys there: " + ", ".join(fields),
                )
            path.append(names[wanted])
            ann = fields[names[wanted]].annotation
        elif is_list(cur):
            if not seg.isdigit():
                raise _BadPath(f"{where} is a list; expected an entry number, got {seg!r}")
            path.append(int(seg))
            ann = item_type(cur)
        elif is_dict(cur):
            path.append(seg)
            ann = item_type(cur)
        else:
            raise _BadPath(f"{where} is a single value; it has no key {seg!r}")
    return tuple(path), ann


def _is_text(ann: Any) -> bool:
    ann = unwrap_annotation(ann)
    if get_origin(ann) is Literal:
        return all(isinstance(a, str) for a in get_args(ann))
    return ann is str


def _child(container: Any, key: str | int) -> Any:
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, list) and isinstance(key, int) and key < len(container):
        return container[key]
    return None


def _set_path(data: dict[str, Any], path: _Path, value: object, defaults: Any) -> dict[str, Any]:
    """A copy of `data` with `path` set to `value`. A list the data lacks starts as its default
    (so INFERSIGHT_UPSTREAMS__0__NAME edits the default upstream); other containers start empty."""
    out = copy.deepcopy(data)
    cur: Any = out
    default: Any = defaults
    for i, key in enumerate(path):
        if isinstance(key, int):
            size = len(cur) if isinstance(cur, list) else 0
            if not isinstance(cur, list) or key > size:
                where = render_path(path[:i])
                entries = f"{size} entr{'y' if size == 1 else 'ies'}"
                change = "0" if size == 1 else f"0 to {size - 1}"
                raise _BadPath(
                    f"'{where}' has {entries}; entry {key} is past the end",
                    f"use {change} to change an entry, or {size} to add one"
                    if size
                    else "use 0 to add the first entry",
                )
            if key == size:
                cur.append(None)
        if i == len(path) - 1:
            cur[key] = value
            break
        kind: type = list if isinstance(path[i + 1], int) else dict
        default = _child(default, key)
        if not isinstance(_child(cur, key), kind):
            seed = default if kind is list and isinstance(default, list) else kind()
            cur[key] = copy.deepcopy(seed)
        cur = cur[key]
    return out


def _drop_empty(data: Any, ann: Any) -> None:
    """A section left empty (`gateway:` with every key commented out) keeps its defaults."""
    ann = unwrap_annotation(ann)
    if is_model(ann) and isinstance(data, dict):
        for name, field in ann.model_fields.items():
            if name not in data:
                continue
            target = unwrap_annotation(field.annotation)
            nullable = target is not field.annotation and type(None) in get_args(field.annotation)
            structured = is_model(target) or is_list(target) or is_dict(target)
            if data[name] is None and structured and not nullable:
                del data[name]
            else:
                _drop_empty(data[name], target)
    elif is_list(ann) and isinstance(data, list):
        for item in data:
            _drop_empty(item, item_type(ann))
    elif is_dict(ann) and isinstance(data, dict):
        for value in data.values():
            _drop_empty(value, item_type(ann))


def _env_label(var: str) -> str:
    return f"environment variable {var}"


def env_override_names(env: Mapping[str, str] | None = None) -> list[str]:
    """The variables in `env` (default os.environ) that load_settings reads as settings."""
    environ = os.environ if env is None else env
    return sorted(
        k
        for k in environ
        if k.upper().startswith(ENV_PREFIX) and k.upper() not in NON_SETTING_ENV_VARS
    )


def _env_overrides(
    env: Mapping[str, str],
) -> tuple[list[tuple[_Path, object, str]], list[ConfigProblem]]:
    overrides: list[tuple[_Path, object, str]] = []
    problems: list[ConfigProblem] = []
    for var in env_override_names(env):
        raw = env[var]
        name = var.upper().removeprefix(ENV_PREFIX)
        try:
            if name in ENV_SHORTCUTS:
                path: _Path = ENV_SHORTCUTS[name]
                ann: Any = str
            else:
                path, ann = _resolve(name.split("__"), fold_case=True)
        except _BadPath as exc:
            problems.append(
                ConfigProblem(
                    "",
                    f"names no setting: {exc.message}",
                    hint="unset it, or name a setting as INFERSIGHT_<SECTION>__<KEY>, "
                    "e.g. INFERSIGHT_GATEWAY__PORT",
                    source=_env_label(var),
                )
            )
            continue
        if _is_text(ann):
            overrides.append((path, raw, var))
            continue
        try:
            overrides.append((path, yaml.safe_load(raw), var))
        except yaml.YAMLError as exc:
            problems.append(
                ConfigProblem(
                    render_path(path),
                    f"not valid YAML/JSON ({getattr(exc, 'problem', None) or exc})",
                    value=raw,
                    hint='in the shell, wrap JSON in single quotes: \'[{"url": "http://x:8000"}]\'',
                    source=_env_label(var),
                )
            )
    return overrides, problems


def _validate(
    data: dict[str, Any], *, source: str, origins: Mapping[_Path, str], root: yaml.Node | None
) -> Settings:
    _drop_empty(data, Settings)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems: list[ConfigProblem] = []
        for err in exc.errors():
            loc = err["loc"]
            at = _locate(loc)
            message, hint, show = _describe(err, at)
            origin = next(
                (origins[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in origins), None
            )
            line = None
            if origin is None:
                line = _node_line(root, loc, key=err["type"] == "extra_forbidden")
            problem = ConfigProblem(
                at.path,
                message,
                err["input"] if show else NO_VALUE,
                hint,
                origin if origin is not None else source,
                line,
            )
            if problem not in problems:
                problems.append(problem)
        problems.sort(key=lambda p: (p.line is None, p.line or 0))  # stable: file order first
        raise ConfigError(problems) from exc


def _assemble(
    data: dict[str, Any],
    overrides: Sequence[tuple[_Path, object, str]],
    *,
    source: str,
    root: yaml.Node | None,
    problems: Sequence[ConfigProblem] = (),
) -> Settings:
    """Apply (path, value, origin label) overrides, shallowest first, then validate."""
    found = list(problems)
    origins: dict[_Path, str] = {}
    defaults = Settings().model_dump(mode="json")
    for path, value, label in sorted(overrides, key=lambda o: len(o[0])):
        try:
            data = _set_path(data, path, value, defaults)
        except _BadPath as exc:
            found.append(ConfigProblem(render_path(path), exc.message, NO_VALUE, exc.hint, label))
        else:
            origins[path] = label
    try:
        settings = _validate(data, source=source, origins=origins, root=root)
    except ConfigError as exc:
        raise ConfigError([*found, *exc.problems]) from exc
    if found:
        raise ConfigError(found)
    return settings


def find_config_file(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Path | None:
    """The config file to read: `path`, else $INFERSIGHT_CONFIG, else ./infersight.yaml if it
    exists, else None (pure defaults). A named file that does not exist raises ConfigError."""
    environ = os.environ if env is None else env
    named_by = "" if path is not None else None
    if path is None:
        var = next((k for k in environ if k.upper() == CONFIG_PATH_ENV_VAR), None)
        if var is None:
            default = Path(DEFAULT_CONFIG_FILENAME)
            return default if default.is_file() else None
        path, named_by = environ[var], _env_label(var)
    file = Path(path)
    if file.is_dir():
        raise ConfigError.single(
            "is a directory, not a config file",
            source=named_by or str(file),
            value=str(file) if named_by else NO_VALUE,
            hint=f"name a YAML file, e.g. {file / DEFAULT_CONFIG_FILENAME}",
        )
    if not file.exists():
        raise ConfigError.single(
            f"config file {str(file)!r} not found" if named_by else "config file not found",
            source=named_by or str(file),
            hint=f"create one with `infersight config init --path {file}`, "
            "or leave the option out to use the defaults",
        )
    return file


def load_settings(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Settings:
    """Defaults < YAML file (see find_config_file) < INFERSIGHT_* variables of `env`
    (default os.environ). Raises ConfigError listing every problem found."""
    environ = os.environ if env is None else env
    file = find_config_file(path, env=environ)
    data: dict[str, Any] = {}
    root: yaml.Node | None = None
    source = ""
    if file is not None:
        source = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError.single(
                f"not UTF-8 text (byte {exc.start})", source=source, hint="save it as UTF-8"
            ) from exc
        except OSError as exc:
            raise ConfigError.single(
                f"cannot read: {exc.strerror or exc}", source=source, hint="check its permissions"
            ) from exc
        data, root = parse_yaml(text, source=source)
    overrides, problems = _env_overrides(environ)
    labelled = [(p, v, _env_label(var)) for p, v, var in overrides]
    return _assemble(data, labelled, source=source, root=root, problems=problems)


def settings_from_mapping(
    data: Mapping[str, Any], *, env: Mapping[str, str] | None = None, source: str = ""
) -> Settings:
    """Like load_settings, from an already-parsed mapping; env={} means no overrides."""
    overrides, problems = _env_overrides({} if env is None else env)
    labelled = [(p, v, _env_label(var)) for p, v, var in overrides]
    plain = json.loads(json.dumps(dict(data), default=str))  # a deep copy we may edit
    return _assemble(plain, labelled, source=source, root=None, problems=problems)


def apply_overrides(
    settings: Settings, overrides: Mapping[str, object], *, source: str = "override"
) -> Settings:
    """A copy of `settings` with values set by dotted path ({"gateway.port": 9000,
    "upstreams[0].url": "http://x:8000"}), validated; problems are labelled with `source`."""
    items: list[tuple[_Path, object, str]] = []
    problems: list[ConfigProblem] = []
    for dotted, value in overrides.items():
        segments = dotted.replace("[", ".").replace("]", "").split(".")
        try:
            path, _ = _resolve(segments, fold_case=False)
        except _BadPath as exc:
            problems.append(
                ConfigProblem(dotted, f"no such setting: {exc.message}", NO_VALUE, exc.hint, source)
            )
            continue
        items.append((path, value, source))
    return _assemble(settings.model_dump(), items, source=source, root=None, problems=problems)


def apply_cli_overrides(
    settings: Settings,
    *,
    upstream_url: str | None = None,
    port: int | None = None,
    host: str | None = None,
    db_path: str | os.PathLike[str] | None = None,
) -> Settings:
    """A copy of `settings` with command-line flags applied (flags beat env and file).
    upstream_url sets upstreams[0].url; db_path sets store.path. None means "not given"."""
    items: list[tuple[_Path, object, str]] = []
    for path, value, flag in (
        (("upstreams", 0, "url"), upstream_url, "--upstream-url"),
        (("gateway", "port"), port, "--port"),
        (("gateway", "host"), host, "--host"),
        (("store", "path"), None if db_path is None else os.fspath(db_path), "--db-path"),
    ):
        if value is not None:
            items.append((path, value, f"command-line option {flag}"))
    if not items:
        return settings
    return _assemble(settings.model_dump(), items, source="command line", root=None)


def dump_settings(settings: BaseModel, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """The settings as YAML (keys in model order) or indented JSON, ending in a newline."""
    data = settings.model_dump(mode="json")
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
