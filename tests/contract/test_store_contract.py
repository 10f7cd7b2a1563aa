"""What every Store backend must do. Add a backend to BACKENDS and it runs the whole contract."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from infersight.core.records import RequestRecord
from infersight.store.base import GROUP_FIELDS, LATENCY_FIELDS, Store
from infersight.store.migrations import SchemaTooNewError
from infersight.store.sqlite import SqliteStore

T0 = 1_700_000_000.0
Q = (0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0)

BACKENDS: dict[str, Callable[[Path], Store]] = {
    "sqlite-file": lambda tmp: SqliteStore(tmp / "store.db"),
    "sqlite-memory": lambda tmp: SqliteStore(":memory:"),
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend = BACKENDS[request.param](tmp_path)
    yield backend
    backend.close()


def rec(i: int, **overrides: Any) -> RequestRecord:
    base = RequestRecord(
        id=f"r{i:05d}",
        started_at=T0 + i,
        model="llama",
        upstream="vllm-a",
        route="/v1/chat/completions",
        stream=True,
        status=200,
        e2e_s=1.0 + i / 100,
        ttft_s=0.1 + i / 1000,
        tpot_s=0.02,
        itl_mean_s=0.02,
        output_tokens_per_s=50.0,
        prompt_tokens=10,
        completion_tokens=20,
    )
    return dataclasses.replace(base, **overrides)


def test_round_trip_keeps_every_field(store: Store) -> None:
    full = RequestRecord(
        id="full",
        started_at=T0 + 0.123456789,
        model="m",
        upstream="u",
        route="/v1/completions",
        stream=False,
        status=502,
        e2e_s=3.25,
        error_class="upstream_5xx",
        error_message="bad gateway: ünïcode ✓",
        ttft_s=0.5,
        tpot_s=0.01,
        itl_mean_s=0.011,
        itl_p50_s=0.012,
        itl_p90_s=0.013,
        itl_p99_s=0.014,
        itl_max_s=0.2,
        output_tokens_per_s=88.5,
        prompt_tokens=7,
        completion_tokens=9,
        tokens_estimated=True,
        finish_reason="length",
        inflight_at_start=4,
        client="team-a",
        source="sweep",
        prompt_text="hello",
        response_text="world",
    )
    minimal = RequestRecord("min", T0, "m", "u", "/v1/chat/completions", True, 200, 1.0)
    store.write_records([full, minimal])
    assert store.get_record("full") == full
    assert store.get_record("min") == minimal
    got = store.get_record("full")
    assert got is not None and got.stream is False and got.tokens_estimated is True
    assert store.get_record("absent") is None


def test_write_is_idempotent_by_id(store: Store) -> None:
    store.write_records([rec(1)])
    store.write_records([rec(1, model="other")])
    store.write_records([])
    assert store.count_records(T0, T0 + 100) == 1
    got = store.get_record("r00001")
    assert got is not None and got.model == "other"


def test_list_and_count_use_half_open_windows(store: Store) -> None:
    store.write_records([rec(i, model="a" if i % 2 else "b", source="demo") for i in range(10)])
    assert store.count_records(T0, T0 + 10) == 10
    assert store.count_records(T0 + 2, T0 + 5) == 3  # 2, 3, 4: end is exclusive
    listed = store.list_records(T0 + 2, T0 + 8)
    assert [r.id for r in listed] == [f"r{i:05d}" for i in (7, 6, 5, 4, 3, 2)]  # newest first
    assert [r.id for r in store.list_records(T0, T0 + 10, limit=2)] == ["r00009", "r00008"]
    assert {r.model for r in store.list_records(T0, T0 + 10, model="a")} == {"a"}
    assert len(store.list_records(T0, T0 + 10, model="a")) == 5
    assert store.list_records(T0 + 50, T0 + 60) == []


def test_percentiles_match_numpy(store: Store) -> None:
    rng = np.random.default_rng(7)
    n = 500
    ttft = rng.lognormal(-2.0, 0.8, n)
    models = rng.choice(["alpha", "beta", "gamma"], n)
    missing = rng.random(n) < 0.1  # some rows have no TTFT (errors before the first token)
    records = [
        rec(i, model=str(models[i]), ttft_s=None if missing[i] else float(ttft[i]))
        for i in range(n)
    ]
    store.write_records(records)
    start, end = T0, T0 + n

    [overall] = store.percentiles("ttft_s", start, end, quantiles=Q)
    expected_all = ttft[~missing]
    assert overall.group == () and overall.field == "ttft_s"
    assert overall.count == len(expected_all)
    for q in Q:
        assert overall.values[q] == pytest.approx(float(np.quantile(expected_all, q)), rel=1e-12)

    by_model = store.percentiles("ttft_s", start, end, group_by=["model"], quantiles=Q)
    assert [g.group for g in by_model] == [(("model", m),) for m in ("alpha", "beta", "gamma")]
    for g in by_model:
        selected = ttft[(models == g.group[0][1]) & ~missing]
        assert g.count == len(selected)
        for q in Q:
            assert g.values[q] == pytest.approx(float(np.quantile(selected, q)), rel=1e-12)


def test_percentiles_window_sources_and_multi_group(store: Store) -> None:
    store.write_records(
        [
            rec(0, e2e_s=1.0, upstream="a"),
            rec(1, e2e_s=2.0, upstream="b", status=500, error_class="upstream_5xx"),
            rec(2, e2e_s=3.0, upstream="a", source="loadtest"),
            rec(3, e2e_s=4.0, upstream="a", client=None),
            rec(50, e2e_s=100.0),  # outside the window
        ]
    )
    [user] = store.percentiles("e2e_s", T0, T0 + 10, quantiles=(0.5,))
    assert (user.count, user.values) == (3, {0.5: 2.0})
    [both] = store.percentiles("e2e_s", T0, T0 + 10, quantiles=(1.0,), sources=["user", "loadtest"])
    assert (both.count, both.values) == (4, {1.0: 4.0})
    assert store.percentiles("e2e_s", T0, T0 + 10, sources=[]) == []
    assert store.percentiles("e2e_s", T0, T0 + 10, sources=["sweep"]) == []

    grouped = store.percentiles("e2e_s", T0, T0 + 10, group_by=("upstream", "status"))
    assert [g.group for g in grouped] == [
        (("upstream", "a"), ("status", "200")),
        (("upstream", "b"), ("status", "500")),
    ]
    assert [g.count for g in grouped] == [2, 1]


def test_group_by_null_values_sort_first(store: Store) -> None:
    store.write_records([rec(0, client="z"), rec(1, client=None), rec(2, client="a")])
    groups = store.percentiles("e2e_s", T0, T0 + 10, group_by=("client",))
    assert [g.group for g in groups] == [
        (("client", None),),
        (("client", "a"),),
        (("client", "z"),),
    ]


@pytest.mark.parametrize("field", ["nope", "id", "e2e_s; DROP TABLE requests"])
def test_percentiles_rejects_unknown_field(store: Store, field: str) -> None:
    with pytest.raises(ValueError, match="allowed: ttft_s") as info:
        store.percentiles(field, T0, T0 + 1)
    assert repr(field) in str(info.value)


def test_rejects_unknown_group_field(store: Store) -> None:
    with pytest.raises(ValueError, match=r"'prompt_text'.*allowed: model"):
        store.percentiles("e2e_s", T0, T0 + 1, group_by=("prompt_text",))
    with pytest.raises(ValueError, match="'1=1'"):
        store.summarize(T0, T0 + 1, group_by=("1=1",))


def test_every_allowed_field_and_group_works(store: Store) -> None:
    store.write_records([rec(i, client="c", error_class="upstream_5xx") for i in range(3)])
    for field in LATENCY_FIELDS:
        store.percentiles(field, T0, T0 + 10)
    for group in GROUP_FIELDS:
        assert store.summarize(T0, T0 + 10, group_by=(group,))


def test_summarize(store: Store) -> None:
    rng = np.random.default_rng(3)
    n = 300
    e2e = rng.uniform(0.5, 5.0, n)
    itl = rng.uniform(0.01, 0.05, n)
    speed = rng.uniform(20, 80, n)
    tokens = rng.integers(1, 200, n)
    errors = rng.random(n) < 0.2
    records = [
        rec(
            i,
            model="a" if i % 3 else "b",
            e2e_s=float(e2e[i]),
            itl_mean_s=float(itl[i]),
            output_tokens_per_s=float(speed[i]),
            completion_tokens=int(tokens[i]),
            error_class="upstream_timeout" if errors[i] else None,
        )
        for i in range(n)
    ]
    records.append(rec(n, model="a", source="sweep"))  # not user traffic: excluded
    store.write_records(records)
    start, end = T0, T0 + 600.0
    summaries = store.summarize(start, end)
    assert [s.group for s in summaries] == [(("model", "a"),), (("model", "b"),)]
    for s in summaries:
        mask = np.array([("a" if i % 3 else "b") == s.group[0][1] for i in range(n)])
        assert s.requests == int(mask.sum())
        assert s.errors == int((mask & errors).sum())
        assert s.error_rate == pytest.approx(s.errors / s.requests)
        assert s.window_s == 600.0
        for q in (0.5, 0.95, 0.99):
            assert s.e2e_s[q] == pytest.approx(float(np.quantile(e2e[mask], q)))
            assert s.itl_s[q] == pytest.approx(float(np.quantile(itl[mask], q)))
        assert s.output_tokens_per_s_mean == pytest.approx(float(speed[mask].mean()))
        assert s.completion_tokens == int(tokens[mask].sum())
        assert s.throughput_tokens_per_s == pytest.approx(tokens[mask].sum() / 600.0)

    [total] = store.summarize(start, end, group_by=(), quantiles=(0.5,))
    assert total.group == () and total.requests == n
    assert set(total.ttft_s) == {0.5}
    [sweep] = store.summarize(start, end, sources=["sweep"])
    assert sweep.requests == 1


def test_summarize_missing_values_and_empty(store: Store) -> None:
    assert store.summarize(T0, T0 + 60) == []
    store.write_records(
        [
            rec(
                0,
                ttft_s=None,
                tpot_s=None,
                itl_mean_s=None,
                output_tokens_per_s=None,
                completion_tokens=None,
                error_class="upstream_unreachable",
            )
        ]
    )
    [s] = store.summarize(T0, T0 + 60)
    assert (s.requests, s.errors, s.error_rate) == (1, 1, 1.0)
    assert s.ttft_s == {} and s.itl_s == {} and s.tpot_s == {}
    assert s.output_tokens_per_s_mean is None
    assert (s.completion_tokens, s.throughput_tokens_per_s) == (0, 0.0)
    with pytest.raises(ValueError, match="end > start"):
        store.summarize(T0, T0)


def test_rejects_bad_quantiles(store: Store) -> None:
    with pytest.raises(ValueError, match="within"):
        store.percentiles("e2e_s", T0, T0 + 1, quantiles=(95,))


def test_close_is_idempotent(store: Store) -> None:
    store.close()
    store.close()


# -- persistence: backends that can be reopened -------------------------------------------


def _sqlite_from_the_future(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (999, 'from the future', 0)")
    conn.commit()
    conn.close()


# name -> (open a store at this path, make the schema newer than the code knows)
REOPENABLE: dict[str, tuple[Callable[[Path], Store], Callable[[Path], None]]] = {
    "sqlite-file": (lambda path: SqliteStore(path), _sqlite_from_the_future),
}


@pytest.mark.parametrize("backend", sorted(REOPENABLE))
def test_reopen_keeps_data_and_migrations_are_idempotent(backend: str, tmp_path: Path) -> None:
    open_store, _ = REOPENABLE[backend]
    path = tmp_path / "store.db"
    first = open_store(path)
    first.write_records([rec(1), rec(2)])
    first.close()
    for _ in range(2):
        again = open_store(path)
        assert again.count_records(T0, T0 + 10) == 2
        assert again.get_record("r00002") == rec(2)
        again.close()


@pytest.mark.parametrize("backend", sorted(REOPENABLE))
def test_newer_schema_is_refused(backend: str, tmp_path: Path) -> None:
    open_store, bump = REOPENABLE[backend]
    path = tmp_path / "store.db"
    open_store(path).close()
    bump(path)
    with pytest.raises(SchemaTooNewError, match=r"schema version 999.*Upgrade infersight"):
        open_store(path)
