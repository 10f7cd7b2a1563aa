"""Shared CLI plumbing: load settings and open the store with user-facing errors, set up
logging."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from infersight.config.errors import SettingValueError
from infersight.config.validators import check_http_url
from infersight.settings import (
    ConfigError,
    Settings,
    StoreSettings,
    apply_cli_overrides,
    load_settings,
)
from infersight.store.base import Store
from infersight.store.factory import open_store
from infersight.store.migrations import StoreOpenError

if TYPE_CHECKING:
    from infersight.quality.scorers.base import Embed


class CliError(Exception):
    """A problem to show the user as one message; exit code 2 (bad input) unless told."""

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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


@contextmanager
def opened_store(settings: StoreSettings, *, hint: str | None) -> Iterator[Store]:
    """The store `settings` name, open for the `with` block and closed after it.

    `hint` says what to do when the database file does not exist: the error is then "no
    database at PATH. {hint}" and nothing is created. With `hint=None` a missing database is
    created (commands that write). Raises CliError with exit code 1 when there is no database
    or the store cannot be opened (StoreOpenError's message).
    """
    path = settings.path
    if hint is not None and path != ":memory:" and not Path(path).expanduser().exists():
        raise CliError(f"no database at {path!r}. {hint}", exit_code=1)
    try:
        store = open_store(settings)
    except StoreOpenError as exc:
        raise CliError(str(exc), exit_code=1) from None
    try:
        yield store
    finally:
        store.close()


def checked_url(flag: str, value: str, *, example: str = "http://127.0.0.1:8000/v1") -> str:
    """`value` (stripped) when it is an http(s) URL with a host and a valid port; otherwise
    CliError (exit 2) "FLAG: what is wrong, got VALUE (how to fix it)"."""
    try:
        return check_http_url(value, example=example, port_example="http://host:8000/v1")
    except SettingValueError as exc:
        raise CliError(f"{flag}: {exc}, got {value!r} ({exc.hint})") from None


def default_embed() -> Embed:
    """The packaged sentence-embedding model's encoder, for commands that score answers.

    Imported when called: the model is an optional, heavy dependency, and a missing one raises
    EmbedderUnavailable with the install command (commands report it and exit 1).
    """
    from infersight.quality.embedder import get_embedder

    return get_embedder().encode


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # uvicorn's own loggers stay quiet unless asked
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, logging.root.level))
    logging.getLogger("httpx").setLevel(logging.WARNING)


def fail(message: str, *, exit_code: int = 2) -> int:
    """The error on stderr; returns `exit_code` (2, a usage error, unless told)."""
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False)
    return exit_code
