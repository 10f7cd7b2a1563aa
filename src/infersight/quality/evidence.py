"""What the evidence report shows, read from the store over a period.

* sweeps: every sweep that started in the period (its stored summary: aggregates with
  intervals per tag, comparison with the previous sweep, scorer versions and thresholds);
* regressions: each significant regression, with the items that went from pass to fail and
  their answers before and after;
* alert episodes of the quality rules: when each alarm fired, what was sent to whom, and how
  it ended (back to OK after a later sweep, still open at the end of the period);
* live sampling: the `quality_live_*` series over the period (mean, min, max per model);
* scorers: every scorer version and threshold used in the period, with when it was first and
  last used.

Quality rules are the alert rules whose metric is a `quality_` series (given by the caller from
the alerting settings) and any rule whose name starts with `quality`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from infersight.core.alarms import AlertEvent
from infersight.quality.results import item_from_row
from infersight.store.base import Store

LIVE_SERIES: Final = (
    "quality_live_relevance",
    "quality_live_toxicity_rate",
    "quality_live_refusal_rate",
    "quality_live_answer_tokens",
    "quality_live_scored",
)
MAX_SWEEPS: Final = 2000
MAX_ITEMS_PER_REGRESSION: Final = 25


@dataclass
class AlertEpisode:
    """One stretch of ALARM of one quality rule instance."""

    rule: str
    instance: str
    fired_at: float
    value: float | None
    reason: str
    resolved_at: float | None = None
    resolution: str = "still in ALARM at the end of the period"
    notifications: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Evidence:
    start: float
    end: float
    sweeps: list[dict[str, Any]]  # stored summaries, oldest first
    regressions: list[dict[str, Any]]
    alerts: list[AlertEpisode]
    silences: list[dict[str, Any]]
    quality_rules: list[dict[str, Any]]
    live: dict[str, list[dict[str, Any]]]
    scorers: list[dict[str, Any]]

    def datasets(self) -> list[str]:
        return sorted({s["dataset"] for s in self.sweeps})

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "sweeps": self.sweeps,
            "regressions": self.regressions,
            "alerts": [a.to_json() for a in self.alerts],
            "silences": self.silences,
            "quality_rules": self.quality_rules,
            "live": self.live,
            "scorers": self.scorers,
        }


def _regressions(store: Store, sweeps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in sweeps:
        bad = {k: c for k, c in s.get("comparisons", {}).items() if c.get("regressed")}
        if not bad:
            continue
        current = {r.item_id: item_from_row(r) for r in store.quality.sweep_items(s["id"])}
        prev_id = s.get("previous_sweep")
        before = (
            {r.item_id: item_from_row(r) for r in store.quality.sweep_items(prev_id)}
            if prev_id
            else {}
        )
        for scorer, c in sorted(bad.items()):
            items = []
            for item_id in c.get("regressed_items", [])[:MAX_ITEMS_PER_REGRESSION]:
                now_item = current.get(item_id, {})
                score = now_item.get("scores", {}).get(scorer, {})
                items.append(
                    {
                        "id": item_id,
                        "question": now_item.get("question", ""),
                        "before": before.get(item_id, {}).get("answer"),
                        "now": now_item.get("answer"),
                        "reason": score.get("reason", ""),
                    }
                )
            out.append({"sweep": s, "scorer": scorer, "comparison": c, "items": items})
    return out


def alert_episodes(events: Iterable[AlertEvent], rules: set[str]) -> list[AlertEpisode]:
    """Episodes of ALARM from the history (events in any order)."""
    open_: dict[tuple[str, str], AlertEpisode] = {}
    done: list[AlertEpisode] = []
    # a transition comes before the notifications written with the same timestamp
    for ev in sorted(events, key=lambda e: (e.ts, e.kind != "transition")):
        if ev.rule not in rules:
            continue
        key = (ev.rule, ev.instance)
        ep = open_.get(key)
        if ev.kind == "transition" and ev.state == "ALARM" and ep is None:
            open_[key] = AlertEpisode(ev.rule, ev.instance, ev.ts, ev.value, ev.message)
        elif ev.kind == "transition" and ep is not None and ev.state != "ALARM":
            ep.resolved_at = ev.ts
            minutes = (ev.ts - ep.fired_at) / 60.0
            ep.resolution = (
                f"{ev.state} after {minutes:.0f} min"
                + (f": {ev.message}" if ev.message else "")
                + (" (a later sweep met the threshold)" if ev.state == "OK" else "")
            )
            done.append(open_.pop(key))
        elif ev.kind == "notified" and ep is not None:
            ep.notifications.append(ev.message)
        elif ev.kind == "notified":  # a resolved notification follows the transition
            for past in reversed(done):
                if (past.rule, past.instance) == key:
                    past.notifications.append(ev.message)
                    break
        elif ev.kind == "notify_failed" and ep is not None:
            ep.failures.append(ev.message)
    return sorted([*done, *open_.values()], key=lambda e: e.fired_at)


def _live(store: Store, start: float, end: float) -> dict[str, list[dict[str, Any]]]:
    step = max(60.0, (end - start) / 200.0)
    out: dict[str, list[dict[str, Any]]] = {}
    names = set(store.metric_names())
    for name in LIVE_SERIES:
        if name not in names:
            continue
        rows = []
        for s in store.series(name, start, end, step_s=step, agg="avg"):
            values = [v for _, v in s.points]
            if values:
                rows.append(
                    {
                        "labels": dict(s.labels),
                        "points": s.points,
                        "mean": sum(values) / len(values),
                        "min": min(values),
                        "max": max(values),
                    }
                )
        if rows:
            out[name] = rows
    return out


def _scorers(sweeps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for s in sweeps:
        for info in s.get("scorers", []):
            key = (info["name"], str(info.get("version")), json.dumps(info.get("threshold")))
            row = seen.setdefault(
                key, {**info, "first_used": s["started_at"], "sweeps": 0, "datasets": set()}
            )
            row["last_used"] = s["started_at"]
            row["sweeps"] += 1
            row["datasets"].add(s["dataset"])
    return [
        {**row, "datasets": sorted(row["datasets"])}
        for _, row in sorted(seen.items(), key=lambda kv: (kv[0][0], kv[1]["first_used"]))
    ]


def collect_evidence(
    store: Store,
    start: float,
    end: float,
    *,
    quality_rules: Sequence[dict[str, Any]] = (),
    dataset: str | None = None,
) -> Evidence:
    """Everything the report shows for [start, end). `quality_rules`: dicts with at least
    `name` (and metric, threshold, ...) of the configured quality alert rules."""
    rows = store.quality.list_sweeps(start, end, dataset=dataset, limit=MAX_SWEEPS)
    sweeps = [r.summary_json() | {"id": r.id, "status": r.status} for r in reversed(rows)]
    rule_names = {r["name"] for r in quality_rules}
    events = store.alerts.events(start, end, limit=100_000)
    rule_names |= {e.rule for e in events if e.rule.startswith("quality")}
    silences = [
        {
            "rule": e.rule,
            "at": e.ts,
            "kind": e.kind,
            "message": e.message,
        }
        for e in events
        if e.kind in ("silence_added", "silence_removed") and e.rule in rule_names | {"*"}
    ]
    return Evidence(
        start=start,
        end=end,
        sweeps=sweeps,
        regressions=_regressions(store, sweeps),
        alerts=alert_episodes(events, rule_names),
        silences=sorted(silences, key=lambda s: s["at"]),
        quality_rules=list(quality_rules),
        live=_live(store, start, end),
        scorers=_scorers(sweeps),
    )


__all__ = ["AlertEpisode", "Evidence", "alert_episodes", "collect_evidence"]
