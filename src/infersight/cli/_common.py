"""Shared CLI plumbing: load settings with user-facing errors, set up logging."""

from __future__ import annotations

import argparse
import logging
import sys

from rich.console import Console

from infersight.settings import ConfigError, Settings, apply_cli_overrides, load_settings


class CliError(Exception):
    """A problem to show the user as one message, with exit code 2."""


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML config file (default: ./infersight.yaml when present, else built-in defaults)",
    )


def settings_from_args(
    args: argparse.Namespace,
    *,
    upstream_url: str | None = None,
    port: int | None = None,
    host: str | None = None,
    db_path: str | None = None,
) -> Settings:
    try:
        settings = load_settings(getattr(args, "config", None))
        return apply_cli_overrides(
            settings, upstream_url=upstream_url, port=port, host=host, db_path=db_path
        )
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # uvicorn's own loggers stay quiet unless asked
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, logging.root.level))
    logging.getLogger("httpx").setLevel(logging.WARNING)


def fail(message: str) -> int:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False)
    return 2
