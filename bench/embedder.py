"""Sentences per second of the numpy all-MiniLM-L6-v2 embedder; target >= 400/s for short texts.

Two workloads, encoded with `Embedder.encode(texts, batch_size=64)`:
  short     sentences of 4-9 words (about 11 word pieces with [CLS] and [SEP])
  medium    sentences of about 60 word pieces
and three ways of using the cores, timed in rounds that alternate between them:
  workers=2     the default: each batch split across 2 worker threads, BLAS on one thread
  workers=1     one thread, BLAS on one thread: the single-core figure
  openblas=2    one thread, OpenBLAS's own 2 threads (parallel matmuls, serial rest): the
                plain alternative, kept here to show why encode() does not use it
The table gives the median and the best round. CPU used by other processes while the rounds
ran is printed: above 10 % of a core the figures are disturbed.

With --compare-python PATH (a throwaway venv with sentence-transformers and torch, see
bench/make_embedding_reference.py) the same sentences are also timed there with
torch.set_num_threads(2), in a child process, after each round of this one.

    .venv/bin/python bench/embedder.py [--sentences 1024] [--rounds 5]
    .venv/bin/python bench/embedder.py --compare-python /tmp/stvenv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from infersight.quality.embedder import Embedder, find_model_dir, plan_batches

TARGET_SHORT_PER_S = 400.0
BATCH_SIZE = 64

_SUBJECTS = (
    "The cat", "A new user", "The gateway", "Our largest model", "The on-call engineer",
    "This billing service", "My phone", "The second GPU", "A small dog", "The weekly report",
    "Every replica", "The load balancer", "Her assistant", "The customer", "Nobody",
)  # fmt: skip
_VERBS = (
    "sits on", "reads", "answers", "ignores", "rejects", "updates", "streams", "measures",
    "loves", "writes", "forgets", "summarises", "retries", "caches", "explains",
)  # fmt: skip
_OBJECTS = (
    "the mat.", "a long request.", "every question quickly.", "the latest metrics.",
    "a cached response from yesterday.", "the nightly build.", "all of the tokens.",
    "its own logs.", "the blue ball in the garden.", "a short summary.", "the refund policy.",
    "three failed deployments.", "the slowest percentile.", "a polite apology.", "nothing at all.",
)  # fmt: skip
_CLAUSES = (
    "because the queue was full", "after the deployment finished", "while traffic doubled",
    "although nobody asked for it", "before the alert fired", "when the cache expired",
)  # fmt: skip


def short_sentences(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}" for _ in range(n)
    ]


def medium_sentences(n: int, embedder: Embedder, seed: int = 2) -> list[str]:
    """Sentences grown clause by clause until they reach about 60 word pieces."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts: list[str] = []
        text = ""
        while not parts or embedder.token_counts([text])[0] < 58:
            obj = rng.choice(_OBJECTS).rstrip(".")
            parts.append(
                f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {obj} {rng.choice(_CLAUSES)}"
            )
            text = ", and ".join(parts) + "."
        out.append(text)
    return out


def _busy_jiffies() -> int:
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def measure(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """(items per second, CPU of other processes in cores) for one call of fn."""
    hz = os.sysconf("SC_CLK_TCK")
    busy0, own0, t0 = _busy_jiffies(), os.times(), time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    busy1, own1 = _busy_jiffies(), os.times()
    own = (own1.user - own0.user) + (own1.system - own0.system)
    others = max(0.0, (busy1 - busy0) / hz - own)
    return n / wall, others / wall


_TORCH_CHILD = """
import json, sys, time, os
os.environ["HF_HUB_OFFLINE"] = "1"
import torch
from sentence_transformers import SentenceTransformer
torch.set_num_threads(2)
model = SentenceTransformer(sys.argv[1], device="cpu")
texts = json.load(open(sys.argv[2]))
model.encode(texts[:128], batch_size=64)
t0 = time.perf_counter()
model.encode(texts, batch_size=64)
print(len(texts) / (time.perf_counter() - t0))
"""


def torch_rate(python: str, texts: Sequence[str]) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(list(texts), f)
    try:
        proc = subprocess.run(
            [python, "-c", _TORCH_CHILD, str(find_model_dir()), f.name],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(f.name).unlink()
    return float(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1024, help="texts per workload")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare-python", help="python of a venv with sentence-transformers")
    args = parser.parse_args()

    t0 = time.perf_counter()
    embedder = Embedder.load()
    print(f"model loaded in {time.perf_counter() - t0:.2f} s; batch_size {BATCH_SIZE}")
    workloads = {
        "short": short_sentences(args.sentences),
        "medium": medium_sentences(max(64, args.sentences // 4), embedder),
    }
    two = embedder  # threads=2, the default
    one = Embedder.load(threads=1)

    def openblas2(texts: Sequence[str]) -> None:
        # The pre-worker design: one thread, OpenBLAS threading inside each matmul.
        counts = one.token_counts(texts)
        order = sorted(range(len(texts)), key=counts.__getitem__)
        encodings = one._tokenizer.encode_batch([texts[i].strip() for i in order])
        with threadpool_limits(limits=2, user_api="blas"):
            for start, stop in plan_batches(sorted(counts), BATCH_SIZE):
                seq = len(encodings[stop - 1].ids)
                ids = np.zeros((stop - start, seq), dtype=np.int64)
                mask = np.zeros((stop - start, seq), dtype=np.bool_)
                for row, enc in enumerate(encodings[start:stop]):
                    ids[row, : len(enc.ids)] = enc.ids
                    mask[row, : len(enc.ids)] = True
                one._encoder.pooled(ids, mask)

    modes: dict[str, Callable[[Sequence[str]], object]] = {
        "workers=2": lambda t: two.encode(t, batch_size=BATCH_SIZE),
        "workers=1": lambda t: one.encode(t, batch_size=BATCH_SIZE),
        "openblas=2": openblas2,
    }
    rows = []
    for name, texts in workloads.items():
        counts = one.token_counts(texts)
        tokens = sum(counts) / len(counts)
        for fn in modes.values():
            fn(texts[:BATCH_SIZE])  # warm-up
        rates: dict[str, list[float]] = {mode: [] for mode in modes}
        others: list[float] = []
        torch_rates: list[float] = []
        for _ in range(args.rounds):
            for mode, fn in modes.items():
                rate, other = measure(lambda f=fn, t=texts: f(t), len(texts))
                rates[mode].append(rate)
                others.append(other)
            if args.compare_python:
                torch_rates.append(torch_rate(args.compare_python, texts))
        rows.append((name, len(texts), tokens, rates, max(others), torch_rates))

    print()
    cols = ["workload", "texts", "tokens/text", *(f"{m} median / best" for m in modes)]
    cols += ["torch 2 threads median"] if args.compare_python else []
    cols += ["other jobs (max, cores)"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for name, n, tokens, rates, other, torch_rates in rows:
        cells = [name, str(n), f"{tokens:.1f}"]
        cells += [f"{statistics.median(r):.0f} / {max(r):.0f}/s" for r in rates.values()]
        if args.compare_python:
            cells.append(f"{statistics.median(torch_rates):.0f}/s")
        cells.append(f"{other:.2f}")
        print("| " + " | ".join(cells) + " |")
    short_rates = rows[0][3]["workers=2"]
    median = statistics.median(short_rates)
    verdict = "PASS" if median >= TARGET_SHORT_PER_S else "FAIL"
    print(
        f"\ntarget: short texts >= {TARGET_SHORT_PER_S:.0f}/s on 2 cores (workers=2): "
        f"{verdict} (median {median:.0f}/s, best {max(short_rates):.0f}/s)"
    )
    if max(row[4] for row in rows) > 0.1:
        print("warning: other processes used more than 10 % of a core: figures are disturbed")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
