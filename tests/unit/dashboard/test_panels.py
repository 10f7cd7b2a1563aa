"""Panels: label sets grouped and combined per bucket, aligned on one time axis, per-minute
rates averaged over a bucket's minutes (quiet minutes count as zero)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infersight.core.records import MetricSample
from infersight.dashboard.panels import LineSpec, PanelBuilder, align, combine_groups, latest
from infersight.dashboard.params import TimeWindow
from infersight.store.base import Series
from infersight.store.sqlite import SqliteStore

T0 = 1_767_225_600.0


def s(labels: dict[str, str], points: list[tuple[float, float]]) -> Series:
    return Series("x", tuple(sorted(labels.items())), points)


def test_combine_groups_per_bucket() -> None:
    series = [
        s({"model": "a", "upstream": "u1"}, [(0, 1.0), (60, 2.0)]),
        s({"model": "a", "upstream": "u2"}, [(60, 5.0), (120, 1.0)]),
        s({"model": "b", "upstream": "u1"}, [(0, 7.0)]),
    ]
    assert combine_groups(series, ("model",), "sum") == {
        (("model", "a"),): {0: 1.0, 60: 7.0, 120: 1.0},
        (("model", "b"),): {0: 7.0},
    }
    assert combine_groups(series, (), "max") == {(): {0: 7.0, 60: 5.0, 120: 1.0}}
    assert combine_groups(series, (), "avg") == {(): {0: 4.0, 60: 3.5, 120: 1.0}}
    assert combine_groups(series, ("model",), "min")[(("model", "a"),)] == {
        0: 1.0,
        60: 2.0,
        120: 1.0,
    }
    t, lines = align([("a", {}, {0: 1.0, 120: 2.0}), ("b", {}, {60: 3.0})])
    assert t == [0, 60, 120]
    assert [line.values for line in lines] == [[1.0, None, 2.0], [None, 3.0, None]]


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    st = SqliteStore(tmp_path / "p.db", rollup_delay_s=0.0)
    # requests_per_s-like gauge written raw: 3 of the 10 minutes of a bucket have traffic
    st.write_samples(
        [MetricSample.make("req_rate", T0 + m * 60.0, 2.0, model="a") for m in (0, 1, 2)]
        + [MetricSample.make("req_rate", T0 + m * 60.0, 4.0, model="b") for m in (1,)]
    )
    return st


def test_minute_rates_average_over_every_minute_of_a_bucket(store: SqliteStore) -> None:
    w = TimeWindow(T0, T0 + 600.0, 600.0)
    b = PanelBuilder(store, w)
    rate = b.panel("r", "r", "per_s", [LineSpec("req_rate", minute_rate=True)])
    gauge = b.panel("g", "g", "per_s", [LineSpec("req_rate", combine="sum")])
    # (2 + 2 + 2 + 4) requests/s-minutes over 10 minutes = 1.0/s; an average of the minutes
    # that had a sample would say 10/4 per label set summed
    assert rate.lines[0].values == [pytest.approx(1.0)]
    assert gauge.lines[0].values == [pytest.approx(2.0 + 4.0)]
    split = b.panel("r", "r", "per_s", [LineSpec("req_rate", minute_rate=True)], by=("model",))
    assert [(line.label, line.values) for line in split.lines] == [
        ("a", [pytest.approx(0.6)]),
        ("b", [pytest.approx(0.4)]),
    ]
    assert latest(split) == pytest.approx(1.0)
    # steps of a minute or less: each bucket holds one minute, its value is the rate
    fine = PanelBuilder(store, TimeWindow(T0, T0 + 600.0, 60.0))
    line = fine.panel("r", "r", "per_s", [LineSpec("req_rate", minute_rate=True)]).lines[0]
    assert line.values == [2.0, 6.0, 2.0]
    store.close()


def test_panel_without_points_carries_its_hint(store: SqliteStore) -> None:
    w = TimeWindow(T0 - 7200.0, T0 - 3600.0, 60.0)
    panel = PanelBuilder(store, w).panel("r", "R", "per_s", [LineSpec("req_rate")], hint="why")
    assert not panel.has_data and panel.to_json()["hint"] == "why"
    assert latest(panel) is None
    store.close()
