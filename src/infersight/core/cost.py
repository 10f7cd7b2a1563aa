"""What inference costs: $/hour → $ per 1M tokens, token-priced APIs, idle spend, projections.

Pure functions over plain numbers and sequences: no clock, no I/O. Time is Unix seconds passed in
by the caller; calendar arithmetic (day and month bounds) uses :mod:`datetime` on those timestamps
in a caller-given time zone (UTC by default), never the wall clock.

Formulas (written again next to each function):

- fleet cost per hour       = USD per instance-hour × instances
- USD per 1M output tokens  = (USD/h × 10^6) / (3600 × output tokens/s)
- token-priced request cost = (prompt × in_price + completion × out_price) / 10^6
- token-priced USD/h        = 3600 × (in tokens/s × in_price + out tokens/s × out_price) / 10^6
- idle cost over a window   = idle_fraction × (USD/h × window_s / 3600)
- a month of cost, flat     = USD/h × 730 h (365 × 24 / 12); calendar months use their days
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

SECONDS_PER_HOUR = 3600.0
TOKENS_PER_MILLION = 1_000_000.0
HOURS_PER_MONTH = 730.0
"""Average hours in a month (365 × 24 / 12), the convention cloud price pages use."""

DEFAULT_MAX_GAP_INTERVALS = 2.0
"""A utilisation sample covers at most this many sample intervals when the next one is late."""


def _check_finite(name: str, value: float, *, minimum: float = 0.0) -> None:
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, got {value!r}")


def cost_per_hour_usd(usd_per_instance_hour: float, instances: int) -> float:
    """Fleet cost per hour: USD per instance-hour × instances.

    Example: 2 × ml.g5.xlarge at 1.408 USD/h = 2.816 USD/h.
    """
    _check_finite("usd_per_instance_hour", usd_per_instance_hour)
    if instances < 0:
        raise ValueError(f"instances must be >= 0, got {instances}")
    return usd_per_instance_hour * instances


def monthly_cost_usd(cost_per_hour_usd: float, hours_per_month: float = HOURS_PER_MONTH) -> float:
    """A month of running at a constant rate: USD/h × hours (730 h by default)."""
    _check_finite("cost_per_hour_usd", cost_per_hour_usd)
    return cost_per_hour_usd * hours_per_month


def cost_per_1m_output_tokens_usd(
    cost_per_hour_usd: float, output_tokens_per_s: float
) -> float | None:
    """USD per 1M output tokens at a throughput: (USD/h × 10^6) / (3600 × output tokens/s).

    ``None`` when no tokens are produced (the cost per token is undefined, not infinite).
    Example: 1.408 USD/h at 100 tokens/s = 1.408 × 10^6 / 360 000 ≈ 3.911 USD per 1M tokens.
    """
    _check_finite("cost_per_hour_usd", cost_per_hour_usd)
    _check_finite("output_tokens_per_s", output_tokens_per_s)
    if output_tokens_per_s == 0:
        return None
    return cost_per_hour_usd * TOKENS_PER_MILLION / (SECONDS_PER_HOUR * output_tokens_per_s)


def cost_usd(
    prompt_tokens: int,
    completion_tokens: int,
    usd_per_1m_input_tokens: float,
    usd_per_1m_output_tokens: float,
) -> float:
    """Cost of one request to a token-priced API.

    cost = prompt_tokens × in_price / 10^6 + completion_tokens × out_price / 10^6
    """
    if prompt_tokens < 0 or completion_tokens < 0:
        raise ValueError(
            f"token counts must be >= 0, got prompt={prompt_tokens}, completion={completion_tokens}"
        )
    _check_finite("usd_per_1m_input_tokens", usd_per_1m_input_tokens)
    _check_finite("usd_per_1m_output_tokens", usd_per_1m_output_tokens)
    return (
        prompt_tokens * usd_per_1m_input_tokens + completion_tokens * usd_per_1m_output_tokens
    ) / TOKENS_PER_MILLION


def token_spend_usd_per_hour(
    input_tokens_per_s: float,
    output_tokens_per_s: float,
    usd_per_1m_input_tokens: float,
    usd_per_1m_output_tokens: float,
) -> float:
    """Hourly spend of a token-priced API at steady token rates.

    USD/h = 3600 × (input tokens/s × in_price + output tokens/s × out_price) / 10^6
    """
    for name, value in (
        ("input_tokens_per_s", input_tokens_per_s),
        ("output_tokens_per_s", output_tokens_per_s),
        ("usd_per_1m_input_tokens", usd_per_1m_input_tokens),
        ("usd_per_1m_output_tokens", usd_per_1m_output_tokens),
    ):
        _check_finite(name, value)
    per_s = input_tokens_per_s * usd_per_1m_input_tokens
    per_s += output_tokens_per_s * usd_per_1m_output_tokens
    return SECONDS_PER_HOUR * per_s / TOKENS_PER_MILLION


# --- idle cost ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdleCost:
    """Spend while the accelerator was idle over one window.

    ``observed_s`` is the time covered by samples (gaps excluded), ``idle_s`` the part of it under
    the idle threshold. ``idle_fraction`` and ``idle_cost_usd`` are ``None`` when no sample
    covered any of the window.
    """

    window_s: float
    observed_s: float
    idle_s: float
    idle_fraction: float | None
    window_cost_usd: float
    idle_cost_usd: float | None


def idle_cost(
    points: Sequence[tuple[float, float]],
    *,
    window_start_s: float,
    window_end_s: float,
    sample_interval_s: float,
    cost_per_hour_usd: float,
    idle_gpu_utilization: float,
    max_gap_intervals: float = DEFAULT_MAX_GAP_INTERVALS,
) -> IdleCost:
    """Spend while GPU utilisation was under ``idle_gpu_utilization`` (0-1) in a window.

    ``points`` are ``(ts_s, gpu_utilization)`` samples (any order). Each sample covers the time
    from its timestamp until the next sample, but at most ``max_gap_intervals ×
    sample_interval_s`` (2 intervals by default): a collector outage is a gap, not a long idle
    or busy stretch. Coverage is clipped to [window_start_s, window_end_s), so a sample just
    before the window covers its start. Then:

        idle_fraction = idle_s / observed_s
        window_cost   = cost_per_hour_usd × (window_end_s - window_start_s) / 3600
        idle_cost     = idle_fraction × window_cost

    The fraction seen in the observed time stands for the gaps too: instances bill whether or
    not the collector saw them. Pass one GPU's series with its share of the cost, or a series of
    instance-mean utilisation with the instance cost. Non-finite utilisation samples are skipped.
    """
    if not window_end_s > window_start_s:
        raise ValueError(
            f"window_end_s must be after window_start_s, got [{window_start_s}, {window_end_s})"
        )
    _check_finite("sample_interval_s", sample_interval_s)
    if sample_interval_s == 0:
        raise ValueError("sample_interval_s must be > 0, got 0")
    _check_finite("cost_per_hour_usd", cost_per_hour_usd)
    _check_finite("max_gap_intervals", max_gap_intervals, minimum=1.0)
    cap_s = max_gap_intervals * sample_interval_s
    ordered = sorted((ts, u) for ts, u in points if math.isfinite(ts) and math.isfinite(u))
    observed_s = 0.0
    idle_s = 0.0
    for i, (ts, utilization) in enumerate(ordered):
        next_ts = ordered[i + 1][0] if i + 1 < len(ordered) else math.inf
        start = max(ts, window_start_s)
        end = min(next_ts, ts + cap_s, window_end_s)
        if end <= start:
            continue
        observed_s += end - start
        if utilization < idle_gpu_utilization:
            idle_s += end - start
    window_s = window_end_s - window_start_s
    window_cost = cost_per_hour_usd * window_s / SECONDS_PER_HOUR
    if observed_s == 0:
        return IdleCost(window_s, 0.0, 0.0, None, window_cost, None)
    fraction = idle_s / observed_s
    return IdleCost(window_s, observed_s, idle_s, fraction, window_cost, fraction * window_cost)


# --- spend so far and projections ---------------------------------------------------------------


def spend_usd(cost_points: Sequence[tuple[float, float]], start_s: float, end_s: float) -> float:
    """Spend in [start_s, end_s) from ``(ts_s, usd_per_hour)`` points: a step function.

    Each point's rate holds from its timestamp until the next point; the last one holds until
    ``end_s`` (instances keep billing between samples). Before the first point nothing is
    counted. spend = Σ rate_i × overlap_i_s / 3600.
    """
    if end_s <= start_s:
        return 0.0
    ordered = sorted(cost_points)
    total = 0.0
    for i, (ts, rate) in enumerate(ordered):
        next_ts = ordered[i + 1][0] if i + 1 < len(ordered) else math.inf
        seg_start = max(ts, start_s)
        seg_end = min(next_ts, end_s)
        if seg_end > seg_start:
            total += rate * (seg_end - seg_start) / SECONDS_PER_HOUR
    return total


def _time_spend_reaches_s(
    cost_points: Sequence[tuple[float, float]], start_s: float, end_s: float, amount_usd: float
) -> float | None:
    """First time in [start_s, end_s] at which spend since start_s reaches ``amount_usd``."""
    if amount_usd <= 0:
        return start_s
    ordered = sorted(cost_points)
    total = 0.0
    for i, (ts, rate) in enumerate(ordered):
        next_ts = ordered[i + 1][0] if i + 1 < len(ordered) else math.inf
        seg_start = max(ts, start_s)
        seg_end = min(next_ts, end_s)
        if seg_end <= seg_start or rate <= 0:
            continue
        seg_usd = rate * (seg_end - seg_start) / SECONDS_PER_HOUR
        if total + seg_usd >= amount_usd:
            return seg_start + (amount_usd - total) * SECONDS_PER_HOUR / rate
        total += seg_usd
    return None


def days_in_month(year: int, month: int) -> int:
    """Days in a calendar month (February of a leap year has 29)."""
    return calendar.monthrange(year, month)[1]


def day_bounds_s(now_s: float, tz: tzinfo = UTC) -> tuple[float, float]:
    """[start, end) of the calendar day containing ``now_s`` in ``tz``, as Unix seconds."""
    day = datetime.fromtimestamp(now_s, tz).date()
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
    return start.timestamp(), end.timestamp()


def month_bounds_s(now_s: float, tz: tzinfo = UTC) -> tuple[float, float]:
    """[start, end) of the calendar month containing ``now_s`` in ``tz``, as Unix seconds."""
    day = datetime.fromtimestamp(now_s, tz).date()
    start = datetime(day.year, day.month, 1, tzinfo=tz)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    end = datetime(year, month, 1, tzinfo=tz)
    return start.timestamp(), end.timestamp()


@dataclass(frozen=True)
class SpendProjection:
    """Spend so far and at the current rate until the end of the day and of the month.

    ``budget_exhausted_at_s`` / ``budget_exhausted_on`` say when this month's spend reaches the
    monthly budget (possibly already in the past); ``None`` when there is no budget or it lasts
    the month at the current rate. ``budget_remaining_usd`` is negative once it is overspent.
    """

    now_s: float
    usd_per_hour: float
    spent_today_usd: float
    projected_day_usd: float
    spent_month_usd: float
    projected_month_usd: float
    days_in_month: int
    monthly_budget_usd: float | None
    budget_remaining_usd: float | None
    budget_exhausted_at_s: float | None
    budget_exhausted_on: date | None


def project_spend(
    now_s: float,
    cost_points: Sequence[tuple[float, float]],
    *,
    monthly_budget_usd: float | None = None,
    tz: tzinfo = UTC,
) -> SpendProjection:
    """Spend today and this month from ``(ts_s, usd_per_hour)`` points, projected at the rate now.

    The current rate is that of the last point at or before ``now_s`` (0 when none); points after
    ``now_s`` are ignored. Spend integrates the points as in :func:`spend_usd`, and from
    ``now_s`` on the current rate holds:

        projected_day   = spent_today + rate × (day_end - now) / 3600
        projected_month = spent_month + rate × (month_end - now) / 3600
        remaining       = budget - spent_month

    The month is the calendar month of ``now_s`` in ``tz`` (28 to 31 days). The budget runs out
    where cumulative spend since the month's start reaches it; at the current rate that is
    now + remaining / rate × 3600 when still ahead.
    """
    _check_finite("now_s", now_s, minimum=-math.inf)
    if monthly_budget_usd is not None:
        _check_finite("monthly_budget_usd", monthly_budget_usd)
    past = sorted((ts, rate) for ts, rate in cost_points if ts <= now_s)
    for _, rate in past:
        _check_finite("usd_per_hour", rate)
    rate_now = past[-1][1] if past else 0.0
    day_start, day_end = day_bounds_s(now_s, tz)
    month_start, month_end = month_bounds_s(now_s, tz)
    local = datetime.fromtimestamp(now_s, tz)
    remaining: float | None = None
    exhausted_at: float | None = None
    exhausted_on: date | None = None
    spent_month = spend_usd(past, month_start, now_s)
    if monthly_budget_usd is not None:
        remaining = monthly_budget_usd - spent_month
        exhausted_at = _time_spend_reaches_s(past, month_start, month_end, monthly_budget_usd)
        if exhausted_at is not None:
            exhausted_on = datetime.fromtimestamp(exhausted_at, tz).date()
    return SpendProjection(
        now_s=now_s,
        usd_per_hour=rate_now,
        spent_today_usd=spend_usd(past, day_start, now_s),
        projected_day_usd=spend_usd(past, day_start, day_end),
        spent_month_usd=spent_month,
        projected_month_usd=spend_usd(past, month_start, month_end),
        days_in_month=days_in_month(local.year, local.month),
        monthly_budget_usd=monthly_budget_usd,
        budget_remaining_usd=remaining,
        budget_exhausted_at_s=exhausted_at,
        budget_exhausted_on=exhausted_on,
    )


def project_spend_at_rate(
    now_s: float,
    usd_per_hour: float,
    *,
    monthly_budget_usd: float | None = None,
    since_s: float | None = None,
    tz: tzinfo = UTC,
) -> SpendProjection:
    """:func:`project_spend` for a constant rate that has run since ``since_s``.

    ``since_s`` defaults to the start of the month, i.e. the rate ran all month; a later
    ``since_s`` (the deployment's start) counts no spend before it.
    """
    _check_finite("usd_per_hour", usd_per_hour)
    month_start, _ = month_bounds_s(now_s, tz)
    start = month_start if since_s is None else since_s
    return project_spend(
        now_s, [(start, usd_per_hour)], monthly_budget_usd=monthly_budget_usd, tz=tz
    )
