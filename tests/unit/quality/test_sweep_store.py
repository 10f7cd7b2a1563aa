"""The sweeps / sweep_items tables (migration 5) on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from infersight.store.sqlite import SqliteStore
from infersight.store.sqlite_quality import SweepItemRow, SweepRow


def sweep(
    sweep_id: str,
    started_at: float,
    *,
    dataset: str = "d",
    name: str = "n",
    status: str = "completed",
) -> SweepRow:
    return SweepRow(
        sweep_id,
        name,
        dataset,
        "m",
        "http://x/v1",
        started_at,
        started_at + 5,
        status,
        2,
        1,
        json.dumps({"k": 1}),
    )


def item(sweep_id: str, item_id: str, position: int) -> SweepItemRow:
    return SweepItemRow(
        sweep_id, item_id, position, '["t"]', "q?", '["a"]', "ok", None, "answer", "[]", 0.1,
        json.dumps({"accuracy": {"score": 1.0, "passed": True, "error": None}}),
    )  # fmt: skip


def test_write_read_list_previous_prune(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "q.db")
    q = store.quality
    q.write_sweep(sweep("s1", 100.0), [item("s1", "b", 1), item("s1", "a", 0)])
    q.write_sweep(sweep("s2", 200.0), [item("s2", "a", 0)])
    q.write_sweep(sweep("s3", 300.0, status="failed"), [])
    q.write_sweep(sweep("o1", 250.0, dataset="other", name="o"), [])
    assert q.get_sweep("s1") == sweep("s1", 100.0)
    assert q.get_sweep("nope") is None
    assert q.get_sweep("s1").summary_json() == {"k": 1}  # type: ignore[union-attr]
    assert [i.item_id for i in q.sweep_items("s1")] == ["a", "b"]  # dataset order
    assert [s.id for s in q.list_sweeps(0, 1000)] == ["s3", "o1", "s2", "s1"]
    assert [s.id for s in q.list_sweeps(0, 1000, dataset="d", limit=2)] == ["s3", "s2"]
    assert [s.id for s in q.list_sweeps(150, 260, name="n")] == ["s2"]
    # the newest completed sweep of the dataset before a time (failed ones are skipped)
    assert q.previous_sweep("d", 1000).id == "s2"  # type: ignore[union-attr]
    assert q.previous_sweep("d", 200.0).id == "s1"  # type: ignore[union-attr]
    assert q.previous_sweep("d", 100.0) is None
    assert q.previous_sweep("d", 1000, model="other-model") is None
    # rewriting a sweep replaces its items
    q.write_sweep(sweep("s1", 100.0), [item("s1", "c", 0)])
    assert [i.item_id for i in q.sweep_items("s1")] == ["c"]
    assert q.prune_sweeps(250.0) == 2
    assert q.sweep_items("s1") == [] and q.get_sweep("s2") is None
    store.close()
    reopened = SqliteStore(tmp_path / "q.db")
    assert [s.id for s in reopened.quality.list_sweeps(0, 1000)] == ["s3", "o1"]
    reopened.close()
