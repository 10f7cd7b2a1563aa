"""The advice engine: right-sizing, scaling and saturation advice from measured evidence.

Pure: the caller queries the store for the last N days and hands over plain numbers, each as an
:class:`Evidence` that names the series, the window and the value it came from. Every piece of
advice carries the evidence it stands on, so the dashboard can show "why". A rule whose evidence
is missing (``None``) or not a finite number is skipped silently: advice is never invented.

Ratios (utilisation, memory used, KV-cache usage) are fractions in [0, 1].

Rules (thresholds are the constants below, gathered in :class:`AdviceThresholds`):

right-size
    p95 GPU utilisation < 30 %. First choice: the cheapest cheaper instance of the same family
    whose total GPU memory holds the observed peak memory × 1.2, and whose GPUs would stay at or
    under 80 % utilisation (p95 × current GPUs / candidate GPUs). Saving at the table's list
    prices: (current - candidate) USD/h × 730 h × replicas. Otherwise, with more than one replica
    and no scale-down advice already given: fewer replicas, as many as keep p95 utilisation under
    60 % (ceil(replicas × p95 / 0.6)) and no fewer than Little's law needs; saving = removed
    replicas × USD/h × 730 h.
scale
    Little's law: replicas needed = ceil(peak rate × mean E2E / 8 per replica) vs current
    replicas. More needed: scale up (warning; critical at 2× or more). Fewer: scale down (info,
    saving = removed replicas × USD/h × 730 h).
saturation
    queue depth growing faster than 1 request/hour (least-squares slope over >= 10 points
    spanning >= 1 h); KV-cache usage > 90 % (max or p95); GPU memory used > 90 % (max or p95).
    Each is a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from infersight.core.capacity import littles_law_concurrency, replicas_needed
from infersight.core.cost import HOURS_PER_MONTH

Severity = Literal["info", "warning", "critical"]
AdviceKind = Literal["right-size", "scale", "saturation"]

RIGHT_SIZE_GPU_UTILIZATION_P95_BELOW = 0.30
RIGHT_SIZE_MEMORY_HEADROOM = 1.20
RIGHT_SIZE_MAX_PROJECTED_GPU_UTILIZATION = 0.80
RIGHT_SIZE_TARGET_GPU_UTILIZATION = 0.60
SCALE_TARGET_CONCURRENCY_PER_REPLICA = 8.0
SCALE_HEADROOM = 1.0
SCALE_UP_CRITICAL_RATIO = 2.0
QUEUE_DEPTH_SLOPE_WARNING_PER_HOUR = 1.0
QUEUE_DEPTH_MIN_POINTS = 10
QUEUE_DEPTH_MIN_SPAN_S = 3600.0
KV_CACHE_USAGE_WARNING = 0.90
GPU_MEMORY_USED_WARNING = 0.90

_SEVERITY_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Evidence:
    """One number and where it came from: a series (or config key), the window it covers."""

    series: str
    window_s: float
    value: float
    description: str


@dataclass(frozen=True)
class SeriesEvidence:
    """A series of ``(ts_s, value)`` points over a window, for rules that fit a trend."""

    series: str
    window_s: float
    points: tuple[tuple[float, float], ...]
    description: str = ""


@dataclass(frozen=True)
class InstanceOption:
    """An instance type the right-size rule may move to (one row of the price table)."""

    instance_type: str
    gpus_per_instance: int
    gpu_memory_gib_per_gpu: float
    usd_per_hour: float

    @property
    def gpu_memory_gib(self) -> float:
        """Total GPU memory of one instance: GPUs × GiB per GPU."""
        return self.gpus_per_instance * self.gpu_memory_gib_per_gpu


@dataclass(frozen=True)
class UpstreamEvidence:
    """What was measured for one upstream over the last N days; ``None`` = not measured.

    ``family`` is the price table's rows of the same family as ``instance_type`` (it may include
    the current type); ``usd_per_instance_hour`` is the effective price (config or table).
    """

    upstream: str
    gpu_utilization_p95: Evidence | None = None
    gpu_memory_used_ratio_max: Evidence | None = None
    gpu_memory_used_ratio_p95: Evidence | None = None
    kv_cache_usage_max: Evidence | None = None
    kv_cache_usage_p95: Evidence | None = None
    queue_depth: SeriesEvidence | None = None
    peak_request_rate_per_s: Evidence | None = None
    mean_e2e_s: Evidence | None = None
    replicas: int | None = None
    usd_per_instance_hour: float | None = None
    instance_type: str | None = None
    family: tuple[InstanceOption, ...] = ()


@dataclass(frozen=True)
class AdviceThresholds:
    """The rules' thresholds; defaults are the module constants."""

    right_size_gpu_utilization_p95_below: float = RIGHT_SIZE_GPU_UTILIZATION_P95_BELOW
    right_size_memory_headroom: float = RIGHT_SIZE_MEMORY_HEADROOM
    right_size_max_projected_gpu_utilization: float = RIGHT_SIZE_MAX_PROJECTED_GPU_UTILIZATION
    right_size_target_gpu_utilization: float = RIGHT_SIZE_TARGET_GPU_UTILIZATION
    target_concurrency_per_replica: float = SCALE_TARGET_CONCURRENCY_PER_REPLICA
    scale_headroom: float = SCALE_HEADROOM
    scale_up_critical_ratio: float = SCALE_UP_CRITICAL_RATIO
    queue_depth_slope_warning_per_hour: float = QUEUE_DEPTH_SLOPE_WARNING_PER_HOUR
    queue_depth_min_points: int = QUEUE_DEPTH_MIN_POINTS
    queue_depth_min_span_s: float = QUEUE_DEPTH_MIN_SPAN_S
    kv_cache_usage_warning: float = KV_CACHE_USAGE_WARNING
    gpu_memory_used_warning: float = GPU_MEMORY_USED_WARNING
    hours_per_month: float = HOURS_PER_MONTH


DEFAULT_THRESHOLDS = AdviceThresholds()


@dataclass(frozen=True)
class Advice:
    """One recommendation with the evidence it stands on.

    ``projected_saving_usd_per_month`` is ``None`` when the advice saves nothing (scale up,
    saturation) or the price is unknown.
    """

    kind: AdviceKind
    severity: Severity
    title: str
    detail: str
    evidence: tuple[Evidence, ...]
    projected_saving_usd_per_month: float | None
    upstream: str = field(default="")


def least_squares_slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Slope of the least-squares line through ``(x, y)`` points, in y per unit of x.

    slope = Σ (x - x̄)(y - ȳ) / Σ (x - x̄)². ``None`` with fewer than 2 points or all x equal.
    Non-finite points are skipped.
    """
    pts = [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]
    if len(pts) < 2:
        return None
    x_mean = sum(x for x, _ in pts) / len(pts)
    y_mean = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - x_mean) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    sxy = sum((x - x_mean) * (y - y_mean) for x, y in pts)
    return sxy / sxx


def _usable(ev: Evidence | None, *, minimum: float = 0.0) -> Evidence | None:
    """The evidence when present with a finite value >= minimum, else None (rule skipped)."""
    return ev if ev is not None and math.isfinite(ev.value) and ev.value >= minimum else None


def _price(e: UpstreamEvidence) -> float | None:
    p = e.usd_per_instance_hour
    return p if p is not None and math.isfinite(p) and p >= 0 else None


def _config_evidence(e: UpstreamEvidence, key: str, value: float, what: str) -> Evidence:
    return Evidence(f"config:upstreams[{e.upstream}].pricing.{key}", 0.0, value, what)


def _replicas_evidence(e: UpstreamEvidence, replicas: int) -> Evidence:
    return _config_evidence(e, "instances", float(replicas), "replicas (instances) configured")


def _price_evidence(e: UpstreamEvidence, price: float) -> Evidence:
    return _config_evidence(e, "usd_per_hour", price, "USD per instance-hour in effect")


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.0f} %"


def _scale(e: UpstreamEvidence, t: AdviceThresholds) -> list[Advice]:
    rate_ev, e2e_ev = _usable(e.peak_request_rate_per_s), _usable(e.mean_e2e_s)
    replicas = e.replicas
    if rate_ev is None or e2e_ev is None or replicas is None or replicas < 1:
        return []
    rate, e2e = rate_ev.value, e2e_ev.value
    needed = replicas_needed(rate, e2e, t.target_concurrency_per_replica, headroom=t.scale_headroom)
    if needed == replicas:
        return []
    concurrency = littles_law_concurrency(rate, e2e)
    evidence = [rate_ev, e2e_ev, _replicas_evidence(e, replicas)]
    price = _price(e)
    why = (
        f"Little's law: peak {rate:.3g} req/s × mean E2E {e2e:.3g} s = {concurrency:.3g} requests "
        f"in flight; at {t.target_concurrency_per_replica:g} per replica"
        + (f" with ×{t.scale_headroom:g} headroom" if t.scale_headroom != 1.0 else "")
        + f" that needs {needed} replica(s), {replicas} configured."
    )
    if needed > replicas:
        extra = ""
        if price is not None:
            evidence.append(_price_evidence(e, price))
            cost = (needed - replicas) * price * t.hours_per_month
            extra = f" It adds about {cost:,.0f} USD/month."
        critical = needed >= t.scale_up_critical_ratio * replicas
        return [
            Advice(
                kind="scale",
                severity="critical" if critical else "warning",
                title=f"Scale {e.upstream} up from {replicas} to {needed} replicas",
                detail=why + " Requests queue at the peak; add replicas or raise per-replica "
                "concurrency if the engine has headroom (check KV-cache usage)." + extra,
                evidence=tuple(evidence),
                projected_saving_usd_per_month=None,
                upstream=e.upstream,
            )
        ]
    saving = None
    if price is not None:
        evidence.append(_price_evidence(e, price))
        saving = (replicas - needed) * price * t.hours_per_month
    return [
        Advice(
            kind="scale",
            severity="info",
            title=f"Scale {e.upstream} down from {replicas} to {needed} replicas",
            detail=why
            + " The observed peak fits in fewer replicas; scale down or use autoscaling.",
            evidence=tuple(evidence),
            projected_saving_usd_per_month=saving,
            upstream=e.upstream,
        )
    ]


def _smaller_instance(e: UpstreamEvidence, util_ev: Evidence, t: AdviceThresholds) -> Advice | None:
    mem_ev = _usable(e.gpu_memory_used_ratio_max)
    if e.instance_type is None or mem_ev is None or not e.family:
        return None
    utilization_p95, peak_mem = util_ev.value, mem_ev.value
    wanted = e.instance_type.strip().lower()
    current = next((o for o in e.family if o.instance_type.lower() == wanted), None)
    if current is None or current.gpus_per_instance < 1:
        return None
    needed_gib = peak_mem * current.gpu_memory_gib * t.right_size_memory_headroom
    fits = [
        o
        for o in e.family
        if o.usd_per_hour < current.usd_per_hour
        and o.gpus_per_instance >= 1
        and o.gpu_memory_gib >= needed_gib
        and utilization_p95 * current.gpus_per_instance / o.gpus_per_instance
        <= t.right_size_max_projected_gpu_utilization
    ]
    if not fits:
        return None
    best = min(fits, key=lambda o: (o.usd_per_hour, o.instance_type))
    replicas = e.replicas if e.replicas is not None and e.replicas >= 1 else None
    saving = None
    evidence = [util_ev, mem_ev]
    if replicas is not None:
        saving = (current.usd_per_hour - best.usd_per_hour) * t.hours_per_month * replicas
        evidence.append(_replicas_evidence(e, replicas))
    projected = utilization_p95 * current.gpus_per_instance / best.gpus_per_instance
    return Advice(
        kind="right-size",
        severity="info",
        title=f"Move {e.upstream} from {current.instance_type} to {best.instance_type}",
        detail=(
            f"p95 GPU utilisation is {_pct(utilization_p95)} and peak GPU memory use is "
            f"{_pct(peak_mem)} of {current.gpu_memory_gib:g} GiB = "
            f"{peak_mem * current.gpu_memory_gib:.1f} GiB. {best.instance_type} has "
            f"{best.gpus_per_instance} GPU(s) with {best.gpu_memory_gib:g} GiB in all (needed: "
            f"{needed_gib:.1f} GiB with ×{t.right_size_memory_headroom:g} headroom); p95 "
            f"utilisation there would be about {_pct(projected)}. List price "
            f"{current.usd_per_hour:g} → {best.usd_per_hour:g} USD/h per instance. "
            "Check host CPU and memory needs before switching."
        ),
        evidence=tuple(evidence),
        projected_saving_usd_per_month=saving,
        upstream=e.upstream,
    )


def _right_size(e: UpstreamEvidence, t: AdviceThresholds, scaled_down: bool) -> list[Advice]:
    util_ev = _usable(e.gpu_utilization_p95)
    if util_ev is None or util_ev.value >= t.right_size_gpu_utilization_p95_below:
        return []
    u = util_ev.value
    smaller = _smaller_instance(e, util_ev, t)
    if smaller is not None:
        return [smaller]
    replicas = e.replicas
    if replicas is None or replicas <= 1 or scaled_down:
        return []
    fewer = max(1, math.ceil(replicas * u / t.right_size_target_gpu_utilization - 1e-9))
    evidence = [util_ev, _replicas_evidence(e, replicas)]
    rate_ev, e2e_ev = _usable(e.peak_request_rate_per_s), _usable(e.mean_e2e_s)
    floor_note = ""
    if rate_ev is not None and e2e_ev is not None:
        needed = replicas_needed(
            rate_ev.value, e2e_ev.value, t.target_concurrency_per_replica, headroom=t.scale_headroom
        )
        if needed > fewer:
            fewer = needed
            floor_note = f" Little's law keeps {needed} for the observed peak."
            evidence += [rate_ev, e2e_ev]
    if fewer >= replicas:
        return []
    price = _price(e)
    saving = None
    if price is not None:
        saving = (replicas - fewer) * price * t.hours_per_month
        evidence.append(_price_evidence(e, price))
    return [
        Advice(
            kind="right-size",
            severity="info",
            title=f"Run {e.upstream} on {fewer} replica(s) instead of {replicas}",
            detail=(
                f"p95 GPU utilisation is {_pct(u)} across {replicas} replicas; {fewer} would "
                f"run at about {_pct(u * replicas / fewer)}.{floor_note} No cheaper instance of "
                "the same family was found that holds the observed GPU memory."
            ),
            evidence=tuple(evidence),
            projected_saving_usd_per_month=saving,
            upstream=e.upstream,
        )
    ]


def _queue_growth(e: UpstreamEvidence, t: AdviceThresholds) -> list[Advice]:
    q = e.queue_depth
    if q is None:
        return []
    pts = [(x, y) for x, y in q.points if math.isfinite(x) and math.isfinite(y)]
    if len(pts) < t.queue_depth_min_points:
        return []
    span_s = max(x for x, _ in pts) - min(x for x, _ in pts)
    slope = least_squares_slope(pts)
    if span_s < t.queue_depth_min_span_s or slope is None:
        return []
    per_hour = slope * 3600.0
    if per_hour <= t.queue_depth_slope_warning_per_hour:
        return []
    ev = Evidence(
        q.series,
        q.window_s,
        per_hour,
        f"least-squares slope of queue depth over {len(pts)} points, requests per hour",
    )
    return [
        Advice(
            kind="saturation",
            severity="warning",
            title=f"Queue on {e.upstream} is growing by {per_hour:.3g} requests/hour",
            detail=(
                f"Waiting requests grew by {per_hour:.3g} per hour over {span_s / 3600:.3g} h: "
                "arrivals outpace service. Add replicas or reduce per-request work (shorter "
                "max_tokens, smaller prompts)."
            ),
            evidence=(ev,),
            projected_saving_usd_per_month=None,
            upstream=e.upstream,
        )
    ]


def _high_ratio(
    e: UpstreamEvidence,
    max_ev: Evidence | None,
    p95_ev: Evidence | None,
    threshold: float,
    what: str,
    remedy: str,
) -> list[Advice]:
    evidence = tuple(ev for ev in (_usable(p95_ev), _usable(max_ev)) if ev is not None)
    over = [ev for ev in evidence if ev.value > threshold]
    if not over:
        return []
    worst = max(ev.value for ev in over)
    observed = ", ".join(f"{ev.description} {_pct(ev.value)}" for ev in evidence)
    return [
        Advice(
            kind="saturation",
            severity="warning",
            title=f"{what} on {e.upstream} reached {_pct(worst)}",
            detail=f"{observed} (threshold {_pct(threshold)}). {remedy}",
            evidence=evidence,
            projected_saving_usd_per_month=None,
            upstream=e.upstream,
        )
    ]


def advise(
    evidence: UpstreamEvidence, thresholds: AdviceThresholds = DEFAULT_THRESHOLDS
) -> list[Advice]:
    """All advice for one upstream, most severe first (critical, warning, info)."""
    e, t = evidence, thresholds
    scale = _scale(e, t)
    scaled_down = any(a.severity == "info" for a in scale)
    out = [*scale, *_right_size(e, t, scaled_down), *_queue_growth(e, t)]
    out += _high_ratio(
        e,
        e.kv_cache_usage_max,
        e.kv_cache_usage_p95,
        t.kv_cache_usage_warning,
        "KV-cache usage",
        "A full KV cache makes the engine queue or preempt requests: add replicas, cap "
        "concurrent sequences or context length, or use GPUs with more memory.",
    )
    out += _high_ratio(
        e,
        e.gpu_memory_used_ratio_max,
        e.gpu_memory_used_ratio_p95,
        t.gpu_memory_used_warning,
        "GPU memory use",
        "Little room is left for longer contexts or larger batches. Engines such as vLLM "
        "reserve a fixed share up front (gpu_memory_utilization), so compare with KV-cache "
        "usage before acting.",
    )
    return sorted(out, key=lambda a: _SEVERITY_ORDER[a.severity])
