"""The newest numbers in the store, as one snapshot for `infersight status` (and the dashboard).

`gather_status(store, settings, now=...)` only reads: the running service (`infersight run`)
writes the samples. Gauges are read over the last `RECENT_S` at a 1-second step and the last
point of each series is taken, so a stopped service shows up as "no data yet", not as stale
numbers. Request numbers come from the derived per-minute series (`requests_per_s`, ... over
the last `ROLLUP_RECENT_S`, the newest minute per model); before the first rollup, from the
request records of the last `REQUESTS_WINDOW_S` (`Store.summarize`). Every traffic source
counts (user, demo, sweep, loadtest). An empty section carries a hint saying why and what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from infersight.core.records import SOURCES
from infersight.settings import Settings
from infersight.store.base import Series, Store

__all__ = [
    "COLLECTORS_RECENT_S",
    "RECENT_S",
    "REQUESTS_WINDOW_S",
    "ROLLUP_RECENT_S",
    "CollectorStatus",
    "CostStatus",
    "EngineStatus",
    "GpuStatus",
    "HostStatus",
    "ServingStatus",
    "StatusSnapshot",
    "gather_status",
]

RECENT_S: Final = 120.0
COLLECTORS_RECENT_S: Final = 600.0  # collectors seen before RECENT_S are listed as stale
ROLLUP_RECENT_S: Final = 240.0  # a minute is derived ~70 s after it ends, every rollup interval
REQUESTS_WINDOW_S: Final = 300.0
STEP_S: Final = 1.0
_GPU_IDENTITY: Final = ("upstream", "gpu", "mig")

Labels = tuple[tuple[str, str], ...]
Section = Literal["gpus", "engines", "serving", "host", "collectors", "costs"]


@dataclass(frozen=True)
class GpuStatus:
    """One GPU (or MIG instance); ``upstream`` is set for GPUs scraped through an engine URL."""

    gpu: str
    name: str | None
    upstream: str | None
    utilization_ratio: float | None
    memory_used_bytes: float | None
    memory_total_bytes: float | None
    power_watts: float | None
    temperature_celsius: float | None


@dataclass(frozen=True)
class EngineStatus:
    """Engine gauges summed (running, waiting) or maxed (KV cache) over its label sets."""

    upstream: str
    engine: str | None
    requests_running: float | None
    requests_waiting: float | None
    kv_cache_usage_ratio: float | None


@dataclass(frozen=True)
class ServingStatus:
    """Per model, all sources. ``basis``: the newest rolled-up minute, or the last 5 minutes of
    request records; ``ttft_p95_s`` is the worst p95 over upstreams and sources."""

    model: str
    requests_per_s: float
    error_ratio: float | None
    ttft_p95_s: float | None
    output_tokens_per_s: float | None
    basis: Literal["rollup", "requests"]
    as_of: float


@dataclass(frozen=True)
class HostStatus:
    cpu_utilization_ratio: float | None
    memory_used_bytes: float | None
    memory_total_bytes: float | None


@dataclass(frozen=True)
class CollectorStatus:
    """``up`` from the newest collector_up; ``stale`` when that is older than RECENT_S."""

    collector: str
    up: bool
    last_seen: float
    stale: bool


@dataclass(frozen=True)
class CostStatus:
    upstream: str
    usd_per_hour: float | None
    usd_per_1m_output_tokens: float | None
    idle_usd_per_hour: float | None
    projected_month_usd: float | None
    budget_remaining_usd: float | None


@dataclass(frozen=True)
class StatusSnapshot:
    """Everything `infersight status` shows; ``hints`` explain each empty section."""

    now: float
    gpus: tuple[GpuStatus, ...] = ()
    engines: tuple[EngineStatus, ...] = ()
    serving: tuple[ServingStatus, ...] = ()
    host: HostStatus | None = None
    collectors: tuple[CollectorStatus, ...] = ()
    costs: tuple[CostStatus, ...] = ()
    hints: dict[Section, str] = field(default_factory=dict)


def gather_status(store: Store, settings: Settings, *, now: float) -> StatusSnapshot:
    """The newest value of every status number in `store` at `now` (see the module doc)."""
    r = _Recent(store, now)
    collectors = _collectors(store, now)
    snap = StatusSnapshot(
        now=now,
        gpus=_gpus(r),
        engines=_engines(r),
        serving=_serving(store, now),
        host=_host(r),
        collectors=collectors,
        costs=_costs(r),
    )
    return replace(snap, hints=_hints(snap, settings))


# -- reading -----------------------------------------------------------------------------------


@dataclass
class _Recent:
    """Newest point per label set of a name over the last RECENT_S."""

    store: Store
    now: float

    def latest(self, name: str) -> dict[Labels, float]:
        found = self.store.series(name, self.now - RECENT_S, self.now + STEP_S, step_s=STEP_S)
        return {s.labels: s.points[-1][1] for s in found if s.points}


def _gpus(r: _Recent) -> tuple[GpuStatus, ...]:
    names = (
        "gpu_utilization_ratio",
        "gpu_memory_used_bytes",
        "gpu_memory_total_bytes",
        "gpu_memory_free_bytes",
        "gpu_power_watts",
        "gpu_temperature_celsius",
    )
    by_gpu: dict[Labels, dict[str, float]] = {}
    names_of: dict[Labels, str] = {}
    for name in names:
        for labels, value in r.latest(name).items():
            d = dict(labels)
            key: Labels = tuple((k, d[k]) for k in _GPU_IDENTITY if k in d)
            by_gpu.setdefault(key, {})[name] = value
            if "gpu_name" in d:
                names_of[key] = d["gpu_name"]
    out = []
    for key, v in sorted(by_gpu.items()):
        d = dict(key)
        used = v.get("gpu_memory_used_bytes")
        total = v.get("gpu_memory_total_bytes")
        if total is None and used is not None and "gpu_memory_free_bytes" in v:
            total = used + v["gpu_memory_free_bytes"]  # DCGM reports used and free
        gpu = d.get("gpu", "?") + (f" MIG {d['mig']}" if "mig" in d else "")
        out.append(
            GpuStatus(
                gpu=gpu,
                name=names_of.get(key),
                upstream=d.get("upstream"),
                utilization_ratio=v.get("gpu_utilization_ratio"),
                memory_used_bytes=used,
                memory_total_bytes=total,
                power_watts=v.get("gpu_power_watts"),
                temperature_celsius=v.get("gpu_temperature_celsius"),
            )
        )
    return tuple(out)


def _per_upstream(
    values: dict[Labels, float], reduce: Callable[[list[float]], float]
) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for labels, value in values.items():
        upstream = dict(labels).get("upstream")
        if upstream is not None:
            groups.setdefault(upstream, []).append(value)
    return {u: reduce(vs) for u, vs in groups.items()}


def _engines(r: _Recent) -> tuple[EngineStatus, ...]:
    running_raw = r.latest("engine_requests_running")
    waiting_raw = r.latest("engine_requests_waiting")
    kv_raw = r.latest("engine_kv_cache_usage_ratio")
    kinds: dict[str, str] = {}
    for labels in (*running_raw, *waiting_raw, *kv_raw):
        d = dict(labels)
        if "upstream" in d and "engine" in d:
            kinds.setdefault(d["upstream"], d["engine"])
    running = _per_upstream(running_raw, sum)
    waiting = _per_upstream(waiting_raw, sum)
    kv = _per_upstream(kv_raw, max)
    return tuple(
        EngineStatus(u, kinds.get(u), running.get(u), waiting.get(u), kv.get(u))
        for u in sorted({*running, *waiting, *kv})
    )


def _serving(store: Store, now: float) -> tuple[ServingStatus, ...]:
    rows = _serving_from_rollups(store, now)
    if rows:
        return rows
    summaries = store.summarize(
        now - REQUESTS_WINDOW_S, now, group_by=("model",), quantiles=(0.95,), sources=SOURCES
    )
    return tuple(
        ServingStatus(
            model=dict(s.group).get("model") or "(none)",
            requests_per_s=s.requests / REQUESTS_WINDOW_S,
            error_ratio=s.error_rate,
            ttft_p95_s=s.ttft_s.get(0.95),
            output_tokens_per_s=s.throughput_tokens_per_s,
            basis="requests",
            as_of=now,
        )
        for s in summaries
    )


def _serving_from_rollups(store: Store, now: float) -> tuple[ServingStatus, ...]:
    start, end = now - ROLLUP_RECENT_S, now + STEP_S

    def get(name: str, **labels: str) -> Sequence[Series]:
        return store.series(name, start, end, step_s=60.0, labels=labels or None)

    rates = get("requests_per_s")
    newest: dict[str, float] = {}
    for s in rates:
        model = dict(s.labels).get("model", "")
        if s.points:
            newest[model] = max(newest.get(model, s.points[-1][0]), s.points[-1][0])

    def at_newest(series: Sequence[Series], drop: str | None = None) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for s in series:
            model = dict(s.labels).get("model", "")
            if model in newest:
                out.setdefault(model, []).extend(v for ts, v in s.points if ts == newest[model])
        return out

    rate, errors = at_newest(rates), at_newest(get("request_errors_per_s"))
    ttft = at_newest(get("ttft_seconds", quantile="0.95"))
    tokens = at_newest(get("output_tokens_per_s"))
    out = []
    for model in sorted(newest):
        total = sum(rate.get(model, []))
        err = errors.get(model)
        out.append(
            ServingStatus(
                model=model,
                requests_per_s=total,
                error_ratio=sum(err) / total if err is not None and total > 0 else None,
                ttft_p95_s=max(ttft[model]) if ttft.get(model) else None,
                output_tokens_per_s=sum(tokens[model]) if tokens.get(model) else None,
                basis="rollup",
                as_of=newest[model],
            )
        )
    return tuple(out)


def _host(r: _Recent) -> HostStatus | None:
    def one(name: str) -> float | None:
        values = [v for labels, v in r.latest(name).items() if not labels]
        return values[0] if values else None

    host = HostStatus(
        one("host_cpu_utilization_ratio"),
        one("host_memory_used_bytes"),
        one("host_memory_total_bytes"),
    )
    if all(v is None for v in (host.cpu_utilization_ratio, host.memory_used_bytes)):
        return None
    return host


def _collectors(store: Store, now: float) -> tuple[CollectorStatus, ...]:
    found = store.series(
        "collector_up", now - COLLECTORS_RECENT_S, now + STEP_S, step_s=STEP_S, agg="min"
    )
    out: dict[str, CollectorStatus] = {}
    for s in found:
        name = dict(s.labels).get("collector")
        if name is None or not s.points:
            continue
        ts, value = s.points[-1]
        out[name] = CollectorStatus(name, value >= 0.5, ts, now - ts > RECENT_S)
    return tuple(out[k] for k in sorted(out))


def _costs(r: _Recent) -> tuple[CostStatus, ...]:
    names = (
        "cost_usd_per_hour",
        "cost_usd_per_1m_output_tokens",
        "cost_idle_usd_per_hour",
        "cost_projected_month_usd",
        "cost_budget_remaining_usd",
    )
    values = {name: _per_upstream(r.latest(name), max) for name in names}
    upstreams = sorted({u for per in values.values() for u in per})
    return tuple(CostStatus(u, *(values[name].get(u) for name in names)) for u in upstreams)


# -- hints -------------------------------------------------------------------------------------


def _hints(snap: StatusSnapshot, settings: Settings) -> dict[Section, str]:
    hints: dict[Section, str] = {}
    up = {c.collector: c for c in snap.collectors}
    running = any(not c.stale for c in snap.collectors)
    not_running = (
        "no collector has reported in the last 2 min: is `infersight run` running with this "
        "store (same --config / --db)?"
    )
    c = settings.collectors
    if not snap.gpus:
        if not c.nvml.enabled:
            hints["gpus"] = (
                "no GPU seen: collectors.nvml is disabled; GPUs behind an upstream appear when "
                "its engine_metrics_url points at a DCGM exporter"
            )
        elif "nvml" not in up and running:
            hints["gpus"] = (
                "no GPU seen: nvml unavailable on this host (no NVIDIA driver, or no GPU); GPUs "
                "behind an upstream appear when its engine_metrics_url points at a DCGM exporter"
            )
        else:
            hints["gpus"] = "no GPU samples yet" + ("" if running else f": {not_running}")
    if not snap.engines:
        with_url = [u.name for u in settings.upstreams if u.engine_metrics_url]
        if not with_url:
            hints["engines"] = (
                "no engine metrics: set upstreams[].engine_metrics_url to the engine's "
                "Prometheus /metrics (vLLM, SGLang, TGI, llama-server --metrics)"
            )
        else:
            names = ", ".join(f"engine:{n}" for n in with_url)
            hints["engines"] = f"no engine samples yet: check the collectors {names} below"
    if not snap.serving:
        g = settings.gateway
        hints["serving"] = (
            f"no requests in the last {REQUESTS_WINDOW_S / 60:.0f} min: send traffic through "
            f"the gateway at http://{g.host}:{g.port}/v1"
        )
    if snap.host is None:
        hints["host"] = (
            "no host samples: collectors.host is disabled"
            if not c.host.enabled
            else "no host samples yet" + ("" if running else f": {not_running}")
        )
    if not snap.collectors:
        hints["collectors"] = not_running.replace("in the last 2 min", "in the last 10 min")
    if not snap.costs:
        if not any(u.pricing is not None for u in settings.upstreams):
            hints["costs"] = (
                "no pricing configured: set upstreams[].pricing.instance_type (and instances), "
                "or usd_per_1m_input_tokens / usd_per_1m_output_tokens for a hosted API"
            )
        else:
            hints["costs"] = "no cost samples yet: the service writes them every 15 s"
    return hints
