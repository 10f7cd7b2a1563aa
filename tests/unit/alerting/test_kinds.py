"""Every rule kind through the engine with a FakeClock: baseline (learned threshold, kept over a
restart), anomaly (EWMA and seasonal bands), SLO burn rates from request records and from a
pair of series, and missing data at the engine level."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from infersight.alerting.settings import AlertRuleSettings
from infersight.core.alarms import AlarmState
from infersight.core.records import MetricSample, RequestRecord

from .conftest import T0, Env

DAY = 86_400.0
RPS = "requests_per_s"


def rule(**kw: Any) -> AlertRuleSettings:
    base: dict[str, Any] = {
        "name": "r",
        "metric": RPS,
        "period_s": 60,
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
    }
    return AlertRuleSettings.model_validate({**base, **kw})


def history(env: Env, start: float, end: float, value: Any, name: str = RPS) -> None:
    samples = []
    ts = start
    while ts < end:
        samples.append(MetricSample(name, ts + 5, float(value(ts)), ()))
        ts += 60
    env.store.write_samples(samples)


def test_baseline_learns_from_the_same_hour_and_carries_it_over_a_restart(env: Env) -> None:
    rng = random.Random(1)
    for d in (1, 2, 3):  # the same hour on the 3 previous days, around 10 req/s
        history(env, T0 - d * DAY, T0 - d * DAY + 3600, lambda _: 10 + rng.gauss(0, 1))
    history(env, T0 - 5 * 3600, T0 - 3600, lambda _: 50)  # other hours today: not the baseline
    r = rule(kind="baseline", baseline={"window": "same_hour", "days": 3, "k": 4})
    engine = env.engine(r)
    states = env.minutes(engine, [10, 11, 25, 26, 27], RPS)
    assert states == ["OK", "OK", "OK", "ALARM", "ALARM"]
    (n,) = env.rec.sent
    assert n.kind == "baseline"
    assert n.baseline == pytest.approx(10, abs=0.5)
    assert n.threshold == pytest.approx(14, abs=1.5)  # median + 4 × MAD ≈ 10 + 4σ
    assert "learned threshold" in n.summary and "same hour, last 3 days" in n.summary
    assert n.detail["baseline"]["points"] == 180  # the webhook's detail says what was learned
    learned = engine.states.all()[0].learned
    assert learned["points"] == 180 and learned["method"] == "median_mad"

    env.reopen()
    engine2 = env.engine(r)
    env.minutes(engine2, [26], RPS)
    assert engine2.states.all()[0].learned["learned_at"] == learned["learned_at"]  # not relearned
    env.clock.advance(3600)  # relearn_interval_s later: the next hour's baseline
    env.minutes(engine2, [26], RPS)
    assert engine2.states.all()[0].learned["learned_at"] > learned["learned_at"]


def test_baseline_without_enough_history_is_insufficient_data(env: Env) -> None:
    engine = env.engine(rule(kind="baseline", baseline={"window": "trailing", "days": 1}))
    assert env.minutes(engine, [10, 10, 10], RPS) == ["INSUFFICIENT_DATA"] * 3
    assert "learning the baseline: 0 of 30 datapoints" in engine.states.all()[0].detail["reason"]


def test_baseline_below_with_a_percentile_and_a_fixed_period(env: Env) -> None:
    r = rule(
        name="acc",
        metric="quality_accuracy",
        comparison="<",
        kind="baseline",
        baseline={
            "method": "percentile",
            "percentile": 0.01,
            "window": "fixed",
            "reference_start": T0 - 2 * DAY,
            "reference_end": T0 - DAY,
        },
    )
    engine = env.engine(r)
    history(
        env, T0 - 2 * DAY, T0 - DAY, lambda ts: 0.8 + 0.1 * math.sin(ts / 600), "quality_accuracy"
    )
    assert env.minutes(engine, [0.8, 0.5, 0.5], "quality_accuracy") == ["OK", "OK", "ALARM"]
    assert env.rec.sent[0].threshold == pytest.approx(0.7, abs=0.01)


def test_anomaly_ewma_band(env: Env) -> None:
    rng = random.Random(2)
    history(env, T0 - 3600, T0, lambda _: 5 + rng.gauss(0, 0.5), "engine_requests_waiting")
    r = rule(
        metric="engine_requests_waiting",
        kind="anomaly",
        anomaly={"band": "ewma", "k": 4, "history_periods": 30, "min_deviation": 1},
    )
    engine = env.engine(r)
    states = env.minutes(engine, [5, 5.5, 20, 22, 5, 5, 5], "engine_requests_waiting")
    assert states == ["OK", "OK", "OK", "ALARM", "ALARM", "OK", "OK"]
    firing, resolved = env.rec.sent
    assert firing.lower is not None and firing.upper is not None and firing.baseline is not None
    assert firing.lower < 5 < firing.upper < 20
    assert firing.detail["band"] == {
        "method": "ewma", "center": firing.baseline, "lower": firing.lower, "upper": firing.upper,
    }  # fmt: skip
    assert resolved.status == "resolved"


def test_anomaly_lower_band_and_min_history(env: Env) -> None:
    r = rule(kind="anomaly", anomaly={"direction": "lower", "min_points": 10})
    engine = env.engine(r)
    assert env.minutes(engine, [5], RPS) == ["INSUFFICIENT_DATA"]
    assert "no band yet" in engine.states.all()[0].detail["reason"]


def test_anomaly_seasonal_band(env: Env) -> None:
    def shape(ts: float) -> float:
        return 100 + 50 * math.sin(2 * math.pi * (ts % 3600) / 3600)

    history(env, T0 - 3 * 3600, T0, shape)
    r = rule(
        kind="anomaly",
        anomaly={"band": "seasonal", "season_s": 3600, "seasons": 3, "k": 3, "min_deviation": 5},
    )
    engine = env.engine(r)
    on_shape = [shape(T0 + 60 * i) for i in range(5)]
    assert env.minutes(engine, on_shape, RPS) == ["OK"] * 5
    off = [shape(T0 + 60 * i) + 40 for i in range(5, 8)]
    assert env.minutes(engine, off, RPS)[-1] == "ALARM"


def requests(t0: float, minutes: int, per_minute: int, slow_fraction: float) -> list[RequestRecord]:
    out = []
    for m in range(minutes):
        slow = round(per_minute * slow_fraction)
        for i in range(per_minute):
            ttft = 2.0 if i < slow else 0.3
            out.append(
                RequestRecord(
                    id=f"{t0}-{m}-{i}",
                    started_at=t0 + m * 60 + i * (60 / per_minute),
                    model="m",
                    upstream="u",
                    route="/v1/chat/completions",
                    stream=True,
                    status=200,
                    e2e_s=ttft + 1,
                    ttft_s=ttft,
                )
            )
    return out


def test_latency_slo_pages_on_a_fast_burn_and_resolves(env: Env) -> None:
    env.store.write_records(requests(T0 - 3600, 60, 10, 0.0))  # a clean hour
    env.store.write_records(requests(T0, 30, 10, 0.5))  # then half the requests slow
    env.store.write_records(requests(T0 + 1800, 10, 10, 0.0))  # recovered
    page = {"long_window_s": 3600, "short_window_s": 300, "burn_rate": 14.4}
    slo: dict[str, Any] = {"sli": "latency", "threshold_s": 1.0, "burn_alerts": [page]}
    engine = env.engine(AlertRuleSettings(name="ttft_slo", kind="slo", slo=slo))
    states = env.minutes(engine, [None] * 40, RPS)
    # The 1 h window holds 61 minute buckets (the partial current one included). After 17 slow
    # minutes: 85 + 1 slow of 43 × 10 + 17 × 10 + 1 = 601 requests, 14.3 % < 14.4 %; after 18:
    # 91 of 611 = 14.9 %: the page fires at the 18th tick.
    assert states.index("ALARM") == 17
    assert states[29] == "ALARM" and states[-1] == "OK"
    firing, resolved = env.rec.sent
    assert (firing.severity, firing.kind) == ("critical", "slo")
    assert firing.threshold == 14.4 and firing.value is not None and firing.value >= 14.4
    assert firing.window_s == 3600
    # the 30-day window holds only these 90 minutes: ~7.5 % slow, the 1 % budget overspent
    assert firing.detail["budget_remaining"] < 0
    assert firing.detail["burn_rates"][0]["firing"] is True
    assert resolved.status == "resolved"
    # resolved once the 5-minute window is clean: 5 good minutes after T0 + 30 min
    assert resolved.at - (T0 + 1800) <= 6 * 60 + 1


def test_latency_slo_escalates_from_ticket_to_page(env: Env) -> None:
    """With little history the 3-day window is short: the ticket fires first (warning), the
    page later (critical), which is sent again as an escalation."""
    env.store.write_records(requests(T0 - 3600, 60, 10, 0.0))
    env.store.write_records(requests(T0, 30, 10, 0.5))
    slo: dict[str, Any] = {"sli": "latency", "threshold_s": 1.0}
    engine = env.engine(AlertRuleSettings(name="ttft_slo", kind="slo", slo=slo))
    env.minutes(engine, [None] * 20, RPS)
    assert [n.severity for n in env.rec.sent] == ["warning", "critical"]
    assert [n.repeat for n in env.rec.sent] == [0, 0]


def test_ratio_slo_from_a_pair_of_series(env: Env) -> None:
    for m in range(60):
        ts = T0 - 3600 + m * 60
        env.write(RPS, ts, 10.0, source="user")
        env.write("request_errors_per_s", ts, 0.0, source="user")
    slo: dict[str, Any] = {
        "sli": "ratio",
        "bad_metric": "request_errors_per_s",
        "total_metric": RPS,
    }
    slo["window_s"] = DAY
    r = AlertRuleSettings(name="avail", kind="slo", labels={"source": "user"}, slo=slo)
    engine = env.engine(r)
    states = []
    for _ in range(25):
        minute = (env.clock.now() // 60) * 60
        env.write(RPS, minute, 10.0, source="user")
        env.write("request_errors_per_s", minute, 5.0, source="user")  # 50 % errors
        env.clock.advance(minute + 61 - env.clock.now())
        env.tick(engine)
        states.append(engine.states.all()[0].state)
    assert states[0] == AlarmState.OK and states[-1] == AlarmState.ALARM
    assert env.rec.sent[0].detail["good"] < env.rec.sent[0].detail["total"]


def test_insufficient_data_resolves_a_notified_alarm(env: Env) -> None:
    engine = env.engine(rule(threshold=5, treat_missing_data="missing"))
    states = env.minutes(engine, [9, 9, None, None, None, None], RPS)
    assert states == ["ALARM", "ALARM", "ALARM", "ALARM", "INSUFFICIENT_DATA", "INSUFFICIENT_DATA"]
    assert env.rec.statuses() == [("firing", "ALARM"), ("resolved", "INSUFFICIENT_DATA")]


def test_breaching_and_ignore_through_a_gap(env: Env) -> None:
    breach = env.engine(rule(name="b", threshold=5, treat_missing_data="breaching"))
    assert env.minutes(breach, [1, None, None], RPS)[-1] == "ALARM"
    ignore = env.engine(rule(name="i", threshold=5, treat_missing_data="ignore"))
    assert env.minutes(ignore, [9, 9, None, None, None, None], RPS)[-1] == "ALARM"
