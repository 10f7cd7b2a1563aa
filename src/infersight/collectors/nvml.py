"""GPU metrics through NVIDIA's NVML (`nvidia-ml-py`, imported as `pynvml`).

Per GPU, labelled gpu="<index>", gpu_name, gpu_uuid:

    gpu_utilization_ratio          0-1, share of time a kernel ran (NVML "gpu" utilisation)
    gpu_memory_utilization_ratio   0-1, share of time device memory was read or written
    gpu_memory_used_bytes / gpu_memory_free_bytes / gpu_memory_total_bytes
    gpu_power_watts                board power draw (NVML reports milliwatts)
    gpu_temperature_celsius        GPU die temperature
    gpu_sm_clock_hz                current SM clock (NVML reports MHz)

MIG: when a GPU runs in MIG mode, NVML has no utilisation per MIG instance (nor for the parent
GPU). Each MIG instance then reports memory only (gpu_memory_used_bytes / _total_bytes with an
extra `mig` label); the parent keeps power, temperature and clock. This is said once in the log
and in the collector's notes.

No driver (NVMLError_LibraryNotFound and friends) raises `CollectorUnavailable` with the reason
and a hint; the daemon reports it once and retries every few minutes. A field a GPU does not
support (e.g. power on some boards) is skipped, with a note, and the other fields are reported.
NVML calls block, so a collection runs in a worker thread; a hung driver cannot stall the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from infersight.collectors.base import CollectorError, CollectorUnavailable
from infersight.core.records import MetricSample

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_MIG_NOTE = (
    "GPU {gpu} is in MIG mode: NVML reports no utilisation per MIG instance (nor for the whole "
    "GPU), so only memory is reported per MIG instance (label mig); for activity per instance "
    "scrape NVIDIA's DCGM exporter (DCGM_FI_PROF_GR_ENGINE_ACTIVE) as an engine_metrics_url"
)
# Field errors that mean "this GPU/driver cannot tell": skip the field, keep the others.
_SKIPPABLE = (
    "NVMLError_NotSupported",
    "NVMLError_NoPermission",
    "NVMLError_FunctionNotFound",
    "NVMLError_NoData",
    "NVMLError_NotAvailable",
)
_INIT_HINTS = {
    "NVMLError_LibraryNotFound": (
        "the NVIDIA driver library (libnvidia-ml.so) is not on this host; on a GPU host install "
        "the NVIDIA driver (nvidia-smi must work), elsewhere set collectors.nvml.enabled: false"
    ),
    "NVMLError_DriverNotLoaded": (
        "the NVIDIA kernel driver is not loaded (nvidia-smi fails too); load it or reboot"
    ),
    "NVMLError_NoPermission": (
        "no permission to open /dev/nvidia*; run as a user allowed to use the GPU, or start "
        "the container with GPU access (docker --gpus all)"
    ),
    "NVMLError_LibRmVersionMismatch": (
        "the driver library and the kernel module versions differ; reboot after a driver update"
    ),
}


@dataclass(slots=True)
class _Gpu:
    index: int
    handle: Any
    labels: dict[str, str]


class _FieldFailed(Exception):
    """An NVML error that is not "not supported": the collection fails, NVML is re-initialised."""


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class NvmlCollector:
    """Collects per-GPU metrics through NVML. `nvml`: the pynvml module (default: imported)."""

    def __init__(self, name: str = "nvml", *, nvml: ModuleType | None = None) -> None:
        self.name = name
        self._module = nvml
        self._ready = False
        self._gpus: list[_Gpu] = []
        self._notes: dict[str, None] = {}  # an ordered set, written by the worker thread
        self._notes_lock = threading.Lock()
        self._busy = threading.Event()

    @property
    def notes(self) -> Sequence[str]:
        with self._notes_lock:
            return tuple(self._notes)

    async def collect(self, now: float) -> list[MetricSample]:
        if self._busy.is_set():
            raise CollectorError(
                "the previous NVML query is still running (a hung GPU driver?); check nvidia-smi"
            )
        return await asyncio.to_thread(self._collect_in_thread, now)

    async def aclose(self) -> None:
        if self._ready and self._module is not None:
            self._shutdown(self._module)

    # -- worker thread -------------------------------------------------------------------
    def _collect_in_thread(self, now: float) -> list[MetricSample]:
        self._busy.set()  # set here, not by the caller: a cancelled, never-run job sets nothing
        try:
            nv = self._nvml()
            if not self._ready:
                self._init(nv)
            out: list[MetricSample] = []
            try:
                for gpu in self._gpus:
                    self._read_gpu(nv, gpu, now, out)
            except _FieldFailed as exc:
                self._shutdown(nv)  # the next attempt initialises and enumerates again
                raise CollectorError(str(exc)) from None
            return out
        finally:
            self._busy.clear()

    def _nvml(self) -> ModuleType:
        if self._module is None:
            try:
                self._module = importlib.import_module("pynvml")
            except ImportError:
                raise CollectorUnavailable(
                    "the nvidia-ml-py package is not installed (pip install nvidia-ml-py), "
                    "or set collectors.nvml.enabled: false"
                ) from None
        return self._module

    def _init(self, nv: ModuleType) -> None:
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            hint = _INIT_HINTS.get(type(exc).__name__, "check that nvidia-smi works on this host")
            raise CollectorUnavailable(f"NVML could not start ({exc}): {hint}") from None
        try:
            count = int(nv.nvmlDeviceGetCount())
            gpus = []
            for i in range(count):
                handle = nv.nvmlDeviceGetHandleByIndex(i)
                labels = {"gpu": str(i)}
                for key, fn in (
                    ("gpu_name", "nvmlDeviceGetName"),
                    ("gpu_uuid", "nvmlDeviceGetUUID"),
                ):
                    with contextlib.suppress(nv.NVMLError):
                        labels[key] = _text(getattr(nv, fn)(handle))
                gpus.append(_Gpu(i, handle, labels))
        except nv.NVMLError as exc:
            self._shutdown(nv, ready=True)
            raise CollectorError(f"NVML started but listing GPUs failed: {exc}") from None
        if not gpus:
            self._shutdown(nv, ready=True)
            raise CollectorUnavailable(
                "NVML found no GPU on this host; set collectors.nvml.enabled: false"
            )
        self._gpus = gpus
        self._ready = True
        names = ", ".join(f"{g.index}: {g.labels.get('gpu_name', '?')}" for g in gpus)
        log.info("nvml: %d GPU(s): %s", len(gpus), names)

    def _shutdown(self, nv: ModuleType, *, ready: bool | None = None) -> None:
        if ready or self._ready:
            try:
                nv.nvmlShutdown()
            except Exception:
                log.debug("nvml: nvmlShutdown failed", exc_info=True)
        self._ready = False
        self._gpus = []

    def _note(self, text: str, level: int = logging.INFO) -> None:
        if text not in self._notes:
            with self._notes_lock:
                self._notes[text] = None
            log.log(level, "nvml: %s", text)

    def _field(
        self, nv: ModuleType, gpu: str, what: str, fn: Callable[..., Any], *args: Any
    ) -> Any:
        """fn(*args), or None when this GPU cannot tell (noted once); other errors fail."""
        try:
            return fn(*args)
        except nv.NVMLError as exc:
            if type(exc).__name__ in _SKIPPABLE:
                self._note(f"GPU {gpu}: {what} not available ({exc}); that metric is skipped")
                return None
            raise _FieldFailed(f"GPU {gpu}: reading {what} failed: {exc}") from None

    def _read_gpu(self, nv: ModuleType, gpu: _Gpu, now: float, out: list[MetricSample]) -> None:
        h, g, labels = gpu.handle, str(gpu.index), tuple(sorted(gpu.labels.items()))

        def add(name: str, value: float, lab: tuple[tuple[str, str], ...] = labels) -> None:
            out.append(MetricSample(name, now, float(value), lab))

        mig = False
        mode = self._field(nv, g, "MIG mode", _quiet_not_supported(nv, nv.nvmlDeviceGetMigMode), h)
        if mode is not None:
            mig = int(mode[0]) == int(getattr(nv, "NVML_DEVICE_MIG_ENABLE", 1))
        if mig:
            self._note(_MIG_NOTE.format(gpu=g), logging.WARNING)
        else:
            util = self._field(nv, g, "utilisation", nv.nvmlDeviceGetUtilizationRates, h)
            if util is not None:
                add("gpu_utilization_ratio", util.gpu / 100.0)
                add("gpu_memory_utilization_ratio", util.memory / 100.0)
        mem = self._field(nv, g, "memory", nv.nvmlDeviceGetMemoryInfo, h)
        if mem is not None:
            add("gpu_memory_used_bytes", mem.used)
            add("gpu_memory_free_bytes", mem.free)
            add("gpu_memory_total_bytes", mem.total)
        power_mw = self._field(nv, g, "power", nv.nvmlDeviceGetPowerUsage, h)
        if power_mw is not None:
            add("gpu_power_watts", power_mw / 1000.0)
        sensor = getattr(nv, "NVML_TEMPERATURE_GPU", 0)
        temp_c = self._field(nv, g, "temperature", nv.nvmlDeviceGetTemperature, h, sensor)
        if temp_c is not None:
            add("gpu_temperature_celsius", temp_c)
        clock = getattr(nv, "NVML_CLOCK_SM", 1)
        sm_mhz = self._field(nv, g, "SM clock", nv.nvmlDeviceGetClockInfo, h, clock)
        if sm_mhz is not None:
            add("gpu_sm_clock_hz", sm_mhz * 1e6)
        if mig:
            self._read_mig(nv, gpu, now, out)

    def _read_mig(self, nv: ModuleType, gpu: _Gpu, now: float, out: list[MetricSample]) -> None:
        g = str(gpu.index)
        slots = self._field(
            nv, g, "MIG device count", nv.nvmlDeviceGetMaxMigDeviceCount, gpu.handle
        )
        for j in range(int(slots or 0)):
            try:
                mh = nv.nvmlDeviceGetMigDeviceHandleByIndex(gpu.handle, j)
            except nv.NVMLError:
                continue  # an empty MIG slot (NVMLError_NotFound)
            labels = dict(gpu.labels, mig=str(j))
            with contextlib.suppress(nv.NVMLError):
                labels["mig_uuid"] = _text(nv.nvmlDeviceGetUUID(mh))
            mem = self._field(nv, f"{g} MIG {j}", "memory", nv.nvmlDeviceGetMemoryInfo, mh)
            if mem is not None:
                lab = tuple(sorted(labels.items()))
                out.append(MetricSample("gpu_memory_used_bytes", now, float(mem.used), lab))
                out.append(MetricSample("gpu_memory_total_bytes", now, float(mem.total), lab))


def _quiet_not_supported(nv: ModuleType, fn: Callable[..., Any]) -> Callable[..., Any]:
    """MIG mode on a GPU without MIG raises NotSupported: that just means "off", no note."""

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except nv.NVMLError as exc:
            if type(exc).__name__ == "NVMLError_NotSupported":
                return None
            raise

    return call
