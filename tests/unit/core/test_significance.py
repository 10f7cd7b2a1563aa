"""core.significance against textbook / hand-computed values (scipy only as an optional
cross-check: it is not a dependency of core)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from infersight.core.significance import (
    Interval,
    average_ranks,
    bootstrap_mean_ci,
    compare_sweeps,
    mcnemar_exact,
    paired_bootstrap,
    wilcoxon_signed_rank,
    wilson_interval,
)


def test_wilson_textbook_values() -> None:
    ci = wilson_interval(8, 10)
    assert ci.low == pytest.approx(0.490, abs=5e-4)
    assert ci.high == pytest.approx(0.943, abs=5e-4)
    assert ci.confidence == 0.95
    # 80 of 100 (the "100-item sweep" of the module docstring): about [0.711, 0.867]
    wide = wilson_interval(80, 100)
    assert (round(wide.low, 3), round(wide.high, 3)) == (0.711, 0.867)


def test_wilson_edges_stay_in_unit_interval() -> None:
    zero = wilson_interval(0, 10)
    assert zero.low == 0.0 and 0.0 < zero.high < 0.35
    full = wilson_interval(10, 10)
    assert full.high == 1.0 and 0.65 < full.low < 1.0
    assert wilson_interval(8, 10, confidence=0.99).low < wilson_interval(8, 10).low


@pytest.mark.parametrize(("successes", "n"), [(-1, 10), (11, 10), (0, 0)])
def test_wilson_rejects_bad_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


def test_bootstrap_mean_ci_is_seeded_and_sensible() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(10.0, 2.0, size=400)
    ci = bootstrap_mean_ci(values, seed=3)
    assert ci == bootstrap_mean_ci(values, seed=3)
    assert ci != bootstrap_mean_ci(values, seed=4)
    assert ci.contains(float(values.mean()))
    # close to the normal-theory interval mean ± 1.96 s/√n
    half = 1.96 * float(values.std(ddof=1)) / math.sqrt(values.size)
    assert ci.low == pytest.approx(values.mean() - half, abs=0.05)
    assert ci.high == pytest.approx(values.mean() + half, abs=0.05)
    assert bootstrap_mean_ci([3.0] * 5) == Interval(3.0, 3.0, 0.95)


def test_bootstrap_rejects_empty_and_nan() -> None:
    with pytest.raises(ValueError, match="at least one"):
        bootstrap_mean_ci([])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_mean_ci([1.0, float("nan")])


def test_mcnemar_exact_small_tables() -> None:
    # b=6 pass→fail, c=3 fail→pass: 2·P(X<=3 | n=9) = 2·130/512
    assert mcnemar_exact(6, 3) == pytest.approx(260 / 512)
    # 10 against 0: 2 / 2^10
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(4, 4) == 1.0


def test_average_ranks_share_ties() -> None:
    assert average_ranks([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]


def test_wilcoxon_hand_computed() -> None:
    # |d| ranks 1..6, negatives at ranks 1 and 5: W+ = 2+3+4+6 = 15, W- = 6.
    # Subsets of {1..6} with sum <= 6: 14 of 64, so p = 2·14/64.
    result = wilcoxon_signed_rank([2, -1, 3, 4, -5, 6])
    assert result.statistic == 15.0
    assert result.exact and result.n == 6
    assert result.p_value == pytest.approx(28 / 64)
    # all five positive: p = 2/32; zeros are dropped
    assert wilcoxon_signed_rank([1, 2, 3, 4, 5, 0, 0]).p_value == pytest.approx(2 / 32)
    assert wilcoxon_signed_rank([0.0, 0.0]).p_value == 1.0


def test_wilcoxon_matches_scipy_where_available() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(11)
    small = rng.normal(0.3, 1.0, size=25)  # no ties: exact on both sides
    ours = wilcoxon_signed_rank(small)
    assert ours.p_value == pytest.approx(stats.wilcoxon(small, method="exact").pvalue, rel=1e-9)
    large = np.round(rng.normal(0.1, 1.0, size=400), 1)  # ties and zeros: normal approx
    ours = wilcoxon_signed_rank(large)
    assert not ours.exact
    theirs = stats.wilcoxon(large, zero_method="wilcox", correction=True, method="approx")
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-6)


def test_paired_bootstrap_detects_a_clear_shift_only() -> None:
    rng = np.random.default_rng(5)
    ci, p = paired_bootstrap(rng.normal(0.5, 0.2, size=50), seed=1)
    assert ci.low > 0 and p < 0.01
    ci, p = paired_bootstrap(rng.normal(0.0, 1.0, size=50), seed=1)
    assert ci.contains(0.0) and p > 0.05


def test_compare_binary_sweeps_noise_is_not_significant() -> None:
    """100 items at ~80 %: 6 flips to fail, 3 to pass (a 3-point drop) is noise."""
    prev = {f"q{i:03d}": i < 80 for i in range(100)}
    cur = dict(prev)
    for i in range(6):  # pass → fail
        cur[f"q{i:03d}"] = False
    for i in range(80, 83):  # fail → pass
        cur[f"q{i:03d}"] = True
    result = compare_sweeps(prev, cur, "binary")
    assert result.n_pairs == 100
    assert result.delta == pytest.approx(-0.03)
    assert result.p_value == pytest.approx(260 / 512)
    assert not result.significant and not result.regressed
    assert result.method == "mcnemar_exact"
    assert result.regressed_items == tuple(f"q{i:03d}" for i in range(6))
    assert result.improved_items == ("q080", "q081", "q082")
    assert result.ci.contains(result.delta)


def test_compare_binary_sweeps_real_regression() -> None:
    prev = {f"q{i}": 1 for i in range(100)}
    cur = {f"q{i}": 0 if i < 15 else 1 for i in range(100)}
    cur["extra"] = 1  # only in one sweep: ignored
    result = compare_sweeps(prev, cur, "binary")
    assert result.n_pairs == 100
    assert result.p_value == pytest.approx(2 / 2**15)
    assert result.significant and result.regressed
    assert result.ci.high < 0
    assert result.to_json()["regressed"] is True


def test_compare_score_sweeps() -> None:
    rng = np.random.default_rng(3)
    base = rng.uniform(0.3, 0.9, size=60)
    prev = {f"i{k}": float(v) for k, v in enumerate(base)}
    worse = {f"i{k}": float(v - 0.1 + rng.normal(0, 0.05)) for k, v in enumerate(base)}
    result = compare_sweeps(prev, worse, "score")
    assert result.method == "wilcoxon_signed_rank"
    assert result.delta < -0.05 and result.regressed
    boot = compare_sweeps(prev, worse, "score", method="bootstrap")
    assert boot.method == "paired_bootstrap" and boot.significant
    noisy = {f"i{k}": float(v + rng.normal(0, 0.05)) for k, v in enumerate(base)}
    assert not compare_sweeps(prev, noisy, "score").significant
    # lower is better (e.g. a toxicity score): going down is an improvement
    assert not compare_sweeps(prev, worse, "score", higher_is_better=False).regressed
    # item tolerance keeps tiny item-level moves out of regressed_items
    tolerant = compare_sweeps(prev, noisy, "score", item_tolerance=0.2)
    assert tolerant.regressed_items == ()


def test_compare_sweeps_errors_say_what_to_fix() -> None:
    with pytest.raises(ValueError, match="share no item ids"):
        compare_sweeps({"a": 1}, {"b": 1}, "binary")
    with pytest.raises(ValueError, match="item 'a'"):
        compare_sweeps({"a": 0.5}, {"a": 1}, "binary")
    with pytest.raises(ValueError, match="finite number"):
        compare_sweeps({"a": float("nan")}, {"a": 1.0}, "score")
    with pytest.raises(ValueError, match="kind"):
        compare_sweeps({"a": 1}, {"a": 1}, "ratio")  # type: ignore[arg-type]
