"""Arrival schedules for open-loop load (pure: numbers and a caller-owned `random.Random`).

Inter-arrival gaps follow vLLM's benchmark definition:

    gap ~ Gamma(shape = burstiness, scale = 1 / (rate × burstiness))

so the mean gap is always 1 / rate. `burstiness = 1` is the exponential distribution, i.e. a
Poisson process; below 1 arrivals come in bursts (a larger coefficient of variation,
CV = 1 / sqrt(burstiness)), above 1 they are more evenly spaced. A seeded generator gives the
same schedule every run, so two runs of one profile offer the endpoint identical load.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator


def _check_rate(rate_per_s: float, burstiness: float) -> None:
    if not math.isfinite(rate_per_s) or rate_per_s <= 0:
        raise ValueError(f"rate_per_s must be a finite number > 0, got {rate_per_s!r}")
    if not math.isfinite(burstiness) or burstiness <= 0:
        raise ValueError(
            f"burstiness must be a finite number > 0 (1 = Poisson), got {burstiness!r}"
        )


def interarrival_gaps_s(
    rate_per_s: float, rng: random.Random, *, burstiness: float = 1.0
) -> Iterator[float]:
    """An endless stream of gaps in seconds with mean 1 / rate_per_s (see the module doc)."""
    _check_rate(rate_per_s, burstiness)
    if burstiness == 1.0:
        expo = rng.expovariate
        while True:
            yield expo(rate_per_s)
    scale = 1.0 / (rate_per_s * burstiness)
    gamma = rng.gammavariate
    while True:
        yield gamma(burstiness, scale)


def arrival_offsets_s(
    rate_per_s: float,
    rng: random.Random,
    *,
    burstiness: float = 1.0,
    duration_s: float | None = None,
    count: int | None = None,
) -> list[float]:
    """Arrival times (seconds from the start) until `duration_s` ends or `count` arrivals.

    The first arrival comes one gap after the start, as in a Poisson process observed from an
    arbitrary moment. At least one of `duration_s` / `count` must be given; with both, whichever
    ends first wins.
    """
    if duration_s is None and count is None:
        raise ValueError("give duration_s or count")
    if duration_s is not None and (not math.isfinite(duration_s) or duration_s < 0):
        raise ValueError(f"duration_s must be a finite number >= 0, got {duration_s!r}")
    if count is not None and count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    out: list[float] = []
    t = 0.0
    limit = math.inf if duration_s is None else duration_s
    want = math.inf if count is None else count
    for gap in interarrival_gaps_s(rate_per_s, rng, burstiness=burstiness):
        if len(out) >= want:
            break
        t += gap
        if t >= limit:
            break
        out.append(t)
    return out


def achieved_rate_per_s(offsets_s: list[float]) -> float | None:
    """Arrivals per second over a schedule: (n - 1) / (last - first); None with < 2 arrivals.

    Counting gaps rather than arrivals removes the bias of the open window at either end.
    """
    if len(offsets_s) < 2 or offsets_s[-1] <= offsets_s[0]:
        return None
    return (len(offsets_s) - 1) / (offsets_s[-1] - offsets_s[0])


def coefficient_of_variation(offsets_s: list[float]) -> float | None:
    """Standard deviation / mean of the gaps between consecutive arrivals (1 for Poisson)."""
    gaps = [b - a for a, b in itertools.pairwise(offsets_s)]
    if len(gaps) < 2:
        return None
    m = sum(gaps) / len(gaps)
    if m <= 0:
        return None
    var = sum((g - m) ** 2 for g in gaps) / (len(gaps) - 1)
    return math.sqrt(var) / m
