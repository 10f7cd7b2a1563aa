"""SLO search: the highest request rate at which enough requests meet every SLO (pure).

A probe is one open-loop rate level. It passes when at least `attainment` (0.99 by default)
of its measured requests met every SLO (errors count as misses) and the level showed no
saturation (`loadtest.saturation`: in a short probe an overloaded endpoint may still meet the
SLOs while its queue grows).

The search doubles the rate from `start` until a probe fails (or halves it until one passes),
then bisects between the highest pass and the lowest failure until they are within
`tolerance` of each other (relative), or `max_probes` probes ran. The answer is the highest
passing rate, with the goodput measured there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from infersight.loadtest.results import Slo
from infersight.loadtest.summary import LevelSummary


@dataclass(frozen=True, slots=True)
class SearchSpec:
    slo: Slo
    attainment: float = 0.99
    start_rate_per_s: float | None = None  # None: 1 / E2E of a single-stream probe
    max_rate_per_s: float = 10_000.0
    min_rate_per_s: float = 0.01
    tolerance: float = 0.05
    max_probes: int = 16

    def __post_init__(self) -> None:
        if not self.slo.any:
            raise ValueError("the search needs at least one SLO (TTFT, TPOT, ITL or E2E)")
        if not 0 < self.attainment <= 1:
            raise ValueError(f"attainment must be in (0, 1], got {self.attainment!r}")
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance must be in (0, 1), got {self.tolerance!r}")
        if not 0 < self.min_rate_per_s < self.max_rate_per_s:
            raise ValueError("need 0 < min_rate_per_s < max_rate_per_s")
        if self.max_probes < 2:
            raise ValueError(f"max_probes must be >= 2, got {self.max_probes}")


def probe_verdict(s: LevelSummary, spec: SearchSpec) -> tuple[bool, str]:
    """(passed, why) for one probe level."""
    if s.saturation is not None:
        return False, s.saturation
    total = s.completed + s.failed
    if total == 0:
        return False, "no measured requests"
    attained = s.slo_attainment if s.slo_attainment is not None else 0.0
    ok = attained >= spec.attainment
    verb = ">=" if ok else "<"
    return ok, f"{attained:.1%} met the SLOs ({verb} {spec.attainment:.1%}) of {total} requests"


@dataclass(frozen=True, slots=True)
class Probe:
    rate_per_s: float
    passed: bool
    reason: str


@dataclass
class RateSearch:
    """The search state. Call `next_rate()`, run that rate, `record()` it; repeat until None."""

    spec: SearchSpec
    start_rate_per_s: float
    probes: list[Probe] = field(default_factory=list)
    finished: str | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.start_rate_per_s) or self.start_rate_per_s <= 0:
            raise ValueError(f"start rate must be > 0, got {self.start_rate_per_s!r}")
        self.start_rate_per_s = min(
            max(self.start_rate_per_s, self.spec.min_rate_per_s), self.spec.max_rate_per_s
        )

    @property
    def best_pass(self) -> float | None:
        rates = [p.rate_per_s for p in self.probes if p.passed]
        return max(rates) if rates else None

    @property
    def lowest_fail(self) -> float | None:
        rates = [p.rate_per_s for p in self.probes if not p.passed]
        return min(rates) if rates else None

    def record(self, rate_per_s: float, passed: bool, reason: str) -> None:
        self.probes.append(Probe(rate_per_s, passed, reason))

    def next_rate(self) -> float | None:
        """The next rate to probe, or None when done (`finished` says why)."""
        if self.finished is not None:
            return None
        spec = self.spec
        if not self.probes:
            return self.start_rate_per_s
        if len(self.probes) >= spec.max_probes:
            return self._finish(f"probe limit reached ({spec.max_probes})")
        lo, hi = self.best_pass, self.lowest_fail
        if lo is not None and hi is not None and hi <= lo:
            # a noisy reversal: a lower rate failed after a higher one passed; trust the
            # failure and search below it
            lo = max((p.rate_per_s for p in self.probes if p.passed and p.rate_per_s < hi),
                     default=None)  # fmt: skip
        if hi is None:
            assert lo is not None
            if lo >= spec.max_rate_per_s:
                return self._finish(f"every rate up to max_rate {spec.max_rate_per_s:g}/s passed")
            return min(lo * 2, spec.max_rate_per_s)
        if lo is None:
            if hi <= spec.min_rate_per_s:
                return self._finish(f"even {spec.min_rate_per_s:g} requests/s missed the SLOs")
            return max(hi / 2, spec.min_rate_per_s)
        if (hi - lo) / lo <= spec.tolerance:
            return self._finish(
                f"converged: {lo:g}/s passed, {hi:g}/s failed (within {spec.tolerance:.0%})"
            )
        return (lo + hi) / 2

    def _finish(self, why: str) -> float | None:
        self.finished = why
        return None
