"""Telling a store that is unavailable (locked, full, gone) from a bug, and what to check."""

from __future__ import annotations

# Errors of the store's driver that mean "not now" rather than "never": the same call can
# work later (sqlite3 and psycopg both name them so).
_UNAVAILABLE = frozenset({"OperationalError", "DatabaseError"})


def store_unavailable(exc: BaseException) -> bool:
    """The store could not do its work at the moment (locked, full, disconnected)."""
    return type(exc).__name__ in _UNAVAILABLE


def store_hint(exc: BaseException) -> str:
    """What to check, for a store error that is not about the data."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return (
            "another process holds the store locked (a backup, an sqlite3 shell, a second "
            "infersight on the same file?)"
        )
    if "full" in text or "space" in text:
        return "check the free disk space where store.path is"
    if "readonly" in text or "read-only" in text or "permission" in text:
        return "check that store.path and its directory are writable"
    return "check the store (disk space, permissions, store.path)"
