"""Quality sweep and live-sampler costs; target: the 100-item default sweep, every scorer,
through the gateway, in < 30 s at concurrency 4 on 2 cores.

Three measurements, everything in this process on 127.0.0.1:
  sweep     the packaged 100-item dataset through a ThreadedGateway to the sim (TTFT 50 ms,
            5 ms per token, 24 tokens: a small fast model), answers at concurrency 1 / 4 / 16,
            then every scorer (accuracy, consistency, relevance, toxicity, hallucination) with
            the real embedder and offensive-language model (loaded before timing)
  offer     cost of `LiveSampler.offer` on the event loop per record (fraction 0.05 and 1.0)
  sampler   what the sampler's worker does to the gateway in the same process: E2E p50/p99
            of sequential requests (sim without delays) while the worker is idle, then while it
            scores a backlog unpaced (max_busy_share 1) and paced (0.25, the default), and the
            records/s it scores meanwhile

    .venv/bin/python bench/sweep_time.py [--levels 1,4,16] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from infersight.core.records import RequestRecord
from infersight.quality.datasets import default_dataset
from infersight.quality.embedder import get_embedder
from infersight.quality.sampler import LiveSampler
from infersight.quality.scorers import make_scorers
from infersight.quality.scorers.base import CachedEmbed
from infersight.quality.scorers.toxicity import load_profanity_model
from infersight.quality.settings import SamplerSettings
from infersight.quality.sweep import SweepTarget, collect_answers, score_items
from infersight.service import ThreadedGateway
from infersight.settings import GatewaySettings, Settings, StoreSettings, UpstreamSettings
from infersight.sim.knobs import SimKnobs
from infersight.sim.server import run_sim_in_thread

TARGET_SWEEP_S = 30.0


def gateway(upstream: str, db: Path) -> ThreadedGateway:
    settings = Settings(
        gateway=GatewaySettings(port=0),
        upstreams=[UpstreamSettings(name="sim", url=upstream)],
        store=StoreSettings(path=str(db)),
    )
    return ThreadedGateway(settings, background=False).start()


def bench_sweep(levels: list[int], work: Path) -> dict[str, Any]:
    items = default_dataset().items
    knobs = SimKnobs(tokens=24, ttft_ms=50.0, itl_ms=5.0, tokens_per_chunk=4)
    out: dict[str, Any] = {"answers_s": {}}
    with run_sim_in_thread(knobs) as sim:
        gw = gateway(sim.url, work / "sweep.db")
        try:
            answers = []
            for c in levels:
                target = SweepTarget(gw.url, "sim-model", max_tokens=24, concurrency=c)
                t0 = time.perf_counter()
                answers = asyncio.run(collect_answers(items, target))
                out["answers_s"][c] = time.perf_counter() - t0
        finally:
            gw.stop()
    embed = CachedEmbed(get_embedder().encode)
    t0 = time.perf_counter()
    score_items(items, answers, make_scorers(), embed)
    out["scoring_s"] = time.perf_counter() - t0
    out["texts_embedded"] = embed.texts_embedded
    return out


def record(i: int) -> RequestRecord:
    return RequestRecord(
        id=f"r{i}", started_at=0.0, model="m", upstream="u", route="chat", stream=True,
        status=200, e2e_s=0.1, completion_tokens=12,
        prompt_text=f"Question number {i}: what is the capital of country {i % 50}?",
        response_text=f"The capital of country {i % 50} is City {i % 50}, a large port.",
    )  # fmt: skip


def bench_offer() -> dict[str, float]:
    out = {}
    records = [record(i) for i in range(100_000)]
    for fraction in (0.05, 1.0):
        s = LiveSampler(
            SamplerSettings(enabled=True, fraction=fraction, queue_size=200_000), load_embed=None
        )
        t0 = time.perf_counter()
        for r in records:
            s.offer(r)
        out[f"fraction_{fraction:g}_us"] = (time.perf_counter() - t0) / len(records) * 1e6
    return out


def _latencies(url: str, seconds: float) -> list[float]:
    """E2E of sequential small requests for `seconds`."""
    body = {"model": "sim-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    out = []
    end = time.perf_counter() + seconds
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            client.post("/v1/chat/completions", json=body).raise_for_status()
            out.append(time.perf_counter() - t0)
    return out


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000.0


def bench_sampler(
    work: Path, backlog: int, shares: list[float], window_s: float = 6.0
) -> dict[str, Any]:
    """Gateway E2E idle, then while a sampler worker (one per busy share) scores a backlog."""
    out: dict[str, Any] = {}
    with run_sim_in_thread(SimKnobs(tokens=8)) as sim:
        gw = gateway(sim.url, work / "sampler.db")
        try:
            _latencies(gw.url, 0.5)
            idle = _latencies(gw.url, window_s)
            out["idle"] = {"p50_ms": _pct(idle, 50), "p99_ms": _pct(idle, 99)}
            for share in shares:
                settings = SamplerSettings(
                    enabled=True, fraction=1.0, queue_size=backlog + 10, max_busy_share=share
                )
                s = LiveSampler(settings)
                s.offer(record(-1))
                s.process_pending()  # models loaded and the exemplars cached before timing
                for i in range(backlog):
                    s.offer(record(i))
                t0 = time.perf_counter()
                s.start()
                busy = _latencies(gw.url, window_s)
                rate = (s.scored_total - 1) / (time.perf_counter() - t0)
                s._take(backlog)  # drop the rest: only the busy window is measured
                s.close()
                out[f"share_{share:g}"] = {
                    "records_per_s": rate,
                    "p50_ms": _pct(busy, 50),
                    "p99_ms": _pct(busy, 99),
                }
        finally:
            gw.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,4,16")
    parser.add_argument("--backlog", type=int, default=2000, help="records queued for the worker")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"infersight-sweep-bench-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    get_embedder()
    load_profanity_model()(["warm up"])
    load_s = time.perf_counter() - t0

    sweep = bench_sweep(levels, work)
    offer = bench_offer()
    sampler = bench_sampler(work, args.backlog, [1.0, 0.25])
    print(f"models loaded in {load_s:.1f} s (embedder + offensive-language model)")
    print("100-item default sweep through the gateway (sim: TTFT 50 ms, 5 ms/token, 24 tokens)")
    for c, s in sweep["answers_s"].items():
        total = s + sweep["scoring_s"]
        flag = "" if c != 4 else f"  [target < {TARGET_SWEEP_S:.0f} s]"
        scoring = sweep["scoring_s"]
        print(f"  concurrency {c:>2}: answers {s:5.2f} s + scoring {scoring:.2f} s", end="")
        print(f" = {total:5.2f} s{flag}")
    print(f"  scoring embedded {sweep['texts_embedded']} texts")
    print("LiveSampler.offer per record on the event loop:")
    for k, v in offer.items():
        print(f"  {k.removesuffix('_us').replace('_', ' ')}: {v:.2f} µs")
    idle = sampler.pop("idle")
    print("gateway E2E of small sequential requests, and the sampler worker's rate:")
    print(f"  worker idle              : p50 {idle['p50_ms']:.2f} ms, p99 {idle['p99_ms']:.2f} ms")
    for key, row in sampler.items():
        share = key.removeprefix("share_")
        print(
            f"  worker busy, share {share:<5}: p50 {row['p50_ms']:.2f} ms, p99 "
            f"{row['p99_ms']:.2f} ms, {row['records_per_s']:.0f} records/s scored"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"sweep": sweep, "offer": offer, "sampler": sampler}, indent=2)
        )


if __name__ == "__main__":
    main()
