"""SQLite specifics: pragmas, migrations, open errors, sharing across threads."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from pathlib import Path

import pytest

from infersight.core.records import RequestRecord
from infersight.settings import StoreSettings
from infersight.store.factory import open_store
from infersight.store.migrations import (
    SQLITE_MIGRATIONS,
    Migration,
    MigrationError,
    SchemaTooNewError,
    StoreOpenError,
    apply_migrations,
    current_version,
)
from infersight.store.sqlite import COLUMNS, SqliteStore

T0 = 1_700_000_000.0


def rec(i: int) -> RequestRecord:
    return RequestRecord(f"r{i}", T0 + i, "m", "u", "/v1/chat/completions", True, 200, 1.0)


def test_file_store_uses_wal_and_normal_sync(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    conn = store._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    store.close()


def test_schema_has_one_column_per_record_field_and_indexes() -> None:
    store = SqliteStore(":memory:")
    conn = store._connection()
    columns = [row[1] for row in conn.execute("PRAGMA table_info(requests)")]
    assert tuple(columns) == COLUMNS == tuple(f.name for f in dataclasses.fields(RequestRecord))
    indexes = {row[1]: row for row in conn.execute("PRAGMA index_list(requests)")}
    assert "requests_started_at" in indexes and "requests_source_started_at" in indexes
    cols = [r[2] for r in conn.execute("PRAGMA index_info(requests_source_started_at)")]
    assert cols == ["source", "started_at"]
    assert current_version(conn) == len(SQLITE_MIGRATIONS)
    store.close()


def test_window_queries_use_the_indexes() -> None:
    store = SqliteStore(":memory:")
    plan = store._connection().execute(
        "EXPLAIN QUERY PLAN SELECT e2e_s FROM requests WHERE source IN (?) "
        "AND started_at >= ? AND started_at < ?",
        ("user", 0, 1),
    )
    assert "requests_source_started_at" in " ".join(str(row) for row in plan)
    store.close()


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "deeper" / "s.db"
    with pytest.raises(StoreOpenError, match="does not exist") as info:
        SqliteStore(path)
    assert str(path) in str(info.value)
    assert "store.path" in str(info.value)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreOpenError, match=r"junk\.db"):
        SqliteStore(path)


def test_newer_schema_names_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (70, 'future', 0)")
    conn.commit()
    conn.close()
    latest = len(SQLITE_MIGRATIONS)
    with pytest.raises(SchemaTooNewError, match=rf"schema version 70.*up to {latest}") as info:
        SqliteStore(path)
    assert str(path) in str(info.value)


def test_later_migrations_apply_on_reopen_and_only_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    latest = len(SQLITE_MIGRATIONS)
    extra = Migration(latest + 1, "notes table", ("CREATE TABLE notes (id INTEGER PRIMARY KEY)",))
    for _ in range(2):  # the second open must not re-run CREATE TABLE notes
        SqliteStore(path, migrations=(*SQLITE_MIGRATIONS, extra)).close()
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT version, description FROM schema_version ORDER BY version")
    assert rows.fetchall() == [
        *((m.version, m.description) for m in SQLITE_MIGRATIONS),
        (latest + 1, "notes table"),
    ]
    conn.close()


def test_failed_migration_rolls_back_its_step(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    latest = len(SQLITE_MIGRATIONS)
    broken = Migration(latest + 1, "broken", ("CREATE TABLE half (x)", "THIS IS NOT SQL"))
    with pytest.raises(MigrationError, match=rf"migration {latest + 1} \(broken\).*rolled back"):
        SqliteStore(path, migrations=(*SQLITE_MIGRATIONS, broken))
    conn = sqlite3.connect(path)
    assert current_version(conn) == latest
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half" not in tables and "requests" in tables
    conn.close()


def test_migrations_must_be_numbered_in_order() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(ValueError, match="numbered"):
        apply_migrations(conn, (Migration(2, "skips one", ()),))


def test_closed_store_says_so() -> None:
    store = SqliteStore(":memory:")
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.count_records(0, 1)


def test_failed_write_rolls_back_the_whole_batch() -> None:
    store = SqliteStore(":memory:")
    bad = dataclasses.replace(rec(2), model=None)  # type: ignore[arg-type]  # NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        store.write_records([rec(1), bad])
    assert store.count_records(0, T0 * 2) == 0
    store.write_records([rec(1)])  # the connection is usable afterwards
    assert store.count_records(0, T0 * 2) == 1
    store.close()


def test_shared_between_a_writer_thread_and_a_reader(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for batch in range(50):
                store.write_records([rec(batch * 20 + i) for i in range(20)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    while thread.is_alive():
        store.summarize(T0, T0 + 2000)
        store.count_records(T0, T0 + 2000)
    thread.join()
    assert errors == []
    assert store.count_records(T0, T0 + 2000) == 1000
    store.close()


def test_open_store_factory(tmp_path: Path) -> None:
    store = open_store(StoreSettings(path=str(tmp_path / "f.db")))
    assert isinstance(store, SqliteStore)
    store.close()
