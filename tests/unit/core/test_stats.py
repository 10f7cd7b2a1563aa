from __future__ import annotations

import numpy as np
import pytest

from infersight.core.stats import mean, percentiles, quantile_sorted


def test_percentiles_match_numpy_linear() -> None:
    rng = np.random.default_rng(1)
    values = rng.exponential(0.2, 1001).tolist()
    qs = (0.0, 0.5, 0.9, 0.95, 0.99, 1.0)
    got = percentiles(values, qs)
    for q in qs:
        assert got[q] == pytest.approx(float(np.quantile(values, q)))


def test_edges() -> None:
    assert percentiles([], (0.5,)) == {}
    assert mean([]) is None
    assert quantile_sorted([3.0], 0.99) == 3.0
    with pytest.raises(ValueError, match="within"):
        quantile_sorted([1.0], 1.5)
    with pytest.raises(ValueError, match="empty"):
        quantile_sorted([], 0.5)
