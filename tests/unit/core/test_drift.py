"""core.drift against known values (scipy only as an optional cross-check)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from infersight.core.drift import (
    centroid_cosine_distance,
    correlation,
    ks_two_sample,
    mmd_test,
    pearson,
    psi,
    psi_noise_floor,
    regularized_beta,
    spearman,
    student_t_two_sided_p,
    wasserstein_1d,
)


def test_psi_hand_computed_and_identical() -> None:
    # 2 bins split at the baseline median 0.5: shares 0.5/0.5 → 0.9/0.1
    expected = 0.4 * math.log(1.8) + (-0.4) * math.log(0.2)
    assert psi([0] * 50 + [1] * 50, [0] * 90 + [1] * 10, n_bins=2) == pytest.approx(expected)
    rng = np.random.default_rng(1)
    base = rng.normal(size=2000)
    assert psi(base, base) == pytest.approx(0.0, abs=1e-12)
    assert psi(base, rng.normal(size=2000)) < 0.05
    assert psi(base, rng.normal(1.0, 1.0, size=2000)) > 0.25


def test_psi_noise_floor_predicts_small_sample_psi() -> None:
    rng = np.random.default_rng(8)
    observed = [psi(rng.normal(size=60), rng.normal(size=60)) for _ in range(200)]
    floor = psi_noise_floor(10, 60, 60)
    assert floor == pytest.approx(0.3)
    assert float(np.mean(observed)) == pytest.approx(floor, rel=0.25)
    with pytest.raises(ValueError):
        psi_noise_floor(1, 60, 60)


def test_psi_empty_bins_use_epsilon_and_outliers_count() -> None:
    base = list(range(100))
    far = [1000.0] * 50  # all above the baseline's range: the open top bin
    value = psi(base, far, epsilon=1e-4)
    assert math.isfinite(value) and value > 2.0
    with pytest.raises(ValueError, match="n_bins"):
        psi(base, base, n_bins=1)


def test_ks_identical_disjoint_and_shifted() -> None:
    same = ks_two_sample([1, 2, 3, 4], [1, 2, 3, 4])
    assert same.statistic == 0.0 and same.p_value == 1.0
    assert ks_two_sample([1, 2, 3], [4, 5, 6]).statistic == 1.0
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=300), rng.normal(1.0, 1.0, size=300)
    shifted = ks_two_sample(a, b)
    assert shifted.statistic > 0.3 and shifted.p_value < 1e-6
    assert ks_two_sample(a, rng.normal(size=300)).p_value > 0.01


def test_ks_close_to_scipy_asymptotic() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=500), rng.normal(0.15, 1.0, size=400)
    ours = ks_two_sample(a, b)
    theirs = stats.ks_2samp(a, b, method="asymp")
    assert ours.statistic == pytest.approx(theirs.statistic)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=0.02)


def test_wasserstein_known_values() -> None:
    assert wasserstein_1d([0, 1], [0, 1]) == 0.0
    assert wasserstein_1d([0], [1]) == pytest.approx(1.0)
    assert wasserstein_1d([0, 0, 1], [1, 1, 1]) == pytest.approx(2 / 3)
    rng = np.random.default_rng(4)
    a = rng.normal(size=100)
    assert wasserstein_1d(a, a + 3.5) == pytest.approx(3.5)


def test_centroid_cosine_distance() -> None:
    a = np.array([[1.0, 0.0], [0.8, 0.6]])
    assert centroid_cosine_distance(a, a) == pytest.approx(0.0, abs=1e-12)
    assert centroid_cosine_distance([[1.0, 0.0]], [[0.0, 1.0]]) == pytest.approx(1.0)
    assert centroid_cosine_distance([[1.0, 0.0]], [[-1.0, 0.0]]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="dimensions differ"):
        centroid_cosine_distance([[1.0, 0.0]], [[1.0, 0.0, 0.0]])


def _embeddings(rng: np.random.Generator, n: int, center: np.ndarray) -> np.ndarray:
    z = rng.normal(size=(n, center.size)) * 0.5 + center
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def test_mmd_permutation_p_value_separates_shift_from_noise() -> None:
    rng = np.random.default_rng(5)
    topic_a, topic_b = rng.normal(size=64), rng.normal(size=64)
    x = _embeddings(rng, 60, topic_a)
    shifted = mmd_test(x, _embeddings(rng, 60, topic_b), n_permutations=200, seed=0)
    assert shifted.mmd2 > 0.1
    assert shifted.p_value == pytest.approx(1 / 201)  # no permutation reaches it
    same = mmd_test(x, _embeddings(rng, 60, topic_a), n_permutations=200, seed=0)
    assert same.p_value > 0.05
    assert abs(same.mmd2) < shifted.mmd2 / 10
    y = _embeddings(rng, 60, topic_a)
    assert mmd_test(x, y, seed=9) == mmd_test(x, y, seed=9)  # seeded: reproducible


def test_mmd_validates_input() -> None:
    with pytest.raises(ValueError, match="matrix"):
        mmd_test([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="n_permutations"):
        mmd_test(np.eye(3), np.eye(3), n_permutations=0)
    fixed = mmd_test(np.eye(3), np.eye(3), bandwidth=2.0, n_permutations=10)
    assert fixed.bandwidth == 2.0 and fixed.p_value == 1.0


def test_student_t_known_values() -> None:
    # 1 df is the Cauchy distribution: P(|T| >= 1) = 1/2
    assert student_t_two_sided_p(1.0, 1) == pytest.approx(0.5)
    # 2 df: P(T <= t) = 1/2 + t / (2 √(2 + t²))
    t = 2.5
    assert student_t_two_sided_p(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t))
    assert student_t_two_sided_p(0.0, 7) == pytest.approx(1.0)
    assert regularized_beta(1.0, 1.0, 0.3) == pytest.approx(0.3)  # uniform
    assert regularized_beta(2.0, 3.0, 0.0) == 0.0


def test_correlation_signs_and_p_values() -> None:
    load = list(range(1, 41))
    rising = [2.0 * v + (v % 3) for v in load]
    falling = [-(float(v) ** 2) for v in load]  # strictly decreasing: rho = -1
    up = pearson(load, rising)
    assert up is not None and up.r > 0.95 and up.p_value < 1e-10 and up.n == 40
    down = spearman(load, falling)
    assert down is not None and down.r == pytest.approx(-1.0) and down.p_value == 0.0
    rng = np.random.default_rng(6)
    flat = spearman(rng.normal(size=40), rng.normal(size=40))
    assert flat is not None and flat.p_value > 0.05
    assert correlation([1, 2, 3], [5, 5, 5]) is None  # constant
    assert correlation([1, 2], [1, 2], "pearson") is None  # too few pairs
    with pytest.raises(ValueError, match="length"):
        pearson([1, 2, 3], [1, 2])


def test_correlation_matches_scipy_where_available() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(7)
    x = rng.normal(size=30)
    y = 0.4 * x + rng.normal(size=30)
    ours_p, ours_s = pearson(x, y), spearman(x, y)
    assert ours_p is not None and ours_s is not None
    assert ours_p.p_value == pytest.approx(stats.pearsonr(x, y).pvalue, rel=1e-8)
    assert ours_s.p_value == pytest.approx(stats.spearmanr(x, y).pvalue, rel=1e-8)
