"""The running service collects engine and host metrics, exports them on /metrics next to the
gateway's own, and keeps their history in the store (real sim, real scrapes, real SQLite)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from infersight.service import ThreadedGateway
from infersight.settings import (
    CollectorSettings,
    CollectorsSettings,
    GatewaySettings,
    PricingSettings,
    Settings,
    StoreSettings,
    UpstreamSettings,
)
from infersight.sim.knobs import SimKnobs
from infersight.sim.server import run_sim_in_thread
from infersight.store.sqlite import SqliteStore


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url + "/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def _ready(got: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> bool:
    """Every collector has reported, and the engine has seen the three requests."""
    up = {labels: v for (name, labels), v in got.items() if name == "infersight_collector_up"}
    gen = [
        v
        for (name, labels), v in got.items()
        if name == "infersight_engine_generation_tokens_total" and ("upstream", "sim") in labels
    ]
    return (
        up.get((("collector", "engine:sim"),)) == 1
        and up.get((("collector", "host"),)) == 1
        and bool(gen)
        and gen[0] >= 48
        and any(name == "infersight_host_cpu_utilization_ratio" for name, _ in got)
    )


def test_engine_host_and_cost_series_reach_metrics_and_store(tmp_path: Path) -> None:
    fast = CollectorSettings(interval_s=0.2, timeout_s=1.0)
    db = tmp_path / "svc.db"
    with run_sim_in_thread(SimKnobs(tokens=16, slots=4)) as sim:
        settings = Settings(
            gateway=GatewaySettings(port=0),
            upstreams=[
                UpstreamSettings(
                    name="sim",
                    url=sim.url,
                    engine_metrics_url=sim.url + "/metrics",
                    pricing=PricingSettings(instance_type="ml.g5.xlarge"),
                )
            ],
            store=StoreSettings(path=str(db)),
            collectors=CollectorsSettings(engine=fast, host=fast, nvml=fast),
        )
        with ThreadedGateway(settings) as gw:
            for _ in range(3):
                httpx.post(
                    gw.url + "/v1/chat/completions",
                    json={"model": "sim-model", "messages": [{"role": "user", "content": "hi"}]},
                    timeout=10,
                )
            deadline = time.monotonic() + 20
            got: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
            while time.monotonic() < deadline:
                got = scrape(gw.url)
                if _ready(got):
                    break
                time.sleep(0.2)
    names = {name for name, _ in got}
    assert "infersight_engine_requests_running" in names
    assert "infersight_host_memory_used_bytes" in names
    up = {labels: v for (name, labels), v in got.items() if name == "infersight_collector_up"}
    assert up[(("collector", "engine:sim"),)] == 1
    assert up[(("collector", "host"),)] == 1
    gen = [
        v
        for (name, labels), v in got.items()
        if name == "infersight_engine_generation_tokens_total" and ("upstream", "sim") in labels
    ]
    assert gen and gen[0] >= 48  # the sim generated 3 × 16 tokens
    # the gateway's own histograms are on the same page
    assert any(name == "infersight_ttft_seconds_count" for name, _ in got) or any(
        name == "infersight_e2e_request_latency_seconds_count" for name, _ in got
    )
    store = SqliteStore(db)
    try:
        stored = set(store.metric_names())
        series = store.series(
            "engine_generation_tokens_total",
            0,
            4e9,
            step_s=3600,
            agg="max",
            labels={"upstream": "sim"},
        )
    finally:
        store.close()
    assert {"collector_up", "host_cpu_utilization_ratio", "cost_usd_per_hour"} <= stored
    assert series and max(v for _, v in series[0].points) >= 48
