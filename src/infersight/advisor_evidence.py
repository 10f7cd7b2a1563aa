"""Evidence for the advisor, gathered from the store: the series reads behind `advisor`.

`gather_evidence` reads the last N days of series for every configured upstream and reduces
them to the plain numbers `core.advice.advise` judges; `gather_with_missing` also says, per
upstream, what was not measured and how to get it.

What each number is (window = the last ``days`` before ``now``; "1-min" = the store's
one-minute buckets, so a long window reads the rollup tiers):

gpu_utilization_p95
    ``gpu_utilization_ratio``: per minute, the mean over the upstream's GPUs; then the p95 of
    those minutes. The upstream's GPUs are the series labelled ``upstream=<name>`` (an engine
    or DCGM exporter scraped through ``engine_metrics_url``), else the GPUs NVML sees on this
    host (no ``upstream`` label), as the cost daemon does.
gpu_memory_used_ratio_max / _p95
    Pooled over the same GPUs: Σ ``gpu_memory_used_bytes`` / Σ capacity per minute, where
    capacity is ``gpu_memory_total_bytes`` (NVML) or used + ``gpu_memory_free_bytes`` (DCGM).
    max: from each minute's highest reading; p95: of the minute means. A MIG instance's memory
    is left out when its parent GPU reports the whole GPU's memory.
kv_cache_usage_max / _p95
    ``engine_kv_cache_usage_ratio{upstream}``: per minute the fullest engine (max over label
    sets); max of the minute maxima, p95 of the minute means.
queue_depth
    ``engine_requests_waiting{upstream}``: 5-minute means summed over label sets.
peak_request_rate_per_s
    ``requests_per_s{upstream, source="user"}`` (derived from the gateway's request records):
    per minute summed over models; the highest minute.
mean_e2e_s
    ``e2e_seconds{upstream, source="user", quantile="0.5"}``: the per-minute medians averaged
    with each minute's request count as its weight. The store keeps no per-minute mean, so this
    is the typical request's E2E; for right-skewed latencies the true mean is somewhat higher,
    which makes the Little's-law replica count a slight underestimate.
replicas, price, instance type, family
    ``upstreams[].pricing`` through `pricing.resolve_pricing` and the price table; only for an
    instance-priced upstream (a token-priced API has no replicas to size).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from infersight.core.advice import Evidence, SeriesEvidence, UpstreamEvidence
from infersight.core.stats import quantile_sorted
from infersight.pricing import UnknownInstanceTypeError, family_options, resolve_pricing
from infersight.settings import Settings, UpstreamSettings
from infersight.store.base import Series, Store

__all__ = [
    "DAY_S",
    "MINUTE_S",
    "QUEUE_STEP_S",
    "gather_evidence",
    "gather_with_missing",
]

DAY_S: Final = 86_400.0
MINUTE_S: Final = 60.0
QUEUE_STEP_S: Final = 300.0

Points = dict[float, float]
Labels = tuple[tuple[str, str], ...]

_GPU_HINT: Final = (
    "enable collectors.nvml on the GPU host that runs infersight, or point this upstream's "
    "engine_metrics_url at NVIDIA's DCGM exporter (:9400/metrics)"
)
_ENGINE_HINT: Final = (
    "set upstreams[{i}].engine_metrics_url to the engine's Prometheus /metrics (vLLM, SGLang, "
    "TGI, llama-server --metrics) and keep collectors.engine enabled"
)


def gather_evidence(
    store: Store, settings: Settings, *, now: float, days: float
) -> list[UpstreamEvidence]:
    """What the store measured for each configured upstream over [now - days, now)."""
    return [ev for ev, _ in gather_with_missing(store, settings, now=now, days=days)]


@dataclass
class _Window:
    """The series of one window, each fetched once for every upstream."""

    store: Store
    start: float
    end: float
    cache: dict[tuple[str, float, str, Labels], list[Series]] = field(default_factory=dict)

    @property
    def window_s(self) -> float:
        return self.end - self.start

    def get(
        self, name: str, *, step_s: float = MINUTE_S, agg: str = "avg", **labels: str
    ) -> list[Series]:
        key = (name, step_s, agg, tuple(sorted(labels.items())))
        if key not in self.cache:
            self.cache[key] = self.store.series(
                name, self.start, self.end, step_s=step_s, agg=agg, labels=labels or None
            )
        return self.cache[key]


def gather_with_missing(
    store: Store, settings: Settings, *, now: float, days: float
) -> list[tuple[UpstreamEvidence, list[str]]]:
    """Each configured upstream's evidence over [now - days, now), with what was not measured
    and how to measure it."""
    if not (math.isfinite(days) and days > 0):
        raise ValueError(f"days must be a positive number, got {days!r}")
    w = _Window(store, now - days * DAY_S, now)
    labelled = {
        dict(s.labels)["upstream"]
        for name in ("gpu_utilization_ratio", "gpu_memory_used_bytes")
        for s in w.get(name)
        if "upstream" in dict(s.labels)
    }
    local_users = [u.name for u in settings.upstreams if u.name not in labelled]
    return [_gather_one(w, i, u, local_users) for i, u in enumerate(settings.upstreams)]


def _gather_one(
    w: _Window, index: int, u: UpstreamSettings, local_users: list[str]
) -> tuple[UpstreamEvidence, list[str]]:
    missing: list[str] = []
    gpu = _gpu_evidence(w, u.name, local=u.name in local_users)
    if gpu.scope == "this host" and len(local_users) > 1:
        missing.append(
            f"GPU numbers are this host's GPUs, counted for every upstream without GPU metrics "
            f"of its own ({', '.join(local_users)}); to separate them, point each upstream's "
            "engine_metrics_url at a DCGM exporter on its GPU host"
        )
    if gpu.utilization_p95 is None and gpu.memory_max is None:
        missing.append(
            "no GPU metrics (gpu_utilization_ratio, gpu_memory_used_bytes) in the window: "
            + _GPU_HINT
        )
    elif gpu.utilization_p95 is None:
        missing.append(
            "no GPU utilisation (gpu_utilization_ratio) in the window (MIG instances report "
            "memory only): " + _GPU_HINT
        )
    elif gpu.memory_max is None:
        missing.append(f"no GPU memory (gpu_memory_used_bytes) in the window: {_GPU_HINT}")
    kv_max, kv_p95 = _kv_cache(w, u.name)
    queue = _queue_depth(w, u.name)
    if kv_max is None and queue is None:
        hint = (
            f"upstreams[{index}].engine_metrics_url ({u.engine_metrics_url}) exports neither "
            "(a GPU exporter such as DCGM's has no engine metrics: point it at the serving "
            "engine's /metrics), or collectors.engine is off"
            if u.engine_metrics_url
            else _ENGINE_HINT.format(i=index)
        )
        missing.append(
            "no engine metrics (engine_kv_cache_usage_ratio, engine_requests_waiting): " + hint
        )
    elif kv_max is None:
        missing.append(
            "the engine reports no KV-cache usage (engine_kv_cache_usage_ratio; TGI has none)"
        )
    elif queue is None:
        missing.append("the engine reports no queue depth (engine_requests_waiting)")
    rate = _peak_rate(w, u.name)
    e2e = _mean_e2e(w, u.name)
    if rate is None:
        missing.append(
            "no user requests through the gateway for this upstream in the window "
            "(requests_per_s, source=user): scaling advice needs traffic and a rollup "
            "(`infersight run` compacts every store.rollup_interval_s)"
        )
    pricing = _pricing(u, index, missing)
    evidence = UpstreamEvidence(
        upstream=u.name,
        gpu_utilization_p95=gpu.utilization_p95,
        gpu_memory_used_ratio_max=gpu.memory_max,
        gpu_memory_used_ratio_p95=gpu.memory_p95,
        kv_cache_usage_max=kv_max,
        kv_cache_usage_p95=kv_p95,
        queue_depth=queue,
        peak_request_rate_per_s=rate,
        mean_e2e_s=e2e,
        **pricing,
    )
    return evidence, missing


def _pricing(u: UpstreamSettings, index: int, missing: list[str]) -> dict[str, Any]:
    where = f"upstreams[{index}].pricing"
    if u.pricing is None:
        missing.append(
            f"no pricing: set {where}.instance_type (e.g. ml.g5.xlarge) and "
            f"{where}.instances for replica, right-size and saving advice"
        )
        return {}
    try:
        price = resolve_pricing(u.pricing)
    except UnknownInstanceTypeError as exc:
        missing.append(f"{where}: {exc}")
        return {}
    if price.usd_per_instance_hour is None:
        missing.append(
            f"{where} prices tokens, not instances: replica and right-size advice need "
            f"{where}.instance_type or usd_per_hour"
        )
        return {}
    family = family_options(price.instance_type) if price.instance_type else ()
    if not family:
        missing.append(
            f"{where}.instance_type is not in the price table: no smaller instance type can be "
            "suggested (replica advice still applies)"
        )
    return {
        "replicas": price.instances,
        "usd_per_instance_hour": price.usd_per_instance_hour,
        "instance_type": price.instance_type,
        "family": family,
    }


@dataclass(frozen=True)
class _GpuEvidence:
    scope: str  # "upstream" or "this host" or "none"
    utilization_p95: Evidence | None = None
    memory_max: Evidence | None = None
    memory_p95: Evidence | None = None


def _gpu_evidence(w: _Window, upstream: str, *, local: bool) -> _GpuEvidence:
    def pick(name: str, agg: str = "avg") -> list[Series]:
        rows = w.get(name, agg=agg)
        mine = [s for s in rows if dict(s.labels).get("upstream") == upstream]
        if mine or not local:
            return mine
        return [s for s in rows if "upstream" not in dict(s.labels)]

    util = pick("gpu_utilization_ratio")
    used_avg, used_max = pick("gpu_memory_used_bytes"), pick("gpu_memory_used_bytes", "max")
    if not util and not used_avg:
        return _GpuEvidence("none")
    own = any("upstream" in dict(s.labels) for s in (*util, *used_avg))
    scope = "upstream" if own else "this host"
    where = f'{{upstream="{upstream}"}}' if own else " (GPUs on this host)"
    util_ev = None
    per_minute = _combine(util, _mean)
    if per_minute:
        util_ev = Evidence(
            f"gpu_utilization_ratio{where}",
            w.window_s,
            _p95(per_minute.values()),
            f"GPU utilisation p95 of 1-min means over {len(util)} GPU(s)",
        )
    capacity = _capacity(used_avg, pick("gpu_memory_total_bytes"), pick("gpu_memory_free_bytes"))
    mem_max = mem_p95 = None
    series = f"gpu_memory_used_bytes / capacity{where}"
    ratio_max = _pooled_ratio(used_max, capacity)
    if ratio_max:
        n = len(capacity)
        mem_max = Evidence(
            series, w.window_s, max(ratio_max.values()), f"GPU memory used peak ({n} GPU(s))"
        )
        ratio_avg = _pooled_ratio(used_avg, capacity)
        mem_p95 = Evidence(
            series, w.window_s, _p95(ratio_avg.values()), f"GPU memory used p95 ({n} GPU(s))"
        )
    return _GpuEvidence(scope, util_ev, mem_max, mem_p95)


def _capacity(
    used: Sequence[Series], total: Sequence[Series], free: Sequence[Series]
) -> dict[Labels, Points]:
    """Bytes of memory per GPU (label set) and minute: total, else used + free."""
    totals = {s.labels: dict(s.points) for s in total}
    frees = {s.labels: dict(s.points) for s in free}
    whole = {dict(s.labels).get("gpu") for s in used if "mig" not in dict(s.labels)}
    out: dict[Labels, Points] = {}
    for s in used:
        labels = dict(s.labels)
        if "mig" in labels and labels.get("gpu") in whole:
            continue  # the parent GPU's reading covers its MIG instances
        cap: Points = {}
        t, f = totals.get(s.labels, {}), frees.get(s.labels, {})
        fallback_total = max(t.values()) if t else None
        for ts, v in s.points:
            c = t.get(ts, fallback_total)
            if c is None and ts in f:
                c = v + f[ts]
            if c is not None and c > 0:
                cap[ts] = c
        if cap:
            out[s.labels] = cap
    return out


def _pooled_ratio(used: Sequence[Series], capacity: dict[Labels, Points]) -> Points:
    """Σ used / Σ capacity per minute over the GPUs with a capacity that minute."""
    num: Points = {}
    den: Points = {}
    for s in used:
        cap = capacity.get(s.labels)
        if cap is None:
            continue
        for ts, v in s.points:
            if ts in cap:
                num[ts] = num.get(ts, 0.0) + v
                den[ts] = den.get(ts, 0.0) + cap[ts]
    return {ts: num[ts] / den[ts] for ts in num if den[ts] > 0}


def _kv_cache(w: _Window, upstream: str) -> tuple[Evidence | None, Evidence | None]:
    name = "engine_kv_cache_usage_ratio"
    peak = _combine(w.get(name, agg="max", upstream=upstream), max)
    typical = _combine(w.get(name, upstream=upstream), max)
    if not peak or not typical:
        return None, None
    series = f'{name}{{upstream="{upstream}"}}'
    return (
        Evidence(series, w.window_s, max(peak.values()), "KV-cache usage peak (1-min max)"),
        Evidence(series, w.window_s, _p95(typical.values()), "KV-cache usage p95 of 1-min means"),
    )


def _queue_depth(w: _Window, upstream: str) -> SeriesEvidence | None:
    name = "engine_requests_waiting"
    points = _combine(w.get(name, step_s=QUEUE_STEP_S, upstream=upstream), sum)
    if not points:
        return None
    return SeriesEvidence(
        f'{name}{{upstream="{upstream}"}}',
        w.window_s,
        tuple(sorted(points.items())),
        "waiting requests, 5-min means summed over engines",
    )


def _peak_rate(w: _Window, upstream: str) -> Evidence | None:
    per_minute = _combine(w.get("requests_per_s", upstream=upstream, source="user"), sum)
    if not per_minute:
        return None
    return Evidence(
        f'requests_per_s{{upstream="{upstream}",source="user"}}',
        w.window_s,
        max(per_minute.values()),
        "peak 1-min request rate (user traffic, all models)",
    )


def _mean_e2e(w: _Window, upstream: str) -> Evidence | None:
    rates = {
        s.labels: dict(s.points) for s in w.get("requests_per_s", upstream=upstream, source="user")
    }
    medians = w.get("e2e_seconds", upstream=upstream, source="user", quantile="0.5")
    weighted = weight = 0.0
    for s in medians:
        counts = rates.get(tuple(kv for kv in s.labels if kv[0] != "quantile"), {})
        for ts, v in s.points:
            n = counts.get(ts, 0.0) * MINUTE_S
            weighted += v * n
            weight += n
    if weight <= 0:
        return None
    return Evidence(
        f'e2e_seconds{{upstream="{upstream}",source="user",quantile="0.5"}}',
        w.window_s,
        weighted / weight,
        "E2E: request-weighted mean of 1-min medians",
    )


# -- small helpers -----------------------------------------------------------------------------


def _combine(series: Iterable[Series], reduce: Callable[[list[float]], float]) -> Points:
    """One value per timestamp over several series (mean, sum or max of those present)."""
    at: dict[float, list[float]] = {}
    for s in series:
        for ts, v in s.points:
            if math.isfinite(v):
                at.setdefault(ts, []).append(v)
    return {ts: reduce(values) for ts, values in sorted(at.items())}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _p95(values: Iterable[float]) -> float:
    return quantile_sorted(sorted(values), 0.95)
