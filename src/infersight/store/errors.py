"""Telling a store that is unavailable (locked, full, gone) from a bug, and what to check."""

from __future__ import annotations

# SQLite result codes (and their extended forms, SQLITE_IOERR_WRITE, ...) that mean "not now"
# rather than "never": the same statement can work later. A syntax error, a missing column or
# a file that is not a database also raise OperationalError/DatabaseError, and are bugs.
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_NOMEM", "SQLITE_READONLY", "SQLITE_IOERR",
    "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_PROTOCOL",
)  # fmt: skip


def store_unavailable(exc: BaseException) -> bool:
    """The store could not do its work at the moment (locked, full, disk error, gone)."""
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str):
        return name.startswith(_SQLITE_UNAVAILABLE)
    # a client-server driver (psycopg): OperationalError is the connection's trouble
    return type(exc).__name__ == "OperationalError"


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
