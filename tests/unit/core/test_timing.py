"""Stream timings follow vLLM's benchmark definitions (hand-computed expectations)."""

from __future__ import annotations

import pytest

from infersight.core.timing import itl_gaps, stream_timing, tokens_per_event


def test_one_token_per_event() -> None:
    t = stream_timing(10.0, 10.5, [10.1, 10.2, 10.3, 10.5], output_tokens=4)
    assert t.ttft_s == pytest.approx(0.1)
    assert t.e2e_s == pytest.approx(0.5)
    assert t.tpot_s == pytest.approx((0.5 - 0.1) / 3)
    assert list(t.itl_gaps_s) == pytest.approx([0.1, 0.1, 0.2])
    assert t.itl_mean_s == pytest.approx(0.4 / 3)
    assert t.itl_max_s == pytest.approx(0.2)
    assert t.output_tokens_per_s == pytest.approx(4 / 0.5)


def test_chunk_of_k_tokens_counts_as_k_gaps() -> None:
    # three events of 3 tokens each, 30 ms apart: per-token gaps of 10 ms
    t = stream_timing(0.0, 0.16, [0.1, 0.13, 0.16], output_tokens=9)
    assert len(t.itl_gaps_s) == 6
    assert all(g == pytest.approx(0.01) for g in t.itl_gaps_s)
    assert t.itl_p50_s == pytest.approx(0.01)
    assert t.tpot_s == pytest.approx(0.06 / 8)


def test_uneven_spread_earliest_take_the_remainder() -> None:
    assert tokens_per_event(7, 3) == [3, 2, 2]
    assert tokens_per_event(2, 3) == [1, 1, 1]
    assert tokens_per_event(5, 0) == []
    assert itl_gaps([0.0, 0.2, 0.3], [1, 2, 1]) == pytest.approx([0.1, 0.1, 0.1])


def test_no_usage_counts_one_token_per_event() -> None:
    t = stream_timing(0.0, 1.0, [0.5, 1.0], output_tokens=None)
    assert t.output_tokens == 2
    assert t.tpot_s == pytest.approx(0.5)


def test_no_content_at_all() -> None:
    t = stream_timing(0.0, 0.3, [], output_tokens=None)
    assert t.ttft_s is None
    assert t.tpot_s is None
    assert t.itl_mean_s is None
    assert t.output_tokens_per_s is None
    assert t.e2e_s == pytest.approx(0.3)


def test_single_token_has_no_tpot() -> None:
    t = stream_timing(0.0, 0.2, [0.2], output_tokens=1)
    assert t.ttft_s == pytest.approx(0.2)
    assert t.tpot_s is None
    assert t.itl_gaps_s == ()
