"""The alarm state machine (CloudWatch semantics) and the records the alert engine persists.

An alarm looks at its last N *closed* periods (`evaluation_periods`); each period yields one
datapoint: its value (a statistic of the metric over the period) or nothing (missing). Each
present datapoint is breaching or not (a threshold comparison, or outside a band). Missing ones
are handled by `treat_missing_data`:

* ``breaching`` / ``not_breaching``: a missing datapoint counts as breaching / not breaching;
* ``missing`` and ``ignore``: it stays missing.

With b breaching, g not breaching and the rest missing among the N, and M =
`datapoints_to_alarm` (M of N, not necessarily consecutive; default M = N):

1. b >= M: ALARM.
2. Every datapoint missing: ``missing`` -> INSUFFICIENT_DATA; ``ignore`` -> keep the state.
3. g > N - M (ALARM is impossible whatever the missing ones were): OK.
4. Otherwise the missing datapoints decide, so: ``ignore`` keeps the state; ``missing``
   judges the present datapoints alone, as CloudWatch does when it finds fewer datapoints than
   the evaluation range: ALARM if b >= min(M, present), else OK.

`step(state, datapoints, now, spec)` applies these rules and returns the new state with a
`Transition` when it changed. Nothing here knows where datapoints come from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal

Comparison = Literal[">", ">=", "<", "<="]
MissingData = Literal["missing", "ignore", "breaching", "not_breaching"]
COMPARISONS: Final = (">", ">=", "<", "<=")
MISSING_DATA: Final = ("missing", "ignore", "breaching", "not_breaching")

JsonDict = dict[str, Any]
Labels = tuple[tuple[str, str], ...]


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


def compare(value: float, comparison: str, threshold: float) -> bool:
    """`value <comparison> threshold`; ValueError for an unknown operator."""
    if comparison == ">":
        return value > threshold
    if comparison == ">=":
        return value >= threshold
    if comparison == "<":
        return value < threshold
    if comparison == "<=":
        return value <= threshold
    raise ValueError(f"unknown comparison {comparison!r}; valid: {', '.join(COMPARISONS)}")


@dataclass(frozen=True, slots=True)
class EvaluationSpec:
    """How datapoints become a state: N periods, M of them breaching, missing-data treatment."""

    evaluation_periods: int
    datapoints_to_alarm: int | None = None  # None: M = N
    treat_missing_data: MissingData = "missing"

    def __post_init__(self) -> None:
        n, m = self.evaluation_periods, self.datapoints_to_alarm
        if n < 1:
            raise ValueError(f"evaluation_periods must be >= 1, got {n}")
        if m is not None and not 1 <= m <= n:
            raise ValueError(f"datapoints_to_alarm must be between 1 and {n}, got {m}")
        if self.treat_missing_data not in MISSING_DATA:
            raise ValueError(
                f"unknown treat_missing_data {self.treat_missing_data!r}; "
                f"valid: {', '.join(MISSING_DATA)}"
            )

    @property
    def m(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods


@dataclass(frozen=True, slots=True)
class Datapoint:
    """One period: its start, its value (None: missing) and whether it breaches."""

    ts: float
    value: float | None
    breaching: bool | None  # None when the value is missing


@dataclass(frozen=True, slots=True)
class Transition:
    previous: AlarmState
    state: AlarmState
    at: float
    reason: str


def threshold_datapoints(
    slots: Sequence[tuple[float, float | None]], comparison: str, threshold: float
) -> list[Datapoint]:
    """Datapoints from (period start, value or None) slots against a fixed threshold."""
    return [
        Datapoint(ts, v, None if v is None else compare(v, comparison, threshold))
        for ts, v in slots
    ]


def period_slots(
    points: Sequence[tuple[float, float]], end: float, period_s: float, n: int
) -> list[tuple[float, float | None]]:
    """The n periods ending at `end` (a period boundary), oldest first: (start, value or None)."""
    by_ts = {round(ts, 6): v for ts, v in points}
    starts = [end - (n - i) * period_s for i in range(n)]
    return [(s, by_ts.get(round(s, 6))) for s in starts]


def last_closed_end(now: float, period_s: float) -> float:
    """The end of the newest period that has closed: the largest multiple of period_s <= now."""
    return float(math.floor(now / period_s) * period_s)


def judge(datapoints: Sequence[Datapoint], spec: EvaluationSpec) -> tuple[AlarmState | None, str]:
    """(new state, or None to keep the current one; the reason in words)."""
    n, m = spec.evaluation_periods, spec.m
    window = list(datapoints[-n:])
    missing_slots = n - len(window)  # fewer datapoints than periods: the oldest are missing
    fill = spec.treat_missing_data
    flags: list[bool | None] = [None] * missing_slots
    flags += [d.breaching for d in window]
    if fill == "breaching":
        flags = [True if f is None else f for f in flags]
    elif fill == "not_breaching":
        flags = [False if f is None else f for f in flags]
    b = sum(1 for f in flags if f is True)
    g = sum(1 for f in flags if f is False)
    present = b + g
    counts = f"{b} of {n} datapoints breaching ({n - present} missing, {m} needed)"
    if b >= m:
        return AlarmState.ALARM, counts
    if present == 0:
        if fill == "missing":
            return AlarmState.INSUFFICIENT_DATA, f"no data in the last {n} periods"
        return None, f"no data in the last {n} periods; state kept (treat_missing_data: ignore)"
    if g > n - m:
        return AlarmState.OK, counts
    if fill == "ignore":
        return None, counts + "; undecided, state kept (treat_missing_data: ignore)"
    if b >= min(m, present):
        return AlarmState.ALARM, counts + f"; every present datapoint breaching ({b} of {present})"
    return AlarmState.OK, counts


def step(
    state: AlarmState, datapoints: Sequence[Datapoint], now: float, spec: EvaluationSpec
) -> tuple[AlarmState, Transition | None]:
    """The state after looking at the datapoints, and the transition if it changed."""
    new, reason = judge(datapoints, spec)
    if new is None or new == state:
        return state, None
    return new, Transition(state, new, now, reason)


# -- what the alert engine persists ------------------------------------------------------------


def canonical_instance(labels: Mapping[str, str] | Labels) -> str:
    """The key of one alarm instance of a rule: its labels as sorted "k=v" pairs joined by ","."""
    items = sorted(dict(labels).items())
    return ",".join(f"{k}={v}" for k, v in items)


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """The persisted state of one alarm instance (one rule × one label group)."""

    rule: str
    instance: str  # canonical_instance(labels); "" for a rule with a single instance
    labels: Labels
    state: AlarmState
    since: float  # when it entered `state`
    evaluated_at: float
    value: float | None = None
    threshold: float | None = None  # the threshold compared against (fixed or learned)
    lower: float | None = None  # band (anomaly rules)
    upper: float | None = None
    severity: str = ""
    alarm_since: float | None = None  # start of the current ALARM episode (pending until for_s)
    notified_at: float | None = None  # firing notification sent for this episode
    last_notified_at: float | None = None  # newest firing/repeat notification (repeat interval)
    notified_severity: str = ""
    learned: JsonDict = field(default_factory=dict)  # baseline: threshold, center, learned_at
    detail: JsonDict = field(default_factory=dict)  # reason, burn rates, budget, ...


# Kinds of history events.
EVENT_KINDS: Final = (
    "transition",
    "notified",
    "notify_failed",
    "suppressed",
    "silence_added",
    "silence_removed",
    "test",
)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One line of alert history."""

    ts: float
    rule: str
    kind: str  # EVENT_KINDS
    instance: str = ""
    state: str = ""
    previous_state: str = ""
    value: float | None = None
    message: str = ""
    detail: JsonDict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Silence:
    """Notifications of `rule` (or every rule: "*") are not sent until `expires_at`."""

    id: str
    rule: str
    created_at: float
    expires_at: float
    reason: str = ""
    created_by: str = ""

    def active(self, now: float) -> bool:
        return self.created_at <= now < self.expires_at

    def matches(self, rule: str) -> bool:
        return self.rule in ("*", rule)
