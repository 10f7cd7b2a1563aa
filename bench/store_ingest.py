"""Records per second the SQLite store ingests; target >= 20,000/s through BatchWriter.

Three measurements in one run, each on a fresh file DB in a temp dir:
  direct     store.write_records() in batches of `batch_size`: the storage ceiling
  writer     BatchWriter.submit() for every record, then close(): end to end, what the gateway gets
  submit     the cost of submit() alone on the caller's thread (the event loop's share)
Records carry realistic values (timings, token counts, no prompt text). Run:
    .venv/bin/python bench/store_ingest.py [--records N] [--batch-size B]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from infersight.core.records import RequestRecord
from infersight.settings import WriterSettings
from infersight.store.sqlite import SqliteStore
from infersight.store.writer import BatchWriter

TARGET_PER_S = 20_000.0


def make_records(n: int, seed: int = 1) -> list[RequestRecord]:
    rng = random.Random(seed)
    t0 = time.time() - 3600
    models = ("llama-3.1-8b", "qwen2.5-7b", "mistral-7b")
    out = []
    for i in range(n):
        ttft = rng.uniform(0.03, 0.5)
        tokens = rng.randint(16, 512)
        tpot = rng.uniform(0.01, 0.04)
        e2e = ttft + tpot * (tokens - 1)
        out.append(
            RequestRecord(
                id=f"{i:012x}-{rng.getrandbits(64):016x}",
                started_at=t0 + i * 0.001,
                model=rng.choice(models),
                upstream="vllm-a",
                route="/v1/chat/completions",
                stream=True,
                status=200,
                e2e_s=e2e,
                ttft_s=ttft,
                tpot_s=tpot,
                itl_mean_s=tpot,
                itl_p50_s=tpot,
                itl_p90_s=tpot * 1.3,
                itl_p99_s=tpot * 2.0,
                itl_max_s=tpot * 4.0,
                output_tokens_per_s=tokens / e2e,
                prompt_tokens=rng.randint(20, 2000),
                completion_tokens=tokens,
                finish_reason="stop",
                inflight_at_start=rng.randint(0, 64),
                client=rng.choice(("team-a", "team-b", None)),
            )
        )
    return out


def bench_direct(path: Path, records: list[RequestRecord], batch_size: int) -> float:
    store = SqliteStore(path)
    started = time.perf_counter()
    for i in range(0, len(records), batch_size):
        store.write_records(records[i : i + batch_size])
    elapsed = time.perf_counter() - started
    assert store.count_records(0, time.time() + 1) == len(records)
    store.close()
    return elapsed


def bench_writer(
    path: Path, records: list[RequestRecord], batch_size: int
) -> tuple[float, float, BatchWriter]:
    store = SqliteStore(path)
    settings = WriterSettings(batch_size=batch_size, flush_interval_s=1.0, queue_size=len(records))
    writer = BatchWriter(store, settings)
    writer.start()
    started = time.perf_counter()
    for record in records:
        writer.submit(record)
    submitted = time.perf_counter() - started
    writer.close()
    elapsed = time.perf_counter() - started
    assert store.count_records(0, time.time() + 1) == len(records) - writer.dropped_total
    store.close()
    return elapsed, submitted, writer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=WriterSettings().batch_size)
    args = parser.parse_args()
    records = make_records(args.records)
    n = len(records)
    with tempfile.TemporaryDirectory(prefix="infersight-bench-") as tmp:
        direct_s = bench_direct(Path(tmp) / "direct.db", records, args.batch_size)
        writer_s, submit_s, writer = bench_writer(Path(tmp) / "writer.db", records, args.batch_size)
    direct_rate, writer_rate = n / direct_s, n / writer_s
    rows = [
        ("direct write_records", f"{direct_rate:,.0f}", f"{direct_s:.2f}", ""),
        (
            "BatchWriter end to end",
            f"{writer_rate:,.0f}",
            f"{writer_s:.2f}",
            f"{writer_rate / direct_rate:.2f}x direct",
        ),
        ("submit() on the caller", f"{n / submit_s:,.0f}", f"{submit_s:.2f}", ""),
    ]
    print(f"store ingest: {n:,} records, batch_size={args.batch_size}, SQLite WAL, file DB")
    print(f"{'path':<24} {'records/s':>12} {'seconds':>8}  note")
    for name, rate, secs, note in rows:
        print(f"{name:<24} {rate:>12} {secs:>8}  {note}")
    print(
        f"submit() cost: {submit_s / n * 1e6:.2f} µs/record; batches={writer.batches_total}, "
        f"dropped={writer.dropped_total}"
    )
    verdict = "meets" if writer_rate >= TARGET_PER_S else "MISSES"
    print(f"BatchWriter {verdict} the target of {TARGET_PER_S:,.0f} records/s")
    return 0 if writer_rate >= TARGET_PER_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
