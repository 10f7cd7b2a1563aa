"""advisor: evidence gathered from a seeded SQLite store, advice and the JSON report."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from infersight.advisor import QUEUE_STEP_S, advice_report, gather_evidence
from infersight.core.advice import UpstreamEvidence
from infersight.core.records import MetricSample, RequestRecord
from infersight.core.stats import quantile_sorted
from infersight.settings import Settings
from infersight.store.sqlite import SqliteStore

NOW = 1_700_006_400.0  # a whole hour
MINUTES = 360
T0 = NOW - MINUTES * 60.0
GIB = 1024.0**3
SAVING_RIGHT_SIZE = (7.09 - 1.408) * 730.0 * 2  # ml.g5.12xlarge → ml.g5.xlarge, 2 replicas
# llama: 2 requests a minute; the minute before NOW is not rolled up yet (the rollup delay)
LLAMA_ROLLED_UP = 2 * MINUTES - 2
MEAN_E2E_S = (LLAMA_ROLLED_UP * 2.0 + 60 * 5.0) / (LLAMA_ROLLED_UP + 60)


def settings() -> Settings:
    return Settings.model_validate(
        {
            "upstreams": [
                {
                    "name": "a",
                    "url": "http://a:8000",
                    "pricing": {"instance_type": "ml.g5.12xlarge", "instances": 2},
                },
                {
                    "name": "b",
                    "url": "http://b:8000",
                    "engine_metrics_url": "http://b:8000/metrics",
                    "pricing": {"usd_per_1m_output_tokens": 2.0},
                },
                {"name": "c", "url": "http://c:8000"},
            ]
        }
    )


def util_a(m: int, g: int) -> float:
    return ((m + g) % 20) / 100.0


def seed(store: SqliteStore) -> None:
    """6 hours of minutes: four local GPUs (for a and c), DCGM GPU + vLLM engine for b."""
    out: list[MetricSample] = []
    for m in range(MINUTES):
        ts = T0 + 60.0 * m
        for g in range(4):
            lab = {"gpu": str(g), "gpu_name": "NVIDIA A10G"}
            out.append(MetricSample.make("gpu_utilization_ratio", ts, util_a(m, g), **lab))
            out.append(MetricSample.make("gpu_memory_used_bytes", ts, (2 + g) * GIB, **lab))
            out.append(MetricSample.make("gpu_memory_total_bytes", ts, 24 * GIB, **lab))
        dcgm = {"upstream": "b", "engine": "dcgm", "gpu": "0"}
        used = 76.0 if m >= MINUTES - 60 else 70.0
        out.append(MetricSample.make("gpu_utilization_ratio", ts, 0.9, **dcgm))
        out.append(MetricSample.make("gpu_memory_used_bytes", ts, used * GIB, **dcgm))
        out.append(MetricSample.make("gpu_memory_free_bytes", ts, (80 - used) * GIB, **dcgm))
        vllm = {"upstream": "b", "engine": "vllm", "model": "big"}
        kv = 0.97 if m >= MINUTES - 30 else 0.5
        out.append(MetricSample.make("engine_kv_cache_usage_ratio", ts, kv, **vllm))
        out.append(MetricSample.make("engine_requests_waiting", ts, m / 10.0, **vllm))
    # one short spike inside minute 100 on local GPU 0: the minute max sees it
    out.append(
        MetricSample.make(
            "gpu_memory_used_bytes", T0 + 6030.0, 7 * GIB, gpu="0", gpu_name="NVIDIA A10G"
        )
    )
    # an old sample outside a 1-day window must not count
    out.append(
        MetricSample.make(
            "gpu_utilization_ratio", NOW - 3 * 86400.0, 1.0, gpu="0", gpu_name="NVIDIA A10G"
        )
    )
    store.write_samples(out)
    records = [
        RequestRecord(f"l{i}", T0 + 30.0 * i, "llama", "a", "/v1/chat/completions", True, 200, 2.0)
        for i in range(2 * MINUTES)
    ]
    records += [
        RequestRecord(
            f"q{j}", T0 + 60.0 * j + 10, "qwen", "a", "/v1/chat/completions", True, 200, 5.0
        )
        for j in range(60)
    ]
    records += [  # demo traffic is not user traffic: no effect on the peak rate
        RequestRecord(
            f"d{k}", T0 + 300.0 + k, "llama", "a", "/v1/chat", True, 200, 1.0, source="demo"
        )
        for k in range(30)
    ]
    store.write_records(records)
    store.compact(NOW)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "advice.db")
    seed(s)
    return s


def by_name(evidence: list[UpstreamEvidence]) -> dict[str, UpstreamEvidence]:
    return {e.upstream: e for e in evidence}


def test_local_gpu_evidence(store: SqliteStore) -> None:
    ev = by_name(gather_evidence(store, settings(), now=NOW, days=1))["a"]
    per_minute = sorted(sum(util_a(m, g) for g in range(4)) / 4 for m in range(MINUTES))
    assert ev.gpu_utilization_p95 is not None
    assert ev.gpu_utilization_p95.value == pytest.approx(quantile_sorted(per_minute, 0.95))
    assert ev.gpu_utilization_p95.series == "gpu_utilization_ratio (GPUs on this host)"
    assert ev.gpu_utilization_p95.window_s == 86400.0
    assert ev.gpu_memory_used_ratio_max is not None and ev.gpu_memory_used_ratio_p95 is not None
    # the minute max on GPU 0 is the 7 GiB spike: (7 + 3 + 4 + 5) / 96
    assert ev.gpu_memory_used_ratio_max.value == pytest.approx(19 / 96)
    assert ev.gpu_memory_used_ratio_p95.value == pytest.approx(14 / 96)


def test_dcgm_gpu_engine_and_queue_evidence(store: SqliteStore) -> None:
    ev = by_name(gather_evidence(store, settings(), now=NOW, days=1))["b"]
    assert ev.gpu_utilization_p95 is not None
    assert ev.gpu_utilization_p95.value == pytest.approx(0.9)
    assert ev.gpu_utilization_p95.series == 'gpu_utilization_ratio{upstream="b"}'
    assert ev.gpu_memory_used_ratio_max is not None and ev.gpu_memory_used_ratio_p95 is not None
    assert ev.gpu_memory_used_ratio_max.value == pytest.approx(76 / 80)  # used / (used + free)
    assert ev.gpu_memory_used_ratio_p95.value == pytest.approx(76 / 80)
    assert ev.kv_cache_usage_max is not None and ev.kv_cache_usage_p95 is not None
    assert ev.kv_cache_usage_max.value == pytest.approx(0.97)
    assert ev.kv_cache_usage_p95.value == pytest.approx(0.97)
    assert ev.queue_depth is not None
    xs = [x for x, _ in ev.queue_depth.points]
    assert len(xs) == MINUTES * 60 / QUEUE_STEP_S
    assert all(b - a == QUEUE_STEP_S for a, b in pairwise(xs))
    assert ev.peak_request_rate_per_s is None and ev.mean_e2e_s is None
    assert ev.replicas is None and ev.usd_per_instance_hour is None  # token-priced


def test_request_evidence_uses_user_traffic(store: SqliteStore) -> None:
    ev = by_name(gather_evidence(store, settings(), now=NOW, days=1))["a"]
    assert ev.peak_request_rate_per_s is not None and ev.mean_e2e_s is not None
    # 2 llama + 1 qwen requests in the busiest minutes; the demo burst is not counted
    assert ev.peak_request_rate_per_s.value == pytest.approx(3 / 60)
    # per-minute medians weighted by requests: llama at 2 s, 60 qwen at 5 s
    assert ev.mean_e2e_s.value == pytest.approx(MEAN_E2E_S)
    assert 'source="user"' in ev.mean_e2e_s.series
    assert (ev.replicas, ev.usd_per_instance_hour, ev.instance_type) == (
        2,
        7.09,
        "ml.g5.12xlarge",
    )
    assert {o.instance_type for o in ev.family} >= {"ml.g5.xlarge", "ml.g5.12xlarge"}


def test_window_excludes_old_samples(store: SqliteStore) -> None:
    wide = by_name(gather_evidence(store, settings(), now=NOW, days=4))["a"]
    assert wide.gpu_utilization_p95 is not None
    narrow = by_name(gather_evidence(store, settings(), now=NOW, days=1))["a"]
    assert narrow.gpu_utilization_p95 is not None
    # the old 100 % minute is one more point only in the wide window
    assert wide.gpu_utilization_p95.value >= narrow.gpu_utilization_p95.value
    assert wide.gpu_utilization_p95.window_s == 4 * 86400.0


def test_right_size_advice_with_saving(store: SqliteStore) -> None:
    report = advice_report(store, settings(), now=NOW, days=1)
    a = next(u for u in report.upstreams if u.upstream == "a")
    right = [x for x in a.advice if x.kind == "right-size"]
    assert [x.title for x in right] == ["Move a from ml.g5.12xlarge to ml.g5.xlarge"]
    assert right[0].projected_saving_usd_per_month == pytest.approx(SAVING_RIGHT_SIZE)
    series = [ev.series for ev in right[0].evidence]
    assert "gpu_utilization_ratio (GPUs on this host)" in series
    # Little's law: 0.05 req/s × 2.2 s ≪ 8 per replica: one replica is enough
    scale = [x for x in a.advice if x.kind == "scale"]
    assert [x.title for x in scale] == ["Scale a down from 2 to 1 replicas"]
    # alternatives for one upstream do not add up: the largest saving counts
    assert a.projected_saving_usd_per_month == pytest.approx(SAVING_RIGHT_SIZE)
    assert report.projected_saving_usd_per_month == pytest.approx(SAVING_RIGHT_SIZE)


def test_saturation_advice(store: SqliteStore) -> None:
    report = advice_report(store, settings(), now=NOW, days=1)
    b = next(u for u in report.upstreams if u.upstream == "b")
    titles = [x.title for x in b.advice]
    assert "Queue on b is growing by 6 requests/hour" in titles
    assert "KV-cache usage on b reached 97 %" in titles
    assert "GPU memory use on b reached 95 %" in titles
    assert all(x.severity == "warning" for x in b.advice)
    assert not any(x.kind == "right-size" for x in b.advice)  # 90 % busy


def test_missing_notes(store: SqliteStore) -> None:
    report = advice_report(store, settings(), now=NOW, days=1)
    notes = {u.upstream: " | ".join(u.missing) for u in report.upstreams}
    assert "upstreams[0].engine_metrics_url" in notes["a"]
    assert "counted for every upstream without GPU metrics of its own (a, c)" in notes["a"]
    assert "prices tokens, not instances" in notes["b"]
    assert "no user requests" in notes["b"]
    assert "no pricing: set upstreams[2].pricing.instance_type" in notes["c"]
    c = next(u for u in report.upstreams if u.upstream == "c")
    assert c.has_evidence  # this host's GPUs count for c too


def test_empty_store(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "empty.db")
    report = advice_report(store, Settings(), now=NOW, days=7)
    assert not report.has_evidence
    assert report.advice == []
    assert report.projected_saving_usd_per_month == 0.0
    [u] = report.upstreams
    joined = " | ".join(u.missing)
    for needle in ("gpu_utilization_ratio", "engine_metrics_url", "no user requests", "pricing"):
        assert needle in joined
    payload = json.loads(json.dumps(report.to_json()))
    assert payload["has_evidence"] is False
    assert payload["window_s"] == 7 * 86400.0
    assert payload["upstreams"][0]["advice"] == []


def test_to_json(store: SqliteStore) -> None:
    payload = json.loads(json.dumps(advice_report(store, settings(), now=NOW, days=1).to_json()))
    assert payload["generated_at"] == NOW
    a = payload["upstreams"][0]
    assert a["upstream"] == "a"
    assert a["config"] == {
        "replicas": 2,
        "usd_per_instance_hour": 7.09,
        "instance_type": "ml.g5.12xlarge",
    }
    right = next(x for x in a["advice"] if x["kind"] == "right-size")
    assert right["projected_saving_usd_per_month"] == pytest.approx(SAVING_RIGHT_SIZE)
    assert {"series", "window_s", "value", "description"} <= set(right["evidence"][0])
    assert a["measured"]["mean_e2e_s"]["value"] == pytest.approx(MEAN_E2E_S)
    b = payload["upstreams"][1]
    assert len(b["queue_depth"]["points"]) == 72


def test_mig_instances_not_double_counted(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "mig.db")
    parent = {"gpu": "0"}
    mig = {"gpu": "0", "mig": "1"}
    samples = []
    for m in range(10):
        ts = T0 + 60.0 * m
        samples += [
            MetricSample.make("gpu_memory_used_bytes", ts, 40 * GIB, **parent),
            MetricSample.make("gpu_memory_total_bytes", ts, 80 * GIB, **parent),
            MetricSample.make("gpu_memory_used_bytes", ts, 20 * GIB, **mig),
            MetricSample.make("gpu_memory_total_bytes", ts, 20 * GIB, **mig),
        ]
    store.write_samples(samples)
    [ev] = gather_evidence(store, Settings(), now=NOW, days=1)
    assert ev.gpu_memory_used_ratio_max is not None
    assert ev.gpu_memory_used_ratio_max.value == pytest.approx(0.5)
    assert ev.gpu_utilization_p95 is None


def test_days_must_be_positive(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="days must be a positive number"):
        gather_evidence(store, settings(), now=NOW, days=0)


def test_an_engine_url_that_exports_no_engine_metrics_is_named(tmp_path: Path) -> None:
    """engine_metrics_url is set (to a GPU exporter, say) but no engine series came: the note
    says so instead of asking to set the URL."""
    empty = SqliteStore(tmp_path / "e.db")
    cfg = Settings.model_validate(
        {
            "upstreams": [
                {"name": "d", "url": "http://d:8000", "engine_metrics_url": "http://d:9400/metrics"}
            ]
        }
    )
    (u,) = advice_report(empty, cfg, now=NOW, days=1).upstreams
    joined = " | ".join(u.missing)
    empty.close()
    assert "upstreams[0].engine_metrics_url (http://d:9400/metrics) exports neither" in joined
    assert "set upstreams[0].engine_metrics_url" not in joined
