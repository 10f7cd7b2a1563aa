"""Assembling Settings: defaults < YAML file < INFERSIGHT_* environment < command-line flags.

Every failure is a ConfigError listing each problem with where it is (``file:line`` or the
environment variable), the dotted path of the setting, the bad value and how to fix it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from infersight.config.errors import (
    NO_VALUE,
    ConfigError,
    ConfigProblem,
    KeyPath,
    did_you_mean,
    render_path,
)
from infersight.config.model_walk import is_dict, is_list, is_model, item_type, unwrap_annotation
from infersight.config.validation import bool_problems, validation_problems
from infersight.config.yaml_parsing import node_line, parse_yaml

if TYPE_CHECKING:
    from infersight.settings import Settings

DEFAULT_CONFIG_FILENAME: Final = "infersight.yaml"
ENV_PREFIX: Final = "INFERSIGHT_"
CONFIG_PATH_ENV_VAR: Final = "INFERSIGHT_CONFIG"
# Variables with the prefix that are not settings, so never reported as unknown.
NON_SETTING_ENV_VARS: Final = frozenset({CONFIG_PATH_ENV_VAR})
# Shortcut variables (name after the prefix) and the setting each one sets.
ENV_SHORTCUTS: Final[Mapping[str, tuple[str | int, ...]]] = {
    "UPSTREAM_URL": ("upstreams", 0, "url")
}


def _model() -> type[Settings]:
    """The Settings model. Imported on use, not at the top: infersight.settings holds the
    models and re-exports this module's functions, so a top-level import would be circular."""
    from infersight.settings import Settings

    return Settings


class _BadPath(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _resolve(segments: Sequence[str], *, fold_case: bool) -> tuple[KeyPath, Any]:
    """Walk Settings along field names / list indices / dict keys; (path, annotation at end)."""
    ann: Any = _model()
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
                    f"{where} has no key {wanted!r}{did_you_mean(wanted, list(names))}",
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


def _set_path(data: dict[str, Any], path: KeyPath, value: object, defaults: Any) -> dict[str, Any]:
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
) -> tuple[list[tuple[KeyPath, object, str]], list[ConfigProblem]]:
    overrides: list[tuple[KeyPath, object, str]] = []
    problems: list[ConfigProblem] = []
    for var in env_override_names(env):
        raw = env[var]
        name = var.upper().removeprefix(ENV_PREFIX)
        try:
            if name in ENV_SHORTCUTS:
                path: KeyPath = ENV_SHORTCUTS[name]
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
    model: type[Settings],
    data: dict[str, Any],
    *,
    source: str,
    origins: Mapping[KeyPath, str],
    root: yaml.Node | None,
) -> Settings:
    _drop_empty(data, model)
    booleans = bool_problems(data, model, source=source, origins=origins, root=root)
    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, model=model, source=source, origins=origins, root=root)
        paths = {p.path for p in booleans}
        rest = [p for p in problems if p.path not in paths]
        raise ConfigError(
            sorted([*booleans, *rest], key=lambda p: (p.line is None, p.line or 0))
        ) from exc
    if booleans:
        raise ConfigError(booleans)
    return settings


def _assemble(
    data: dict[str, Any],
    overrides: Sequence[tuple[KeyPath, object, str]],
    *,
    source: str,
    root: yaml.Node | None,
    problems: Sequence[ConfigProblem] = (),
) -> Settings:
    """Apply (path, value, origin label) overrides, shallowest first, then validate."""
    found = list(problems)
    origins: dict[KeyPath, str] = {}
    model = _model()
    defaults = model().model_dump(mode="json")
    for path, value, label in sorted(overrides, key=lambda o: len(o[0])):
        try:
            data = _set_path(data, path, value, defaults)
        except _BadPath as exc:
            found.append(ConfigProblem(render_path(path), exc.message, NO_VALUE, exc.hint, label))
        else:
            origins[path] = label
    try:
        settings = _validate(model, data, source=source, origins=origins, root=root)
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


def parse_path(path: str) -> KeyPath:
    """ "alerting.notifiers[0].url_env" -> ("alerting", "notifiers", 0, "url_env")."""
    return tuple(
        int(index) if index else key for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)
    )


def place_problems(
    problems: Sequence[ConfigProblem], file: Path | None
) -> tuple[ConfigProblem, ...]:
    """`problems` found after loading (by dotted path, with no source), each given the line of
    its setting in `file` when the file writes that setting; the others are left as they are
    (defaults, or set by an environment variable)."""
    root: yaml.Node | None = None
    if file is not None:
        try:
            _, root = parse_yaml(file.read_text(encoding="utf-8"), source=str(file))
        except (OSError, UnicodeDecodeError, ConfigError):
            root = None
    placed: list[ConfigProblem] = []
    for problem in problems:
        loc = parse_path(problem.path)
        written = isinstance(root, yaml.MappingNode) and any(
            isinstance(k, yaml.ScalarNode) and loc and k.value == str(loc[0]) for k, _ in root.value
        )
        if written and not problem.source:
            line = node_line(root, loc, key=False)
            problem = dataclasses.replace(problem, source=str(file), line=line)
        placed.append(problem)
    return tuple(placed)


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
    items: list[tuple[KeyPath, object, str]] = []
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
    items: list[tuple[KeyPath, object, str]] = []
    for path, value, flag in (
        (("upstreams", 0, "url"), upstream_url, "--upstream"),
        (("gateway", "port"), port, "--port"),
        (("gateway", "host"), host, "--host"),
        (("store", "path"), None if db_path is None else os.fspath(db_path), "--db"),
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
