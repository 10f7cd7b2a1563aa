"""`infersight config init|check|show`: write a starter file, validate, print effective values.

Exit codes: 0 ok; 1 `init` refused to overwrite; 2 invalid configuration or unusable path.
Bad input never produces a traceback: the ConfigError text goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

from infersight.config_template import render_template
from infersight.settings import (
    DEFAULT_CONFIG_FILENAME,
    ConfigError,
    dump_settings,
    env_override_names,
    find_config_file,
    load_settings,
    place_problems,
)
from infersight.startup_checks import startup_problems


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """The shared `--config FILE` option (default: $INFERSIGHT_CONFIG, else ./infersight.yaml)."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help=f"YAML config file (default: $INFERSIGHT_CONFIG, else ./{DEFAULT_CONFIG_FILENAME} "
        "if present, else built-in defaults)",
    )


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "config",
        help="create, validate and show the configuration",
        description="Create, validate and show the configuration (YAML file + INFERSIGHT_* "
        "environment variables).",
    )
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION")
    parser.set_defaults(handler=_usage(parser))

    init = actions.add_parser(
        "init",
        help="write a commented starter config with every default",
        description="Write a commented starter config: every section and key with its default.",
    )
    init.add_argument(
        "--path", default=DEFAULT_CONFIG_FILENAME, help="file to write (default: %(default)s)"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=_init)

    check = actions.add_parser(
        "check",
        help="validate the config file and INFERSIGHT_* variables",
        description="Validate the config file and INFERSIGHT_* variables; exit 2 on errors.",
    )
    add_config_option(check)
    check.set_defaults(handler=_check)

    show = actions.add_parser(
        "show",
        help="print the effective config (file + environment overrides)",
        description="Print the effective config: defaults, then the file, then INFERSIGHT_* "
        "environment variables.",
    )
    add_config_option(show)
    show.add_argument("--format", choices=("yaml", "json"), default="yaml")
    show.set_defaults(handler=_show)


def _usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        del args
        parser.print_help(sys.stderr)
        return 2

    return handler


def _fail(err: ConfigError) -> int:
    print(err, file=sys.stderr)
    count = len(err.problems)
    print(
        f"configuration invalid: {count} problem{'s' if count != 1 else ''}",
        file=sys.stderr,
    )
    return 2


def _init(args: argparse.Namespace) -> int:
    path = Path(args.path)
    mode = "w" if args.force else "x"
    try:
        with path.open(mode, encoding="utf-8") as f:
            f.write(render_template())
    except FileExistsError:
        print(
            f"{path}: already exists; not overwriting it "
            "(pass --force to replace it, or --path to write elsewhere)",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        hint = (
            f"create the directory {path.parent} first"
            if isinstance(exc, FileNotFoundError)
            else "choose a path you can write to with --path"
        )
        print(f"{path}: cannot write: {exc.strerror or exc} ({hint})", file=sys.stderr)
        return 2
    print(f"wrote {path}; check it with: infersight config check --config {path}")
    return 0


def _env_note() -> str:
    names = env_override_names()
    return f" with environment overrides {', '.join(names)}" if names else ""


def _check(args: argparse.Namespace) -> int:
    try:
        file = find_config_file(args.config)
        settings = load_settings(args.config)
    except ConfigError as err:
        return _fail(err)
    # what `run` would find at start-up: notifiers' secret variables, sweep dataset files
    problems = startup_problems(settings)
    if problems:
        return _fail(ConfigError(place_problems(problems, file)))
    if file is None:
        print(
            f"OK: no {DEFAULT_CONFIG_FILENAME} here; the built-in defaults{_env_note()} are valid"
        )
    else:
        print(f"OK: {file} is valid{_env_note()}")
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        file = find_config_file(args.config)
        settings = load_settings(args.config)
    except ConfigError as err:
        return _fail(err)
    fmt = cast(Literal["yaml", "json"], args.format)
    if fmt == "yaml":
        layers = ["defaults"] + ([str(file)] if file is not None else [])
        names = env_override_names()
        if names:
            layers.append("environment (" + ", ".join(names) + ")")
        sys.stdout.write(f"# effective configuration: {' < '.join(layers)}\n")
    sys.stdout.write(dump_settings(settings, fmt))
    return 0
