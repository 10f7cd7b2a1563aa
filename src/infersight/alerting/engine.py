"""AlertEngine: every interval_s, evaluate every rule, remember, and notify.

One tick:
1. In a worker thread (store reads are SQL): each enabled rule's evaluator reads its series
   and returns an `Observation` per alarm instance; the engine turns it into the instance's new
   `AlarmRecord`, records transitions, decides notifications, and writes the changed records
   and events to the store (`AlarmStates.flush`) before anything is sent.
2. On the event loop: each notification is handed to its notifiers in a background task
   (`delivery.deliver`: concurrent, retries, per-attempt timeouts) under an overall
   `delivery_timeout_s`; results land in the history. A slow or failing notifier never holds
   up the next evaluation.

Notification rules, per instance:
* firing: the instance has been in ALARM for `for_s` (pending until then) and nothing was
  sent for this episode; not while a silence covers the rule (sent when it ends, if still in
  ALARM). An SLO alert that escalates (warning -> critical) fires again.
* repeat: still in ALARM `repeat_interval_s` after the last one (not while silenced).
* resolved: it left ALARM after a firing notification was sent (silenced or not), once, and
  stayed out for `keep_firing_for_s`; back in ALARM before that, the episode goes on (no new
  firing), so a value hovering at the threshold does not flap.
Because records are written before sending and carry `notified_at`, a restarted engine (same
store) neither forgets an open alarm nor notifies it twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from infersight.alerting.delivery import DeliveryResult, deliver
from infersight.alerting.dispatch import Sleep, dispatch
from infersight.alerting.evaluate import Evaluator, Observation, SeriesEvaluator
from infersight.alerting.evaluate_slo import SloEvaluator
from infersight.alerting.model import Notification, Notifier, Status, dashboard_link
from infersight.alerting.rule_pack import runbook_for
from infersight.alerting.settings import AlertingSettings, AlertRuleSettings
from infersight.alerting.state_store import AlarmStates, active_silence
from infersight.core.alarms import AlarmRecord, AlarmState, AlertEvent, Silence
from infersight.core.clock import Clock
from infersight.core.slo import SEVERITY_RANK
from infersight.daemons import Daemon
from infersight.store.base import Store

log = logging.getLogger(__name__)

DAY_S = 86_400.0
PRUNE_EVERY_S = 3600.0
ALARM = AlarmState.ALARM


def make_evaluator(rule: AlertRuleSettings) -> Evaluator:
    return SloEvaluator(rule) if rule.kind == "slo" else SeriesEvaluator(rule)


def observed_record(
    rule: AlertRuleSettings,
    obs: Observation,
    now: float,
    *,
    since: float,
    alarm_since: float | None,
) -> AlarmRecord:
    """The record of what `obs` found at `now`, in its state since `since`; the notification
    bookkeeping, learned baseline and detail at their defaults."""
    return AlarmRecord(
        rule=rule.name,
        instance=obs.instance,
        labels=obs.labels,
        state=obs.state,
        since=since,
        evaluated_at=now,
        value=obs.value,
        threshold=obs.threshold,
        lower=obs.lower,
        upper=obs.upper,
        severity=obs.severity or rule.severity,
        alarm_since=alarm_since,
    )


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A notification and the notifier names it goes to."""

    notification: Notification
    notifiers: tuple[str, ...]
    instance: str


class AlertEngine(Daemon):
    """Evaluates `settings.rules` against `store` and notifies through `notifiers` (by name;
    build them with `alerting.notifiers.build_notifiers(settings.notifiers)`)."""

    name = "alerting"

    def __init__(
        self,
        settings: AlertingSettings,
        *,
        store: Store,
        clock: Clock,
        notifiers: Mapping[str, Notifier],
        interval_s: float | None = None,
        sleep: Sleep = asyncio.sleep,
        history_days: float = 90.0,
    ) -> None:
        super().__init__(clock, interval_s if interval_s is not None else settings.interval_s)
        self.settings = settings
        self.store = store
        self.notifiers = dict(notifiers)
        self.sleep = sleep
        self.history_days = history_days
        self.rules = [r for r in settings.rules if r.enabled]
        self.evaluators: dict[str, Evaluator] = {r.name: make_evaluator(r) for r in self.rules}
        self.states = AlarmStates(store.alerts)
        self.errors: dict[str, str] = {}  # rule -> why its last evaluation failed
        self.evaluations_total = 0
        self._pruned_at = -float("inf")
        self._deliveries: set[asyncio.Task[list[DeliveryResult]]] = set()

    # -- the loop ------------------------------------------------------------------------------

    async def tick(self, now: float) -> None:
        for item in await asyncio.to_thread(self.evaluate, now):
            task = asyncio.get_running_loop().create_task(self._deliver(item))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def drain(self) -> None:
        """Wait for the notifications in flight (tests; stop)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    async def on_stop(self) -> None:
        try:
            await asyncio.wait_for(self.drain(), timeout=self.settings.delivery_timeout_s)
        except TimeoutError:
            log.warning("alerting: %d notifications still in flight at stop", len(self._deliveries))

    def evaluate(self, now: float) -> list[Outgoing]:
        """Evaluate every rule once, persist, and return the notifications to send (sync)."""
        silences = self.store.alerts.silences(now)
        out: list[Outgoing] = []
        for rule in self.rules:
            previous = self.states.for_rule(rule.name)
            try:
                observations = self.evaluators[rule.name].evaluate(self.store, now, previous)
            except Exception as exc:
                if self.errors.get(rule.name) != str(exc):
                    log.warning("alerting: rule %r failed to evaluate: %s", rule.name, exc)
                self.errors[rule.name] = str(exc)
                continue
            self.errors.pop(rule.name, None)
            silence = active_silence(silences, rule.name, now)
            for obs in observations:
                out += self._apply(rule, obs, previous.get(obs.instance), now, silence)
        self.evaluations_total += 1
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self.store.alerts.prune_events(now - self.history_days * DAY_S)
            self._pruned_at = now
        self.states.flush()
        return out

    # -- one instance --------------------------------------------------------------------------

    def _apply(
        self,
        rule: AlertRuleSettings,
        obs: Observation,
        prev: AlarmRecord | None,
        now: float,
        silence: Silence | None,
    ) -> list[Outgoing]:
        prev_state = prev.state if prev is not None else AlarmState.INSUFFICIENT_DATA
        old_detail = prev.detail if prev is not None else {}
        last_data_at = now if obs.has_data else old_detail.get("last_data_at")
        if (
            prev is not None
            and not obs.has_data
            and obs.state != ALARM
            and now - float(last_data_at or prev.since) > max(DAY_S, rule.lookback_s())
        ):
            self.states.forget(rule.name, obs.instance)  # a label set that went away
            return []
        changed = prev is None or prev_state != obs.state
        rec = replace(
            observed_record(
                rule,
                obs,
                now,
                since=now if changed or prev is None else prev.since,
                alarm_since=prev.alarm_since if prev is not None and not changed else None,
            ),
            notified_at=prev.notified_at if prev is not None else None,
            last_notified_at=prev.last_notified_at if prev is not None else None,
            notified_severity=prev.notified_severity if prev is not None else "",
            learned=obs.learned or (prev.learned if prev is not None else {}),
            detail={
                **obs.detail,
                "reason": obs.reason,
                "last_data_at": last_data_at,
                "suppressed": bool(old_detail.get("suppressed")) and obs.state == ALARM,
                "repeats": int(old_detail.get("repeats", 0)) if obs.state == ALARM else 0,
                "entered_from": (
                    (prev_state.value if changed else old_detail.get("entered_from", ""))
                    if obs.state == ALARM
                    else ""
                ),
            },
        )
        if obs.state == ALARM and rec.alarm_since is None:
            rec = replace(rec, alarm_since=now)
        if changed and (prev is not None or obs.state != AlarmState.INSUFFICIENT_DATA):
            self.states.event(
                AlertEvent(
                    ts=now,
                    rule=rule.name,
                    kind="transition",
                    instance=obs.instance,
                    state=obs.state.value,
                    previous_state=prev_state.value,
                    value=obs.value,
                    message=obs.reason,
                )
            )
        rec, status, repeat = self._decide(rule, rec, now, silence)
        self.states.put(rec)
        if status is None:
            return []
        if status == "resolved" or repeat:
            was = ALARM.value
        else:
            was = str(rec.detail.get("entered_from") or prev_state.value)
        n = self._notification(rule, rec, obs, status, was, now, repeat)
        return [Outgoing(n, tuple(rule.notifiers) or tuple(self.notifiers), obs.instance)]

    def _decide(
        self, rule: AlertRuleSettings, rec: AlarmRecord, now: float, silence: Silence | None
    ) -> tuple[AlarmRecord, Status | None, int]:
        """The record after deciding, and what to send: (record, status or None, repeat no.)."""
        if rec.state != ALARM:
            if rec.notified_at is not None and now - rec.since < rule.keep_firing_for_s:
                return rec, None, 0  # still firing for a while: a quick return is no new episode
            if rec.notified_at is not None:  # the episode that was notified is over
                cleared = replace(
                    rec, notified_at=None, last_notified_at=None, notified_severity=""
                )
                return cleared, "resolved", 0
            return rec, None, 0
        assert rec.alarm_since is not None
        if now - rec.alarm_since < rule.for_s:
            return rec, None, 0  # pending
        escalated = SEVERITY_RANK.get(rec.severity, 0) > SEVERITY_RANK.get(rec.notified_severity, 0)
        repeat_s = rule.repeat_interval_s
        if repeat_s is None:
            repeat_s = self.settings.repeat_interval_s
        due_repeat = (
            rec.last_notified_at is not None
            and repeat_s > 0
            and now - rec.last_notified_at >= repeat_s
        )
        first = rec.notified_at is None
        if not (first or escalated or due_repeat):
            return rec, None, 0
        if silence is not None:
            if not rec.detail.get("suppressed"):
                self.states.event(
                    AlertEvent(
                        ts=now,
                        rule=rule.name,
                        kind="suppressed",
                        instance=rec.instance,
                        state=rec.state.value,
                        value=rec.value,
                        message=f"silenced until {silence.expires_at:.0f} ({silence.reason})",
                        detail={"silence": silence.id},
                    )
                )
            return replace(rec, detail={**rec.detail, "suppressed": True}), None, 0
        repeat = 0 if first or escalated else int(rec.detail.get("repeats", 0)) + 1
        sent = replace(
            rec,
            notified_at=rec.notified_at if rec.notified_at is not None else now,
            last_notified_at=now,
            notified_severity=rec.severity,
            detail={**rec.detail, "repeats": repeat, "suppressed": False},
        )
        return sent, "firing", repeat

    def _notification(
        self,
        rule: AlertRuleSettings,
        rec: AlarmRecord,
        obs: Observation,
        status: Status,
        previous_state: str,
        now: float,
        repeat: int = 0,
    ) -> Notification:
        text = runbook_for(rule.name, rule.runbook)
        return Notification(
            rule=rule.name,
            kind=rule.kind,
            status=status,
            state=rec.state.value,
            previous_state=previous_state,
            value=rec.value,
            window_s=obs.window_s,
            severity=rec.severity,
            at=now,
            started_at=rec.alarm_since if rec.state == ALARM else rec.since,
            threshold=rec.threshold,
            lower=rec.lower,
            upper=rec.upper,
            baseline=obs.baseline,
            labels=dict(rec.labels),
            summary=obs.reason,
            runbook=text,
            runbook_url=rule.runbook_url,
            dashboard_url=dashboard_link(
                self.settings.dashboard_url, rule.view or f"/alerts#{rule.name}"
            ),
            repeat=repeat,
            detail={k: v for k, v in obs.detail.items() if k != "reason"},
        )

    async def _deliver(self, item: Outgoing) -> list[DeliveryResult]:
        return await dispatch(
            item.notification,
            item.notifiers,
            notifiers=self.notifiers,
            alerts=self.store.alerts,
            clock=self.clock,
            sleep=self.sleep,
            timeout_s=self.settings.delivery_timeout_s,
            instance=item.instance,
        )

    # -- on demand -----------------------------------------------------------------------------

    async def test_rule(self, name: str, now: float) -> tuple[Notification, list[DeliveryResult]]:
        """Evaluate one rule now (its stored state untouched) and send a test notification to
        its notifiers. ValueError naming the rules when there is no such rule."""
        rule = self.settings.rule(name)
        if rule is None:
            known = ", ".join(r.name for r in self.settings.rules) or "none"
            raise ValueError(f"no alert rule named {name!r} (rules: {known})")
        previous = await asyncio.to_thread(self.states.for_rule, name)
        observations = await asyncio.to_thread(
            make_evaluator(rule).evaluate, self.store, now, previous
        )
        ranked = sorted(observations, key=lambda o: (o.state != ALARM, not o.has_data))
        obs = (
            ranked[0]
            if ranked
            else Observation(
                "", (), AlarmState.INSUFFICIENT_DATA, "no series matched", None, False, 0.0
            )
        )
        prev = previous.get(obs.instance)
        prev_state = prev.state if prev is not None else AlarmState.INSUFFICIENT_DATA
        rec = observed_record(
            rule,
            obs,
            now,
            since=prev.since if prev is not None else now,
            alarm_since=prev.alarm_since if prev is not None else None,
        )
        n = self._notification(rule, rec, obs, "test", prev_state.value, now)
        targets = [
            self.notifiers[x] for x in (rule.notifiers or self.notifiers) if x in self.notifiers
        ]
        results = await deliver(targets, n, clock=self.clock, sleep=self.sleep)
        delivered = [r.notifier for r in results if r.delivered]
        event = AlertEvent(
            ts=now,
            rule=rule.name,
            kind="test",
            instance=obs.instance,
            state=obs.state.value,
            value=obs.value,
            message=f"test sent to {', '.join(delivered) or 'no notifier'}",
            detail={"results": [r.to_dict() for r in results]},
        )
        await asyncio.to_thread(self.store.alerts.append_events, [event])
        return n, results
