"""Store.alerts on SQLite: records, events, silences, the SLO count query; AlertStatus JSON."""

from __future__ import annotations

import pytest

from infersight.alerting.settings import AlertingSettings, AlertRuleSettings
from infersight.alerting.state_store import AlarmStates, active_silence, add_silence
from infersight.alerting.status import AlertStatus
from infersight.core.alarms import AlarmRecord, AlarmState, AlertEvent, Silence
from infersight.core.records import RequestRecord

from .conftest import T0, Env


def req(
    i: int, ts: float, ttft: float | None, error: str | None = None, model: str = "a"
) -> RequestRecord:
    return RequestRecord(
        id=str(i),
        started_at=ts,
        model=model,
        upstream="u",
        route="/v1/chat/completions",
        stream=True,
        status=500 if error else 200,
        e2e_s=1.0,
        error_class=error,
        ttft_s=ttft,
    )


def test_count_good_total(env: Env) -> None:
    env.store.write_records(
        [
            req(1, T0 + 1, 0.5),
            req(2, T0 + 2, 1.5),
            req(3, T0 + 3, None, "upstream_5xx"),
            req(4, T0 + 61, 0.2, model="b"),
            req(5, T0 + 62, 0.2),
        ]
    )
    a = env.store.alerts
    rows = a.count_good_total(T0, T0 + 120, step_s=60, field="ttft_s", threshold=1.0)
    assert rows == [(T0, 1, 2), (T0 + 60, 2, 2)]  # the failed request has no TTFT: not counted
    rows = a.count_good_total(T0, T0 + 120, step_s=120, field=None)
    assert rows == [(T0, 4, 5)]  # availability: good = no error
    rows = a.count_good_total(T0, T0 + 120, step_s=60, field=None, labels={"model": "b"})
    assert rows == [(T0 + 60, 1, 1)]
    assert a.count_good_total(T0, T0 + 120, step_s=60, field=None, sources=("sweep",)) == []
    with pytest.raises(ValueError, match="cannot filter requests by source"):
        a.count_good_total(T0, T0 + 60, step_s=60, field=None, labels={"source": "user"})
    with pytest.raises(ValueError, match="unknown field"):
        a.count_good_total(T0, T0 + 60, step_s=60, field="prompt_tokens", threshold=1)


def test_records_events_and_silences_round_trip(env: Env) -> None:
    a = env.store.alerts
    rec = AlarmRecord(
        rule="r",
        instance="gpu=0",
        labels=(("gpu", "0"),),
        state=AlarmState.ALARM,
        since=T0,
        evaluated_at=T0 + 30,
        value=0.95,
        threshold=0.9,
        learned={"threshold": 1.5, "points": 30},
        detail={"reason": "2 of 3"},
    )
    states = AlarmStates(a)
    states.put(rec)
    states.event(AlertEvent(ts=T0, rule="r", kind="transition", state="ALARM"))
    states.flush()
    assert a.load_alarms() == [rec]
    assert [e.kind for e in a.events(T0, T0 + 1)] == ["transition"]
    states.forget("r", "gpu=0")
    states.flush()
    assert a.load_alarms() == []
    assert a.prune_events(T0 + 1) == 1

    s = add_silence(a, "r", now=T0, duration_s=60, reason="deploy", created_by="me")
    assert a.silences(T0 + 30) == [s] and a.silences(T0 + 60) == []
    assert active_silence([s, Silence("x", "*", T0, T0 + 120)], "r", T0 + 90) is not None
    with pytest.raises(ValueError, match="positive duration"):
        add_silence(a, "r", now=T0, duration_s=0)


def test_alert_status_json_for_the_dashboard(env: Env) -> None:
    slo = AlertRuleSettings(name="ttft_slo", kind="slo", slo={"sli": "latency"})  # type: ignore[arg-type]
    hot = AlertRuleSettings(name="hot", metric="gpu_utilization_ratio", threshold=0.9, for_s=600)
    engine = env.engine(hot, slo)
    env.store.write_records([req(i, T0 - 300 + i, 0.3) for i in range(100)])
    env.minutes(engine, [0.95, 0.95, 0.95], "gpu_utilization_ratio", gpu="0")
    status = AlertStatus(AlertingSettings(rules=[hot, slo]), env.store)
    now = env.clock.now()
    (active,) = status.active(now)
    assert active["state"] == "PENDING" and active["labels"] == {"gpu": "0"}  # for_s not over
    rules = {r["name"]: r for r in status.rules(now)}
    assert rules["hot"]["series"] == "gpu_utilization_ratio avg per 60s > 0.9 (3 of 3)"
    assert rules["ttft_slo"]["state"] == "OK"
    (s,) = status.slos(now)
    assert s["attainment"] == 1.0 and s["budget_remaining"] == 1.0 and s["target_value"] == 1.0
    assert len(s["burn_rates"]) == 3
    assert status.history(0, now + 1, 10)[0]["kind"] == "transition"
