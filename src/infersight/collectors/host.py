"""CPU, memory and disk of this host, and this process's own footprint (psutil).

    host_cpu_utilization_ratio       0-1, all CPUs, busy share since the previous collection
                                     (from cpu_times deltas: non-blocking, like
                                     psutil.cpu_percent(interval=None), but with its own
                                     baseline so other callers of cpu_percent do not disturb it;
                                     absent on the first collection, which only sets the baseline)
    host_memory_used_bytes           total - available (what applications can no longer get)
    host_memory_total_bytes
    host_disk_used_ratio             used / (used + free) of the filesystem holding the store,
    host_disk_free_bytes             label path (the directory measured)
    process_cpu_seconds_total        user + system CPU of this process
    process_resident_memory_bytes    RSS of this process

Each call reads /proc (Linux) and returns in well under a millisecond, so it runs inline.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import psutil  # type: ignore[import-untyped, unused-ignore]

from infersight.collectors.base import CollectorError
from infersight.core.records import MetricSample


class CpuTimes(NamedTuple):
    busy_s: float
    total_s: float


def cpu_times_of(t: Any) -> CpuTimes:
    """Busy and total CPU seconds from psutil.cpu_times() (guest time is inside user time)."""
    fields = t._asdict()
    total = sum(float(v) for v in fields.values())
    total -= float(fields.get("guest", 0.0)) + float(fields.get("guest_nice", 0.0))
    idle = float(fields.get("idle", 0.0)) + float(fields.get("iowait", 0.0))
    return CpuTimes(total - idle, total)


def busy_ratio(prev: CpuTimes, cur: CpuTimes) -> float | None:
    """Busy share of CPU time between two readings; None when no time passed."""
    dt = cur.total_s - prev.total_s
    if dt <= 0:
        return None
    return min(1.0, max(0.0, (cur.busy_s - prev.busy_s) / dt))


def existing_dir(path: str) -> Path:
    """The directory to measure for `path` (a store file that may not exist yet)."""
    p = Path(path).expanduser().absolute()
    if not p.is_dir():
        p = p.parent
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


class HostCollector:
    """Host and process metrics; `store_path` is the store's file or directory."""

    def __init__(self, store_path: str = ".", *, name: str = "host") -> None:
        self.name = name
        self.store_path = store_path
        self._proc = psutil.Process(os.getpid())
        self._prev_cpu: CpuTimes | None = None

    async def collect(self, now: float) -> list[MetricSample]:
        try:
            return self._collect(now)
        except (OSError, psutil.Error) as exc:
            raise CollectorError(f"reading host metrics failed: {exc}") from None

    def _collect(self, now: float) -> list[MetricSample]:
        out: list[MetricSample] = []
        cpu = cpu_times_of(psutil.cpu_times())
        if self._prev_cpu is not None:
            ratio = busy_ratio(self._prev_cpu, cpu)
            if ratio is not None:
                out.append(MetricSample("host_cpu_utilization_ratio", now, ratio))
        self._prev_cpu = cpu
        vm = psutil.virtual_memory()
        out.append(MetricSample("host_memory_used_bytes", now, float(vm.total - vm.available)))
        out.append(MetricSample("host_memory_total_bytes", now, float(vm.total)))
        directory = existing_dir(self.store_path)
        du = psutil.disk_usage(str(directory))
        labels = (("path", str(directory)),)
        capacity = du.used + du.free
        if capacity > 0:
            out.append(MetricSample("host_disk_used_ratio", now, du.used / capacity, labels))
        out.append(MetricSample("host_disk_free_bytes", now, float(du.free), labels))
        times = self._proc.cpu_times()
        out.append(MetricSample("process_cpu_seconds_total", now, times.user + times.system))
        rss = float(self._proc.memory_info().rss)
        out.append(MetricSample("process_resident_memory_bytes", now, rss))
        return out
