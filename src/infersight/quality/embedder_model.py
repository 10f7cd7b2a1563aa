"""A BERT encoder forward pass in numpy (float32), for all-MiniLM-L6-v2.

This is the `BertModel` forward of the transformers library, written out for inference only
(no dropout), followed by the sentence-transformers pooling of all-MiniLM-L6-v2: the mean of the
last hidden states over the tokens the attention mask keeps, then L2 normalisation.

    embeddings  = LayerNorm(word[ids] + position[0..T) + token_type[0])
    per layer   : a = LayerNorm(x + Attention(x) W_o + b_o)
                  x = LayerNorm(a + GELU(a W_1 + b_1) W_2 + b_2)
    Attention   : softmax(Q K^T / sqrt(d_head) + mask) V, 12 heads of 32 dimensions;
                  padded key positions get -1e9 so their weight is exactly 0 after the softmax
    GELU        : x * Phi(x) = x * (1 + erf(x / sqrt 2)) / 2 (the exact form BERT uses)

numpy has no erf, so Phi is computed with Abramowitz & Stegun 7.1.26 (absolute error of erf
below 1.5e-7, under float32 rounding of the activations).

Speed: all dense layers are one matmul over every (padded) token of a batch; Q, K and V come
from one fused weight matrix, with 1/sqrt(d_head) folded into the Q weights at load time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

# Abramowitz & Stegun 7.1.26: erf(z) = 1 - t (a1 + t (a2 + ...)) exp(-z^2), t = 1 / (1 + p z).
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
# Phi(-|x|) = erfc(|x| / sqrt 2) / 2: the 1/2 is folded into the coefficients, the 1/sqrt 2 into p.
_PHI_P = np.float32(_AS_P / math.sqrt(2.0))
_PHI_A = tuple(np.float32(a / 2.0) for a in _AS_A)
# Beyond this |x|, Phi(-|x|) * |x| < 1e-21: clipping keeps exp() clear of subnormal numbers.
_GELU_CLIP = np.float32(10.0)
_MASKED = np.float32(-1e9)
_GELU_BLOCK_ELEMENTS = 1 << 16


def gelu_(x: F32, bias: F32 | None = None) -> F32:
    """GELU (erf form) of x + bias, in place on a 2-D x: x * Phi(x) = relu(x) - |x| * Phi(-|x|).

    Works through row blocks that stay in the CPU cache: on whole (tokens x 1536) arrays the
    20-odd numpy passes are bound by memory traffic and take 2-3 times longer. Returns x.
    """
    rows, cols = x.shape
    block = max(1, _GELU_BLOCK_ELEMENTS // cols)
    scratch = np.empty((4, min(block, rows), cols), dtype=np.float32)
    a1, a2, a3, a4, a5 = _PHI_A
    for start in range(0, rows, block):
        xs = x[start : start + block]
        n = xs.shape[0]
        a, e, t, y = scratch[0, :n], scratch[1, :n], scratch[2, :n], scratch[3, :n]
        if bias is not None:
            xs += bias
        np.abs(xs, out=a)
        np.minimum(a, _GELU_CLIP, out=a)
        np.multiply(a, a, out=e)
        e *= np.float32(-0.5)
        np.exp(e, out=e)  # exp(-x^2 / 2)
        np.multiply(a, _PHI_P, out=t)
        t += np.float32(1.0)
        np.reciprocal(t, out=t)
        np.multiply(t, a5, out=y)
        for coef in (a4, a3, a2, a1):
            y += coef
            y *= t
        y *= e  # Phi(-|x|)
        y *= a
        np.maximum(xs, np.float32(0.0), out=xs)
        xs -= y
    return x


def layer_norm_(x: F32, gamma: F32, beta: F32, eps: float) -> F32:
    """LayerNorm over the last axis, in place. Returns x."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.square(x).mean(axis=-1, keepdims=True)
    var += np.float32(eps)
    np.sqrt(var, out=var)
    x /= var
    x *= gamma
    x += beta
    return x


@dataclass(frozen=True)
class BertConfig:
    """The few fields of a BERT config.json that the forward pass needs."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    layer_norm_eps: float

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> BertConfig:
        def num(key: str) -> float:
            value = data[key]
            if not isinstance(value, int | float):
                raise ValueError(f"config.json: {key} must be a number, got {value!r}")
            return float(value)

        if data.get("model_type") != "bert":
            raise ValueError(
                f"config.json: model_type must be 'bert', got {data.get('model_type')!r}"
            )
        act = data.get("hidden_act", "gelu")
        if act != "gelu":
            raise ValueError(f"config.json: hidden_act {act!r} is not supported (only 'gelu')")
        return cls(
            hidden_size=int(num("hidden_size")),
            num_layers=int(num("num_hidden_layers")),
            num_heads=int(num("num_attention_heads")),
            intermediate_size=int(num("intermediate_size")),
            max_positions=int(num("max_position_embeddings")),
            layer_norm_eps=num("layer_norm_eps"),
        )


@dataclass(frozen=True)
class _Layer:
    w_qkv: F32  # (H, 3H), Q columns pre-scaled by 1/sqrt(d_head)
    b_qkv: F32  # (3H,)
    w_o: F32  # (H, H)
    b_o: F32
    ln1_g: F32
    ln1_b: F32
    w_in: F32  # (H, I)
    b_in: F32
    w_out: F32  # (I, H)
    b_out: F32
    ln2_g: F32
    ln2_b: F32


class BertEncoder:
    """Inference-only BERT encoder with mean pooling; weights from a safetensors state dict."""

    def __init__(self, config: BertConfig, tensors: Mapping[str, npt.NDArray[np.generic]]) -> None:
        self.config = config

        def get(name: str) -> F32:
            for key in (name, f"bert.{name}"):
                if key in tensors:
                    return np.ascontiguousarray(tensors[key], dtype=np.float32)
            raise ValueError(f"model.safetensors: tensor {name!r} is missing")

        def dense_t(name: str) -> F32:
            # torch Linear stores (out, in); x @ W.T is x @ (in, out).
            return np.ascontiguousarray(get(f"{name}.weight").T)

        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        self.token_type0 = get("embeddings.token_type_embeddings.weight")[0].copy()
        self.emb_ln_g = get("embeddings.LayerNorm.weight")
        self.emb_ln_b = get("embeddings.LayerNorm.bias")
        scale = np.float32(1.0 / math.sqrt(config.head_dim))
        layers = []
        for i in range(config.num_layers):
            p = f"encoder.layer.{i}."
            w_q = dense_t(p + "attention.self.query") * scale
            b_q = get(p + "attention.self.query.bias") * scale
            w_qkv = np.concatenate(
                [w_q, dense_t(p + "attention.self.key"), dense_t(p + "attention.self.value")],
                axis=1,
            )
            b_qkv = np.concatenate(
                [b_q, get(p + "attention.self.key.bias"), get(p + "attention.self.value.bias")]
            )
            layers.append(
                _Layer(
                    w_qkv=np.ascontiguousarray(w_qkv),
                    b_qkv=b_qkv,
                    w_o=dense_t(p + "attention.output.dense"),
                    b_o=get(p + "attention.output.dense.bias"),
                    ln1_g=get(p + "attention.output.LayerNorm.weight"),
                    ln1_b=get(p + "attention.output.LayerNorm.bias"),
                    w_in=dense_t(p + "intermediate.dense"),
                    b_in=get(p + "intermediate.dense.bias"),
                    w_out=dense_t(p + "output.dense"),
                    b_out=get(p + "output.dense.bias"),
                    ln2_g=get(p + "output.LayerNorm.weight"),
                    ln2_b=get(p + "output.LayerNorm.bias"),
                )
            )
        self.layers = tuple(layers)
        if self.word.shape[1] != config.hidden_size:
            raise ValueError(
                f"model.safetensors: word embeddings have width {self.word.shape[1]}, "
                f"config.json says hidden_size {config.hidden_size}"
            )

    def hidden_states(self, ids: I64, mask: npt.NDArray[np.bool_]) -> F32:
        """Last hidden states (B, T, H) for token ids (B, T) and attention mask (B, T)."""
        cfg = self.config
        batch, seq = ids.shape
        if seq > cfg.max_positions:
            raise ValueError(f"sequence of {seq} tokens exceeds {cfg.max_positions} positions")
        hid, heads, hd = cfg.hidden_size, cfg.num_heads, cfg.head_dim
        x = self.word[ids]  # (B, T, H), a fresh array
        x += self.position[:seq]
        x += self.token_type0
        x = layer_norm_(
            x.reshape(batch * seq, hid), self.emb_ln_g, self.emb_ln_b, cfg.layer_norm_eps
        )
        # Additive key mask, broadcast over heads and query positions.
        key_bias = np.where(mask, np.float32(0.0), _MASKED).astype(np.float32)[:, None, None, :]
        eps = cfg.layer_norm_eps
        for layer in self.layers:
            qkv = x @ layer.w_qkv
            qkv += layer.b_qkv
            qkv5 = qkv.reshape(batch, seq, 3, heads, hd)
            q = qkv5[:, :, 0].transpose(0, 2, 1, 3)  # (B, h, T, d)
            k_t = qkv5[:, :, 1].transpose(0, 2, 3, 1)  # (B, h, d, T)
            v = qkv5[:, :, 2].transpose(0, 2, 1, 3)  # (B, h, T, d)
            scores = q @ k_t  # (B, h, T, T), already scaled through the Q weights
            scores += key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * seq, hid)
            attn = ctx @ layer.w_o
            attn += layer.b_o
            attn += x
            x = layer_norm_(attn, layer.ln1_g, layer.ln1_b, eps)
            h: F32 = x @ layer.w_in
            gelu_(h, layer.b_in)
            out: F32 = h @ layer.w_out
            out += layer.b_out
            out += x
            x = layer_norm_(out, layer.ln2_g, layer.ln2_b, eps)
        return x.reshape(batch, seq, hid)

    def pooled(self, ids: I64, mask: npt.NDArray[np.bool_]) -> F32:
        """Mean over unmasked tokens of the last hidden states, L2-normalised: (B, H)."""
        states = self.hidden_states(ids, mask)
        weights = mask.astype(np.float32)
        summed = np.einsum("bth,bt->bh", states, weights)
        counts = np.maximum(weights.sum(axis=1, keepdims=True), np.float32(1e-9))
        mean = summed / counts
        norms = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), np.float32(1e-12))
        result: F32 = (mean / norms).astype(np.float32, copy=False)
        return result
