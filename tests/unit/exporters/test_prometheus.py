"""The exposition parses with prometheus_client's own text parser and carries what was observed."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from infersight.core.records import RequestRecord
from infersight.core.timing import stream_timing
from infersight.exporters.prometheus import MAX_MODEL_LABELS, OTHER_MODEL, GatewayMetrics


def record(**kw: object) -> RequestRecord:
    base: dict[str, object] = dict(
        id="r", started_at=0.0, model="m", upstream="u", route="chat", stream=True, status=200,
        e2e_s=0.5, ttft_s=0.1, tpot_s=0.02, prompt_tokens=5, completion_tokens=4,
    )  # fmt: skip
    base.update(kw)
    return RequestRecord(**base)  # type: ignore[arg-type]


def samples(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_histograms_counters_and_itl_gaps() -> None:
    m = GatewayMetrics()
    timing = stream_timing(0.0, 0.5, [0.1, 0.2, 0.3, 0.5], output_tokens=4)
    m.observe(record(), timing)
    m.observe(
        record(
            status=502,
            error_class="upstream_unreachable",
            ttft_s=None,
            prompt_tokens=None,
            completion_tokens=None,
        ),
        None,
    )
    m.in_flight["u"] = 3
    s = samples(m)
    mu = (("model", "m"), ("upstream", "u"))
    assert s[("infersight_ttft_seconds_count", mu)] == 1
    assert s[("infersight_ttft_seconds_bucket", tuple(sorted((*mu, ("le", "0.1")))))] == 1
    assert s[("infersight_ttft_seconds_bucket", tuple(sorted((*mu, ("le", "0.05")))))] == 0
    # three inter-token gaps: 0.1, 0.1, 0.2
    assert s[("infersight_inter_token_latency_seconds_count", mu)] == 3
    assert (
        s[("infersight_inter_token_latency_seconds_bucket", tuple(sorted((*mu, ("le", "0.15")))))]
        == 2
    )
    assert s[("infersight_completion_tokens_total", mu)] == 4
    req = (("model", "m"), ("route", "chat"), ("status", "200"), ("upstream", "u"))
    assert s[("infersight_requests_total", req)] == 1
    err = (("error_class", "upstream_unreachable"), ("model", "m"), ("upstream", "u"))
    assert s[("infersight_request_errors_total", err)] == 1
    assert s[("infersight_requests_in_flight", (("upstream", "u"),))] == 3
    # the unreachable request has no latency to report
    assert s[("infersight_e2e_request_latency_seconds_count", mu)] == 1


def test_client_chosen_model_names_cannot_grow_metrics_without_bound() -> None:
    """Names the upstream never took (refused, or tried while it was down) get no label of
    their own, and at most MAX_MODEL_LABELS names do; the rest count under
    OTHER_MODEL, nothing is lost."""
    m = GatewayMetrics()
    for i in range(50):
        m.observe(record(model=f"typo-{i}", status=404, error_class="invalid_request"), None)
        m.observe(record(model=f"nope-{i}", status=404, error_class="upstream_4xx"), None)
        m.observe(record(model=f"down-{i}", status=502, error_class="upstream_unreachable"), None)
    m.observe(record(model="failing", status=500, error_class="upstream_5xx"), None)
    for i in range(MAX_MODEL_LABELS + 49):
        m.observe(record(model=f"real-{i}"), None)
    m.observe(record(model="real-0", status=400, error_class="upstream_4xx"), None)
    requests = {
        labels: v for (name, labels), v in samples(m).items() if name == "infersight_requests_total"
    }
    models = {dict(labels)["model"] for labels in requests}
    assert len(models) == MAX_MODEL_LABELS + 1 and OTHER_MODEL in models
    assert not any(name.startswith(("typo-", "nope-", "down-")) for name in models)
    assert "failing" in models  # a real model failing from its first request keeps its name
    assert sum(requests.values()) == 150 + MAX_MODEL_LABELS + 50 + 1
    ok_other = (("model", OTHER_MODEL), ("route", "chat"), ("status", "200"), ("upstream", "u"))
    assert requests[ok_other] == 50
    assert requests[(("model", "real-0"), ("route", "chat"), ("status", "400"), ("upstream", "u"))]
