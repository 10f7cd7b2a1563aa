"""One series rule against the store: datapoints per alarm instance, then the state machine.

Every kind reads `Store.series(metric, ..., step_s=period_s, agg=statistic, labels=...)` over
the last N closed periods (the current, partial period is never judged, nor a closed one whose
derived request series compaction has not written yet: `Store.complete_until`), so any series
the store holds is alertable. Series split into alarm instances by `group_by` (none: one instance
per series; a list: per value of those labels, the series of one instance combined per period
with `combine`). With `divide_by`, numerator and denominator are summed per instance and
divided per period (error ratio = errors / requests).

* threshold: each datapoint against the fixed threshold;
* baseline: against a threshold learned from the history (median ± k·MAD or a percentile of
  the same hour on the last days, the trailing days, or a fixed reference period), learned
  again every relearn_interval_s and carried in the alarm record (`learned`);
* anomaly: outside a band: EWMA mean ± k·σ of the periods before the evaluated ones, or the
  mean ± k·σ of the same period in previous seasons.

Instances seen before but without data now are still judged (all missing), so their alarms
resolve or go to INSUFFICIENT_DATA as treat_missing_data says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from infersight.alerting.rules import parse_selector, span_text
from infersight.alerting.settings import AlertRuleSettings, AnomalySettings, BaselineSettings
from infersight.core.alarms import (
    AlarmRecord,
    AlarmState,
    Datapoint,
    EvaluationSpec,
    JsonDict,
    Labels,
    canonical_instance,
    judge,
    last_closed_end,
    period_slots,
    threshold_datapoints,
)
from infersight.core.baselines import (
    Band,
    ewma_band,
    in_windows,
    mad_threshold,
    median_mad,
    percentile_threshold,
    same_hour_windows,
    seasonal_band,
)
from infersight.store.base import Store

DAY_S = 86_400.0
Slots = list[tuple[float, float | None]]
Groups = dict[str, tuple[Labels, dict[float, float]]]


@dataclass(frozen=True, slots=True)
class Observation:
    """What one evaluation found for one alarm instance."""

    instance: str
    labels: Labels
    state: AlarmState
    reason: str
    value: float | None  # newest datapoint with a value
    has_data: bool
    window_s: float
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    baseline: float | None = None
    severity: str = ""
    learned: JsonDict = field(default_factory=dict)
    detail: JsonDict = field(default_factory=dict)


class Evaluator(Protocol):
    rule: AlertRuleSettings

    def evaluate(
        self, store: Store, now: float, previous: Mapping[str, AlarmRecord]
    ) -> list[Observation]: ...


def _combine(values: Sequence[float], how: str) -> float:
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    if how == "sum":
        return sum(values)
    return sum(values) / len(values)


def fetch_groups(
    store: Store, rule: AlertRuleSettings, metric: str, start: float, end: float, *, combine: str
) -> Groups:
    """{instance: (labels, {period start: value})} of one metric selector over [start, end)."""
    selector = parse_selector(metric)
    labels = {**dict(selector.labels), **rule.labels}
    series = store.series(
        selector.name,
        start,
        end,
        step_s=rule.period_s,
        agg=rule.statistic,
        labels=labels or None,
    )
    raw: dict[str, tuple[Labels, dict[float, list[float]]]] = {}
    for s in series:
        if rule.group_by is None:
            group: Labels = s.labels
        else:
            group = tuple((k, v) for k, v in s.labels if k in rule.group_by)
        key = canonical_instance(group)
        per_ts = raw.setdefault(key, (group, {}))[1]
        for ts, v in s.points:
            per_ts.setdefault(round(ts, 6), []).append(v)
    return {
        key: (group, {ts: _combine(vs, combine) for ts, vs in per_ts.items()})
        for key, (group, per_ts) in raw.items()
    }


def rule_data(
    store: Store, rule: AlertRuleSettings, start: float, end: float
) -> tuple[Groups, Groups]:
    """(the rule's datapoints per instance, the metric's own values per instance): its metric,
    or metric / divide_by (numerator and denominator summed per instance)."""
    if not rule.divide_by:
        groups = fetch_groups(store, rule, rule.metric, start, end, combine=rule.combine)
        return groups, groups
    num = fetch_groups(store, rule, rule.metric, start, end, combine="sum")
    den = fetch_groups(store, rule, rule.divide_by, start, end, combine="sum")
    out: Groups = {}
    for key, (labels, d) in den.items():
        n = num.get(key, (labels, {}))[1]
        out[key] = (labels, {ts: n[ts] / v for ts, v in d.items() if ts in n and v > 0})
    return out, num


def rule_groups(store: Store, rule: AlertRuleSettings, start: float, end: float) -> Groups:
    return rule_data(store, rule, start, end)[0]


def guard(
    points: list[Datapoint], raw: Mapping[float, float], min_value: float | None
) -> list[Datapoint]:
    """Breaching datapoints whose metric value is under min_value do not breach."""
    if min_value is None:
        return points
    return [
        Datapoint(p.ts, p.value, False)
        if p.breaching and raw.get(round(p.ts, 6), -math.inf) < min_value
        else p
        for p in points
    ]


def evaluable_end(store: Store, rule: AlertRuleSettings, now: float) -> float:
    """The end of the newest period that has closed *and* whose data is complete. Derived
    request series (requests_per_s, ttft_seconds, ...) appear only when compaction derives
    their minute, some seconds after it closed; judging that minute earlier would read it as
    missing (an alarm resolving and firing again every period)."""
    names = [parse_selector(rule.metric).name]
    if rule.divide_by:
        names.append(parse_selector(rule.divide_by).name)
    ready = min([now, *(store.complete_until(n) for n in names)])
    return last_closed_end(ready, rule.period_s)


def _newest(slots: Slots) -> float | None:
    return next((v for _, v in reversed(slots) if v is not None), None)


class SeriesEvaluator:
    """threshold, baseline and anomaly rules."""

    def __init__(self, rule: AlertRuleSettings) -> None:
        self.rule = rule
        self.spec = EvaluationSpec(
            rule.evaluation_periods, rule.datapoints_to_alarm, rule.treat_missing_data
        )
        self.window_s = rule.period_s * rule.evaluation_periods
        self._learned: dict[str, JsonDict] = {}
        self._raw: Mapping[float, float] = {}  # the instance being judged: metric values
        self._learned_at: float | None = None

    def evaluate(
        self, store: Store, now: float, previous: Mapping[str, AlarmRecord]
    ) -> list[Observation]:
        r = self.rule
        end = evaluable_end(store, r, now)
        start = end - self.window_s
        current, raw = rule_data(store, r, start, end)
        keys = set(current) | set(previous)
        if r.group_by == []:
            keys.add("")
        if r.kind == "baseline":
            self._relearn(store, now, start, keys, previous)
        history: Groups = {}
        if r.kind == "anomaly":
            history = self._anomaly_history(store, start, end)
        out = []
        for key in sorted(keys):
            if key in current:
                labels, points = current[key]
            else:
                labels, points = (previous[key].labels if key in previous else ()), {}
            slots = period_slots(sorted(points.items()), end, r.period_s, r.evaluation_periods)
            prev = previous[key].state if key in previous else AlarmState.INSUFFICIENT_DATA
            self._raw = raw.get(key, ((), {}))[1]
            obs = self._judge(key, labels, slots, prev, history.get(key, ((), {}))[1])
            out.append(obs)
        return out

    def _judge(
        self,
        key: str,
        labels: Labels,
        slots: Slots,
        prev: AlarmState,
        history: dict[float, float],
    ) -> Observation:
        r = self.rule
        value = _newest(slots)

        def make(state: AlarmState, reason: str, **extra: Any) -> Observation:
            has_data = value is not None
            return Observation(key, labels, state, reason, value, has_data, self.window_s, **extra)

        if r.kind == "threshold":
            assert r.threshold is not None
            state, reason = self._step(prev, threshold_datapoints(slots, r.comparison, r.threshold))
            return make(state, reason, threshold=r.threshold)
        if r.kind == "baseline":
            learned = self._learned.get(key, {})
            threshold = learned.get("threshold")
            if threshold is None:
                need = (r.baseline or BaselineSettings()).min_points
                reason = f"learning the baseline: {learned.get('points', 0)} of {need} datapoints"
                return make(AlarmState.INSUFFICIENT_DATA, reason, learned=learned)
            state, reason = self._step(prev, threshold_datapoints(slots, r.comparison, threshold))
            reason += f"; learned threshold {threshold:.4g} ({learned.get('window', '')})"
            return make(
                state,
                reason,
                threshold=float(threshold),
                baseline=learned.get("center"),
                learned=learned,
                detail={"baseline": dict(learned)},  # what was learned, from which window
            )
        state, reason, band = self._judge_anomaly(slots, prev, history)
        if band is None:
            return make(state, reason)
        method = (r.anomaly or AnomalySettings()).band
        return make(
            state,
            reason,
            lower=band.lower,
            upper=band.upper,
            baseline=band.center,
            detail={
                "band": {
                    "method": method,
                    "center": band.center,
                    "lower": band.lower,
                    "upper": band.upper,
                }
            },
        )

    def _step(self, prev: AlarmState, datapoints: list[Datapoint]) -> tuple[AlarmState, str]:
        datapoints = guard(datapoints, self._raw, self.rule.min_value)
        new, reason = judge(datapoints, self.spec)
        return (prev if new is None else new), reason

    # -- baseline ------------------------------------------------------------------------------

    def _relearn(
        self,
        store: Store,
        now: float,
        start: float,
        keys: set[str],
        previous: Mapping[str, AlarmRecord],
    ) -> None:
        b = self.rule.baseline or BaselineSettings()
        if self._learned_at is None:  # after a restart: what the records carry
            stamps = [p.learned.get("learned_at") for p in previous.values()]
            known = [float(s) for s in stamps if isinstance(s, int | float)]
            if known and len(known) == len(previous):
                self._learned = {k: dict(p.learned) for k, p in previous.items()}
                self._learned_at = min(known)
        due = self._learned_at is None or now - self._learned_at >= b.relearn_interval_s
        if not due and keys <= set(self._learned):
            return
        if b.window == "same_hour":
            windows = same_hour_windows(now, b.days)
            lo, hi, what = windows[0][0], windows[-1][1], f"same hour, last {b.days} days"
        elif b.window == "trailing":
            windows = []
            lo, hi, what = start - b.days * DAY_S, start, f"last {b.days} days"
        else:
            assert b.reference_start is not None and b.reference_end is not None
            windows = []
            lo, hi = b.reference_start, b.reference_end
            what = f"reference period of {span_text(hi - lo)}"
        history = rule_groups(store, self.rule, lo, hi) if hi > lo else {}
        above = self.rule.comparison in (">", ">=")
        learned: dict[str, JsonDict] = {}
        for key in keys | set(history):
            points = history.get(key, ((), {}))[1]
            values = [v for ts, v in points.items() if not windows or in_windows(ts, windows)]
            entry: JsonDict = {"points": len(values), "learned_at": now, "window": what}
            if len(values) >= b.min_points:
                center, sigma = median_mad(values)
                if b.method == "median_mad":
                    t = mad_threshold(values, b.k, above=above, min_margin=b.min_margin)
                else:
                    t = percentile_threshold(values, b.percentile)
                entry.update(threshold=t, center=center, spread=sigma, method=b.method)
            learned[key] = entry
        self._learned, self._learned_at = learned, now

    # -- anomaly -------------------------------------------------------------------------------

    def _anomaly_history(self, store: Store, start: float, end: float) -> Groups:
        a = self.rule.anomaly or AnomalySettings()
        if a.band == "ewma":
            return rule_groups(
                store, self.rule, start - a.history_periods * self.rule.period_s, start
            )
        merged: Groups = {}
        for j in range(1, a.seasons + 1):
            shift = j * a.season_s
            for key, (labels, points) in rule_groups(
                store, self.rule, start - shift, end - shift
            ).items():
                merged.setdefault(key, (labels, {}))[1].update(points)
        return merged

    def _judge_anomaly(
        self, slots: Slots, prev: AlarmState, history: dict[float, float]
    ) -> tuple[AlarmState, str, Band | None]:
        """(state, reason, the band of the newest period)."""
        a = self.rule.anomaly or AnomalySettings()
        bands: list[Band | None]
        if a.band == "ewma":
            values = [v for _, v in sorted(history.items())]
            band = None
            if len(values) >= a.min_points:
                band = ewma_band(values, alpha=a.alpha, k=a.k, min_deviation=a.min_deviation)
            bands = [band] * len(slots)
            need = f"{len(values)} of {a.min_points} history datapoints"
        else:
            pts = sorted(history.items())
            wanted = min(a.min_points, a.seasons)
            bands = []
            for ts, _ in slots:
                b = seasonal_band(
                    pts,
                    ts,
                    season_s=a.season_s,
                    seasons=a.seasons,
                    k=a.k,
                    min_deviation=a.min_deviation,
                )
                bands.append(b if b is not None and b.points >= wanted else None)
            need = f"fewer than {wanted} past seasons with data"
        if all(b is None for b in bands):
            return AlarmState.INSUFFICIENT_DATA, f"no band yet: {need}", None
        points = [
            Datapoint(ts, v, None if v is None or b is None else b.breaches(v, a.direction))
            for (ts, v), b in zip(slots, bands, strict=True)
        ]
        state, reason = self._step(prev, points)
        return state, reason, bands[-1]
