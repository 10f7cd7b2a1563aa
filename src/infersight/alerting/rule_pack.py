"""The default rule pack: the alerts most LLM serving deployments want on day one.

`default_rules()` is the default of `alerting.rules`, so `infersight config init` writes these
rules out to edit. Each rule has a runbook in `RUNBOOKS` (what it means, what to look at, what
usually fixes it), used when the rule's own `runbook` is empty, so renaming a rule or writing
your own text replaces it.

| rule               | fires when                                                         |
|--------------------|--------------------------------------------------------------------|
| ttft_p95_high      | TTFT p95 > 1 s in 2 of 3 minutes (user traffic, per model/upstream) |
| error_rate_high    | errors / requests > 1 % (and >= 3 errors) in two 5-minute periods  |
| gpu_idle           | GPU utilisation < 20 % for a whole hour (paying for idle)          |
| gpu_memory_high    | GPU memory used > 90 % for 5 minutes                               |
| kv_cache_high      | KV-cache usage > 90 % in 2 of 3 minutes                            |
| queue_rising       | requests waiting 4σ (and at least 5) above their last hour, 4 of 5 min |
| collector_down     | a collector failed every scrape for 5 minutes                      |
| ttft_slo_burn      | the "99 % of requests with TTFT < 1 s over 30 days" budget burns fast |
| quality_*          | a quality sweep regressed, answered toxically or hallucinated      |

The quality rules and their runbooks come from `quality.rule_pack` (the quality sweeps' owner).
"""

from __future__ import annotations

from typing import Final

from infersight.alerting.settings import AlertRuleSettings, AnomalySettings, SloSettings
from infersight.quality.rule_pack import QUALITY_RUNBOOKS, quality_rules

RUNBOOKS: Final[dict[str, str]] = {
    "ttft_p95_high": (
        "Means: 1 request in 20 waits more than 1 s for its first token. "
        "Look at: engine_requests_waiting and engine_kv_cache_usage_ratio (queueing or "
        "preemption), requests_per_s against the usual load, prompt sizes (long prompts "
        "prefill slowly), gpu_utilization_ratio. "
        "Usually fixed by: adding replicas or shedding load, lowering max_num_seqs / "
        "max_num_batched_tokens so prefill is not starved, enabling chunked prefill or prefix "
        "caching, routing long-prompt traffic elsewhere."
    ),
    "error_rate_high": (
        "Means: more than 1 % of requests failed on the serving side over the last 10 minutes "
        "(upstream_5xx, upstream_timeout, upstream_unreachable, midstream_error, "
        "gateway_error; clients that hang up or send bad requests are not counted). "
        "Look at: infersight stats --by error_class for the error classes, the upstream "
        "server's log, collector_up for the engine. "
        "Usually fixed by: restarting a crashed or OOM-killed model server, raising "
        "gateway timeouts that are shorter than real generations."
    ),
    "gpu_idle": (
        "Means: a GPU averaged under 20 % utilisation for an hour: you are paying for idle "
        "accelerators (see cost_idle_usd_per_hour). "
        "Look at: requests_per_s (did traffic move elsewhere?), whether the model server is "
        "up, the cost series. "
        "Usually fixed by: scaling the replica count down (or to zero off-hours), packing "
        "several small models on one GPU, moving batch jobs to quiet hours."
    ),
    "gpu_memory_high": (
        "Means: more than 90 % of a GPU's memory is in use for 5 minutes; the next large "
        "batch or a second process may fail with out-of-memory. Note that vLLM reserves "
        "gpu_memory_utilization (0.9 by default) of the GPU up front: on vLLM hosts raise this "
        "rule's threshold above that fraction or disable it. "
        "Look at: gpu_memory_used_bytes per process (nvidia-smi), engine_kv_cache_usage_ratio. "
        "Usually fixed by: lowering gpu_memory_utilization or max_model_len, a smaller or "
        "quantised model, removing a stray process from the GPU."
    ),
    "kv_cache_high": (
        "Means: the engine's KV cache is over 90 % full; new requests queue and running ones "
        "get preempted, so TTFT and E2E latency climb. "
        "Look at: engine_requests_waiting, engine_preemptions_total, prompt and output lengths. "
        "Usually fixed by: more replicas, a lower max_num_seqs, shorter max_tokens, prefix "
        "caching for shared prompts, a larger gpu_memory_utilization or a GPU with more memory."
    ),
    "queue_rising": (
        "Means: requests waiting in the engine's queue rose well above the last hour's level "
        "(4σ and at least 5 more): arrivals outpace what the engine serves. "
        "Look at: requests_per_s (a traffic spike?), engine_kv_cache_usage_ratio, TTFT. "
        "Usually fixed by: adding replicas, rate-limiting the heaviest client, lowering "
        "max_tokens; if it keeps rising at normal traffic the engine may be stuck: restart it."
    ),
    "collector_down": (
        "Means: a collector (nvml, engine, host) failed every attempt for 5 minutes, so its "
        "series and the alerts on them are blind. "
        "Look at: infersight status and the service log (the collector logs why it is down: "
        "connection refused, timeout, NVML error), the engine_metrics_url setting. "
        "Usually fixed by: restarting the model server, fixing engine_metrics_url or its "
        "network access, reinstalling the NVIDIA driver after a kernel update."
    ),
    "ttft_slo_burn": (
        "Means: the TTFT SLO (99 % of user requests get their first token within 1 s, over 30 "
        "days) is spending its error budget fast: a critical alert at this pace empties the "
        "budget within days, a warning within the month. "
        "Look at: ttft_seconds p95/p99, the ttft_p95_high alert, engine_requests_waiting, "
        "which models and clients are slow (infersight stats --by model, --by client). "
        "Usually fixed by: what fixes TTFT (replicas, shorter prefills, chunked prefill); if "
        "the objective is unrealistic for the model, agree on a new one rather than ignoring it."
    ),
    **QUALITY_RUNBOOKS,
}


def default_rules() -> list[AlertRuleSettings]:
    """The pack, as rule settings (a fresh list each call)."""
    return [
        AlertRuleSettings(
            name="ttft_p95_high",
            metric='ttft_seconds{quantile="0.95",source="user"}',
            statistic="max",
            period_s=60.0,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            threshold=1.0,
            treat_missing_data="not_breaching",
            severity="warning",
        ),
        AlertRuleSettings(
            name="error_rate_high",
            # serving-side failures only: users pressing "stop" or sending bad requests do
            # not page whoever runs the endpoint
            metric='request_serving_errors_per_s{source="user"}',
            divide_by='requests_per_s{source="user"}',
            min_value=0.01,  # errors/s over the period: at least 3 errors in 5 minutes
            statistic="avg",
            period_s=300.0,
            evaluation_periods=2,
            threshold=0.01,
            treat_missing_data="not_breaching",
            severity="critical",
        ),
        AlertRuleSettings(
            name="gpu_idle",
            metric="gpu_utilization_ratio",
            statistic="avg",
            period_s=300.0,
            evaluation_periods=12,
            comparison="<",
            threshold=0.2,
            severity="warning",
        ),
        AlertRuleSettings(
            name="gpu_memory_high",
            metric="gpu_memory_used_bytes",
            divide_by="gpu_memory_total_bytes",
            statistic="avg",
            period_s=60.0,
            evaluation_periods=5,
            threshold=0.9,
            keep_firing_for_s=600.0,
            severity="warning",
        ),
        AlertRuleSettings(
            name="kv_cache_high",
            metric="engine_kv_cache_usage_ratio",
            statistic="avg",
            period_s=60.0,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            threshold=0.9,
            treat_missing_data="not_breaching",
            keep_firing_for_s=600.0,
            severity="warning",
        ),
        AlertRuleSettings(
            name="queue_rising",
            kind="anomaly",
            metric="engine_requests_waiting",
            statistic="avg",
            period_s=60.0,
            evaluation_periods=5,
            datapoints_to_alarm=4,
            treat_missing_data="not_breaching",
            severity="warning",
            anomaly=AnomalySettings(k=4.0, min_deviation=5.0),
        ),
        AlertRuleSettings(
            name="collector_down",
            metric="collector_up",
            statistic="max",
            period_s=60.0,
            evaluation_periods=5,
            comparison="<",
            threshold=1.0,
            treat_missing_data="not_breaching",
            severity="warning",
        ),
        AlertRuleSettings(
            name="ttft_slo_burn",
            kind="slo",
            slo=SloSettings(sli="latency", field="ttft_s", threshold_s=1.0, objective=0.99),
        ),
        *quality_rules(),
    ]


def runbook_for(name: str, own: str = "") -> str:
    """The rule's own runbook text, else the pack's for that name, else ""."""
    return own or RUNBOOKS.get(name, "")
