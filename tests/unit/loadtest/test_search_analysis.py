"""The SLO search state machine and the capacity summary (pure)."""

from __future__ import annotations

import dataclasses

import pytest

from infersight.loadtest.analysis import Pricing, capacity_summary
from infersight.loadtest.profiles import Level
from infersight.loadtest.results import Slo
from infersight.loadtest.search import RateSearch, SearchSpec, probe_verdict
from infersight.loadtest.summary import LevelSummary, summarize_level

from .conftest import T0, RowFactory

SPEC = SearchSpec(slo=Slo(ttft_s=0.5), tolerance=0.05)


def _search(capacity: float, start: float, spec: SearchSpec = SPEC) -> RateSearch:
    search = RateSearch(spec, start)
    while (rate := search.next_rate()) is not None:
        search.record(rate, rate <= capacity, "model")
    return search


@pytest.mark.parametrize(
    ("capacity", "start"), [(34.8, 8.7), (34.8, 200.0), (3.0, 3.0), (0.7, 1.0)]
)
def test_search_converges_on_the_capacity(capacity: float, start: float) -> None:
    s = _search(capacity, start)
    best = s.best_pass
    assert best is not None and s.finished is not None and s.finished.startswith("converged")
    assert capacity * (1 - SPEC.tolerance) <= best <= capacity
    assert len(s.probes) <= 12


def test_search_limits() -> None:
    spec = SearchSpec(slo=Slo(e2e_s=1.0), max_rate_per_s=50.0, max_probes=20)
    s = _search(1e9, 10.0, spec)
    assert s.best_pass == 50.0 and "every rate up to max_rate 50" in (s.finished or "")
    s = _search(0.0, 1.0, SearchSpec(slo=Slo(e2e_s=1.0), min_rate_per_s=0.1))
    assert s.best_pass is None and "even 0.1 requests/s" in (s.finished or "")
    s = _search(34.8, 1.0, SearchSpec(slo=Slo(e2e_s=1.0), max_probes=3))
    assert len(s.probes) == 3 and "probe limit" in (s.finished or "")


def test_search_survives_a_noisy_reversal() -> None:
    s = RateSearch(SPEC, 10.0)
    s.record(10.0, True, "")
    s.record(20.0, True, "")
    s.record(40.0, False, "")
    s.record(30.0, True, "")
    s.record(15.0, False, "")  # noise: lower than a pass
    nxt = s.next_rate()
    assert nxt is not None and 10.0 < nxt < 15.0


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="at least one SLO"):
        SearchSpec(slo=Slo())
    with pytest.raises(ValueError, match="attainment"):
        SearchSpec(slo=Slo(ttft_s=1), attainment=1.5)


def test_probe_verdict(row: RowFactory) -> None:
    level = Level("rate", 5.0, duration_s=10.0)
    rows = [row(i, ttft=0.1) for i in range(99)] + [row(99, ttft=0.9)]
    s = summarize_level(0, level, rows, measure_start_s=T0, slo=Slo(ttft_s=0.5))
    ok, why = probe_verdict(s, SPEC)
    assert ok and "99.0% met the SLOs" in why
    rows[0] = row(0, error="timeout")
    s = summarize_level(0, level, rows, measure_start_s=T0, slo=Slo(ttft_s=0.5))
    assert not probe_verdict(s, SPEC)[0]


def _ladder(row: RowFactory, points: list[tuple[int, float]]) -> list[LevelSummary]:
    out = []
    for idx, (c, rps) in enumerate(points):
        n = int(rps * 10)
        e2e = c / rps  # Little: in flight = rate × E2E
        rows = [
            row(i, start=i * 10 / n, ttft=0.02, e2e=e2e, tokens=20, level=idx) for i in range(n)
        ]
        out.append(summarize_level(idx, Level("concurrency", c, duration_s=10.0), rows,
                                   measure_start_s=T0, slo=Slo(e2e_s=0.2)))  # fmt: skip
    return out


def test_capacity_summary_knee_replicas_cost(row: RowFactory) -> None:
    levels = _ladder(row, [(1, 8.7), (2, 17.4), (4, 34.8), (8, 34.9), (16, 34.8)])
    c = capacity_summary(levels, target_rate_per_s=100.0, headroom=1.2,
                         pricing=Pricing(1.408, "test"))  # fmt: skip
    assert c.knee_level == 2 and c.knee_concurrency == 4 and c.basis.startswith("knee")
    assert c.knee_request_throughput == pytest.approx(levels[2].request_throughput)
    # ceil(100 × E2E × 1.2 / in-flight) with in-flight = rate × E2E  → ceil(120 / 34.8·k)
    expected = levels[2].mean_concurrency / levels[2].request_throughput
    assert c.knee_mean_e2e_s == pytest.approx(expected, rel=0.05)
    assert c.replicas_needed == 4
    assert c.cost_per_1m_output_tokens_usd == pytest.approx(
        1.408 * 1e6 / (3600 * levels[2].output_throughput)
    )
    assert c.fleet_usd_per_hour == pytest.approx(4 * 1.408)
    assert c.max_goodput is not None and c.max_goodput_ci95 is not None


def test_capacity_without_knee_or_levels(row: RowFactory) -> None:
    straight = _ladder(row, [(1, 10.0), (2, 20.0), (4, 40.0)])
    c = capacity_summary(straight)
    assert c.knee_level == 2 and c.basis.startswith("no knee")
    assert capacity_summary(straight[:1]).basis.startswith("the level with the most")
    none = capacity_summary([])
    assert none.knee_level is None and none.replicas_needed is None
    searched = capacity_summary(straight, searched=True, search_best_level=1)
    assert searched.knee_level == 1 and "search" in searched.basis
    assert capacity_summary(straight, searched=True).knee_level is None


def test_an_interrupted_level_is_the_capacity_point_when_it_is_all_there_is(
    row: RowFactory,
) -> None:
    (level,) = _ladder(row, [(4, 30.0)])
    cut = dataclasses.replace(level, stopped="interrupted (Ctrl-C): partial results")
    c = capacity_summary([cut], target_rate_per_s=60.0)
    assert c.knee_level == 0 and c.knee_label == level.level.label
    assert c.basis == "only a partial level, cut short: interrupted (Ctrl-C): partial results"
    assert c.replicas_needed is not None
