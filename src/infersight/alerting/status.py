"""Alerting as plain JSON, read from the settings and the store: `infersight alerts list|history`
and the dashboard's `AlertsProvider` port (dashboard/providers.py: active, history, rules,
silences, slos). Reads only; works in any process that opens the same store, engine or not.
"""

from __future__ import annotations

from typing import Any, Final

from infersight.alerting.rule_pack import runbook_for
from infersight.alerting.settings import AlertingSettings, AlertRuleSettings
from infersight.alerting.state_store import active_silence
from infersight.core.alarms import AlarmRecord, AlarmState, AlertEvent, Silence
from infersight.store.base import Store

Json = dict[str, Any]
# Worst first: the state a rule shows is its worst instance's.
STATE_ORDER: Final = {"ALARM": 0, "PENDING": 1, "INSUFFICIENT_DATA": 2, "OK": 3}


def describe_series(rule: AlertRuleSettings) -> str:
    """The rule's condition in one line: "ttft_seconds{...} max over 1m > 1 (2 of 3)"."""
    if rule.kind == "slo":
        assert rule.slo is not None
        s = rule.slo
        what = {
            "latency": f"{s.field} < {s.threshold_s:g} s",
            "availability": "requests without an error",
            "ratio": f"{s.good_metric or '1 - ' + s.bad_metric} / {s.total_metric}",
        }[s.sli]
        return f"{s.objective:.4g} of {what} over {s.window_s / 86_400:g}d"
    metric = rule.metric + (f" / {rule.divide_by}" if rule.divide_by else "")
    if rule.labels:
        metric += " " + ",".join(f"{k}={v}" for k, v in sorted(rule.labels.items()))
    cond = {
        "threshold": f"{rule.comparison} {rule.threshold:g}" if rule.threshold is not None else "",
        "baseline": f"{rule.comparison} learned baseline",
        "anomaly": f"outside {(rule.anomaly.direction if rule.anomaly else 'upper')} band",
    }[rule.kind]
    return (
        f"{metric} {rule.statistic} per {rule.period_s:g}s {cond} "
        f"({rule.m} of {rule.evaluation_periods})"
    )


def shown_state(rec: AlarmRecord, rule: AlertRuleSettings, now: float) -> str:
    """ALARM, or PENDING while for_s has not passed yet; else the record's state."""
    alarm_since = rec.alarm_since if rec.state == AlarmState.ALARM else None
    if alarm_since is not None and now - alarm_since < rule.for_s:
        return "PENDING"
    return rec.state.value


def record_json(rec: AlarmRecord, rule: AlertRuleSettings, now: float) -> Json:
    return {
        "rule": rec.rule,
        "instance": rec.instance,
        "labels": dict(rec.labels),
        "state": shown_state(rec, rule, now),
        "severity": rec.severity,
        "since": rec.since,
        "alarm_since": rec.alarm_since,
        "evaluated_at": rec.evaluated_at,
        "value": rec.value,
        "threshold": rec.threshold,
        "lower": rec.lower,
        "upper": rec.upper,
        "baseline": rec.learned.get("center") if rec.learned else None,
        "notified_at": rec.notified_at,
        "summary": rec.detail.get("reason", ""),
        "runbook": runbook_for(rule.name, rule.runbook),
        "runbook_url": rule.runbook_url,
    }


def event_json(e: AlertEvent) -> Json:
    return {
        "ts": e.ts,
        "rule": e.rule,
        "kind": e.kind,
        "instance": e.instance,
        "state": e.state,
        "previous_state": e.previous_state,
        "value": e.value,
        "message": e.message,
    }


def silence_json(s: Silence) -> Json:
    return {
        "id": s.id,
        "rule": s.rule,
        "created_at": s.created_at,
        "expires_at": s.expires_at,
        "reason": s.reason,
        "created_by": s.created_by,
    }


class AlertStatus:
    """The dashboard's AlertsProvider, and what `infersight alerts` prints."""

    def __init__(self, settings: AlertingSettings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def _records(self) -> dict[str, list[AlarmRecord]]:
        out: dict[str, list[AlarmRecord]] = {}
        for rec in self.store.alerts.load_alarms():
            out.setdefault(rec.rule, []).append(rec)
        return out

    def rules(self, now: float) -> list[Json]:
        records = self._records()
        silences = self.store.alerts.silences(now)
        out = []
        for rule in self.settings.rules:
            instances = [record_json(r, rule, now) for r in records.get(rule.name, [])]
            instances.sort(key=lambda i: (STATE_ORDER.get(i["state"], 9), i["instance"]))
            silence = active_silence(silences, rule.name, now)
            out.append(
                {
                    "name": rule.name,
                    "kind": rule.kind,
                    "enabled": rule.enabled,
                    "severity": rule.severity,
                    "series": describe_series(rule),
                    "threshold": rule.threshold,
                    "state": instances[0]["state"] if instances else "NO_DATA",
                    "instances": instances,
                    "silenced_until": silence.expires_at if silence else None,
                    "runbook": runbook_for(rule.name, rule.runbook),
                    "runbook_url": rule.runbook_url,
                }
            )
        return out

    def active(self, now: float) -> list[Json]:
        """Instances in ALARM (firing) or waiting for for_s (PENDING), worst first."""
        rules = {r.name: r for r in self.settings.rules}
        out = [
            record_json(rec, rules[name], now)
            for name, recs in self._records().items()
            if name in rules
            for rec in recs
            if rec.state == AlarmState.ALARM
        ]
        return sorted(out, key=lambda a: (STATE_ORDER[a["state"]], -a["since"]))

    def history(self, start: float, end: float, limit: int, rule: str | None = None) -> list[Json]:
        return [event_json(e) for e in self.store.alerts.events(start, end, rule=rule, limit=limit)]

    def silences(self, now: float) -> list[Json]:
        return [silence_json(s) for s in self.store.alerts.silences(now)]

    def slos(self, now: float) -> list[Json]:
        records = self._records()
        out = []
        for rule in self.settings.rules:
            if rule.kind != "slo" or rule.slo is None:
                continue
            s = rule.slo
            rec = next(iter(records.get(rule.name, [])), None)
            detail: dict[str, Any] = rec.detail if rec is not None else {}
            good, total = detail.get("good"), detail.get("total")
            out.append(
                {
                    "name": rule.name,
                    "sli": s.sli,
                    "objective": s.objective,
                    "window_s": s.window_s,
                    "attainment": good / total if good is not None and total else None,
                    "budget_remaining": detail.get("budget_remaining"),
                    "burn_rates": detail.get("burn_rates", []),
                    "state": rec.state.value if rec is not None else "NO_DATA",
                    "target_value": s.threshold_s if s.sli == "latency" else None,
                    "target_unit": "s" if s.sli == "latency" else None,
                    "field": s.field if s.sli == "latency" else None,
                    "evaluated_at": rec.evaluated_at if rec is not None else None,
                }
            )
        return out
