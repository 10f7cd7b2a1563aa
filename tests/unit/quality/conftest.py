"""Shared helpers of the sweep tests: a deterministic fake embedding and small datasets.

`hash_embed` (hashed bag of words, L2-normalised) stands in for the sentence embedder where the
model's meaning does not matter: it is a mock, used so that sweep mechanics tests run in
milliseconds. Tests that need real scores use the real embedder (tests/integration).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

DIM = 64


def _hash_embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, t in enumerate(texts):
        for word in re.findall(r"\w+", t.lower()):
            out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norm = np.linalg.norm(out[i])
        out[i] = out[i] / norm if norm else out[i]
    return out


@pytest.fixture
def hash_embed() -> Callable[[Sequence[str]], npt.NDArray[np.float32]]:
    return _hash_embed


TINY_ITEMS: list[dict[str, Any]] = [
    {"id": "fr-1", "question": "What is the capital of France?", "reference": "Paris",
     "paraphrase_group": "fr", "tags": ["geo"]},
    {"id": "fr-2", "question": "Which city is the capital of France?", "reference": "Paris",
     "paraphrase_group": "fr", "tags": ["geo"]},
    {"id": "add", "question": "What is 2 + 2?", "reference": "4", "tags": ["math"]},
    {"id": "sky", "question": "What colour is the sky on a clear day?", "reference": "blue"},
    {"id": "ctx", "question": "Where does Ana live?", "reference": "Lisbon",
     "context": "Ana lives in Lisbon and works as a nurse.", "tags": ["grounded"]},
]  # fmt: skip


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in TINY_ITEMS))
    return path
