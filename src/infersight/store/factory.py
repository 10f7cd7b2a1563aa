"""Open the configured Store backend. Backends are listed in one explicit dict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from infersight.settings import StoreSettings
from infersight.store.base import Store
from infersight.store.sqlite import SqliteStore


def _open_sqlite(settings: StoreSettings) -> Store:
    return SqliteStore(settings.path, retention=settings.retention)


BACKENDS: Final[dict[str, Callable[[StoreSettings], Store]]] = {"sqlite": _open_sqlite}


def open_store(settings: StoreSettings) -> Store:
    """Open (creating and migrating as needed) the store `settings` describe.

    Raises StoreOpenError (infersight.store.migrations) with a message the user can act on.
    """
    opener = BACKENDS.get(settings.backend)
    if opener is None:
        raise ValueError(
            f"unknown store backend {settings.backend!r}; known: {', '.join(sorted(BACKENDS))}"
        )
    return opener(settings)
