"""Pure mapping of engine exposition onto our vocabulary, and histogram interval quantiles."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from infersight.collectors.engine_maps import (
    RULES,
    MalformedExposition,
    MappedScrape,
    detect_engines,
    family_key,
    map_families,
    prefilter_exposition,
)
from infersight.collectors.histograms import (
    HistogramSnapshot,
    bucket_quantile,
    interval_delta,
    interval_quantiles,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "exposition"
INF = math.inf


def mapped(text: str, upstream: str = "up") -> MappedScrape:
    return map_families(text_string_to_metric_families(text), upstream=upstream)


def points(m: MappedScrape) -> dict[str, float]:
    """name -> value, for texts with one series per name."""
    out: dict[str, float] = {}
    for (name, _), v in m.points.items():
        assert name not in out, f"{name} has several series"
        out[name] = v
    return out


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("vllm_old_names.txt", "vllm"),
        ("tgi.txt", "tgi"),
        ("sglang.txt", "sglang"),
        ("llamacpp.txt", "llamacpp"),
        ("dcgm.txt", "dcgm"),
    ],
)
def test_detects_each_engine_from_its_names(fixture: str, kind: str) -> None:
    families = list(text_string_to_metric_families((FIXTURES / fixture).read_text()))
    assert detect_engines(f.name for f in families) == [kind]


def test_detection_ignores_unknown_and_orders_by_count() -> None:
    assert detect_engines(["python_gc_objects_collected", "tgi_something_else"]) == []
    names = ["DCGM_FI_DEV_GPU_UTIL", "vllm:num_requests_running", "vllm:prompt_tokens_total"]
    assert detect_engines(names) == ["vllm", "dcgm"]


def test_rules_are_unique_and_named_with_units() -> None:
    sources = [r.source for r in RULES]
    assert len(sources) == len(set(sources))
    assert all(family_key(s) == s for s in sources)  # keyed without _total
    suffixes = ("_ratio", "_bytes", "_watts", "_celsius", "_hz", "_total", "_seconds", "_second")
    extra = {"engine_requests_running", "engine_requests_waiting", "engine_batch_max_tokens"}
    assert all(r.target.endswith(suffixes) or r.target in extra for r in RULES)


def test_vllm_old_names() -> None:
    m = mapped((FIXTURES / "vllm_old_names.txt").read_text())
    p = points(m)
    assert p["engine_requests_running"] == 12 and p["engine_requests_waiting"] == 3
    assert p["engine_kv_cache_usage_ratio"] == pytest.approx(0.4237)
    assert p["engine_preemptions_total"] == 7
    assert p["engine_prompt_tokens_total"] == 61874
    assert p["engine_generation_tokens_total"] == 6120
    assert p["engine_requests_success_total"] == 120  # stop + length summed
    labels = dict(next(iter(m.points)).__getitem__(1))
    assert labels == {
        "engine": "vllm",
        "upstream": "up",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
    }
    hist = {name: h for (name, _), h in m.histograms.items()}
    assert set(hist) == {"engine_ttft_seconds", "engine_itl_seconds", "engine_e2e_seconds"}
    assert hist["engine_ttft_seconds"].count == 120
    assert hist["engine_ttft_seconds"].sum == pytest.approx(11.00545)
    assert hist["engine_itl_seconds"].count == 6000  # from time_per_output_token_seconds


def test_new_name_wins_when_both_are_exposed() -> None:
    text = """\
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="m",engine="0"} 0.25
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="m",engine="0"} 0.99
# TYPE vllm:time_per_output_token_seconds histogram
vllm:time_per_output_token_seconds_bucket{model_name="m",engine="0",le="0.1"} 9.0
vllm:time_per_output_token_seconds_bucket{model_name="m",engine="0",le="+Inf"} 9.0
vllm:time_per_output_token_seconds_sum{model_name="m",engine="0"} 0.9
vllm:time_per_output_token_seconds_count{model_name="m",engine="0"} 9.0
# TYPE vllm:inter_token_latency_seconds histogram
vllm:inter_token_latency_seconds_bucket{model_name="m",engine="0",le="0.1"} 4.0
vllm:inter_token_latency_seconds_bucket{model_name="m",engine="0",le="+Inf"} 4.0
vllm:inter_token_latency_seconds_sum{model_name="m",engine="0"} 0.2
vllm:inter_token_latency_seconds_count{model_name="m",engine="0"} 4.0
"""
    m = mapped(text)
    assert points(m) == {"engine_kv_cache_usage_ratio": 0.25}
    [(key, h)] = m.histograms.items()
    assert key[0] == "engine_itl_seconds" and h.count == 4
    assert dict(key[1])["engine_index"] == "0"  # vLLM's own `engine` label is kept, renamed


def test_tgi_counters_and_token_histograms() -> None:
    p = points(mapped((FIXTURES / "tgi.txt").read_text()))
    assert p["engine_requests_total"] == 96 and p["engine_requests_success_total"] == 94
    assert p["engine_requests_waiting"] == 4 and p["engine_requests_running"] == 8
    assert p["engine_generation_tokens_total"] == 6332  # sum of the per-request histogram
    assert p["engine_prompt_tokens_total"] == 44529


def test_untyped_counters_and_nan_gauges() -> None:
    text = "llamacpp:tokens_predicted_total 39080\nllamacpp:predicted_tokens_seconds nan\n"
    assert points(mapped(text)) == {"engine_generation_tokens_total": 39080.0}


def test_dcgm_units_and_gpu_labels() -> None:
    m = mapped((FIXTURES / "dcgm.txt").read_text(), upstream="node3")
    gpu0 = {n: v for (n, lab), v in m.points.items() if ("gpu", "0") in lab}
    assert gpu0["gpu_utilization_ratio"] == pytest.approx(0.87)
    assert gpu0["gpu_memory_used_bytes"] == 76502 * 1024 * 1024
    assert gpu0["gpu_memory_free_bytes"] == 4417 * 1024 * 1024
    assert gpu0["gpu_power_watts"] == pytest.approx(287.512)
    assert gpu0["gpu_sm_active_ratio"] == pytest.approx(0.712044)
    assert gpu0["gpu_sm_clock_hz"] == 1410e6
    labels = dict(next(lab for (n, lab) in m.points if ("gpu", "1") in lab))
    assert labels == {
        "engine": "dcgm",
        "upstream": "node3",
        "gpu": "1",
        "gpu_uuid": "GPU-9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4",
        "gpu_name": "NVIDIA A100-SXM4-80GB",
    }


def test_unknown_families_are_ignored() -> None:
    m = mapped("# TYPE http_requests_total counter\nhttp_requests_total 5\nsome_gauge 1\n")
    assert m.points == {} and m.histograms == {} and m.kinds == [] and m.families_seen == 2


def test_counter_typed_without_total_but_sampled_with_it() -> None:
    # "# TYPE x counter" then "x_total 5": the parser splits this into an empty counter family
    # and an untyped one; both normalise to the same key, so the value still maps.
    text = "# TYPE vllm:prompt_tokens counter\nvllm:prompt_tokens_total 5\n"
    assert points(mapped(text)) == {"engine_prompt_tokens_total": 5.0}


# -- histograms ------------------------------------------------------------------------------


def snap(cum: list[float], sum_: float = 0.0, bounds: tuple[float, ...] = (0.1, 0.5, 1.0, INF)):
    return HistogramSnapshot(bounds, tuple(cum), sum_, cum[-1])


def test_bucket_quantile_interpolates_like_prometheus() -> None:
    h = snap([10, 30, 40, 40])  # 10 in (0, .1], 20 in (.1, .5], 10 in (.5, 1]
    assert bucket_quantile(0.5, h) == pytest.approx(0.1 + 0.4 * (20 - 10) / 20)
    assert bucket_quantile(0.1, h) == pytest.approx(0.04)
    assert bucket_quantile(1.0, h) == pytest.approx(1.0)
    assert bucket_quantile(0.95, snap([0, 0, 1, 10])) == 1.0  # in +Inf: highest finite bound
    assert bucket_quantile(0.5, snap([0, 0, 0, 0])) is None
    with pytest.raises(ValueError):
        bucket_quantile(1.5, h)


def test_interval_quantiles_use_only_the_new_observations() -> None:
    before = snap([100, 100, 100, 100], 5.0)  # 100 fast requests long ago
    after = snap([100, 110, 120, 120], 12.0)  # then 10 in (.1,.5] and 10 in (.5,1]
    qs = interval_quantiles(before, after, (0.5, 0.95))
    assert qs[0.5] == pytest.approx(0.5)
    assert qs[0.95] == pytest.approx(0.5 + 0.5 * (19 - 10) / 10)
    assert interval_quantiles(None, after, (0.5,)) == {}  # first scrape: no interval yet
    assert interval_quantiles(after, after, (0.5,)) == {}  # nothing observed in between


def test_interval_delta_handles_restarts_and_layout_changes() -> None:
    big, small = snap([50, 60, 70, 70], 9.0), snap([1, 2, 2, 2], 0.3)
    assert interval_delta(big, small) == small  # counts went down: engine restarted
    other = snap([1, 2, 2], bounds=(0.2, 1.0, INF))
    assert interval_delta(big, other) is None
    d = interval_delta(small, big)
    assert d is not None and d.cumulative == (49, 58, 68, 68) and d.sum == pytest.approx(8.7)


# -- prefilter -------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.txt")))
def test_prefilter_keeps_everything_that_maps(fixture: str) -> None:
    text = (FIXTURES / fixture).read_text()
    kept = prefilter_exposition(text)
    assert len(kept) < len(text) or fixture == "llamacpp.txt"
    full, filtered = mapped(text), mapped(kept)
    assert full.points == filtered.points and full.histograms == filtered.histograms
    assert "python_gc" not in kept and "_created" not in kept


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("hello world", "no number"),
        ("<html>", "no metric name"),
        ('python_info{version="3.11" 1', "unclosed labels"),
        ("python_info", "no number"),
    ],
)
def test_prefilter_still_rejects_garbage_in_lines_it_drops(line: str, why: str) -> None:
    text = f"# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 1\n{line}\n"
    with pytest.raises(MalformedExposition, match=f"line 3: {why}"):
        prefilter_exposition(text)


def test_prefilter_accepts_special_values_and_timestamps() -> None:
    text = 'other_a NaN\nother_b{x="}"} +Inf 1700000000000\nother_c -1.5e-3\n'
    assert prefilter_exposition(text) == ""
