"""The alert engine's memory, mirrored to the store: alarm records, history events, silences.

`AlarmStates` holds every alarm instance's `AlarmRecord` in memory (loaded from
`Store.alerts` on the first evaluation, so a restart remembers open alarms and what was
already notified), collects the changes and events of one evaluation and writes them in one
go (`flush`). Silences live only in the store, so `infersight alerts silence` in another
process takes effect at the engine's next evaluation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from infersight.core.alarms import AlarmRecord, AlertEvent, Silence
from infersight.store.base import AlertStore

Key = tuple[str, str]  # (rule, instance)


class AlarmStates:
    def __init__(self, alerts: AlertStore) -> None:
        self.alerts = alerts
        self.loaded = False
        self._records: dict[Key, AlarmRecord] = {}
        self._dirty: set[Key] = set()
        self._forgotten: set[Key] = set()
        self._events: list[AlertEvent] = []

    def load(self) -> None:
        self._records = {(r.rule, r.instance): r for r in self.alerts.load_alarms()}
        self.loaded = True

    def for_rule(self, rule: str) -> dict[str, AlarmRecord]:
        if not self.loaded:
            self.load()
        return {inst: r for (name, inst), r in self._records.items() if name == rule}

    def all(self) -> list[AlarmRecord]:
        if not self.loaded:
            self.load()
        return [self._records[k] for k in sorted(self._records)]

    def put(self, record: AlarmRecord) -> None:
        key = (record.rule, record.instance)
        self._records[key] = record
        self._dirty.add(key)
        self._forgotten.discard(key)

    def forget(self, rule: str, instance: str) -> None:
        key = (rule, instance)
        if self._records.pop(key, None) is not None:
            self._forgotten.add(key)
            self._dirty.discard(key)

    def event(self, event: AlertEvent) -> None:
        self._events.append(event)

    def flush(self) -> None:
        """Write the changed records, the forgotten ones and the new events."""
        records = [self._records[k] for k in sorted(self._dirty) if k in self._records]
        self.alerts.save_alarms(records)
        self.alerts.delete_alarms(sorted(self._forgotten))
        self.alerts.append_events(self._events)
        self._dirty.clear()
        self._forgotten.clear()
        self._events = []


def active_silence(silences: Sequence[Silence], rule: str, now: float) -> Silence | None:
    """The active silence covering `rule` that lasts longest, or None."""
    covering = [s for s in silences if s.matches(rule) and s.active(now)]
    return max(covering, key=lambda s: s.expires_at, default=None)


def add_silence(
    alerts: AlertStore,
    rule: str,
    *,
    now: float,
    duration_s: float,
    reason: str = "",
    created_by: str = "",
) -> Silence:
    """Silence `rule` ("*" for every rule) from now for duration_s; recorded in history."""
    if duration_s <= 0:
        raise ValueError(f"a silence needs a positive duration, got {duration_s}")
    silence = Silence(uuid.uuid4().hex[:12], rule, now, now + duration_s, reason, created_by)
    alerts.add_silence(silence)
    alerts.append_events(
        [
            AlertEvent(
                ts=now,
                rule=rule,
                kind="silence_added",
                message=f"silenced until {silence.expires_at:.0f}"
                + (f": {reason}" if reason else ""),
                detail={"id": silence.id, "expires_at": silence.expires_at, "reason": reason},
            )
        ]
    )
    return silence


def end_silences(alerts: AlertStore, rule: str, *, now: float) -> int:
    """End the active silences of `rule` now; recorded in history. Returns how many."""
    ended = alerts.end_silences(rule, now)
    if ended:
        alerts.append_events(
            [AlertEvent(ts=now, rule=rule, kind="silence_removed", message=f"{ended} ended")]
        )
    return ended
