from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from infersight.core.cost import (
    HOURS_PER_MONTH,
    cost_per_1m_output_tokens_usd,
    cost_per_hour_usd,
    cost_usd,
    day_bounds_s,
    days_in_month,
    idle_cost,
    month_bounds_s,
    monthly_cost_usd,
    project_spend,
    project_spend_at_rate,
    spend_usd,
    token_spend_usd_per_hour,
)

H = 3600.0


def ts(year: int, month: int, day: int, hour: int = 0, tz: timezone = UTC) -> float:
    return datetime(year, month, day, hour, tzinfo=tz).timestamp()


# --- hourly and token prices --------------------------------------------------------------------


def test_cost_per_hour() -> None:
    # 2 instances × 1.408 USD/h = 2.816 USD/h
    assert cost_per_hour_usd(1.408, 2) == pytest.approx(2.816)
    assert cost_per_hour_usd(1.408, 0) == 0.0
    with pytest.raises(ValueError, match="instances"):
        cost_per_hour_usd(1.0, -1)
    with pytest.raises(ValueError, match="usd_per_instance_hour"):
        cost_per_hour_usd(-1.0, 1)


def test_monthly_cost_is_730_hours() -> None:
    # 1.408 USD/h × 730 h = 1027.84 USD
    assert HOURS_PER_MONTH == 730.0
    assert monthly_cost_usd(1.408) == pytest.approx(1027.84)


def test_cost_per_1m_output_tokens() -> None:
    # 1.408 × 10^6 / (3600 × 100) = 1 408 000 / 360 000 = 3.9111...
    assert cost_per_1m_output_tokens_usd(1.408, 100.0) == pytest.approx(3.911111, rel=1e-6)
    # 7.2 × 10^6 / (3600 × 2000) = 7 200 000 / 7 200 000 = 1.0
    assert cost_per_1m_output_tokens_usd(7.2, 2000.0) == pytest.approx(1.0)
    assert cost_per_1m_output_tokens_usd(7.2, 0.0) is None
    with pytest.raises(ValueError, match="output_tokens_per_s"):
        cost_per_1m_output_tokens_usd(7.2, -1.0)
    with pytest.raises(ValueError, match="cost_per_hour_usd"):
        cost_per_1m_output_tokens_usd(math.nan, 1.0)


def test_token_priced_request_cost() -> None:
    # 1000 × 3 / 10^6 + 500 × 15 / 10^6 = 0.003 + 0.0075 = 0.0105
    assert cost_usd(1000, 500, 3.0, 15.0) == pytest.approx(0.0105)
    assert cost_usd(0, 0, 3.0, 15.0) == 0.0
    with pytest.raises(ValueError, match="token counts"):
        cost_usd(-1, 0, 3.0, 15.0)


def test_token_spend_rate() -> None:
    # 3600 × (100 × 3 + 50 × 15) / 10^6 = 3600 × 1050 / 10^6 = 3.78 USD/h
    assert token_spend_usd_per_hour(100.0, 50.0, 3.0, 15.0) == pytest.approx(3.78)
    with pytest.raises(ValueError, match="input_tokens_per_s"):
        token_spend_usd_per_hour(-1.0, 0.0, 1.0, 1.0)


# --- idle cost ----------------------------------------------------------------------------------


def test_idle_cost_regular_samples() -> None:
    # 10 samples every 10 s in [0, 100): the first 4 idle (1 % < 5 %) → 40 s idle of 100 s.
    # window cost = 36 USD/h × 100 s / 3600 = 1.0 USD; idle = 0.4 × 1.0 = 0.4 USD
    points = [(float(t), 0.01 if t < 40 else 0.8) for t in range(0, 100, 10)]
    got = idle_cost(
        points,
        window_start_s=0.0,
        window_end_s=100.0,
        sample_interval_s=10.0,
        cost_per_hour_usd=36.0,
        idle_gpu_utilization=0.05,
    )
    assert got.window_s == 100.0
    assert got.observed_s == pytest.approx(100.0)
    assert got.idle_s == pytest.approx(40.0)
    assert got.idle_fraction == pytest.approx(0.4)
    assert got.window_cost_usd == pytest.approx(1.0)
    assert got.idle_cost_usd == pytest.approx(0.4)


def test_idle_cost_gaps_are_capped_at_two_intervals() -> None:
    # interval 10 s → a sample covers at most 20 s.
    # t=0 idle   covers [0, 10)            10 s idle
    # t=10 busy  covers [10, min(50, 30))  20 s busy (then a gap 30..50)
    # t=50 idle  covers [50, 60)           10 s idle
    # t=60 busy  covers [60, min(80, 100)) 20 s busy (then nothing until 100)
    # observed 60 s, idle 20 s → fraction 1/3; window cost 36 × 100 / 3600 = 1.0 → 0.3333 USD
    points = [(60.0, 0.9), (0.0, 0.0), (50.0, 0.02), (10.0, 0.7)]  # unsorted on purpose
    got = idle_cost(
        points,
        window_start_s=0.0,
        window_end_s=100.0,
        sample_interval_s=10.0,
        cost_per_hour_usd=36.0,
        idle_gpu_utilization=0.05,
    )
    assert got.observed_s == pytest.approx(60.0)
    assert got.idle_s == pytest.approx(20.0)
    assert got.idle_fraction == pytest.approx(1 / 3)
    assert got.idle_cost_usd == pytest.approx(1 / 3)


def test_idle_cost_window_clipping_and_threshold() -> None:
    # A sample 5 s before the window covers [0, 15) of it (cap 20 s from -5); one inside at 15
    # exactly at the threshold is not idle (strictly under counts) and covers [15, 30).
    # A sample after the window counts for nothing.
    points = [(-5.0, 0.0), (15.0, 0.05), (40.0, 0.0)]
    got = idle_cost(
        points,
        window_start_s=0.0,
        window_end_s=30.0,
        sample_interval_s=10.0,
        cost_per_hour_usd=3600.0,  # 1 USD/s: window cost 30 USD
        idle_gpu_utilization=0.05,
    )
    assert got.observed_s == pytest.approx(30.0)
    assert got.idle_s == pytest.approx(15.0)
    assert got.idle_cost_usd == pytest.approx(15.0)


def test_idle_cost_without_samples_is_unknown() -> None:
    got = idle_cost(
        [(500.0, 0.0), (1.0, math.nan)],
        window_start_s=0.0,
        window_end_s=100.0,
        sample_interval_s=10.0,
        cost_per_hour_usd=36.0,
        idle_gpu_utilization=0.05,
    )
    assert got.observed_s == 0.0
    assert got.idle_fraction is None and got.idle_cost_usd is None
    assert got.window_cost_usd == pytest.approx(1.0)


def test_idle_cost_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="window_end_s must be after"):
        idle_cost(
            [],
            window_start_s=10.0,
            window_end_s=10.0,
            sample_interval_s=10.0,
            cost_per_hour_usd=1.0,
            idle_gpu_utilization=0.05,
        )
    with pytest.raises(ValueError, match="sample_interval_s"):
        idle_cost(
            [],
            window_start_s=0.0,
            window_end_s=10.0,
            sample_interval_s=0.0,
            cost_per_hour_usd=1.0,
            idle_gpu_utilization=0.05,
        )
    with pytest.raises(ValueError, match="max_gap_intervals"):
        idle_cost(
            [],
            window_start_s=0.0,
            window_end_s=10.0,
            sample_interval_s=1.0,
            cost_per_hour_usd=1.0,
            idle_gpu_utilization=0.05,
            max_gap_intervals=0.5,
        )


# --- spend and projections ----------------------------------------------------------------------


def test_spend_is_a_step_function() -> None:
    # 3.6 USD/h for half an hour + 7.2 USD/h for half an hour = 1.8 + 3.6 = 5.4 USD
    assert spend_usd([(1800.0, 7.2), (0.0, 3.6)], 0.0, H) == pytest.approx(5.4)
    # Before the first point nothing counts: [0, 3600) with a point at 1800 → 7.2 × 0.5 = 3.6
    assert spend_usd([(1800.0, 7.2)], 0.0, H) == pytest.approx(3.6)
    # The last rate holds to the end: 2 USD/h from -1 h, window [0, 2 h) → 4 USD
    assert spend_usd([(-H, 2.0)], 0.0, 2 * H) == pytest.approx(4.0)
    assert spend_usd([(0.0, 2.0)], 5.0, 5.0) == 0.0


def test_calendar_bounds() -> None:
    assert days_in_month(2024, 2) == 29
    assert days_in_month(2025, 2) == 28
    assert days_in_month(2025, 4) == 30
    assert days_in_month(2025, 12) == 31
    now = ts(2024, 12, 31, 23) + 1800.0
    assert day_bounds_s(now) == (ts(2024, 12, 31), ts(2025, 1, 1))
    assert month_bounds_s(now) == (ts(2024, 12, 1), ts(2025, 1, 1))
    # In UTC-5, 2025-03-01 03:00 UTC is still 2025-02-28 22:00: February, 28 days.
    est = timezone(timedelta(hours=-5))
    now = ts(2025, 3, 1, 3)
    assert month_bounds_s(now, est) == (ts(2025, 2, 1, tz=est), ts(2025, 3, 1, tz=est))
    assert day_bounds_s(now, est) == (ts(2025, 2, 28, tz=est), ts(2025, 3, 1, tz=est))


@pytest.mark.parametrize(
    ("year", "month", "days"),
    [(2025, 1, 31), (2025, 4, 30), (2024, 2, 29), (2025, 2, 28)],
)
def test_projection_uses_the_calendar_month(year: int, month: int, days: int) -> None:
    # 1 USD/h all month; now = the 15th at 12:00 → spent 14 × 24 + 12 = 348 USD;
    # projected month = days × 24; today 12 USD spent, 24 projected.
    p = project_spend_at_rate(ts(year, month, 15, 12), 1.0)
    assert p.days_in_month == days
    assert p.usd_per_hour == 1.0
    assert p.spent_month_usd == pytest.approx(348.0)
    assert p.projected_month_usd == pytest.approx(days * 24.0)
    assert p.spent_today_usd == pytest.approx(12.0)
    assert p.projected_day_usd == pytest.approx(24.0)
    assert p.monthly_budget_usd is None
    assert p.budget_remaining_usd is None and p.budget_exhausted_at_s is None


def test_projection_since_deployment_start() -> None:
    # Deployed on the 10th at 00:00 at 2 USD/h; now the 11th at 06:00 → 30 h × 2 = 60 USD.
    # Rest of January 2025: from the 11th 06:00 to Feb 1 = 20 days 18 h = 498 h → 996 more.
    p = project_spend_at_rate(ts(2025, 1, 11, 6), 2.0, since_s=ts(2025, 1, 10))
    assert p.spent_month_usd == pytest.approx(60.0)
    assert p.projected_month_usd == pytest.approx(60.0 + 996.0)
    assert p.spent_today_usd == pytest.approx(12.0)


def test_budget_runs_out_on_a_date() -> None:
    # 1 USD/h, now 2025-01-10 00:00 → spent 9 × 24 = 216 of 500; 284 left = 284 h
    # = 11 days 20 h → 2025-01-21 20:00 UTC.
    p = project_spend_at_rate(ts(2025, 1, 10), 1.0, monthly_budget_usd=500.0)
    assert p.budget_remaining_usd == pytest.approx(284.0)
    assert p.budget_exhausted_at_s == pytest.approx(ts(2025, 1, 21, 20))
    assert p.budget_exhausted_on == date(2025, 1, 21)


def test_budget_that_lasts_the_month_has_no_run_out_date() -> None:
    # 1 USD/h × 744 h (January) = 744 < 1000
    p = project_spend_at_rate(ts(2025, 1, 10), 1.0, monthly_budget_usd=1000.0)
    assert p.budget_remaining_usd == pytest.approx(784.0)
    assert p.budget_exhausted_at_s is None and p.budget_exhausted_on is None
    # ...but in February the same 700 USD budget runs out only with 31 days: 28 × 24 = 672 < 700
    p = project_spend_at_rate(ts(2025, 2, 10), 1.0, monthly_budget_usd=700.0)
    assert p.budget_exhausted_on is None
    p = project_spend_at_rate(ts(2025, 3, 10), 1.0, monthly_budget_usd=700.0)
    # March: 700 h after Mar 1 00:00 = 29 days 4 h → 2025-03-30 04:00
    assert p.budget_exhausted_on == date(2025, 3, 30)


def test_budget_already_overspent_reports_when_it_ran_out() -> None:
    # 1 USD/h, budget 100 → reached 100 h after Jan 1 00:00 = Jan 5 04:00; spent 216 by Jan 10.
    p = project_spend_at_rate(ts(2025, 1, 10), 1.0, monthly_budget_usd=100.0)
    assert p.budget_remaining_usd == pytest.approx(-116.0)
    assert p.budget_exhausted_at_s == pytest.approx(ts(2025, 1, 5, 4))
    assert p.budget_exhausted_on == date(2025, 1, 5)


def test_projection_from_points_across_a_month_end() -> None:
    # 1 USD/h until Jan 31 22:00, then 2 USD/h (scaled to 2 replicas); now Feb 1 01:00.
    # This month: Feb 1 00:00..01:00 at 2 = 2 USD; today the same.
    # Projected February (28 days = 672 h) at 2 USD/h = 1344 USD; today's 24 h = 48 USD.
    # A point after now (a planned change) is ignored.
    points = [
        (ts(2025, 1, 1), 1.0),
        (ts(2025, 1, 31, 22), 2.0),
        (ts(2025, 2, 1, 12), 100.0),
    ]
    p = project_spend(ts(2025, 2, 1, 1), points, monthly_budget_usd=1000.0)
    assert p.usd_per_hour == 2.0
    assert p.days_in_month == 28
    assert p.spent_month_usd == pytest.approx(2.0)
    assert p.spent_today_usd == pytest.approx(2.0)
    assert p.projected_day_usd == pytest.approx(48.0)
    assert p.projected_month_usd == pytest.approx(1344.0)
    # 1000 USD at 2 USD/h = 500 h after Feb 1 00:00 = 20 days 20 h → Feb 21 20:00
    assert p.budget_exhausted_at_s == pytest.approx(ts(2025, 2, 21, 20))


def test_projection_with_a_rate_change_this_month() -> None:
    # 1 USD/h from Apr 1, 3 USD/h from Apr 11 00:00; now Apr 11 12:00.
    # Spent: 10 days × 24 × 1 + 12 h × 3 = 240 + 36 = 276. Projected April (30 days):
    # 276 + (19 days × 24 + 12 h) × 3 = 276 + 468 × 3 = 276 + 1404 = 1680.
    points = [(ts(2025, 4, 1), 1.0), (ts(2025, 4, 11), 3.0)]
    p = project_spend(ts(2025, 4, 11, 12), points)
    assert p.spent_month_usd == pytest.approx(276.0)
    assert p.projected_month_usd == pytest.approx(1680.0)
    assert p.spent_today_usd == pytest.approx(36.0)
    assert p.projected_day_usd == pytest.approx(72.0)


def test_projection_without_points_is_zero() -> None:
    p = project_spend(ts(2025, 4, 11, 12), [], monthly_budget_usd=10.0)
    assert p.usd_per_hour == 0.0
    assert p.projected_month_usd == 0.0
    assert p.budget_remaining_usd == 10.0
    assert p.budget_exhausted_at_s is None
