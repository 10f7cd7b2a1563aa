"""Is a quality change real? Confidence intervals and paired tests for quality sweeps.

Pure: numpy and the standard library only (`statistics.NormalDist` for normal quantiles).

- `wilson_interval(successes, n)`: the Wilson score interval of a rate (pass rate, refusal
  rate). Unlike the Wald interval it stays inside [0, 1] and behaves at 0/n and n/n.
- `bootstrap_mean_ci(values, seed=...)`: percentile-bootstrap interval of a mean score, drawn
  with a seeded `numpy.random.Generator`, so the same input gives the same interval.
- `mcnemar_exact(b, c)`: exact (binomial) McNemar test on the discordant pairs of two binary
  sweeps over the same items.
- `wilcoxon_signed_rank(diffs)`: the signed-rank test for paired scores; exact distribution
  (ties included) up to `WILCOXON_EXACT_MAX_N` non-zero differences, normal approximation with
  tie and continuity corrections above.
- `paired_bootstrap(diffs, seed=...)`: interval and p-value of a mean paired difference.
- `compare_sweeps(prev, cur, kind)`: the whole comparison of two sweeps keyed by item id.

Why pair: two sweeps over the same 100 items share the items' difficulty, so only the items
whose verdict changed carry evidence. A 100-item sweep at an 80 % pass rate has a 95 % Wilson
interval of about [71 %, 87 %]: two sweeps that differ by 3 points are well within noise, and
`compare_sweeps` says so (e.g. 6 items pass→fail and 3 fail→pass: exact McNemar p = 0.51,
not significant). Alarms should fire on `Comparison.regressed` (significant *and* worse), with
`alpha` chosen for the sweep frequency: at alpha = 0.05 an unchanged model still "regresses"
in at most about 1 comparison in 40 (one tail of 5 %); hourly sweeps want alpha = 0.01 or lower.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Kind = Literal["binary", "score"]
ScoreMethod = Literal["wilcoxon", "bootstrap"]

WILCOXON_EXACT_MAX_N: Final = 200
DEFAULT_RESAMPLES: Final = 2000
_CHUNK_ELEMENTS: Final = 1 << 20  # bootstrap index draws per chunk (bounded memory)


@dataclass(frozen=True, slots=True)
class Interval:
    """A two-sided confidence interval at `confidence` (e.g. 0.95)."""

    low: float
    high: float
    confidence: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_json(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high, "confidence": self.confidence}


@dataclass(frozen=True, slots=True)
class WilcoxonResult:
    """W+ (sum of the ranks of positive differences), its two-sided p-value, the number of
    non-zero differences ranked, and whether the p-value is exact."""

    statistic: float
    p_value: float
    n: int
    exact: bool


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two sweeps over the same items: `delta` = mean(cur) - mean(prev) over the paired items
    (a pass-rate difference for binary verdicts), its interval, the test's p-value, and the
    items that got worse (worst first)."""

    kind: Kind
    delta: float
    ci: Interval
    p_value: float
    significant: bool
    n_pairs: int
    regressed_items: tuple[str, ...]
    method: str
    alpha: float
    higher_is_better: bool = True
    improved_items: tuple[str, ...] = field(default=())

    @property
    def regressed(self) -> bool:
        """Significant and in the bad direction: what an alarm should watch."""
        worse = self.delta < 0 if self.higher_is_better else self.delta > 0
        return self.significant and worse

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "delta": self.delta,
            "ci": self.ci.to_json(),
            "p_value": self.p_value,
            "significant": self.significant,
            "regressed": self.regressed,
            "n_pairs": self.n_pairs,
            "method": self.method,
            "alpha": self.alpha,
            "higher_is_better": self.higher_is_better,
            "regressed_items": list(self.regressed_items),
            "improved_items": list(self.improved_items),
        }


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Interval:
    """Wilson score interval of the rate successes / n. 8/10 at 95 % gives [0.490, 0.943]."""
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within [0, n={n}], got {successes}")
    z = _z(confidence)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return Interval(low, high, confidence)


def _as_array(values: Sequence[float] | FloatArray, what: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{what}: need at least one value")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: values must be finite (found NaN or infinity)")
    return arr


def _bootstrap_means(values: FloatArray, n_resamples: int, rng: np.random.Generator) -> FloatArray:
    """Means of `n_resamples` resamples with replacement, drawn in bounded chunks."""
    n = values.size
    out = np.empty(n_resamples, dtype=np.float64)
    per_chunk = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, per_chunk):
        stop = min(n_resamples, start + per_chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[idx].mean(axis=1)
    return out


def _check_resamples(n_resamples: int) -> None:
    if n_resamples < 100:
        raise ValueError(f"n_resamples must be >= 100, got {n_resamples}")


def bootstrap_mean_ci(
    values: Sequence[float] | FloatArray,
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap interval of the mean, from a `numpy.random.default_rng(seed)`."""
    arr = _as_array(values, "bootstrap_mean_ci")
    _z(confidence)
    _check_resamples(n_resamples)
    means = _bootstrap_means(arr, n_resamples, np.random.default_rng(seed))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(low), float(high), confidence)


def _binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exactly (integer arithmetic)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    total = sum(math.comb(n, i) for i in range(k + 1))
    return total / (1 << n)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts: b items went pass→fail,
    c went fail→pass. Under no change each discordant item is a fair coin."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * _binom_cdf_half(min(b, c), n))


def average_ranks(values: Sequence[float] | FloatArray) -> FloatArray:
    """1-based ranks, ties sharing the mean of their positions (as Spearman and Wilcoxon use)."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(arr, kind="mergesort")
    sorted_vals = arr[order]
    ranks = np.empty(arr.size, dtype=np.float64)
    # boundaries of runs of equal values
    starts = np.concatenate(([0], np.nonzero(np.diff(sorted_vals))[0] + 1))
    ends = np.concatenate((starts[1:], [arr.size]))
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        ranks[order[s:e]] = (s + 1 + e) / 2.0
    return ranks


def _signed_rank_pmf(doubled_ranks: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """P(2·W+ = s) for every s, under random signs, by dynamic programming over the ranks
    (ranks doubled so that tied half-ranks stay integers)."""
    total = int(doubled_ranks.sum())
    counts = np.zeros(total + 1, dtype=np.float64)
    counts[0] = 1.0
    for r in doubled_ranks.tolist():
        shifted = np.zeros_like(counts)
        shifted[r:] = counts[: total + 1 - r]
        counts = (counts + shifted) * 0.5  # each sign with probability 1/2, keeps it in [0, 1]
    return counts


def wilcoxon_signed_rank(diffs: Sequence[float] | FloatArray) -> WilcoxonResult:
    """Wilcoxon signed-rank test of paired differences (cur - prev) against a zero median.

    Zero differences are dropped (Wilcoxon's convention), tied |differences| share average
    ranks. Up to WILCOXON_EXACT_MAX_N non-zero differences the p-value is exact (the
    permutation distribution of W+ given these ranks); beyond, a normal approximation with the
    tie-corrected variance and a continuity correction. With no non-zero difference, p = 1.
    """
    arr = _as_array(diffs, "wilcoxon_signed_rank")
    nz = arr[arr != 0.0]
    n = int(nz.size)
    if n == 0:
        return WilcoxonResult(0.0, 1.0, 0, True)
    ranks = average_ranks(np.abs(nz))
    w_plus = float(ranks[nz > 0].sum())
    if n <= WILCOXON_EXACT_MAX_N:
        doubled = np.rint(ranks * 2.0).astype(np.int64)
        pmf = _signed_rank_pmf(doubled)
        s = round(w_plus * 2.0)
        lower = float(pmf[: s + 1].sum())
        upper = float(pmf[s:].sum())
        return WilcoxonResult(w_plus, min(1.0, 2.0 * min(lower, upper)), n, True)
    mean_w = n * (n + 1) / 4.0
    _, tie_counts = np.unique(ranks, return_counts=True)
    var_w = n * (n + 1) * (2 * n + 1) / 24.0 - float((tie_counts**3 - tie_counts).sum()) / 48.0
    if var_w <= 0:
        return WilcoxonResult(w_plus, 1.0, n, False)
    z = max(0.0, abs(w_plus - mean_w) - 0.5) / math.sqrt(var_w)
    return WilcoxonResult(w_plus, min(1.0, 2.0 * (1.0 - NormalDist().cdf(z))), n, False)


def paired_bootstrap(
    diffs: Sequence[float] | FloatArray,
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[Interval, float]:
    """Percentile interval of the mean paired difference and a two-sided bootstrap p-value
    for "mean difference = 0": the resampled means, re-centred on zero (the null), that are at
    least as far from zero as the observed mean; (1 + hits) / (1 + n_resamples)."""
    arr = _as_array(diffs, "paired_bootstrap")
    _z(confidence)
    _check_resamples(n_resamples)
    means = _bootstrap_means(arr, n_resamples, np.random.default_rng(seed))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    observed = float(arr.mean())
    if float(arr.max()) == float(arr.min()):
        p = 1.0 if observed == 0.0 else 1.0 / (1 + n_resamples)
    else:
        hits = int(np.count_nonzero(np.abs(means - observed) >= abs(observed) - 1e-12))
        p = (1 + hits) / (1 + n_resamples)
    return Interval(float(low), float(high), confidence), min(1.0, p)


def _binary(value: object, item: str, side: str) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and value in (0, 1):
        return float(value)
    raise ValueError(
        f"compare_sweeps: {side} verdict of item {item!r} must be a bool or 0/1 "
        f"for kind='binary', got {value!r}"
    )


def _score(value: object, item: str, side: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(
            f"compare_sweeps: {side} score of item {item!r} must be a finite number, got {value!r}"
        )
    return float(value)


def compare_sweeps(
    prev: Mapping[str, float | bool],
    cur: Mapping[str, float | bool],
    kind: Kind,
    *,
    alpha: float = 0.05,
    confidence: float = 0.95,
    higher_is_better: bool = True,
    method: ScoreMethod = "wilcoxon",
    item_tolerance: float = 0.0,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Compare two sweeps over the items they share (keys are item ids).

    kind="binary": values are verdicts (True/1 = pass); exact McNemar test on the flips;
    delta = pass-rate difference over the paired items, with a paired-bootstrap interval.
    kind="score": values are scores; Wilcoxon signed-rank (method="wilcoxon") or paired
    bootstrap (method="bootstrap") p-value; delta = mean difference with a paired-bootstrap
    interval. `regressed_items` are the items worse by more than `item_tolerance`, worst first
    (ties by id); `improved_items` likewise. Items in only one sweep are ignored; ValueError
    when no item is in both (say which sweep to rerun).
    """
    if kind not in ("binary", "score"):
        raise ValueError(f"compare_sweeps: kind must be 'binary' or 'score', got {kind!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"compare_sweeps: alpha must be within (0, 1), got {alpha}")
    if method not in ("wilcoxon", "bootstrap"):
        raise ValueError(
            f"compare_sweeps: method must be 'wilcoxon' or 'bootstrap', got {method!r}"
        )
    if item_tolerance < 0:
        raise ValueError(f"compare_sweeps: item_tolerance must be >= 0, got {item_tolerance}")
    items = sorted(set(prev) & set(cur))
    if not items:
        raise ValueError(
            f"compare_sweeps: the sweeps share no item ids ({len(prev)} previous, {len(cur)} "
            "current items); compare sweeps of the same dataset"
        )
    convert = _binary if kind == "binary" else _score
    a = np.array([convert(prev[i], i, "previous") for i in items], dtype=np.float64)
    b = np.array([convert(cur[i], i, "current") for i in items], dtype=np.float64)
    diffs = b - a
    ci, boot_p = paired_bootstrap(diffs, confidence=confidence, n_resamples=n_resamples, seed=seed)
    if kind == "binary":
        p_value = mcnemar_exact(int((diffs < 0).sum()), int((diffs > 0).sum()))
        used = "mcnemar_exact"
    elif method == "wilcoxon":
        p_value = wilcoxon_signed_rank(diffs).p_value
        used = "wilcoxon_signed_rank"
    else:
        p_value = boot_p
        used = "paired_bootstrap"
    sign = 1.0 if higher_is_better else -1.0
    gain = diffs * sign  # > 0: better
    regressed = sorted(
        (k for k in range(len(items)) if gain[k] < -item_tolerance),
        key=lambda k: (float(gain[k]), items[k]),
    )
    improved = sorted(
        (k for k in range(len(items)) if gain[k] > item_tolerance),
        key=lambda k: (-float(gain[k]), items[k]),
    )
    return Comparison(
        kind=kind,
        delta=float(diffs.mean()),
        ci=ci,
        p_value=p_value,
        significant=p_value < alpha,
        n_pairs=len(items),
        regressed_items=tuple(items[k] for k in regressed),
        method=used,
        alpha=alpha,
        higher_is_better=higher_is_better,
        improved_items=tuple(items[k] for k in improved),
    )
