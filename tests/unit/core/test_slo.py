"""SLO math against hand-computed values: burn rates, budget, multi-window alerts."""

from __future__ import annotations

import pytest

from infersight.core.alarms import AlarmState
from infersight.core.slo import (
    DEFAULT_BURN_WINDOWS,
    BucketCounts,
    BurnWindow,
    budget_remaining,
    burn_rate,
    evaluate_slo,
)

NOW = 1_700_006_400.0  # a multiple of 60 and of 3600
MIN = 60.0
HOUR = 3600.0
DAY = 86_400.0


def test_burn_rate_and_budget_by_hand() -> None:
    # 99 % objective: budget 1 %. 2 bad of 100 = 2 % bad = burn rate 2.
    assert burn_rate(2, 100, 0.99) == pytest.approx(2.0)
    assert budget_remaining(2, 100, 0.99) == pytest.approx(-1.0)
    # 99.9 %: 144 bad of 10,000 = 1.44 % = 14.4x.
    assert burn_rate(144, 10_000, 0.999) == pytest.approx(14.4)
    assert budget_remaining(3, 1000, 0.99) == pytest.approx(0.7)  # 0.3 % of a 1 % budget used
    assert burn_rate(0, 0, 0.99) is None
    assert budget_remaining(0, 0, 0.99) == 1.0
    with pytest.raises(ValueError, match="objective"):
        burn_rate(1, 2, 1.0)


def test_defaults_are_the_sre_workbook_ones() -> None:
    assert [(w.long_s, w.short_s, w.burn_rate, w.severity) for w in DEFAULT_BURN_WINDOWS] == [
        (HOUR, 5 * MIN, 14.4, "critical"),
        (6 * HOUR, 30 * MIN, 6.0, "critical"),
        (3 * DAY, 6 * HOUR, 1.0, "warning"),
    ]
    # 14.4x for an hour spends 2 % of a 30-day budget: 14.4 * 1 h / 720 h
    spent = 14.4 * HOUR / (30 * DAY)
    assert spent == pytest.approx(0.02)


def fill(counts: BucketCounts, start: float, end: float, good: float, total: float) -> None:
    ts = start
    rows = []
    while ts < end:
        rows.append((ts, good, total))
        ts += MIN
    counts.replace(start, end, rows)


def test_bucket_counts_windows_replace_and_prune() -> None:
    c = BucketCounts(MIN)
    fill(c, NOW - 10 * MIN, NOW, 9, 10)
    assert c.window(NOW - 1, 5 * MIN) == (54, 60)  # buckets from NOW-6m to NOW-1m: 6 buckets
    c.replace(NOW - 2 * MIN, NOW, [(NOW - 2 * MIN, 0, 10)])  # NOW-1m now empty
    assert c.window(NOW - 1, 2 * MIN) == (9 + 0, 20)
    c.prune(NOW - 5 * MIN)
    assert len(c) == 4


def test_fast_burn_pages_and_resolves_when_the_short_window_clears() -> None:
    c = BucketCounts(MIN)
    # 30 days at 100 requests/min, 0.5 % bad: burn 0.5 everywhere
    fill(c, NOW - 30 * DAY, NOW - 20 * MIN, 99.5, 100)
    # then 20 minutes with 30 % bad: burn 30 over the last 5 min; over 1 h:
    # (40 min × 0.5 + 20 min × 30) / 60 = 10.33 % ... (in units of bad/min) -> burn 10.33 < 14.4
    fill(c, NOW - 20 * MIN, NOW, 70, 100)
    ev = evaluate_slo(c, NOW - 1, objective=0.99, window_s=30 * DAY)
    page_1h = ev.windows[0]
    assert page_1h.short_burn == pytest.approx(30.0)
    # 1 h window = buckets NOW-61m .. NOW-1m: 41 at 0.5 % and 20 at 30 %
    assert page_1h.long_burn == pytest.approx((41 * 0.5 + 20 * 30) / 61 / 1.0)
    assert not page_1h.firing
    assert ev.state == AlarmState.OK
    # 20 more minutes: 1 h now holds 40 bad minutes: (21 × 0.5 + 40 × 30) / 61 = 19.8 > 14.4
    fill(c, NOW, NOW + 20 * MIN, 70, 100)
    ev = evaluate_slo(c, NOW + 20 * MIN - 1, objective=0.99, window_s=30 * DAY)
    assert ev.windows[0].firing
    assert (ev.state, ev.severity) == (AlarmState.ALARM, "critical")
    # recovery: 6 good minutes make the 5-minute window clean; the 1 h stays hot
    fill(c, NOW + 20 * MIN, NOW + 26 * MIN, 100, 100)
    ev = evaluate_slo(c, NOW + 26 * MIN - 1, objective=0.99, window_s=30 * DAY)
    assert ev.windows[0].long_burn is not None and ev.windows[0].long_burn > 14.4
    assert ev.windows[0].short_burn == 0.0
    assert ev.state == AlarmState.OK


def test_slow_burn_opens_a_ticket() -> None:
    c = BucketCounts(MIN)
    fill(c, NOW - 30 * DAY, NOW - 3 * DAY, 100, 100)
    fill(c, NOW - 3 * DAY, NOW, 98.5, 100)  # 1.5 % bad for 3 days: burn 1.5
    ev = evaluate_slo(c, NOW - 1, objective=0.99, window_s=30 * DAY)
    assert [w.firing for w in ev.windows] == [False, False, True]
    assert (ev.state, ev.severity) == (AlarmState.ALARM, "warning")
    # budget: 3 of 30 days at 1.5 % bad = 0.15 % of all = 15 % of the budget spent
    assert ev.budget_remaining == pytest.approx(1 - (3 * 1.5) / 30 / 1.0, abs=0.002)
    assert "FIRING" in ev.summary()


def test_no_events_is_insufficient_data() -> None:
    ev = evaluate_slo(BucketCounts(), NOW, objective=0.99, window_s=30 * DAY)
    assert ev.state == AlarmState.INSUFFICIENT_DATA
    assert ev.budget_remaining == 1.0


def test_custom_windows_and_validation() -> None:
    c = BucketCounts(MIN)
    fill(c, NOW - 10 * MIN, NOW, 50, 100)  # 50 % bad: burn 5 at 90 %
    ev = evaluate_slo(
        c, NOW - 1, objective=0.9, window_s=DAY, burn_windows=[BurnWindow(600, 60, 5.0, "info")]
    )
    assert (ev.state, ev.severity) == (AlarmState.ALARM, "info")
    assert ev.burn_rate == pytest.approx(5.0)
    with pytest.raises(ValueError, match="short_s"):
        BurnWindow(60, 600, 1.0)
    with pytest.raises(ValueError, match="bucket_s"):
        BucketCounts(0)


def test_a_handful_of_events_never_fires() -> None:
    c = BucketCounts(MIN)
    c.replace(NOW - 5 * MIN, NOW, [(NOW - 3 * MIN, 3, 7)])  # 4 slow of 7: a burn rate of 57
    noisy = evaluate_slo(c, NOW - 1, objective=0.99, window_s=30 * DAY)
    assert noisy.windows[0].long_burn == pytest.approx(57.14, abs=0.01)
    assert noisy.state == AlarmState.ALARM
    guarded = evaluate_slo(c, NOW - 1, objective=0.99, window_s=30 * DAY, min_events=20)
    assert not any(w.firing for w in guarded.windows)
    assert guarded.state == AlarmState.OK


def test_burn_rates_in_messages_never_round_up_to_the_factor() -> None:
    """A resolve message must not read as firing: 2.997 against a factor of 3 is 2.99."""
    from infersight.core.slo import _burn_text

    assert _burn_text(2.997, 3.0) == "2.99"
    assert _burn_text(3.004, 3.0) == "3.00"
    assert _burn_text(14.4, 14.4) == "14.40"
    assert _burn_text(None, 2.0) == "-"
    assert _burn_text(0.29, 1.0) == "0.29" and _burn_text(2.01, 3.0) == "2.01"  # no float slips
