"""Is the endpoint saturated? Checks that stop a run early, each with its reason (pure).

Within one level (`level_saturation`):
- errors climbing: at least `min_errors` failures and a failed share >= `max_error_share`;
- latency diverging (open loop): the median TTFT of the last third of the level's requests
  (by send time) is more than `diverge_ratio` × that of the first third, and higher by more
  than half a median E2E (and `min_diverge_s`): requests are queueing faster than they leave;
- not keeping up (open loop): completed requests per second below `keep_up_share` × the rate
  at which they were sent.

Across a ladder (`ladder_plateau`): throughput grew by less than `flat_gain` over the last
`flat_levels` steps while the load kept rising: more load only adds latency.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from infersight.loadtest.summary import LevelSummary


@dataclass(frozen=True, slots=True)
class SaturationPolicy:
    max_error_share: float = 0.10
    min_errors: int = 10
    diverge_ratio: float = 2.0
    min_diverge_s: float = 0.05
    min_trend_requests: int = 30
    keep_up_share: float = 0.85
    flat_gain: float = 0.05
    flat_levels: int = 2


def errors_climbing(failed: int, total: int, policy: SaturationPolicy) -> str | None:
    """The reason when failures dominate, else None (also used on the live tally)."""
    if total <= 0 or failed < policy.min_errors:
        return None
    share = failed / total
    if share < policy.max_error_share:
        return None
    return (
        f"errors climbing: {failed} of {total} requests failed ({share:.0%}, limit "
        f"{policy.max_error_share:.0%})"
    )


def level_saturation(s: LevelSummary, policy: SaturationPolicy | None = None) -> str | None:
    """Why this level shows a saturated endpoint, or None."""
    policy = policy or SaturationPolicy()
    total = s.completed + s.failed
    reason = errors_climbing(s.failed, total, policy)
    if reason is not None:
        top = ", ".join(
            f"{k} {v}" for k, v in sorted(s.errors_by_class.items(), key=lambda i: -i[1])
        )
        return f"{reason}: {top}"
    if s.level.mode != "rate":
        return None
    ok = [r for r in s.rows if r.ok and r.ttft_s is not None]
    if len(ok) >= policy.min_trend_requests:
        third = len(ok) // 3
        first = statistics.median(r.ttft_s for r in ok[:third] if r.ttft_s is not None)
        last = statistics.median(r.ttft_s for r in ok[-third:] if r.ttft_s is not None)
        e2e = statistics.median(r.e2e_s for r in ok[:third])
        rise = last - first
        if last > policy.diverge_ratio * first and rise > max(policy.min_diverge_s, e2e / 2):
            return (
                f"latency diverging: median TTFT rose from {first * 1000:.0f} ms to "
                f"{last * 1000:.0f} ms within the level; requests queue faster than they finish"
            )
    sent = s.send_rate_per_s
    done = s.measured_throughput  # the same requests as `sent`: no warm-up ones
    keeping_up = done >= policy.keep_up_share * (sent or 0.0)
    if sent and total >= policy.min_trend_requests and not keeping_up:
        return f"not keeping up: {done:.2f} requests/s completed of {sent:.2f}/s sent"
    return None


def ladder_plateau(
    levels: Sequence[LevelSummary], policy: SaturationPolicy | None = None
) -> str | None:
    """The reason when throughput stopped growing over the last `flat_levels` steps."""
    policy = policy or SaturationPolicy()
    k = policy.flat_levels
    if len(levels) < k + 1:
        return None
    tail = levels[-(k + 1) :]
    base = tail[0].request_throughput
    if base <= 0:
        return None
    if any(b.load_value <= a.load_value for a, b in itertools.pairwise(tail)):
        return None
    best = max(x.request_throughput for x in tail[1:])
    if best >= base * (1 + policy.flat_gain):
        return None
    return (
        f"throughput plateau: {base:.2f} requests/s at {tail[0].label}, at most {best:.2f} "
        f"up to {tail[-1].label} (less than {policy.flat_gain:.0%} gain); more load only adds "
        "latency"
    )
