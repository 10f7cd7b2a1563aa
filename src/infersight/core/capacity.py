"""Capacity sizing from Little's law.

Little's law: in a stable system the mean number of requests in flight equals the arrival rate
times the mean time each spends inside,

    concurrency = rate_per_s × mean_e2e_s

so a fleet whose replicas each serve ``target_concurrency_per_replica`` requests at once well
needs ``ceil(rate × e2e × headroom / target)`` replicas at the peak rate.

(Knee detection and goodput under SLO will join this module with the load tester.)
"""

from __future__ import annotations

import math

_EPSILON = 1e-9
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
