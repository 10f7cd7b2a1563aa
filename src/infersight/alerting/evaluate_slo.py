"""SLO rules against the store: good/total counts per minute, burn rates, error budget.

Where the counts come from (`slo.sli`):

* latency / availability: the request records, through `Store.alerts.count_good_total`
  (SQLite: store/sqlite_alerts.py). Exact: a request is good when its `field` (TTFT) is under
  `threshold_s`, or when it has no error. The per-minute percentile series cannot say how many
  requests were under 1 s, so a latency SLO does not use them.
* ratio: any pair of per-second series, e.g. request_errors_per_s / requests_per_s: the
  per-minute mean × 60 is the minute's count (exact for the derived request series, which hold
  one value per minute).

Counts are kept per minute in a `BucketCounts` for the longest window (30 days by default):
the first evaluation reads the whole window once, later ones only the last `SETTLE_S` (long
requests land in the minute they started; derived minutes appear after compaction).
"""

from __future__ import annotations

from collections.abc import Mapping

from infersight.alerting.evaluate import Observation
from infersight.alerting.rules import parse_selector, span_text
from infersight.alerting.settings import AlertRuleSettings, SloSettings
from infersight.core.alarms import AlarmRecord, AlarmState
from infersight.core.series import bucket_start
from infersight.core.slo import BucketCounts, BurnWindow, evaluate_slo
from infersight.store.base import Store

MINUTE_S = 60.0
SETTLE_S = 600.0  # minutes re-read each evaluation


class SloEvaluator:
    def __init__(self, rule: AlertRuleSettings) -> None:
        assert rule.slo is not None
        self.rule = rule
        self.slo: SloSettings = rule.slo
        self.windows = tuple(
            BurnWindow(b.long_window_s, b.short_window_s, b.burn_rate, b.severity)
            for b in self.slo.burn_alerts
        )
        self.lookback_s = rule.lookback_s()
        self.counts = BucketCounts(MINUTE_S)
        self._fetched_until: float | None = None

    def refresh(self, store: Store, now: float) -> None:
        oldest = bucket_start(now - self.lookback_s, MINUTE_S)
        lo = oldest if self._fetched_until is None else max(oldest, self._fetched_until - SETTLE_S)
        lo = bucket_start(lo, MINUTE_S)
        if now > lo:
            self.counts.replace(lo, now, self._read(store, lo, now))
        self.counts.prune(oldest)
        self._fetched_until = now

    def _read(self, store: Store, lo: float, hi: float) -> list[tuple[float, float, float]]:
        s, labels = self.slo, dict(self.rule.labels)
        if s.sli in ("latency", "availability"):
            rows = store.alerts.count_good_total(
                lo,
                hi,
                step_s=MINUTE_S,
                field=s.field if s.sli == "latency" else None,
                threshold=s.threshold_s if s.sli == "latency" else None,
                sources=s.sources,
                labels=labels,
            )
            return [(ts, float(g), float(t)) for ts, g, t in rows]
        total = self._per_minute(store, s.total_metric, lo, hi, labels)
        if s.good_metric:
            good = self._per_minute(store, s.good_metric, lo, hi, labels)
            return [(ts, min(good.get(ts, 0.0), t), t) for ts, t in sorted(total.items())]
        bad = self._per_minute(store, s.bad_metric, lo, hi, labels)
        return [(ts, max(t - bad.get(ts, 0.0), 0.0), t) for ts, t in sorted(total.items())]

    @staticmethod
    def _per_minute(
        store: Store, metric: str, lo: float, hi: float, labels: Mapping[str, str]
    ) -> dict[float, float]:
        """Events per minute: the mean rate of each minute × 60, summed over the series."""
        selector = parse_selector(metric)
        wanted = {**dict(selector.labels), **labels}
        out: dict[float, float] = {}
        for series in store.series(
            selector.name, lo, hi, step_s=MINUTE_S, agg="avg", labels=wanted or None
        ):
            for ts, v in series.points:
                out[ts] = out.get(ts, 0.0) + v * MINUTE_S
        return out

    def evaluate(
        self, store: Store, now: float, previous: Mapping[str, AlarmRecord]
    ) -> list[Observation]:
        self.refresh(store, now)
        ev = evaluate_slo(
            self.counts,
            now,
            objective=self.slo.objective,
            window_s=self.slo.window_s,
            burn_windows=self.windows,
            min_events=self.slo.min_events,
        )
        firing = [w for w in ev.windows if w.firing]
        shown = firing[0] if firing else (ev.windows[0] if ev.windows else None)
        detail = {
            "objective": self.slo.objective,
            "slo_window_s": self.slo.window_s,
            "budget_remaining": ev.budget_remaining,
            "good": ev.good,
            "total": ev.total,
            "burn_rates": [
                {
                    "long_window_s": w.window.long_s,
                    "short_window_s": w.window.short_s,
                    "burn_rate": w.window.burn_rate,
                    "long_burn": w.long_burn,
                    "short_burn": w.short_burn,
                    "severity": w.window.severity,
                    "firing": w.firing,
                }
                for w in ev.windows
            ],
        }
        reason = (
            f"error budget {ev.budget_remaining:.1%} left of {span_text(self.slo.window_s)}; "
            f"burn rates (long/short): {ev.summary()}"
        )
        return [
            Observation(
                instance="",
                labels=(),
                state=ev.state,
                reason=reason,
                value=None if shown is None else shown.long_burn,
                has_data=ev.state != AlarmState.INSUFFICIENT_DATA,
                window_s=self.lookback_s if shown is None else shown.window.long_s,
                threshold=None if shown is None else shown.window.burn_rate,
                severity=ev.severity,
                detail=detail,
            )
        ]
