"""NvmlCollector with NVML substituted at its boundary.

There is no GPU or NVIDIA driver on the machines these tests run on, so each test replaces the
pynvml module's functions (monkeypatch.setattr on the real `pynvml` module) with a small fake of
the GPUs it needs: two normal GPUs, no driver, a GPU in MIG mode, a GPU without power readings,
a GPU that falls off the bus. The collector calls pynvml exactly as it would on a GPU host.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

from infersight.collectors.base import CollectorDaemon, CollectorError, CollectorUnavailable
from infersight.collectors.nvml import NvmlCollector
from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample

GIB = 1024**3


def nvml_error(code: int) -> pynvml.NVMLError:
    return pynvml.NVMLError(code)  # pynvml returns the matching subclass


@dataclass
class FakeMig:
    uuid: str
    used: int
    total: int


@dataclass
class FakeGpu:
    name: str = "NVIDIA A100-SXM4-80GB"
    uuid: str = "GPU-0000"
    util_gpu: int = 87
    util_mem: int = 41
    used: int = 60 * GIB
    total: int = 80 * GIB
    power_mw: int = 287_512
    temp_c: int = 61
    sm_mhz: int = 1410
    mig: list[FakeMig | None] | None = None  # MIG mode on when not None (None = empty slot)
    errors: dict[str, int] = field(default_factory=dict)  # field -> NVML error code


class FakeNvml:
    """The slice of pynvml the collector uses, backed by FakeGpus."""

    def __init__(self, gpus: list[FakeGpu], init_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.init_calls = 0
        self.shutdown_calls = 0

    def install(self, mp: pytest.MonkeyPatch) -> None:
        for name in dir(self):
            if name.startswith("nvml"):
                mp.setattr(pynvml, name, getattr(self, name))

    def _check(self, gpu: FakeGpu, what: str) -> None:
        if what in gpu.errors:
            raise nvml_error(gpu.errors[what])

    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.init_error is not None:
            raise nvml_error(self.init_error)

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> Any:
        return self.gpus[i]

    def nvmlDeviceGetName(self, h: FakeGpu | FakeMig) -> str:
        assert isinstance(h, FakeGpu)
        return h.name

    def nvmlDeviceGetUUID(self, h: FakeGpu | FakeMig) -> str:
        return h.uuid

    def nvmlDeviceGetMigMode(self, h: FakeGpu) -> list[int]:
        if h.mig is None:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return [pynvml.NVML_DEVICE_MIG_ENABLE, pynvml.NVML_DEVICE_MIG_ENABLE]

    def nvmlDeviceGetUtilizationRates(self, h: FakeGpu) -> Any:
        self._check(h, "util")
        if h.mig is not None:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return SimpleNamespace(gpu=h.util_gpu, memory=h.util_mem)

    def nvmlDeviceGetMemoryInfo(self, h: FakeGpu | FakeMig) -> Any:
        if isinstance(h, FakeGpu):
            self._check(h, "memory")
        return SimpleNamespace(used=h.used, total=h.total, free=h.total - h.used)

    def nvmlDeviceGetPowerUsage(self, h: FakeGpu) -> int:
        self._check(h, "power")
        return h.power_mw

    def nvmlDeviceGetTemperature(self, h: FakeGpu, sensor: int) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        self._check(h, "temperature")
        return h.temp_c

    def nvmlDeviceGetClockInfo(self, h: FakeGpu, clock: int) -> int:
        assert clock == pynvml.NVML_CLOCK_SM
        self._check(h, "clock")
        return h.sm_mhz

    def nvmlDeviceGetMaxMigDeviceCount(self, h: FakeGpu) -> int:
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h: FakeGpu, j: int) -> FakeMig:
        slots = h.mig or []
        mig = slots[j] if j < len(slots) else None
        if mig is None:
            raise nvml_error(pynvml.NVML_ERROR_NOT_FOUND)
        return mig


def collect(c: NvmlCollector, now: float = 100.0) -> list[MetricSample]:
    return asyncio.run(c.collect(now))


def by_gpu(samples: list[MetricSample]) -> dict[tuple[str, str], float]:
    out = {}
    for s in samples:
        labels = dict(s.labels)
        key = labels["gpu"] + (f"/mig{labels['mig']}" if "mig" in labels else "")
        out[(key, s.name)] = s.value
    return out


def test_two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b", util_gpu=0, power_mw=63_000)])
    fake.install(monkeypatch)
    c = NvmlCollector()
    samples = collect(c)
    v = by_gpu(samples)
    assert v[("0", "gpu_utilization_ratio")] == pytest.approx(0.87)
    assert v[("0", "gpu_memory_utilization_ratio")] == pytest.approx(0.41)
    assert v[("0", "gpu_memory_used_bytes")] == 60 * GIB
    assert v[("0", "gpu_memory_total_bytes")] == 80 * GIB
    assert v[("0", "gpu_memory_free_bytes")] == 20 * GIB
    assert v[("0", "gpu_power_watts")] == pytest.approx(287.512)
    assert v[("0", "gpu_temperature_celsius")] == 61
    assert v[("0", "gpu_sm_clock_hz")] == 1410e6
    assert v[("1", "gpu_utilization_ratio")] == 0.0
    assert v[("1", "gpu_power_watts")] == pytest.approx(63.0)
    assert len(samples) == 16 and all(s.ts == 100.0 for s in samples)
    assert dict(samples[0].labels) == {
        "gpu": "0",
        "gpu_name": "NVIDIA A100-SXM4-80GB",
        "gpu_uuid": "GPU-a",
    }
    assert c.notes == ()
    collect(c, 105.0)
    assert fake.init_calls == 1  # initialised once, then reused


def test_no_driver_is_unavailable_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).install(monkeypatch)
    with pytest.raises(CollectorUnavailable) as info:
        collect(NvmlCollector())
    msg = str(info.value)
    assert "NVML Shared Library Not Found" in msg and "collectors.nvml.enabled: false" in msg


def test_no_driver_under_the_daemon_is_reported_once_and_cheap(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    fake.install(monkeypatch)
    clock, got = FakeClock(), []

    class Sink:
        def submit_many(self, samples: list[MetricSample]) -> None:
            got.extend(samples)

    d = CollectorDaemon(NvmlCollector(), Sink(), clock=clock, interval_s=5.0, timeout_s=3.0)

    async def ticks() -> None:
        for _ in range(60):  # five minutes minus one tick
            await d.tick(clock.now())
            clock.advance(5.0)

    with caplog.at_level(logging.WARNING):
        asyncio.run(ticks())
    assert fake.init_calls == 1
    assert d.state.status == "unavailable" and "NVML" in (d.state.last_error or "")
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
    assert got == []


def test_mig_reports_memory_per_instance_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    migs: list[FakeMig | None] = [
        FakeMig("MIG-1", used=3 * GIB, total=10 * GIB),
        None,
        FakeMig("MIG-3", used=1 * GIB, total=20 * GIB),
    ]
    FakeNvml([FakeGpu(uuid="GPU-a", mig=migs), FakeGpu(uuid="GPU-b")]).install(monkeypatch)
    c = NvmlCollector()
    with caplog.at_level(logging.WARNING):
        samples = collect(c)
        collect(c)
    v = by_gpu(samples)
    assert ("0", "gpu_utilization_ratio") not in v
    assert ("0", "gpu_power_watts") in v and ("0", "gpu_temperature_celsius") in v
    assert v[("0/mig0", "gpu_memory_used_bytes")] == 3 * GIB
    assert v[("0/mig0", "gpu_memory_total_bytes")] == 10 * GIB
    assert v[("0/mig2", "gpu_memory_used_bytes")] == 1 * GIB
    assert not any(k[0] == "0/mig1" for k in v)
    assert {k[1] for k in v if k[0].startswith("0/mig")} == {
        "gpu_memory_used_bytes",
        "gpu_memory_total_bytes",
    }
    assert v[("1", "gpu_utilization_ratio")] == pytest.approx(0.87)  # GPU 1 is not in MIG mode
    mig_labels = dict(next(s.labels for s in samples if ("mig", "2") in s.labels))
    assert mig_labels["mig_uuid"] == "MIG-3" and mig_labels["gpu_uuid"] == "GPU-a"
    assert len(c.notes) == 1 and "utilisation" in c.notes[0] and "MIG" in c.notes[0]
    assert len([r for r in caplog.records if "MIG mode" in r.getMessage()]) == 1


def test_unsupported_field_is_skipped_and_the_rest_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_power = FakeGpu(uuid="GPU-b", errors={"power": pynvml.NVML_ERROR_NOT_SUPPORTED})
    FakeNvml([FakeGpu(uuid="GPU-a"), no_power]).install(monkeypatch)
    c = NvmlCollector()
    v = by_gpu(collect(c))
    assert ("1", "gpu_power_watts") not in v
    assert ("0", "gpu_power_watts") in v
    for name in ("gpu_utilization_ratio", "gpu_memory_used_bytes", "gpu_temperature_celsius"):
        assert ("1", name) in v
    assert c.notes == ("GPU 1: power not available (Not Supported); that metric is skipped",)
    collect(c)
    assert len(c.notes) == 1


def test_lost_gpu_fails_the_collection_and_reinitialises(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = FakeGpu(errors={"temperature": pynvml.NVML_ERROR_GPU_IS_LOST})
    fake = FakeNvml([gpu])
    fake.install(monkeypatch)
    c = NvmlCollector()
    with pytest.raises(CollectorError, match="GPU 0: reading temperature failed: GPU is lost"):
        collect(c)
    assert fake.shutdown_calls == 1
    gpu.errors.clear()
    assert by_gpu(collect(c))[("0", "gpu_temperature_celsius")] == 61
    assert fake.init_calls == 2


def test_no_gpus_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([]).install(monkeypatch)
    with pytest.raises(CollectorUnavailable, match="found no GPU"):
        collect(NvmlCollector())
