"""SLOs, error budgets and multi-window multi-burn-rate alerts (pure).

An SLO says "`objective` of the events in `window_s` are good" (99 % of requests with TTFT
< 1 s over 30 days). The error budget is the allowed bad fraction, 1 - objective.

* burn rate over a window = (bad / total in the window) / (1 - objective): 1 spends the budget
  exactly over the SLO window, 14.4 spends 2 % of a 30-day budget in one hour;
* budget remaining = 1 - (bad / total over the SLO window) / (1 - objective) (negative once
  overspent; 1 with no events);
* an alert fires when the burn rate is at or above its factor over BOTH its long and its short
  window (the long one proves it matters, the short one that it is still happening, so the
  alert resolves soon after the problem stops). Defaults are the Google SRE workbook's
  (chapter 5, "Alerting on SLOs"): page at 14.4× over 1 h and 5 min, page at 6× over 6 h and
  30 min, ticket at 1× over 3 days and 6 h.

Counts come from the store in buckets (minutes); `BucketCounts` keeps them and sums windows.
A window ending at `now` covers [now - w, now) on bucket boundaries: buckets whose start is at or
after now - w (the bucket holding now - w counts whole; the current partial bucket counts).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from infersight.core.alarms import AlarmState

SEVERITY_RANK: Final = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """Alert when the burn rate is >= burn_rate over long_s AND over short_s."""

    long_s: float
    short_s: float
    burn_rate: float
    severity: str = "critical"

    def __post_init__(self) -> None:
        if not 0 < self.short_s <= self.long_s:
            raise ValueError(
                f"burn window needs 0 < short_s <= long_s, got {self.short_s} / {self.long_s}"
            )
        if self.burn_rate <= 0:
            raise ValueError(f"burn_rate must be > 0, got {self.burn_rate}")


# Google SRE workbook, "Alerting on SLOs", multiwindow multi-burn-rate alerts.
DEFAULT_BURN_WINDOWS: Final = (
    BurnWindow(3600.0, 300.0, 14.4, "critical"),
    BurnWindow(6 * 3600.0, 1800.0, 6.0, "critical"),
    BurnWindow(3 * 86_400.0, 6 * 3600.0, 1.0, "warning"),
)


def burn_rate(bad: float, total: float, objective: float) -> float | None:
    """(bad / total) / (1 - objective); None without events."""
    _check_objective(objective)
    if total <= 0:
        return None
    return (bad / total) / (1.0 - objective)


def budget_remaining(bad: float, total: float, objective: float) -> float:
    """1 - (bad / total) / (1 - objective): 1 untouched, 0 spent, < 0 overspent."""
    rate = burn_rate(bad, total, objective)
    return 1.0 if rate is None else 1.0 - rate


def _check_objective(objective: float) -> None:
    if not 0.0 < objective < 1.0:
        raise ValueError(f"objective must be between 0 and 1 (exclusive), got {objective}")


class BucketCounts:
    """(good, total) per bucket of width `bucket_s`; newer counts for a bucket replace older."""

    def __init__(self, bucket_s: float = 60.0) -> None:
        if bucket_s <= 0:
            raise ValueError(f"bucket_s must be > 0, got {bucket_s}")
        self.bucket_s = bucket_s
        self._counts: dict[int, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._counts)

    def index(self, ts: float) -> int:
        return math.floor(ts / self.bucket_s)

    def replace(
        self, start: float, end: float, buckets: Iterable[tuple[float, float, float]]
    ) -> None:
        """Set the buckets of [start, end) to (bucket start, good, total) rows; buckets in the
        range without a row become empty (their earlier counts are dropped)."""
        lo, hi = self.index(start), math.ceil(end / self.bucket_s)
        for i in [i for i in self._counts if lo <= i < hi]:
            del self._counts[i]
        for ts, good, total in buckets:
            if total > 0:
                self._counts[self.index(ts)] = (good, total)

    def prune(self, before: float) -> None:
        """Forget buckets that start before `before`."""
        cutoff = self.index(before)
        for i in [i for i in self._counts if i < cutoff]:
            del self._counts[i]

    def window(self, now: float, window_s: float) -> tuple[float, float]:
        """(good, total) over the buckets from the one holding now - window_s up to now."""
        lo, hi = self.index(now - window_s), self.index(now)
        if hi - lo + 1 < len(self._counts):
            pairs: Iterable[tuple[float, float]] = (
                self._counts[i] for i in range(lo, hi + 1) if i in self._counts
            )
        else:
            pairs = (c for i, c in self._counts.items() if lo <= i <= hi)
        good = total = 0.0
        for g, t in pairs:
            good += g
            total += t
        return good, total


@dataclass(frozen=True, slots=True)
class WindowBurn:
    window: BurnWindow
    long_burn: float | None
    short_burn: float | None
    enough_events: bool = True  # the long window holds at least the rule's min_events

    @property
    def firing(self) -> bool:
        rate = self.window.burn_rate
        return (
            self.enough_events
            and self.long_burn is not None
            and self.short_burn is not None
            and self.long_burn >= rate
            and self.short_burn >= rate
        )


@dataclass(frozen=True, slots=True)
class SloEvaluation:
    state: AlarmState
    severity: str  # of the most severe firing window; "" when none fires
    budget_remaining: float
    good: float  # over the SLO window
    total: float
    windows: tuple[WindowBurn, ...] = field(default=())

    @property
    def burn_rate(self) -> float | None:
        """The burn rate of the most severe firing window's long window, else of the fastest."""
        firing = [w for w in self.windows if w.firing]
        chosen = firing[0] if firing else (self.windows[0] if self.windows else None)
        return None if chosen is None else chosen.long_burn

    def summary(self) -> str:
        parts = []
        for w in self.windows:
            lb = _burn_text(w.long_burn, w.window.burn_rate)
            sb = _burn_text(w.short_burn, w.window.burn_rate)
            mark = " FIRING" if w.firing else ""
            parts.append(
                f"{_span(w.window.long_s)}/{_span(w.window.short_s)} "
                f"{lb}/{sb} (≥{w.window.burn_rate:g}){mark}"
            )
        return "; ".join(parts)


def _burn_text(burn: float | None, factor: float) -> str:
    """A burn rate to 2 decimals, never rounded up to the factor it is below (2.997 against
    a factor of 3 reads 2.99, not 3.00)."""
    if burn is None:
        return "-"
    text = f"{burn:.2f}"
    if burn < factor <= float(text):  # rounding reached the factor: show the step below it
        text = f"{math.floor(round(burn * 100, 6)) / 100:.2f}"
    return text


def evaluate_slo(
    counts: BucketCounts,
    now: float,
    *,
    objective: float,
    window_s: float,
    burn_windows: Sequence[BurnWindow] = DEFAULT_BURN_WINDOWS,
    min_events: float = 0.0,
) -> SloEvaluation:
    """Burn rates of every window pair, the error budget, and the alarm state:
    ALARM when a window pair fires (severity of the most severe), INSUFFICIENT_DATA when the
    longest burn window has no events, OK otherwise. A pair whose long window holds fewer
    than `min_events` events never fires: 4 slow requests out of 7 is a burn rate of 57,
    and noise."""
    _check_objective(objective)
    good, total = counts.window(now, window_s)
    burns = []
    for w in burn_windows:
        lg, lt = counts.window(now, w.long_s)
        sg, st = counts.window(now, w.short_s)
        burns.append(
            WindowBurn(
                w,
                burn_rate(lt - lg, lt, objective),
                burn_rate(st - sg, st, objective),
                enough_events=lt >= min_events,
            )
        )
    firing = [b for b in burns if b.firing]
    longest = max((w.long_s for w in burn_windows), default=window_s)
    if firing:
        top = max(firing, key=lambda b: SEVERITY_RANK.get(b.window.severity, 0))
        state, severity = AlarmState.ALARM, top.window.severity
    elif counts.window(now, longest)[1] <= 0:
        state, severity = AlarmState.INSUFFICIENT_DATA, ""
    else:
        state, severity = AlarmState.OK, ""
    return SloEvaluation(
        state, severity, budget_remaining(total - good, total, objective), good, total, tuple(burns)
    )


def _span(seconds: float) -> str:
    for unit, size in (("d", 86_400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"
