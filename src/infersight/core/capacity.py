"""Capacity sizing from Little's law.

Little's law: in a stable system the mean number of requests in flight equals the arrival rate
times the mean time each spends inside,

    concurrency = rate_per_s × mean_e2e_s

so a fleet whose replicas each serve ``target_concurrency_per_replica`` requests at once well
needs ``ceil(rate × e2e × headroom / target)`` replicas at the peak rate.

Knee detection (`knee_index`) finds where a load curve bends: the concurrency after which
throughput stops growing in proportion (Kneedle, Satopää et al. 2011: normalise both axes to
[0, 1] and take the point farthest above the diagonal). Goodput under an SLO comes with
confidence intervals (`wilson_interval` for the share of requests that met it,
`poisson_rate_interval` for good requests per second).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Final, Literal

_EPSILON: Final = 1e-9
"""Slack under an integer before rounding up, so 16.000000001 concurrency / 8 gives 2, not 3."""


def _check(name: str, value: float, *, positive: bool = False) -> None:
    bad = not math.isfinite(value) or value < 0 or (positive and value == 0)
    if bad:
        kind = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {kind}, got {value!r}")


def littles_law_concurrency(rate_per_s: float, mean_e2e_s: float) -> float:
    """Mean requests in flight: concurrency = rate_per_s × mean_e2e_s.

    Example: 12 requests/s that each take 2.5 s on average keep 30 requests in flight.
    """
    _check("rate_per_s", rate_per_s)
    _check("mean_e2e_s", mean_e2e_s)
    return rate_per_s * mean_e2e_s


def replicas_needed(
    peak_rate_per_s: float,
    mean_e2e_s: float,
    target_concurrency_per_replica: float,
    *,
    headroom: float = 1.0,
    min_replicas: int = 1,
) -> int:
    """Replicas for the peak: max(min_replicas, ceil(rate × e2e × headroom / target)).

    ``headroom`` >= 1 multiplies the load to keep spare capacity (1.25 = 25 % spare).
    Example: 12/s × 2.5 s = 30 in flight; × 1.2 headroom = 36; / 8 per replica = 4.5 → 5.
    """
    _check("peak_rate_per_s", peak_rate_per_s)
    _check("mean_e2e_s", mean_e2e_s)
    _check("target_concurrency_per_replica", target_concurrency_per_replica, positive=True)
    if not math.isfinite(headroom) or headroom < 1.0:
        raise ValueError(
            f"headroom must be a finite number >= 1 (1.2 = 20 % spare), got {headroom}"
        )
    if min_replicas < 0:
        raise ValueError(f"min_replicas must be >= 0, got {min_replicas}")
    load = littles_law_concurrency(peak_rate_per_s, mean_e2e_s) * headroom
    return max(min_replicas, math.ceil(load / target_concurrency_per_replica - _EPSILON))


Curve = Literal["concave", "convex"]

MIN_KNEE_BEND: Final = 0.05
"""Smallest normalised bend that counts as a knee; a straighter curve has none."""

Z_95: Final = 1.959963984540054
"""Two-sided 95 % quantile of the standard normal distribution."""


def knee_index(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    curve: Curve = "concave",
    log_x: bool = False,
    min_bend: float = MIN_KNEE_BEND,
) -> int | None:
    """Index of the knee of an increasing curve, or None when it does not bend (or < 3 points).

    concave: the curve rises, then flattens (throughput vs concurrency or offered rate): the knee
      is the last point before the gains fall off, argmax(y_n - x_n).
    convex: the curve is flat, then rises (latency vs load): the knee is where it starts
      climbing, argmax(x_n - y_n).

    x_n, y_n are x and y scaled to [0, 1] (x by log2 with `log_x`, for doubling ladders). The
    bend at the knee must be at least `min_bend` (a straight line has none). `xs` must increase.
    Example: concurrency 1, 2, 4, 8, 16 with throughput 8.7, 17.4, 34.8, 34.9, 34.8 → index 2.
    """
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"xs and ys differ in length: {n} != {len(ys)}")
    if n < 3:
        return None
    if any(not math.isfinite(v) for v in (*xs, *ys)):
        raise ValueError("knee_index needs finite numbers")
    if any(b <= a for a, b in itertools.pairwise(xs)):
        raise ValueError("xs must be strictly increasing")
    if log_x:
        if xs[0] <= 0:
            raise ValueError("log_x needs xs > 0")
        xs = [math.log2(x) for x in xs]
    x0, x1 = xs[0], xs[-1]
    y0, y1 = min(ys), max(ys)
    if y1 - y0 <= 0:
        return None
    xn = [(x - x0) / (x1 - x0) for x in xs]
    yn = [(y - y0) / (y1 - y0) for y in ys]
    if curve == "concave":
        diff = [y - x for x, y in zip(xn, yn, strict=True)]
    elif curve == "convex":
        diff = [x - y for x, y in zip(xn, yn, strict=True)]
    else:
        raise ValueError(f"curve must be 'concave' or 'convex', got {curve!r}")
    best = max(range(n), key=lambda i: (diff[i], -i))
    return best if diff[best] >= min_bend else None


def wilson_interval(successes: int, trials: int, *, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion (well-behaved near 0 and 1 and for small n).

    centre = (p + z²/2n) / (1 + z²/n); half-width = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
    Example: 99 of 100 → (0.9455, 0.9982). No trials → (0, 1).
    """
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    z2 = z * z
    denom = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def poisson_rate_interval(count: int, duration_s: float, *, z: float = Z_95) -> tuple[float, float]:
    """Confidence interval of an event rate (per second) from `count` events in `duration_s`.

    A count of Poisson arrivals has an approximately normal square root with standard deviation
    1/2, so the bounds are ((sqrt(k) ∓ z/2)² ) / duration, the lower clipped at 0 (and exactly 0
    with no events; the upper is then z²/4 / duration ≈ 0.96 / duration).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    _check("duration_s", duration_s, positive=True)
    root = math.sqrt(count)
    lo = max(0.0, root - z / 2) ** 2 if count else 0.0
    hi = (root + z / 2) ** 2
    return (lo / duration_s, hi / duration_s)
