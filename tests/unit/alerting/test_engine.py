"""AlertEngine over a real SQLite store with a FakeClock: notifications, pending, repeats,
silences, restarts, failing notifiers, grouping and ratios."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from infersight.alerting.settings import AlertRuleSettings
from infersight.alerting.state_store import add_silence, end_silences
from infersight.core.alarms import AlarmState
from infersight.store.base import Series
from infersight.store.sqlite import SqliteStore

from .conftest import Broken, Env, Recorder

GPU = "gpu_utilization_ratio"


def rule(**kw: Any) -> AlertRuleSettings:
    base: dict[str, Any] = {
        "name": "hot",
        "metric": GPU,
        "period_s": 60,
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
        "threshold": 0.9,
        "treat_missing_data": "not_breaching",
    }
    return AlertRuleSettings.model_validate({**base, **kw})


def test_fires_once_then_resolves(env: Env) -> None:
    engine = env.engine(rule())
    states = env.minutes(engine, [0.5, 0.95, 0.5, 0.97, 0.99, 0.5, 0.2, 0.1], GPU, gpu="0")
    assert states == ["OK", "OK", "OK", "ALARM", "ALARM", "ALARM", "OK", "OK"]
    assert env.rec.statuses() == [("firing", "ALARM"), ("resolved", "OK")]
    firing, resolved = env.rec.sent
    assert firing.labels == {"gpu": "0"}
    assert firing.value == 0.97 and firing.threshold == 0.9
    assert firing.previous_state == "OK" and firing.window_s == 180
    assert "2 of 3 datapoints breaching" in firing.summary
    assert resolved.previous_state == "ALARM"
    kinds = [e.kind for e in env.events()]
    assert kinds.count("transition") == 3  # INSUFFICIENT_DATA -> OK -> ALARM -> OK
    assert kinds.count("notified") == 2


def test_pending_for_s_then_fires(env: Env) -> None:
    engine = env.engine(rule(for_s=120))
    env.minutes(engine, [0.95, 0.95], GPU, gpu="0")
    assert engine.states.all()[0].state == AlarmState.ALARM
    assert env.rec.sent == []  # pending: ALARM for 0 s
    env.minutes(engine, [0.95, 0.95], GPU, gpu="0")
    assert env.rec.statuses() == [("firing", "ALARM")]


def test_pending_alarm_that_clears_sends_nothing(env: Env) -> None:
    engine = env.engine(rule(for_s=600))
    env.minutes(engine, [0.95, 0.95, 0.95, 0.1, 0.1, 0.1], GPU, gpu="0")
    assert env.rec.sent == []


def test_repeat_interval(env: Env) -> None:
    engine = env.engine(rule(repeat_interval_s=180))
    env.minutes(engine, [0.95] * 9, GPU, gpu="0")
    # fired at minute 2; repeats when 180 s have passed since the last: minutes 5 and 8
    assert [n.repeat for n in env.rec.sent] == [0, 1, 2]
    assert all(n.status == "firing" and n.previous_state in ("OK", "ALARM") for n in env.rec.sent)


def test_repeat_zero_means_never(env: Env) -> None:
    engine = env.engine(rule(), repeat_interval_s=0)
    env.minutes(engine, [0.95] * 10, GPU, gpu="0")
    assert len(env.rec.sent) == 1


def test_silence_suppresses_and_expiry_releases(env: Env) -> None:
    engine = env.engine(rule())
    add_silence(env.store.alerts, "hot", now=env.clock.now(), duration_s=300, reason="deploy")
    env.minutes(engine, [0.95, 0.95, 0.95], GPU, gpu="0")
    assert env.rec.sent == []
    assert len(env.events("suppressed")) == 1  # once per episode, not every tick
    env.minutes(engine, [0.95, 0.95, 0.95], GPU, gpu="0")  # the silence ended after 5 min
    assert env.rec.statuses() == [("firing", "ALARM")]
    assert [e.kind for e in env.events() if e.kind.startswith("silence")] == ["silence_added"]


def test_unsilence_and_wildcard(env: Env) -> None:
    engine = env.engine(rule())
    add_silence(env.store.alerts, "*", now=env.clock.now(), duration_s=3600)
    env.minutes(engine, [0.95, 0.95], GPU, gpu="0")
    assert env.rec.sent == []
    assert end_silences(env.store.alerts, "*", now=env.clock.now()) == 1
    env.minutes(engine, [0.95], GPU, gpu="0")
    assert env.rec.statuses() == [("firing", "ALARM")]


def test_resolve_is_sent_even_while_silenced(env: Env) -> None:
    engine = env.engine(rule())
    env.minutes(engine, [0.95, 0.95], GPU, gpu="0")
    add_silence(env.store.alerts, "hot", now=env.clock.now(), duration_s=3600)
    env.minutes(engine, [0.1, 0.1, 0.1], GPU, gpu="0")
    assert env.rec.statuses() == [("firing", "ALARM"), ("resolved", "OK")]


def test_restart_remembers_the_open_alarm_and_does_not_notify_twice(env: Env) -> None:
    engine = env.engine(rule())
    env.minutes(engine, [0.95, 0.95, 0.95], GPU, gpu="0")
    assert env.rec.statuses() == [("firing", "ALARM")]
    env.reopen()
    again = Recorder()
    engine2 = env.engine(rule(), notifiers=[again])
    assert engine2.states.all()[0].state == AlarmState.ALARM  # remembered before any tick
    env.minutes(engine2, [0.95, 0.95], GPU, gpu="0")
    assert again.sent == []  # no second firing
    env.minutes(engine2, [0.1, 0.1, 0.1], GPU, gpu="0")
    assert again.statuses() == [("resolved", "OK")]


def test_a_failing_notifier_is_recorded_and_blocks_nothing(env: Env) -> None:
    broken = Broken()
    engine = env.engine(rule(), notifiers=[broken, env.rec])
    states = env.minutes(engine, [0.95, 0.95, 0.1, 0.1, 0.1], GPU, gpu="0")
    assert states[-1] == "OK"
    assert env.rec.statuses() == [("firing", "ALARM"), ("resolved", "OK")]
    failed = env.events("notify_failed")
    assert len(failed) == 2 and "connection refused" in failed[0].message
    assert broken.attempts == 6  # 3 attempts (the default policy) per notification


def test_rule_notifiers_route(env: Env) -> None:
    other = Recorder("other")
    configured = [{"name": "other", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}]
    engine = env.engine(
        rule(notifiers=["other"]), notifiers=[env.rec, other], notifiers_settings=configured
    )
    env.minutes(engine, [0.95, 0.95], GPU, gpu="0")
    assert env.rec.sent == [] and len(other.sent) == 1


def test_one_instance_per_series_and_grouping(env: Env) -> None:
    engine = env.engine(rule())
    for _ in range(3):
        minute = (env.clock.now() // 60) * 60
        env.write(GPU, minute + 5, 0.95, gpu="0")
        env.write(GPU, minute + 5, 0.10, gpu="1")
        env.clock.advance(minute + 61 - env.clock.now())
        env.tick(engine)
    states = {r.instance: r.state.value for r in engine.states.all()}
    assert states == {"gpu=0": "ALARM", "gpu=1": "OK"}
    grouped = env.engine(rule(name="any_gpu", group_by=[], combine="max"))
    env.tick(grouped)
    assert {r.instance: r.state.value for r in grouped.states.all() if r.rule == "any_gpu"} == {
        "": "ALARM"
    }


def test_divide_by_makes_a_ratio(env: Env) -> None:
    r = rule(
        name="mem",
        metric="gpu_memory_used_bytes",
        divide_by="gpu_memory_total_bytes",
        statistic="avg",
    )
    engine = env.engine(r)
    for used in (50.0, 95.0, 96.0):
        minute = (env.clock.now() // 60) * 60
        env.write("gpu_memory_used_bytes", minute + 5, used, gpu="0")
        env.write("gpu_memory_total_bytes", minute + 5, 100.0, gpu="0")
        env.clock.advance(minute + 61 - env.clock.now())
        env.tick(engine)
    (record,) = engine.states.all()
    assert record.state == AlarmState.ALARM and record.value == 0.96


def test_test_rule_sends_a_test_notification_without_touching_state(env: Env) -> None:
    hot = rule(runbook="Check the fans.", runbook_url="https://runbooks.example/hot")
    engine = env.engine(hot, dashboard_url="http://d:1")
    env.minutes(engine, [0.95, 0.95], GPU, gpu="0")
    before = engine.states.all()
    n, results = asyncio.run(engine.test_rule("hot", env.clock.now()))
    assert n.status == "test" and n.state == "ALARM"
    assert n.dashboard_url == "http://d:1/alerts#hot"
    assert (n.runbook, n.runbook_url) == ("Check the fans.", "https://runbooks.example/hot")
    assert [r.delivered for r in results] == [True]
    assert engine.states.all() == before
    assert env.events("test")[0].message == "test sent to rec"
    d = n.to_dict()
    assert d["status"] == "test" and d["labels"] == {"gpu": "0"} and d["at_iso"]


class FlakyStore(SqliteStore):
    """Fault injection: queries of one series raise, as a broken backend would."""

    def series(self, name: str, *args: Any, **kwargs: Any) -> list[Series]:
        if name == "engine_requests_waiting":
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return super().series(name, *args, **kwargs)


def test_a_rule_that_fails_does_not_stop_the_others(env: Env) -> None:
    env.store.close()
    env.store = FlakyStore(env.path, rollup_delay_s=0.0)
    bad = rule(name="bad", metric="engine_requests_waiting")
    engine = env.engine(bad, rule())
    env.minutes(engine, [0.95, 0.95], GPU, gpu="0")
    assert env.rec.statuses() == [("firing", "ALARM")]
    assert engine.errors == {"bad": "disk I/O error (injected)"}
    assert engine.evaluations_total == 2


def test_keep_firing_for_holds_a_flapping_alarm_in_one_episode(env: Env) -> None:
    engine = env.engine(rule(keep_firing_for_s=300))
    values = [0.95, 0.95, 0.1, 0.1, 0.95, 0.95, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    states = env.minutes(engine, values, GPU, gpu="0")
    assert states[:7] == ["OK", "ALARM", "ALARM", "OK", "OK", "ALARM", "ALARM"]  # it flaps
    assert env.rec.statuses() == [("firing", "ALARM"), ("resolved", "OK")]  # one episode
    resolved = env.rec.sent[1]
    assert resolved.previous_state == "ALARM"
    ok_since = env.events("transition")[-1].ts
    assert resolved.at - ok_since >= 300


def test_previous_state_of_a_pending_alarm_is_the_one_before_it(env: Env) -> None:
    engine = env.engine(rule(for_s=120))
    env.minutes(engine, [0.1, 0.95, 0.95, 0.95, 0.95], GPU, gpu="0")
    (firing,) = env.rec.sent
    assert firing.previous_state == "OK"


def test_min_value_ignores_ratios_of_a_few_events(env: Env) -> None:
    r = rule(
        name="errors",
        metric="request_errors_per_s",
        divide_by="requests_per_s",
        statistic="avg",
        threshold=0.01,
        min_value=0.05,
    )
    engine = env.engine(r)
    for errors in (0.02, 0.02, 0.02, 0.5, 0.5):  # 1 error of 50 per minute, then 30 of 50
        minute = (env.clock.now() // 60) * 60
        env.write("request_errors_per_s", minute, errors)
        env.write("requests_per_s", minute, 50 / 60)
        env.clock.advance(minute + 61 - env.clock.now())
        env.tick(engine)
    states = [e.state for e in env.events("transition")]
    assert states == ["OK", "ALARM"]  # 2.4 % errors but under min_value: not breaching
    assert env.rec.sent[0].value == 0.6


class Hanging:
    """A notifier that never answers."""

    name = "hanging"

    async def send(self, notification: object) -> None:
        await asyncio.Event().wait()


def test_a_hanging_notifier_is_cut_off_and_evaluation_goes_on(env: Env) -> None:
    engine = env.engine(rule(), notifiers=[Hanging(), env.rec], delivery_timeout_s=0.05)

    async def run() -> list[str]:
        states = []
        for v in (0.95, 0.95, 0.95):
            minute = (env.clock.now() // 60) * 60
            env.write(GPU, minute + 5, v, gpu="0")
            env.clock.advance(minute + 61 - env.clock.now())
            await engine.tick(env.clock.now())  # returns while the delivery is still running
            states.append(engine.states.all()[0].state.value)
        await engine.drain()
        return states

    assert asyncio.run(run()) == ["OK", "ALARM", "ALARM"]
    assert env.rec.statuses() == [("firing", "ALARM")]
    (failed,) = env.events("notify_failed")
    assert "hanging failed: no result within 0.05 s" in failed.message
    assert [e.message for e in env.events("notified")] == ["firing sent to rec"]
