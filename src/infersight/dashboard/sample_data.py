"""A small, deterministic, realistic store for the dashboard's tests, its screenshot and trying
it out: two upstreams, two models, a couple of hours of traffic with some failures, GPUs, engine
queues, host, cost, one collector that went down, quality sweeps (`seed_sample_sweeps`:
the stored shape of the sweep runner, `quality.results.SweepReport.to_rows` / `samples`; the
last one regressed) and two load test runs (`sample_loadtests`). Written through the Store API
(`write_records`, `write_samples`, `Store.quality.write_sweep`, `Store.loadtests`, `compact`),
as the running service would; `evaluate_alerts` then runs the real alert engine's default rule
pack over it (alarm state, history, SLOs).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Final

from infersight.alerting.engine import AlertEngine
from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample, RequestRecord
from infersight.core.significance import compare_sweeps, wilson_interval
from infersight.dashboard.sample_loadtests import seed_sample_loadtests
from infersight.settings import Settings
from infersight.store.base import Store
from infersight.store.sqlite_quality import SweepItemRow, SweepRow

MODELS: Final = (("llama-3.1-8b", "vllm-a"), ("qwen2.5-7b", "vllm-b"))
ERRORS: Final = (
    ("upstream_5xx", 503, "upstream answered 503"),
    ("upstream_timeout", 504, "no first byte within 120 s"),
    ("midstream_error", 200, "upstream closed the stream mid-way"),
    ("client_disconnect", 499, "client went away"),
)
SAMPLE_EVERY_S: Final = 15.0
GIB: Final = 1024.0**3
DOWN_COLLECTOR: Final = "engine:vllm-b"


def sample_settings() -> Settings:
    """Settings matching the sample data (two priced upstreams with budgets)."""
    return Settings.model_validate(
        {
            "gateway": {"port": 0, "capture_text": True},
            "upstreams": [
                {
                    "name": "vllm-a",
                    "url": "http://10.0.0.11:8000",
                    "models": ["llama-3.1-8b"],
                    "engine_metrics_url": "http://10.0.0.11:8000/metrics",
                    "pricing": {
                        "instance_type": "ml.g5.12xlarge",
                        "instances": 2,
                        "monthly_budget_usd": 12000,
                    },
                },
                {
                    "name": "vllm-b",
                    "url": "http://10.0.0.12:8000",
                    "engine_metrics_url": "http://10.0.0.12:8000/metrics",
                    "pricing": {"usd_per_hour": 4.0, "monthly_budget_usd": 2500},
                },
            ],
        }
    )


@dataclass(frozen=True)
class SampleSummary:
    records: int
    errors: int
    first_id: str
    error_id: str
    start: float
    end: float


def _record(rng: random.Random, i: int, ts: float, load: float) -> RequestRecord:
    model, upstream = MODELS[i % 2]
    slow = 1.0 + 0.8 * load + (0.4 if model.startswith("qwen") else 0.0)
    ttft = rng.lognormvariate(math.log(0.12 * slow), 0.35)
    tokens = rng.randint(24, 360)
    tpot = rng.uniform(0.012, 0.022) * slow
    e2e = ttft + tpot * (tokens - 1)
    failed = rng.random() < 0.03 + 0.05 * max(0.0, load - 0.8)
    base = {
        "id": f"req-{i:06d}",
        "started_at": ts,
        "model": model,
        "upstream": upstream,
        "route": "/v1/chat/completions",
        "stream": i % 5 != 0,
        "inflight_at_start": int(2 + 10 * load + rng.random() * 3),
        "client": ("team-search", "team-chat", None)[i % 3],
        "source": "user" if i % 7 else "demo",
        "prompt_tokens": rng.randint(40, 1800),
    }
    if failed:
        cls, status, message = ERRORS[i % len(ERRORS)]
        partial = cls in ("midstream_error", "client_disconnect")
        return RequestRecord(
            **base,  # type: ignore[arg-type]
            status=status,
            e2e_s=e2e * 0.5 if partial else (120.0 if cls == "upstream_timeout" else 0.05),
            error_class=cls,
            error_message=message,
            ttft_s=ttft if partial else None,
        )
    return RequestRecord(
        **base,  # type: ignore[arg-type]
        status=200,
        e2e_s=e2e,
        ttft_s=ttft,
        tpot_s=tpot,
        itl_mean_s=tpot,
        itl_p50_s=tpot * 0.95,
        itl_p90_s=tpot * 1.3,
        itl_p99_s=tpot * 2.1,
        itl_max_s=tpot * 3.5,
        output_tokens_per_s=tokens / e2e,
        completion_tokens=tokens,
        finish_reason="stop" if i % 9 else "length",
        prompt_text=f"Summarise ticket #{i} in two sentences." if i % 4 == 0 else None,
        response_text=f"Ticket #{i} reports a login failure; it was fixed." if i % 4 == 0 else None,
    )


def _load(frac: float) -> float:
    """Traffic shape over the window, 0..1: a morning ramp with a bump."""
    return 0.35 + 0.45 * frac + 0.2 * math.sin(frac * 9.0)


def _samples(
    ts: float, frac: float, rng: random.Random, spent: dict[str, float]
) -> list[MetricSample]:
    load = _load(frac)
    out: list[MetricSample] = []
    m = MetricSample.make
    for g in range(2):
        util = min(1.0, max(0.0, load * (0.9 - 0.15 * g) + rng.uniform(-0.04, 0.04)))
        lab = {"gpu": str(g), "gpu_name": "NVIDIA A10G"}
        out += [
            m("gpu_utilization_ratio", ts, util, **lab),
            m("gpu_memory_used_bytes", ts, (14.0 + 6.0 * load) * GIB, **lab),
            m("gpu_memory_total_bytes", ts, 24.0 * GIB, **lab),
            m("gpu_power_watts", ts, 70.0 + 230.0 * util, **lab),
            m("gpu_temperature_celsius", ts, 42.0 + 30.0 * util, **lab),
        ]
    for k, (_, upstream) in enumerate(MODELS):
        lab = {"upstream": upstream, "engine": "vllm"}
        out += [
            m("engine_kv_cache_usage_ratio", ts, min(0.99, 0.3 + 0.6 * load - 0.1 * k), **lab),
            m("engine_requests_running", ts, round(4 + 20 * load), **lab),
            m("engine_requests_waiting", ts, max(0.0, round(12 * (load - 0.6))), **lab),
        ]
    out += [
        m("host_cpu_utilization_ratio", ts, 0.2 + 0.3 * load),
        m("host_memory_used_bytes", ts, 9.0 * GIB + 2.0 * GIB * load),
        m("host_memory_total_bytes", ts, 32.0 * GIB),
        m("host_disk_used_ratio", ts, 0.41, path="/var/lib/infersight"),
    ]
    for name, rate, budget in (("vllm-a", 14.18, 12000.0), ("vllm-b", 4.0, 2500.0)):
        spent[name] += rate * SAMPLE_EVERY_S / 3600.0
        month = (budget * 0.55 if name == "vllm-a" else budget * 0.93) + spent[name]
        tokens_per_s = 60.0 + 240.0 * load
        out += [
            m("cost_usd_per_hour", ts, rate, upstream=name),
            m(
                "cost_usd_per_1m_output_tokens",
                ts,
                rate * 1e6 / (3600.0 * tokens_per_s),
                upstream=name,
            ),
            m("cost_idle_usd_per_hour", ts, rate if load < 0.4 else 0.0, upstream=name),
            m("cost_spent_today_usd", ts, 80.0 + spent[name], upstream=name),
            m("cost_spent_month_usd", ts, month, upstream=name),
            m("cost_projected_month_usd", ts, month * 1.6, upstream=name),
            m("cost_budget_remaining_usd", ts, budget - month, upstream=name),
        ]
    for collector in ("nvml", "host", "engine:vllm-a", DOWN_COLLECTOR):
        up = 0.0 if collector == DOWN_COLLECTOR and frac > 0.9 else 1.0
        out.append(m("collector_up", ts, up, collector=collector))
    return out


def seed_sample_data(
    store: Store, *, now: float, minutes: int = 120, seed: int = 7
) -> SampleSummary:
    """`minutes` of traffic and samples ending at `now`, then compacted (rollups derived)."""
    rng = random.Random(seed)
    start = now - minutes * 60.0
    records: list[RequestRecord] = []
    i = 0
    ts = start
    while ts < now - 1.0:
        frac = (ts - start) / (now - start)
        records.append(_record(rng, i, ts, _load(frac)))
        i += 1
        ts += rng.expovariate(0.4 + 1.2 * _load(frac))
    store.write_records(records)
    samples: list[MetricSample] = []
    spent = {"vllm-a": 0.0, "vllm-b": 0.0}
    t = start
    while t <= now:
        samples += _samples(t, (t - start) / (now - start), rng, spent)
        t += SAMPLE_EVERY_S
    store.write_samples(samples)
    seed_sample_sweeps(store, now=now)  # before compact: their scores are rolled up with the rest
    seed_sample_loadtests(store, now=now)
    store.compact(now)
    failed = [r for r in records if r.error_class is not None]
    return SampleSummary(
        records=len(records),
        errors=len(failed),
        first_id=records[0].id,
        error_id=failed[0].id,
        start=start,
        end=now,
    )


def evaluate_alerts(store: Store, settings: Settings, *, now: float, minutes: int = 10) -> None:
    """Evaluate the alert rules once a minute over the last `minutes` (nothing is delivered)."""
    engine = AlertEngine(settings.alerting, store=store, clock=FakeClock(now), notifiers={})
    for k in range(minutes, -1, -1):
        engine.evaluate(now - 60.0 * k)


SWEEP_DATASET: Final = "support-faq"
SWEEP_TAGS: Final = ("billing", "login")
SWEEP_ITEMS: Final = 40


def _estimate(passed: int, n: int) -> dict[str, object]:
    ci = wilson_interval(passed, n)
    return {"value": passed / n, "low": ci.low, "high": ci.high, "n": n, "method": "wilson"}


def seed_sample_sweeps(
    store: Store, *, now: float, sweeps: int = 4, every_s: float = 1800.0
) -> list[str]:
    """`sweeps` sweeps of one dataset, every `every_s` up to `now`; the last one regresses."""
    model = MODELS[0][0]
    ids: list[str] = []
    previous: dict[str, bool] | None = None
    samples: list[MetricSample] = []
    for k in range(sweeps):
        started = now - (sweeps - k) * every_s + 60.0
        finished = started + 95.0
        last = k == sweeps - 1
        verdicts = {
            f"item-{i:02d}": (i * 7 + k) % 10 >= (6 if last else 1) for i in range(SWEEP_ITEMS)
        }
        tags = {f"item-{i:02d}": SWEEP_TAGS[i % 2] for i in range(SWEEP_ITEMS)}
        groups: list[dict[str, object]] = []
        for tag in ("all", *SWEEP_TAGS):
            chosen = [v for i, v in verdicts.items() if tag == "all" or tags[i] == tag]
            passed, n = sum(chosen), len(chosen)
            metrics = {
                "accuracy": _estimate(passed, n),
                "toxicity_rate": _estimate(1 if tag == "all" else 0, n),
                "failure_rate": _estimate(0, n),
            }
            groups.append({"tag": tag, "items": n, "failed": 0, "metrics": metrics})
            labels = {"dataset": SWEEP_DATASET, "tag": tag, "model": model}
            for metric in ("accuracy", "toxicity_rate"):
                value = float(metrics[metric]["value"])  # type: ignore[arg-type]
                samples.append(MetricSample.make(f"quality_{metric}", finished, value, **labels))
        comparisons = {}
        if previous is not None:
            comparisons["accuracy"] = compare_sweeps(previous, verdicts, "binary").to_json()
        sweep_id = f"sweep-{k + 1}"
        summary = {
            "id": sweep_id,
            "name": "nightly-faq",
            "dataset": SWEEP_DATASET,
            "model": model,
            "endpoint": "http://127.0.0.1:8400/v1",
            "started_at": started,
            "finished_at": finished,
            "status": "completed",
            "items": SWEEP_ITEMS,
            "failed": 0,
            "groups": groups,
            "previous_sweep": ids[-1] if ids else None,
            "comparisons": comparisons,
            "regressed": any(c["regressed"] for c in comparisons.values()),
            "scorers": [{"name": "accuracy"}, {"name": "toxicity"}],
            "config": {},
            "notes": [],
        }
        row = SweepRow(
            sweep_id,
            "nightly-faq",
            SWEEP_DATASET,
            model,
            summary["endpoint"],  # type: ignore[arg-type]
            started,
            finished,
            "completed",
            SWEEP_ITEMS,
            0,
            json.dumps(summary),
        )
        items = [
            SweepItemRow(
                sweep_id, item_id, i, json.dumps([tags[item_id]]),
                f"How do I reset my password? (variant {i})", json.dumps(["Use the reset link."]),
                "ok", None,
                "Use the reset link on the sign-in page." if ok else "Call support.",
                "[]", 0.4 + 0.01 * i,
                json.dumps({"accuracy": {"score": 1.0 if ok else 0.0, "verdict": "correct"
                                         if ok else "incorrect", "reason": "matches a reference"
                                         if ok else "no reference matched", "passed": ok,
                                         "details": {}, "error": None}}),
            )
            for i, (item_id, ok) in enumerate(verdicts.items())
        ]  # fmt: skip
        store.quality.write_sweep(row, items)
        ids.append(sweep_id)
        previous = verdicts
    store.write_samples(samples)
    return ids
