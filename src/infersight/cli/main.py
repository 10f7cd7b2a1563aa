"""`infersight` entry point. Command modules are listed explicitly, never discovered."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from infersight import __version__
from infersight.cli import (
    advise_cmd,
    alerts_cmd,
    calibrate_cmd,
    config_cmd,
    eval_cmd,
    export_cmd,
    loadtest_cmd,
    query_cmd,
    report_cmd,
    run_cmd,
    sim_cmd,
    stats_cmd,
    status_cmd,
)

# Each module exposes register(subparsers); the parser it adds sets `handler`.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    run_cmd,
    sim_cmd,
    stats_cmd,
    query_cmd,
    status_cmd,
    advise_cmd,
    alerts_cmd,
    loadtest_cmd,
    eval_cmd,
    report_cmd,
    calibrate_cmd,
    config_cmd,
    export_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infersight",
        description="Observability for LLM inference: serving telemetry and response quality.",
    )
    parser.add_argument("--version", action="version", version=f"infersight {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def _innermost(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The (sub)parser of the deepest command named on the command line."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if not subs or name is None or name not in subs[0].choices:
            return parser
        parser = subs[0].choices[name]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # the usage of the command that was given them, not the top-level one
        _innermost(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
