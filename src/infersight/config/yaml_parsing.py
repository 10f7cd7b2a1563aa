"""YAML config text to a mapping, plus its node tree so problems can name a line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from infersight.config.errors import (
    ConfigError,
    ConfigProblem,
    KeyPath,
    format_value,
    render_path,
)


def node_line(root: yaml.Node | None, loc: Sequence[str | int], *, key: bool) -> int | None:
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


def duplicate_keys(
    node: yaml.Node, source: str, path: KeyPath, seen: set[int]
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
            problems += duplicate_keys(v, source, (*path, name if name else "?"), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += duplicate_keys(item, source, (*path, i), seen)
    return problems


def _yaml_hint(problem: str) -> str:
    if "\\t" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "quote a value that contains ': ', or fix this line's indentation"
    return "check the indentation and quoting of this line and the one above it"


def _char_name(character: object) -> str:
    return f"U+{character:04X}" if isinstance(character, int) else repr(character)


def parse_yaml(text: str, *, source: str) -> tuple[dict[str, Any], yaml.Node | None]:
    """Parse config text into a mapping (empty for an empty file) and its node tree (for line
    numbers). Syntax errors, duplicate keys and a non-mapping top level raise ConfigError."""
    try:
        loader = yaml.SafeLoader(text)  # checks every character first
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ConfigError.single(
            f"invalid YAML: unprintable character {_char_name(exc.character)} is not allowed",
            source=source,
            hint="delete it; it may be invisible, so retype the line",
            line=line,
            column=column,
        ) from exc
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, None
        duplicates = duplicate_keys(node, source, (), set())
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
