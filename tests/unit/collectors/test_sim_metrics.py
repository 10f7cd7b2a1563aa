"""The sim's vLLM-named /metrics text, read back with prometheus_client's real parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from infersight.sim.knobs import SimKnobs
from infersight.sim.metrics import TTFT_BUCKETS_S, Histogram, SimObservations, render_metrics
from infersight.sim.state import Counters


def families(text: bytes) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text.decode())}


def test_render_parses_with_vllm_names_and_labels() -> None:
    c = Counters()
    c.running, c.waiting, c.prompt_tokens_total, c.generation_tokens_total = 3, 2, 120, 640
    c.completed_total = 10
    obs = SimObservations()
    for v in (0.004, 0.03, 0.03, 0.2, 30.0):
        obs.ttft.observe(v)
    obs.e2e.observe(1.2)
    fams = families(render_metrics(c.snapshot(), SimKnobs(model='m"x', slots=4), obs))
    assert set(fams) == {
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:num_preemptions",
        "vllm:prompt_tokens",
        "vllm:generation_tokens",
        "vllm:request_success",
        "vllm:time_to_first_token_seconds",
        "vllm:e2e_request_latency_seconds",
    }
    values = {s.name: s.value for f in fams.values() for s in f.samples if "le" not in s.labels}  # type: ignore[attr-defined]
    assert values["vllm:num_requests_running"] == 3
    assert values["vllm:kv_cache_usage_perc"] == 0.75  # 3 running of 4 slots
    assert values["vllm:prompt_tokens_total"] == 120
    assert values["vllm:generation_tokens_total"] == 640
    assert values["vllm:request_success_total"] == 10
    assert values["vllm:time_to_first_token_seconds_count"] == 5
    assert abs(values["vllm:time_to_first_token_seconds_sum"] - 30.264) < 1e-9
    ttft = fams["vllm:time_to_first_token_seconds"]
    buckets = {s.labels["le"]: s.value for s in ttft.samples if s.name.endswith("_bucket")}  # type: ignore[attr-defined]
    assert buckets["0.005"] == 1 and buckets["0.04"] == 3 and buckets["0.25"] == 4
    assert buckets["20.0"] == 4 and buckets["40.0"] == 5 and buckets["+Inf"] == 5
    sample = next(iter(fams["vllm:num_requests_running"].samples))  # type: ignore[attr-defined]
    assert sample.labels == {"engine": "0", "model_name": 'm"x'}


def test_kv_usage_is_zero_with_unlimited_slots() -> None:
    c = Counters()
    c.running = 7
    fams = families(render_metrics(c.snapshot(), SimKnobs(), SimObservations()))
    kv = fams["vllm:kv_cache_usage_perc"]
    assert [s.value for s in kv.samples] == [0.0]  # type: ignore[attr-defined]


def test_histogram_bucket_edges_are_inclusive() -> None:
    h = Histogram(TTFT_BUCKETS_S)
    h.observe(0.005)  # exactly on a bound: counts in le="0.005"
    assert h.counts[TTFT_BUCKETS_S.index(0.005)] == 1
    h.observe(1e9)
    assert h.counts[-1] == 1 and h.count == 2
