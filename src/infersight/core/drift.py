"""Has the traffic changed? Distribution drift between a baseline and a current window.

Pure: numpy and the standard library only.

Scalar distributions (prompt length, answer length, scores):
- `psi(baseline, current)`: population stability index over quantile bins of the baseline
  (empty bins floored at `epsilon`). Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift,
  > 0.25 major shift; but on small samples PSI is biased upwards: with no change its expected
  value is about (bins - 1)(1/n_baseline + 1/n_current) (`psi_noise_floor`), 0.3 for 10 bins
  and 60 values a side. Pair it with a test (KS) before calling a shift real.
- `ks_two_sample(a, b)`: the two-sample Kolmogorov-Smirnov statistic D and its asymptotic
  p-value (Kolmogorov distribution with Stephens' small-sample factor).
- `wasserstein_1d(a, b)`: earth mover's distance between the empirical distributions, in the
  values' own unit (e.g. tokens).

Embeddings (rows L2-normalised or not):
- `centroid_cosine_distance(a, b)`: 1 - cosine of the two mean embeddings; cheap, blunt.
- `mmd_test(x, y, n_permutations=..., seed=...)`: unbiased MMD² with an RBF kernel whose
  bandwidth is the median pairwise distance of the pooled sample (median heuristic), and a
  seeded permutation p-value: (1 + #{permuted MMD² >= observed}) / (1 + n_permutations).

Load: `pearson(x, y)` / `spearman(x, y)` with a two-sided p-value from the t approximation
(t = r √((n-2)/(1-r²)), Student t with n-2 degrees of freedom, through the regularised
incomplete beta function); None when undefined (fewer than 3 pairs, or a constant input).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from infersight.core.significance import average_ranks

FloatArray = npt.NDArray[np.float64]
Values = Sequence[float] | FloatArray

PSI_EPSILON: Final = 1e-4
DEFAULT_PERMUTATIONS: Final = 200
CorrelationMethod = Literal["pearson", "spearman"]


@dataclass(frozen=True, slots=True)
class KSResult:
    statistic: float
    p_value: float


@dataclass(frozen=True, slots=True)
class MMDResult:
    """Unbiased MMD² (may be slightly negative under no drift), its permutation p-value, the
    RBF bandwidth used, and the sample sizes."""

    mmd2: float
    p_value: float
    bandwidth: float
    n_permutations: int
    n_x: int
    n_y: int


@dataclass(frozen=True, slots=True)
class Correlation:
    r: float
    p_value: float
    n: int
    method: str


def _values(values: Values, what: str, *, min_n: int = 1) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size < min_n:
        raise ValueError(f"{what}: need at least {min_n} value(s), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: values must be finite (found NaN or infinity)")
    return arr


def psi(
    baseline: Values, current: Values, *, n_bins: int = 10, epsilon: float = PSI_EPSILON
) -> float:
    """Population stability index: Σ (c - b) ln(c / b) over bins whose edges are the
    baseline's quantiles (duplicate edges merged, so discrete data gets fewer bins); the
    outer bins are open-ended, so current values outside the baseline's range still count.
    Bin shares below `epsilon` are raised to it."""
    if n_bins < 2:
        raise ValueError(f"psi: n_bins must be >= 2, got {n_bins}")
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"psi: epsilon must be within (0, 1), got {epsilon}")
    base = _values(baseline, "psi baseline")
    cur = _values(current, "psi current")
    inner = np.unique(np.quantile(base, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]))
    # bin i holds values in (edge[i-1], edge[i]]
    b_counts = np.bincount(np.searchsorted(inner, base, side="left"), minlength=inner.size + 1)
    c_counts = np.bincount(np.searchsorted(inner, cur, side="left"), minlength=inner.size + 1)
    b_share = np.maximum(b_counts / base.size, epsilon)
    c_share = np.maximum(c_counts / cur.size, epsilon)
    return float(np.sum((c_share - b_share) * np.log(c_share / b_share)))


def psi_noise_floor(n_bins: int, n_baseline: int, n_current: int) -> float:
    """Expected PSI of two samples of one distribution: (bins - 1)(1/n_baseline + 1/n_current)
    (PSI is close to a chi-square statistic scaled by the sample sizes)."""
    if n_bins < 2 or n_baseline < 1 or n_current < 1:
        raise ValueError(
            f"psi_noise_floor: need n_bins >= 2 and sample sizes >= 1, got {n_bins}, "
            f"{n_baseline}, {n_current}"
        )
    return (n_bins - 1) * (1.0 / n_baseline + 1.0 / n_current)


def _kolmogorov_sf(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution: 2 Σ (-1)^(k-1) exp(-2 k² lam²)."""
    if lam < 0.2:
        return 1.0
    total = 0.0
    for k in range(1, 101):
        term = 2.0 * (-1.0) ** (k - 1) * math.exp(-2.0 * k * k * lam * lam)
        total += term
        if abs(term) < 1e-12:
            break
    return min(1.0, max(0.0, total))


def ks_two_sample(a: Values, b: Values) -> KSResult:
    """D = max |F_a(x) - F_b(x)|; p-value asymptotic, λ = (√ne + 0.12 + 0.11/√ne)·D with
    ne = n·m/(n+m) (Stephens' correction, good from ne ≈ 4)."""
    xa = np.sort(_values(a, "ks_two_sample a"))
    xb = np.sort(_values(b, "ks_two_sample b"))
    grid = np.concatenate((xa, xb))
    cdf_a = np.searchsorted(xa, grid, side="right") / xa.size
    cdf_b = np.searchsorted(xb, grid, side="right") / xb.size
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    ne = xa.size * xb.size / (xa.size + xb.size)
    root = math.sqrt(ne)
    return KSResult(d, _kolmogorov_sf((root + 0.12 + 0.11 / root) * d))


def wasserstein_1d(a: Values, b: Values) -> float:
    """∫ |F_a(x) - F_b(x)| dx: the mean distance values must move to turn one sample into the
    other. Shifting a sample by c gives c."""
    xa = np.sort(_values(a, "wasserstein_1d a"))
    xb = np.sort(_values(b, "wasserstein_1d b"))
    grid = np.sort(np.concatenate((xa, xb)))
    widths = np.diff(grid)
    cdf_a = np.searchsorted(xa, grid[:-1], side="right") / xa.size
    cdf_b = np.searchsorted(xb, grid[:-1], side="right") / xb.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def _matrix(values: FloatArray | Sequence[Sequence[float]], what: str, min_rows: int) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < min_rows or arr.shape[1] == 0:
        raise ValueError(
            f"{what}: expected a (n >= {min_rows}, dim) matrix of embeddings, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: embeddings must be finite (found NaN or infinity)")
    return arr


def centroid_cosine_distance(
    a: FloatArray | Sequence[Sequence[float]], b: FloatArray | Sequence[Sequence[float]]
) -> float:
    """1 - cos(mean(a), mean(b)), in [0, 2]; 0 for identical centroids."""
    ea = _matrix(a, "centroid_cosine_distance a", 1)
    eb = _matrix(b, "centroid_cosine_distance b", 1)
    if ea.shape[1] != eb.shape[1]:
        raise ValueError(
            f"centroid_cosine_distance: dimensions differ ({ea.shape[1]} vs {eb.shape[1]})"
        )
    ca, cb = ea.mean(axis=0), eb.mean(axis=0)
    na, nb = float(np.linalg.norm(ca)), float(np.linalg.norm(cb))
    if na == 0.0 or nb == 0.0:
        return 0.0 if na == nb else 1.0
    return float(min(2.0, max(0.0, 1.0 - float(ca @ cb) / (na * nb))))


def _sq_distances(z: FloatArray) -> FloatArray:
    sq = np.sum(z * z, axis=1)
    d2: FloatArray = sq[:, None] + sq[None, :] - 2.0 * (z @ z.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return d2


def median_bandwidth(d2: FloatArray) -> float:
    """Median of the pairwise distances (off-diagonal) of a squared-distance matrix; 1.0 when
    all points coincide."""
    upper = d2[np.triu_indices(d2.shape[0], k=1)]
    med = float(np.sqrt(np.median(upper))) if upper.size else 0.0
    return med if med > 0.0 else 1.0


def _mmd2_from_blocks(
    s_xx: FloatArray, s_yy: FloatArray, s_xy: FloatArray, n: int, m: int
) -> FloatArray:
    # RBF kernel: k(z, z) = 1, so the diagonals contribute n and m to the block sums
    out: FloatArray = (s_xx - n) / (n * (n - 1)) + (s_yy - m) / (m * (m - 1)) - 2.0 * s_xy / (n * m)
    return out


def mmd_test(
    x: FloatArray | Sequence[Sequence[float]],
    y: FloatArray | Sequence[Sequence[float]],
    *,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    bandwidth: float | None = None,
) -> MMDResult:
    """Unbiased MMD² between samples x (n, d) and y (m, d) with an RBF kernel
    k = exp(-|a-b|² / (2 σ²)), σ = `bandwidth` or the pooled median distance, and a permutation
    p-value from `numpy.random.default_rng(seed)`. Cost O((n+m)² · (d + n_permutations)):
    subsample large windows before calling (the drift report caps each window)."""
    ex = _matrix(x, "mmd_test x", 2)
    ey = _matrix(y, "mmd_test y", 2)
    if ex.shape[1] != ey.shape[1]:
        raise ValueError(f"mmd_test: dimensions differ ({ex.shape[1]} vs {ey.shape[1]})")
    if n_permutations < 1:
        raise ValueError(f"mmd_test: n_permutations must be >= 1, got {n_permutations}")
    if bandwidth is not None and not bandwidth > 0:
        raise ValueError(f"mmd_test: bandwidth must be > 0, got {bandwidth}")
    n, m = ex.shape[0], ey.shape[0]
    d2 = _sq_distances(np.vstack((ex, ey)))
    sigma = bandwidth if bandwidth is not None else median_bandwidth(d2)
    k = np.exp(-d2 / (2.0 * sigma * sigma))
    total = float(k.sum())

    def stats(masks: FloatArray) -> FloatArray:
        ku = masks @ k  # (p, N)
        s_xx = np.sum(ku * masks, axis=1)
        s_xy = np.sum(ku, axis=1) - s_xx  # row sums of K over x rows, y columns
        s_yy = total - s_xx - 2.0 * s_xy
        return _mmd2_from_blocks(s_xx, s_yy, s_xy, n, m)

    observed_mask = np.zeros((1, n + m), dtype=np.float64)
    observed_mask[0, :n] = 1.0
    observed = float(stats(observed_mask)[0])
    rng = np.random.default_rng(seed)
    masks = np.zeros((n_permutations, n + m), dtype=np.float64)
    for i in range(n_permutations):
        masks[i, rng.permutation(n + m)[:n]] = 1.0
    permuted = stats(masks)
    hits = int(np.count_nonzero(permuted >= observed - 1e-12))
    p = (1 + hits) / (1 + n_permutations)
    return MMDResult(observed, p, sigma, n_permutations, n, m)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 301):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function, for a, b > 0 and x in [0, 1]."""
    if not (a > 0 and b > 0):
        raise ValueError(f"regularized_beta: a and b must be > 0, got a={a}, b={b}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"regularized_beta: x must be within [0, 1], got {x}")
    if x in (0.0, 1.0):
        return x
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def student_t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"student_t_two_sided_p: df must be > 0, got {df}")
    if math.isinf(t):
        return 0.0
    return min(1.0, max(0.0, regularized_beta(df / 2.0, 0.5, df / (df + t * t))))


def pearson(x: Values, y: Values) -> Correlation | None:
    """Pearson's r with a t-approximation p-value; None with < 3 pairs or a constant input."""
    return _correlation(x, y, "pearson")


def spearman(x: Values, y: Values) -> Correlation | None:
    """Spearman's rho (Pearson on average ranks) with a t-approximation p-value (fine from
    about 10 pairs); None with < 3 pairs or a constant input."""
    return _correlation(x, y, "spearman")


def correlation(x: Values, y: Values, method: CorrelationMethod = "spearman") -> Correlation | None:
    if method not in ("pearson", "spearman"):
        raise ValueError(f"correlation: method must be 'pearson' or 'spearman', got {method!r}")
    return _correlation(x, y, method)


def _correlation(x: Values, y: Values, method: CorrelationMethod) -> Correlation | None:
    ax = _values(x, f"{method} x", min_n=0)
    ay = _values(y, f"{method} y", min_n=0)
    if ax.size != ay.size:
        raise ValueError(f"{method}: x and y differ in length ({ax.size} vs {ay.size})")
    n = int(ax.size)
    if n < 3:
        return None
    if method == "spearman":
        ax, ay = average_ranks(ax), average_ranks(ay)
    dx, dy = ax - ax.mean(), ay - ay.mean()
    sxx, syy = float(dx @ dx), float(dy @ dy)
    if sxx == 0.0 or syy == 0.0:
        return None
    r = max(-1.0, min(1.0, float(dx @ dy) / math.sqrt(sxx * syy)))
    if abs(r) >= 1.0 - 1e-15:
        return Correlation(r, 0.0, n, method)
    t = r * math.sqrt((n - 2) / (1.0 - r * r))
    return Correlation(r, student_t_two_sided_p(t, n - 2), n, method)
