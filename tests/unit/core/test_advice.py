from __future__ import annotations

import math
from dataclasses import replace

import pytest

from infersight.core.advice import (
    DEFAULT_THRESHOLDS,
    Advice,
    AdviceThresholds,
    Evidence,
    InstanceOption,
    SeriesEvidence,
    UpstreamEvidence,
    advise,
    least_squares_slope,
)

WEEK_S = 7 * 86400.0

# A made-up family: one-GPU sizes of 24 GiB and a 4-GPU size (96 GiB), prices per hour.
FAMILY = (
    InstanceOption("x.small", 1, 24.0, 1.0),
    InstanceOption("x.medium", 1, 24.0, 1.5),
    InstanceOption("x.quad", 4, 24.0, 6.0),
    InstanceOption("x.big", 1, 24.0, 7.0),  # pricier than x.quad: never "smaller"
)


def ev(series: str, value: float, description: str = "") -> Evidence:
    return Evidence(series, WEEK_S, value, description or series)


def util(value: float) -> Evidence:
    return ev("infersight_gpu_utilization_ratio:p95", value, "p95 GPU utilisation")


def mem_max(value: float) -> Evidence:
    return ev("infersight_gpu_memory_used_ratio:max", value, "max GPU memory used")


def base(**changes: object) -> UpstreamEvidence:
    e = UpstreamEvidence(upstream="llm", instance_type="x.quad", family=FAMILY)
    return replace(e, **changes)  # type: ignore[arg-type]


def kinds(advice: list[Advice]) -> list[tuple[str, str]]:
    return [(a.kind, a.severity) for a in advice]


def test_no_evidence_no_advice() -> None:
    assert advise(UpstreamEvidence(upstream="llm")) == []
    assert advise(base(replicas=3, usd_per_instance_hour=6.0)) == []


def test_non_finite_evidence_is_skipped() -> None:
    e = base(
        gpu_utilization_p95=util(math.nan),
        gpu_memory_used_ratio_max=mem_max(math.inf),
        kv_cache_usage_p95=ev("kv:p95", math.nan),
        peak_request_rate_per_s=ev("rate:max", math.nan),
        mean_e2e_s=ev("e2e:mean", 2.0),
        replicas=2,
    )
    assert advise(e) == []


# --- right-size ---------------------------------------------------------------------------------


def test_right_size_to_a_smaller_instance() -> None:
    # x.quad: 4 × 24 = 96 GiB. Peak memory 15 % = 14.4 GiB; × 1.2 = 17.28 GiB → fits 24 GiB.
    # p95 10 % on 4 GPUs → about 40 % on 1 GPU (≤ 80 %). Cheapest fit: x.small at 1.0 USD/h.
    # saving = (6.0 - 1.0) × 730 × 2 replicas = 7300 USD/month
    e = base(gpu_utilization_p95=util(0.10), gpu_memory_used_ratio_max=mem_max(0.15), replicas=2)
    [a] = advise(e)
    assert (a.kind, a.severity) == ("right-size", "info")
    assert "x.small" in a.title and "x.quad" in a.title
    assert a.projected_saving_usd_per_month == pytest.approx(7300.0)
    assert a.upstream == "llm"
    series = [x.series for x in a.evidence]
    assert series[:2] == [
        "infersight_gpu_utilization_ratio:p95",
        "infersight_gpu_memory_used_ratio:max",
    ]
    assert "17.3 GiB" in a.detail


def test_right_size_respects_memory_headroom() -> None:
    # Peak 21 % of 96 = 20.16 GiB × 1.2 = 24.19 GiB > 24 GiB: no one-GPU size fits,
    # and with a single replica there is nothing else to save.
    e = base(gpu_utilization_p95=util(0.10), gpu_memory_used_ratio_max=mem_max(0.21), replicas=1)
    assert advise(e) == []


def test_right_size_respects_projected_utilization() -> None:
    # p95 25 % on 4 GPUs → 100 % on one: too hot. Falls back to fewer replicas:
    # ceil(3 × 0.25 / 0.6) = ceil(1.25) = 2 replicas; saving (3 - 2) × 6.0 × 730 = 4380.
    e = base(
        gpu_utilization_p95=util(0.25),
        gpu_memory_used_ratio_max=mem_max(0.10),
        replicas=3,
        usd_per_instance_hour=6.0,
    )
    [a] = advise(e)
    assert (a.kind, a.severity) == ("right-size", "info")
    assert "2 replica(s) instead of 3" in a.title
    assert a.projected_saving_usd_per_month == pytest.approx(4380.0)


def test_right_size_fewer_replicas_needs_no_memory_evidence_but_a_price_for_saving() -> None:
    # 2 replicas at 20 %: ceil(2 × 0.2 / 0.6) = 1 replica; no price → saving unknown.
    e = base(gpu_utilization_p95=util(0.20), replicas=2)
    [a] = advise(e)
    assert a.kind == "right-size"
    assert a.projected_saving_usd_per_month is None


def test_right_size_fewer_replicas_keeps_littles_law_floor() -> None:
    # util says 1 replica would do, but peak 12/s × 2.5 s = 30 in flight / 8 = 4 replicas needed
    # out of 5: the scale rule already advises scale-down to 4, so right-size stays quiet.
    e = base(
        gpu_utilization_p95=util(0.20),
        replicas=5,
        usd_per_instance_hour=6.0,
        peak_request_rate_per_s=ev("rate:max", 12.0),
        mean_e2e_s=ev("e2e:mean", 2.5),
    )
    assert kinds(advise(e)) == [("scale", "info")]
    # With 4 replicas Little's law needs all 4: no scale advice, and right-size must not go lower.
    assert advise(replace(e, replicas=4)) == []


def test_right_size_not_firing_when_busy() -> None:
    e = base(gpu_utilization_p95=util(0.30), gpu_memory_used_ratio_max=mem_max(0.1), replicas=4)
    assert advise(e) == []


def test_right_size_unknown_current_instance_falls_back() -> None:
    e = base(
        instance_type="y.other",
        gpu_utilization_p95=util(0.05),
        gpu_memory_used_ratio_max=mem_max(0.05),
        replicas=1,
    )
    assert advise(e) == []


def test_right_size_without_replicas_has_no_saving() -> None:
    e = base(gpu_utilization_p95=util(0.10), gpu_memory_used_ratio_max=mem_max(0.15))
    [a] = advise(e)
    assert "x.small" in a.title
    assert a.projected_saving_usd_per_month is None


# --- scale --------------------------------------------------------------------------------------


def scale_evidence(replicas: int, rate: float = 12.0, e2e: float = 2.5) -> UpstreamEvidence:
    return UpstreamEvidence(
        upstream="llm",
        peak_request_rate_per_s=ev("infersight_requests:rate_max", rate, "peak request rate"),
        mean_e2e_s=ev("infersight_e2e_seconds:mean", e2e, "mean E2E"),
        replicas=replicas,
        usd_per_instance_hour=2.0,
    )


def test_scale_up() -> None:
    # 12/s × 2.5 s = 30 in flight / 8 = 3.75 → 4 replicas; 3 configured → warning.
    [a] = advise(scale_evidence(3))
    assert (a.kind, a.severity) == ("scale", "warning")
    assert "from 3 to 4" in a.title
    assert a.projected_saving_usd_per_month is None
    assert "1,460 USD/month" in a.detail  # 1 × 2.0 × 730
    assert [x.value for x in a.evidence[:3]] == [12.0, 2.5, 3.0]


def test_scale_up_critical_at_twice() -> None:
    [a] = advise(scale_evidence(2))  # 4 needed ≥ 2 × 2
    assert (a.kind, a.severity) == ("scale", "critical")


def test_scale_down() -> None:
    # 4 needed, 6 configured → scale down; saving (6 - 4) × 2.0 × 730 = 2920
    [a] = advise(scale_evidence(6))
    assert (a.kind, a.severity) == ("scale", "info")
    assert "from 6 to 4" in a.title
    assert a.projected_saving_usd_per_month == pytest.approx(2920.0)


def test_scale_not_firing() -> None:
    assert advise(scale_evidence(4)) == []
    assert advise(replace(scale_evidence(4), replicas=None)) == []
    assert advise(replace(scale_evidence(4), mean_e2e_s=None)) == []


def test_scale_target_is_configurable() -> None:
    t = AdviceThresholds(target_concurrency_per_replica=16.0)  # 30 / 16 → 2
    [a] = advise(scale_evidence(4), t)
    assert "from 4 to 2" in a.title
    assert DEFAULT_THRESHOLDS.target_concurrency_per_replica == 8.0


# --- saturation ---------------------------------------------------------------------------------


def queue(values: list[float], step_s: float = 3600.0) -> SeriesEvidence:
    points = tuple((1_700_000_000.0 + i * step_s, v) for i, v in enumerate(values))
    return SeriesEvidence("vllm:num_requests_waiting", WEEK_S, points, "queue depth")


def test_least_squares_slope() -> None:
    # y = 2x + 1 → slope 2
    assert least_squares_slope([(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]) == pytest.approx(2.0)
    # (0,0),(1,1),(2,0),(3,1): x̄ 1.5, ȳ 0.5; Sxy = 0.75-0.25-0.25+0.75 = 1.0... /Sxx 5 = 0.2
    assert least_squares_slope([(0.0, 0.0), (1.0, 1.0), (2.0, 0.0), (3.0, 1.0)]) == pytest.approx(
        0.2
    )
    assert least_squares_slope([(1.0, 1.0)]) is None
    assert least_squares_slope([(1.0, 1.0), (1.0, 2.0)]) is None


def test_queue_growing_fires() -> None:
    # 12 hourly points growing by 2 per hour → slope 2 / h > 1 / h
    [a] = advise(UpstreamEvidence(upstream="llm", queue_depth=queue([2.0 * i for i in range(12)])))
    assert (a.kind, a.severity) == ("saturation", "warning")
    assert a.evidence[0].series == "vllm:num_requests_waiting"
    assert a.evidence[0].value == pytest.approx(2.0)


def test_queue_not_growing_or_too_little_data() -> None:
    flat = queue([3.0, 4.0] * 6)  # oscillates: slope ≈ 0.02 per hour
    assert advise(UpstreamEvidence(upstream="llm", queue_depth=flat)) == []
    few = queue([2.0 * i for i in range(5)])  # 5 points < 10
    assert advise(UpstreamEvidence(upstream="llm", queue_depth=few)) == []
    short = queue([float(i) for i in range(12)], step_s=60.0)  # 11 minutes < 1 h
    assert advise(UpstreamEvidence(upstream="llm", queue_depth=short)) == []
    shrinking = queue([float(20 - i) for i in range(12)])
    assert advise(UpstreamEvidence(upstream="llm", queue_depth=shrinking)) == []


def test_kv_cache_high() -> None:
    e = UpstreamEvidence(
        upstream="llm",
        kv_cache_usage_p95=ev("vllm:kv_cache_usage_perc:p95", 0.5, "p95 KV-cache usage"),
        kv_cache_usage_max=ev("vllm:kv_cache_usage_perc:max", 0.97, "max KV-cache usage"),
    )
    [a] = advise(e)
    assert (a.kind, a.severity) == ("saturation", "warning")
    assert "97 %" in a.title
    assert [x.series for x in a.evidence] == [
        "vllm:kv_cache_usage_perc:p95",
        "vllm:kv_cache_usage_perc:max",
    ]


def test_kv_cache_and_gpu_memory_not_firing_at_threshold() -> None:
    e = UpstreamEvidence(
        upstream="llm",
        kv_cache_usage_max=ev("kv:max", 0.90),
        gpu_memory_used_ratio_p95=ev("mem:p95", 0.85),
    )
    assert advise(e) == []


def test_gpu_memory_high() -> None:
    e = UpstreamEvidence(upstream="llm", gpu_memory_used_ratio_p95=ev("mem:p95", 0.93))
    [a] = advise(e)
    assert a.kind == "saturation" and "GPU memory" in a.title


def test_advice_sorted_by_severity() -> None:
    e = replace(
        scale_evidence(2),  # critical scale-up
        kv_cache_usage_p95=ev("kv:p95", 0.95),  # warning
        gpu_utilization_p95=util(0.1),  # nothing: 2 replicas but Little's law needs 4
    )
    assert kinds(advise(e)) == [("scale", "critical"), ("saturation", "warning")]
