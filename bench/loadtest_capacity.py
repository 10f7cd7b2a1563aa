"""Load generator capacity: how much load `infersight loadtest` offers on 2 cores, accurately.

    .venv/bin/python bench/loadtest_capacity.py            # ~2.5 min
    .venv/bin/python bench/loadtest_capacity.py --quick    # ~1 min, shorter levels
    .venv/bin/python bench/loadtest_capacity.py --json /tmp/ltcap.json

`infersight sim` runs as a separate process (its own core); this process is the load tester:
the same `Driver` / `LoadClient` the CLI uses (uvloop, upstreams.http1 pool, core.sse observer).

Parts
1. streams: closed-loop levels of C concurrent streams against a sim with TTFT 5 s, then 2
   tokens 1 s apart (6 s per request, C/6 requests/s), the workers' starts spread over 6 s.
   Long, mostly idle streams: the sim (one Python process) serves ~600 short requests/s at
   most, so the streams must be slow for the generator, not the sim, to be what is measured.
2. rates: open-loop Poisson levels of short completions (TTFT 20 ms, 4 tokens in one chunk).
3. cross-check: one closed-loop level (8 streams; TTFT 50 ms, 10 ms per token, 16 tokens) by the
   load tester and by an independent client, the `openai` SDK on a plain asyncio loop.

Figures per level
- TTFT error: median measured TTFT - the sim's TTFT knob (includes the sim's own overhead:
  uvloop timers fire up to 1 ms late, HTTP parsing, loopback); p99 likewise.
- added error: median TTFT at the level - median TTFT of the part's baseline level (10 streams,
  or 1 request at a time), i.e. what the load adds to the measurement (client and sim).
- loop lag: how late this process's event loop wakes a 5 ms timer (p50 / p99). A socket read is
  timestamped when the loop gets to it, so this bounds the client's own timestamping error.
- streams in flight: the time-average number of open requests inside the measured window
  (every request's [start, end] overlapping it, warm-up ones included) vs the target C.
- arrivals: the rate of the seeded schedule vs the target (Poisson noise), the rate actually sent
  vs the schedule's, and the dispatch lag (actual send time - scheduled time) p50 / p99.
- CPU: this process's user+system CPU per second of the level (1.0 = one core).

A level is "sustained" when the added error p50 < 1 ms, nothing failed, and (streams) in
flight >= 97 % of C or (rates) the sent rate is within 2 % of the schedule's. "others" is the
CPU every other process used meanwhile (the sim included; other jobs on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _procs import OtherProcessesCpu, start_sim, stopping
from infersight.clock import SystemClock
from infersight.loadtest.arrivals import achieved_rate_per_s, interarrival_gaps_s
from infersight.loadtest.client import LoadClient
from infersight.loadtest.driver import Driver
from infersight.loadtest.profiles import Level
from infersight.loadtest.summary import LevelSummary
from infersight.loadtest.workload import LengthSpec, Workload

SEED = 11


class LoopLag:
    """Samples how late a 5 ms timer fires on the running loop."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            self.lags.append(time.perf_counter() - t - 0.005)

    def start(self) -> None:
        self.lags.clear()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> tuple[float, float]:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        lags = sorted(self.lags) or [0.0]
        return lags[len(lags) // 2] * 1e3, lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1e3


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


async def run_level(
    driver: Driver, index: int, level: Level, ttft_knob_ms: float, other: OtherProcessesCpu
) -> dict[str, Any]:
    lag = LoopLag()
    lag.start()
    cpu0, other0, t0 = _cpu_s(), other(), time.perf_counter()
    s: LevelSummary = await driver.run_level(index, level)
    wall = time.perf_counter() - t0
    cpu = (_cpu_s() - cpu0) / wall
    others = (other() - other0) / wall
    lag_p50, lag_p99 = await lag.stop()
    p50, p99 = s.ttft_ms.pcts[50], s.ttft_ms.pcts[99]
    out: dict[str, Any] = {
        "level": level.label,
        "completed": s.completed,
        "failed": s.failed,
        "errors": s.errors_by_class,
        "request_throughput": s.request_throughput,
        "output_throughput": s.output_throughput,
        "in_flight": _in_flight(driver, index, s.started_at, s.started_at + level.duration_s)
        if level.duration_s is not None
        else s.mean_concurrency,
        "ttft_error_p50_ms": None if p50 is None else p50 - ttft_knob_ms,
        "ttft_error_p99_ms": None if p99 is None else p99 - ttft_knob_ms,
        "itl_p50_ms": s.itl_ms.pcts[50],
        "loop_lag_p50_ms": lag_p50,
        "loop_lag_p99_ms": lag_p99,
        "cpu_cores": cpu,
        "other_processes_cores": others,
    }
    if level.mode == "rate":
        out.update(_arrivals(driver, index, level, s))
    return out


def _in_flight(driver: Driver, index: int, start: float, end: float) -> float:
    """Time-average of open requests in [start, end] (wall clock), warm-up requests included."""
    busy = 0.0
    for r in driver.rows:
        if r.level == index:
            busy += max(0.0, min(end, r.start_s + r.e2e_s) - max(start, r.start_s))
    return busy / (end - start)


def _arrivals(driver: Driver, index: int, level: Level, s: LevelSummary) -> dict[str, Any]:
    """Compare the sent requests with the seeded schedule the driver drew them from."""
    assert level.rate_per_s is not None
    rows = sorted((r for r in driver.rows if r.level == index), key=lambda r: r.offset_s)
    gaps = interarrival_gaps_s(level.rate_per_s, random.Random(SEED * 1_000_003 + index))
    sched, t = [], 0.0
    for gap in gaps:
        t += gap
        if len(sched) == len(rows):
            break
        sched.append(t)
    diffs = [r.offset_s - x for r, x in zip(rows, sched, strict=False)]
    base = min(diffs) if diffs else 0.0
    lags = sorted(d - base for d in diffs) or [0.0]
    sent = achieved_rate_per_s([r.offset_s for r in rows])
    planned = achieved_rate_per_s(sched)
    return {
        "schedule_rate_vs_target": None if planned is None else planned / level.rate_per_s,
        "sent_rate_vs_schedule": None if not (sent and planned) else sent / planned,
        "sent_rate": sent,
        "dispatch_lag_p50_ms": lags[len(lags) // 2] * 1e3,
        "dispatch_lag_p99_ms": lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1e3,
    }


async def loadtester_levels(
    url: str, levels: list[Level], ttft_knob_ms: float, output_tokens: int, other: OtherProcessesCpu
) -> list[dict[str, Any]]:
    workload = Workload(model="sim-model", input_tokens=LengthSpec("fixed", 16),
                        output_tokens=LengthSpec("fixed", output_tokens), seed=SEED)  # fmt: skip
    client = LoadClient(url, timeout_s=60.0)
    driver = Driver(client, workload, clock=SystemClock(), seed=SEED, auto_stop=False)
    out = []
    try:
        for i, level in enumerate(levels):
            result = await run_level(driver, i, level, ttft_knob_ms, other)
            print(_line(result), flush=True)
            out.append(result)
    finally:
        client.close()
    return out


async def openai_level(url: str, concurrency: int, seconds: float, tokens: int) -> list[float]:
    """TTFTs (s) measured by the openai SDK: C workers streaming back to back."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url + "/v1", api_key="bench", max_retries=0)
    ttfts: list[float] = []
    end = time.perf_counter() + seconds
    warm_until = time.perf_counter() + 1.0

    async def worker() -> None:
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            stream = await client.chat.completions.create(
                model="sim-model",
                messages=[{"role": "user", "content": "one two three"}],
                max_tokens=tokens,
                stream=True,
            )
            first = None
            async for chunk in stream:
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.perf_counter()
            if first is not None and t0 >= warm_until:
                ttfts.append(first - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await client.close()
    return ttfts


def _f(v: Any, fmt: str = "{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def _line(r: dict[str, Any]) -> str:
    text = (
        f"  {r['level']:<24} ok {r['completed']:>6} fail {r['failed']:>3}  "
        f"{r['request_throughput']:8.1f} req/s {r['output_throughput']:9.0f} tok/s  "
        f"in flight {r['in_flight']:7.1f}  TTFT err p50 {_f(r['ttft_error_p50_ms'])} ms "
        f"p99 {_f(r['ttft_error_p99_ms'])} ms  loop lag p50/p99 "
        f"{r['loop_lag_p50_ms']:.2f}/{r['loop_lag_p99_ms']:.2f} ms  CPU {r['cpu_cores']:.2f}"
        f" (others {r['other_processes_cores']:.2f})"
    )
    if "sent_rate" in r:
        text += (
            f"\n  {'':<24} schedule/target {_f(r['schedule_rate_vs_target'], '{:.4f}')}  "
            f"sent/schedule {_f(r['sent_rate_vs_schedule'], '{:.4f}')}  dispatch lag "
            f"p50/p99 {r['dispatch_lag_p50_ms']:.2f}/{r['dispatch_lag_p99_ms']:.2f} ms"
        )
    return text


def _sustained(r: dict[str, Any], target: float, kind: str) -> bool:
    err = r["added_error_p50_ms"]
    if err is None or err >= 1.0 or r["failed"]:
        return False
    if kind == "streams":
        return bool(r["in_flight"] >= 0.97 * target)
    ratio = r["sent_rate_vs_schedule"]
    return ratio is not None and abs(ratio - 1) <= 0.02


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter levels (~1 min)")
    ap.add_argument("--streams", default="10,1000,2000", help="closed-loop levels")
    ap.add_argument("--rates", default="100,250,500,750,1000", help="open-loop levels (req/s)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    measure_s, stream_s = (2.5, 4.0) if args.quick else (5.0, 6.0)
    other = OtherProcessesCpu(exclude={os.getpid()})
    streams = [int(x) for x in args.streams.split(",")]
    rates = [float(x) for x in args.rates.split(",")]
    results: dict[str, Any] = {"streams": [], "rates": [], "cross_check": {}}
    loop = uvloop.new_event_loop()
    with tempfile.TemporaryDirectory(prefix="ltcap-") as tmp:
        work = Path(tmp)
        print("1. concurrent streams (TTFT 5 s, 2 tokens 1 s apart)", flush=True)
        sim = start_sim(work, {"ttft_ms": 5000, "itl_ms": 1000, "tokens": 2})
        with stopping(sim):
            levels = [
                Level("concurrency", c, duration_s=stream_s, warmup_s=6.0, ramp_s=6.0)
                for c in streams
            ]
            results["streams"] = loop.run_until_complete(
                loadtester_levels(sim.url, levels, 5000.0, 2, other)
            )
        print("2. request rate, short completions (TTFT 20 ms, 4 tokens, 1 chunk)", flush=True)
        sim = start_sim(work, {"ttft_ms": 20, "tokens": 4, "tokens_per_chunk": 4})
        with stopping(sim):
            levels = [Level("concurrency", 1, duration_s=measure_s / 2, warmup_s=0.5)]
            levels += [Level("rate", r, duration_s=measure_s, warmup_s=1.0) for r in rates]
            results["rates"] = loop.run_until_complete(
                loadtester_levels(sim.url, levels, 20.0, 4, other)
            )
        print("3. cross-check at 8 streams (TTFT 50 ms, 10 ms/token, 16 tokens)", flush=True)
        sim = start_sim(work, {"ttft_ms": 50, "itl_ms": 10, "tokens": 16})
        with stopping(sim):
            level = Level("concurrency", 8, duration_s=measure_s, warmup_s=1.0)
            ours = loop.run_until_complete(loadtester_levels(sim.url, [level], 50.0, 16, other))[0]
            theirs = asyncio.run(openai_level(sim.url, 8, measure_s + 1.0, 16))
    loop.close()
    for part in ("streams", "rates"):
        rows = results[part]
        base = rows[0]["ttft_error_p50_ms"] if rows else None
        for r in rows:
            err = r["ttft_error_p50_ms"]
            r["added_error_p50_ms"] = None if err is None or base is None else err - base
    results["rates"] = results["rates"][1:]  # the baseline level is not a rate level
    sdk_p50 = statistics.median(theirs) * 1e3 if theirs else None
    results["cross_check"] = {
        "loadtest_ttft_p50_ms": 50.0 + ours["ttft_error_p50_ms"],
        "openai_sdk_ttft_p50_ms": sdk_p50,
        "openai_sdk_samples": len(theirs),
        "loadtest_samples": ours["completed"],
    }
    best_streams = max((c for c, r in zip(streams, results["streams"], strict=True)
                        if _sustained(r, c, "streams")), default=None)  # fmt: skip
    best_rate = max((x for x, r in zip(rates, results["rates"], strict=True)
                     if _sustained(r, x, "rates")), default=None)  # fmt: skip
    results["max_sustained_streams"] = best_streams
    results["max_sustained_rate"] = best_rate
    cc = results["cross_check"]
    print(
        f"\ncross-check TTFT p50: loadtest {_f(cc['loadtest_ttft_p50_ms'])} ms "
        f"({cc['loadtest_samples']} requests) vs openai SDK {_f(sdk_p50)} ms "
        f"({cc['openai_sdk_samples']} requests)"
    )
    for part in ("streams", "rates"):
        added = ", ".join(f"{r['level']}: {_f(r['added_error_p50_ms'])}" for r in results[part])
        print(f"added TTFT error p50 (ms) vs the baseline level, {part}: {added}")
    print(f"sustained with added TTFT error p50 < 1 ms: {best_streams} concurrent streams "
          f"(target >= 1000), {best_rate} requests/s (target >= 500)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    ok = (best_streams or 0) >= 1000 and (best_rate or 0) >= 500
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
