"""Request arrival schedules: Poisson arrivals and periodic spike windows.

Pure functions over numbers and a caller-owned `random.Random`, so a seeded generator gives the
same schedule every run and tests drive them with made-up times.
"""

from __future__ import annotations

import math
import random


def poisson_arrivals(
    rate_per_s: float, start: float, end: float, rng: random.Random
) -> list[float]:
    """Arrival times of a Poisson process with `rate_per_s` in the half-open window [start, end).

    Inter-arrival gaps are exponential with mean 1/rate. Because the process is memoryless,
    calling this for consecutive windows [t0, t1), [t1, t2), ... gives the same distribution as
    one call over [t0, t2): callers can generate arrivals tick by tick.
    A rate of 0 or an empty window gives no arrivals.
    """
    if rate_per_s < 0 or not math.isfinite(rate_per_s):
        raise ValueError(f"rate_per_s must be a finite number >= 0, got {rate_per_s}")
    if end <= start or rate_per_s == 0:
        return []
    times: list[float] = []
    t = start + rng.expovariate(rate_per_s)
    while t < end:
        times.append(t)
        t += rng.expovariate(rate_per_s)
    return times


def spike_multiplier(
    t: float,
    *,
    origin: float,
    period_s: float,
    spike_s: float,
    factor: float,
) -> float:
    """The rate multiplier at time `t` for a periodic spike: `factor` inside a spike, else 1.0.

    Time is split into periods of `period_s` starting at `origin`; the spike occupies the LAST
    `spike_s` seconds of each period, i.e. [origin + k*period_s + (period_s - spike_s),
    origin + (k+1)*period_s). Steady traffic therefore comes first, so baselines form before the
    first spike. Before `origin` the multiplier is 1.0.
    """
    if period_s <= 0:
        raise ValueError(f"period_s must be > 0, got {period_s}")
    if not 0 <= spike_s <= period_s:
        raise ValueError(f"spike_s must be within [0, period_s={period_s}], got {spike_s}")
    if factor <= 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    if t < origin or spike_s == 0:
        return 1.0
    phase = (t - origin) % period_s
    return factor if phase >= period_s - spike_s else 1.0
