"""HostCollector on this machine: values are present and within sane ranges."""

from __future__ import annotations

import asyncio
import os
from collections import namedtuple
from pathlib import Path

import pytest

from infersight.collectors.host import HostCollector, busy_ratio, cpu_times_of, existing_dir


def test_host_metrics_are_sane(tmp_path: Path) -> None:
    c = HostCollector(str(tmp_path / "not-yet" / "infersight.db"))
    first = {s.name: s for s in asyncio.run(c.collect(10.0))}
    assert "host_cpu_utilization_ratio" not in first  # the first call only sets the baseline
    sum(i * i for i in range(200_000))  # burn a little CPU so the next reading has a delta
    second = {s.name: s for s in asyncio.run(c.collect(15.0))}
    assert 0.0 <= second["host_cpu_utilization_ratio"].value <= 1.0
    used, total = second["host_memory_used_bytes"].value, second["host_memory_total_bytes"].value
    assert 0 < used < total
    assert 0.0 < second["host_disk_used_ratio"].value < 1.0
    assert dict(second["host_disk_used_ratio"].labels) == {"path": str(tmp_path)}
    assert second["host_disk_free_bytes"].value > 0
    assert second["process_cpu_seconds_total"].value > 0
    assert second["process_cpu_seconds_total"].value >= first["process_cpu_seconds_total"].value
    assert 1e6 < second["process_resident_memory_bytes"].value < total
    assert all(s.ts == 15.0 for s in second.values())


def test_busy_ratio_from_cpu_times() -> None:
    T = namedtuple("T", "user nice system idle iowait irq softirq steal guest guest_nice")
    a = cpu_times_of(T(100, 0, 50, 800, 50, 0, 0, 0, 10, 0))
    b = cpu_times_of(T(130, 0, 60, 850, 60, 0, 0, 0, 20, 0))  # 40 busy of 100 (guest in user)
    assert busy_ratio(a, b) == pytest.approx(0.4)
    assert busy_ratio(b, b) is None


def test_existing_dir(tmp_path: Path) -> None:
    assert existing_dir(str(tmp_path)) == tmp_path
    assert existing_dir(str(tmp_path / "a" / "b" / "x.db")) == tmp_path
    assert existing_dir("relative.db") == Path(os.getcwd())
